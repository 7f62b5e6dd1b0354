package views_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

var t0 = time.Date(2026, 11, 26, 13, 46, 11, 0, time.UTC)

func msg(seq uint64, user, text string) chat.Message {
	return chat.Message{ID: chat.ID{Epoch: 7, Seq: seq}, Room: "lobby", Username: user, Text: text, Time: t0.Add(time.Duration(seq) * time.Minute)}
}

func TestRoomPageEscapesUserInput(t *testing.T) {
	const (
		script = `<script>alert(1)</script>`
		img    = `<img src=x onerror=alert(1)>`
	)
	v := views.RoomView{
		Room:     "lobby",
		Name:     img,
		Messages: []chat.Message{msg(1, img, script)},
		TTL:      time.Hour,
		Draft:    script,
		Error:    img,
	}
	for name, page := range map[string]templ.Component{"RoomPage": views.RoomPage(v), "EmbedPage": views.EmbedPage(v)} {
		got := render(t, page)
		for _, want := range []string{
			`&lt;script&gt;alert(1)&lt;/script&gt;`,
			`&lt;img src=x onerror=alert(1)&gt;`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: output lacks escaped %q", name, want)
			}
		}
		for _, bad := range []string{`<script>alert`, `<img src=x`} {
			if strings.Contains(got, bad) {
				t.Errorf("%s: output contains raw %q", name, bad)
			}
		}
	}
}

var itemRE = regexp.MustCompile(`<li class="([^"]*)"(?: id="m-([^"]*)")?`)

func TestMyMessageOnlyOnReadersMessages(t *testing.T) {
	legacy := chat.Message{Username: "alice", Text: "from the old app"}
	nameless := msg(4, "", "no name")
	v := views.RoomView{
		Room:     "lobby",
		TTL:      time.Hour,
		Messages: []chat.Message{legacy, msg(1, "alice", "hi"), msg(2, "bob", "hey"), msg(3, "Alice", "not me"), nameless},
	}
	for _, tc := range []struct {
		reader string
		want   map[string]bool // message id ("" for the legacy item) → mine
	}{
		{"alice", map[string]bool{"": true, "7-1": true, "7-2": false, "7-3": false, "7-4": false}},
		{"bob", map[string]bool{"": false, "7-1": false, "7-2": true, "7-3": false, "7-4": false}},
		{"", map[string]bool{"": false, "7-1": false, "7-2": false, "7-3": false, "7-4": false}},
	} {
		v.Name = tc.reader
		page := render(t, views.RoomPage(v))
		// The clone template is an empty message and never the reader's.
		list, tmpl, ok := strings.Cut(page, `<template id="message-template">`)
		if !ok {
			t.Fatalf("reader %q: no message template", tc.reader)
		}
		got := map[string]bool{}
		for _, m := range itemRE.FindAllStringSubmatch(list, -1) {
			got[m[2]] = strings.Contains(" "+m[1]+" ", " my-message ")
		}
		if len(got) != len(tc.want) {
			t.Errorf("reader %q: got %d messages %v, want %d", tc.reader, len(got), got, len(tc.want))
		}
		for id, mine := range tc.want {
			if got[id] != mine {
				t.Errorf("reader %q, message %q: my-message = %v, want %v", tc.reader, id, got[id], mine)
			}
		}
		if !strings.Contains(tmpl, `<li class="message">`) || strings.Contains(tmpl, "my-message") {
			t.Errorf("reader %q: template item is not a plain message: %s", tc.reader, tmpl)
		}
	}
}

func TestRoomPageEventsCursor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		messages []chat.Message
		want     string
	}{
		{"empty room", nil, `data-events="/api/rooms/lobby/events"`},
		{"history", []chat.Message{msg(1, "a", "x"), msg(2, "b", "y")}, `data-events="/api/rooms/lobby/events?after=7-2"`},
		{"legacy item last", []chat.Message{msg(1, "a", "x"), {Username: "old", Text: "z"}}, `data-events="/api/rooms/lobby/events?after=7-1"`},
		{"only legacy items", []chat.Message{{Username: "old", Text: "z"}}, `data-events="/api/rooms/lobby/events"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, views.RoomPage(views.RoomView{Room: "lobby", TTL: time.Hour, Messages: tc.messages}))
			if !strings.Contains(got, tc.want) {
				t.Errorf("page lacks %s", tc.want)
			}
			if !strings.Contains(got, `data-post="/api/rooms/lobby/messages"`) {
				t.Errorf("page lacks data-post")
			}
			if empty := strings.Contains(got, `<li id="empty">`); empty != (len(tc.messages) == 0) {
				t.Errorf("empty-state item shown = %v with %d messages", empty, len(tc.messages))
			}
		})
	}
}

func TestEmbedPageIsCompact(t *testing.T) {
	v := views.RoomView{Room: "lobby", TTL: time.Hour, Messages: []chat.Message{msg(1, "a", "x")}}
	embed := render(t, views.EmbedPage(v))
	room := render(t, views.RoomPage(v))
	if !strings.Contains(embed, `<body class="embed">`) {
		t.Errorf("EmbedPage body has no class embed")
	}
	if strings.Contains(room, `class="embed"`) {
		t.Errorf("RoomPage has class embed")
	}
	if strings.Contains(embed, `class="site"`) || !strings.Contains(room, `class="site"`) {
		t.Errorf("site header: want it on RoomPage only")
	}
	for name, page := range map[string]string{"RoomPage": room, "EmbedPage": embed} {
		for _, want := range []string{`id="chat"`, `<p id="status" data-state="offline"`, `<ol id="messages" aria-live="polite" aria-relevant="additions">`,
			`<template id="message-template">`, `<p id="form-error" role="alert">`, `action="/rooms/lobby/messages"`, `<script src="/assets/chat.js" defer>`, `id="m-7-1" data-id="7-1"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
	}
}

func TestExpiryNote(t *testing.T) {
	for _, tc := range []struct {
		ttl      time.Duration
		messages []chat.Message
		want     string
	}{
		{time.Hour, nil, "Messages vanish 1 hour after the last post."},
		{90 * time.Second, nil, "Messages vanish 90 seconds after the last post."},
		{30 * time.Minute, nil, "Messages vanish 30 minutes after the last post."},
		{90 * time.Minute, []chat.Message{msg(1, "a", "x")},
			`History vanishes at <time datetime="2026-11-26T15:17:11Z" data-zone>15:17 UTC</time> unless someone posts — each message keeps it for another 1 hour 30 minutes.`},
	} {
		got := render(t, views.RoomPage(views.RoomView{Room: "r", TTL: tc.ttl, Messages: tc.messages}))
		if !strings.Contains(got, tc.want) {
			t.Errorf("TTL %v, %d messages: page lacks %q", tc.ttl, len(tc.messages), tc.want)
		}
	}
}

func TestMessageItem(t *testing.T) {
	got := render(t, views.MessageItem(chat.Message{}, false))
	want := `<li class="message"><span class="username" dir="auto"></span> <time></time><p class="text" dir="auto"></p></li>`
	if got != want {
		t.Errorf("empty message:\ngot  %s\nwant %s", got, want)
	}
	got = render(t, views.MessageItem(msg(3, "alice", "a\nb"), true))
	want = `<li class="message my-message" id="m-7-3" data-id="7-3"><span class="username" dir="auto">alice</span> <time datetime="2026-11-26T13:49:11Z">13:49 UTC</time><p class="text" dir="auto">a
b</p></li>`
	if got != want {
		t.Errorf("message:\ngot  %s\nwant %s", got, want)
	}
}

func TestLobbyPage(t *testing.T) {
	empty := render(t, views.LobbyPage(views.LobbyView{}))
	for _, want := range []string{`action="/join"`, `name="username"`, `name="room"`, `id="no-rooms"`} {
		if !strings.Contains(empty, want) {
			t.Errorf("empty lobby lacks %s", want)
		}
	}
	if strings.Contains(empty, `role="alert"`) || strings.Contains(empty, "<script") {
		t.Errorf("empty lobby has an alert or a script")
	}
	got := render(t, views.LobbyPage(views.LobbyView{
		Name: "al", Room: "bad room", Error: "room name may contain only letters",
		Rooms: []chat.RoomInfo{{Room: "go-team", Subscribers: 1, People: 1}, {Room: "b_2", Subscribers: 3, People: 2, Watchers: 1}},
	}))
	for _, want := range []string{
		`role="alert">room name may contain only letters</p>`, `value="bad room"`, `value="al"`,
		`<a href="/rooms/go-team">go-team</a> <span class="count">1 here</span>`,
		`<a href="/rooms/b_2">b_2</a> <span class="count">2 here, 1 watching</span>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lobby lacks %s", want)
		}
	}
	if strings.Contains(got, `id="no-rooms"`) {
		t.Errorf("lobby with rooms shows the empty state")
	}
}

func TestErrorPage(t *testing.T) {
	got := render(t, views.ErrorPage(404, "No such <room>"))
	for _, want := range []string{"<h1>Not Found</h1>", "No such &lt;room&gt;", `<a href="/">`} {
		if !strings.Contains(got, want) {
			t.Errorf("error page lacks %s", want)
		}
	}
}

func TestLobbyStartForm(t *testing.T) {
	got := render(t, views.LobbyPage(views.LobbyView{Start: views.StartForm{MaxMinutes: 1440}}))
	for _, want := range []string{
		`<form id="start" class="join start" method="post" action="/rooms">`,
		`name="minutes" type="number" value="30" required min="1" max="1440"`,
		`name="title" value=""`, `id="start-room" name="room" value=""`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lobby lacks %s", want)
		}
	}
	if !regexp.MustCompile(`<label for="start-minutes" class="inline">\s*Start a room for\s*<input[^>]*>\s*minutes\s*</label>`).MatchString(got) {
		t.Errorf("the lifetime field does not read \"Start a room for [30] minutes\"")
	}
	if strings.Contains(got, `id="start-error"`) {
		t.Errorf("a fresh start form shows an error")
	}

	got = render(t, views.LobbyPage(views.LobbyView{Start: views.StartForm{Minutes: "2000", Title: "Quiz <night>", Room: "quiz", Error: "a room may last at most 24h"}}))
	for _, want := range []string{`id="start-error" class="error" role="alert">a room may last at most 24h</p>`, `value="2000"`, `value="Quiz &lt;night&gt;"`, `value="quiz"`} {
		if !strings.Contains(got, want) {
			t.Errorf("lobby after an error lacks %s", want)
		}
	}
	if got := render(t, views.LobbyPage(views.LobbyView{Private: true})); strings.Contains(got, `action="/rooms"`) {
		t.Errorf("the private lobby offers to start a room")
	}
}

// now is when the timed rooms' pages are rendered: half an hour before
// their end.
var now = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

func timed(host bool) views.RoomView {
	v := views.RoomView{
		Room: "game-night", Title: "Game night", TTL: time.Hour,
		Ends: now.Add(30 * time.Minute), Now: now, Grace: 10 * time.Minute,
		Messages: []chat.Message{{Username: "old", Text: "legacy"}, msg(1, "alice", "hi"), msg(2, "bob", "hey")},
	}
	if host {
		v.Host = &views.HostView{Key: "k3y", ShareURL: "http://chat.example/rooms/game-night", HostURL: "http://chat.example/rooms/game-night?host=k3y"}
	}
	return v
}

// hidden reports whether the element with id is rendered with hidden.
func hidden(t *testing.T, page, id string) bool {
	t.Helper()
	m := regexp.MustCompile(`<[a-z]+ id="` + id + `"[^>]*>`).FindString(page)
	if m == "" {
		t.Fatalf("page has no element #%s", id)
	}
	return regexp.MustCompile(`\shidden[\s>]`).MatchString(m)
}

func TestTimedRoom(t *testing.T) {
	v := timed(false)
	got := render(t, views.RoomPage(v))
	for _, want := range []string{
		`<title>Game night · sessionchat</title>`,
		`<h1 id="room-title" dir="auto">Game night</h1><span class="room-name">game-night</span>`,
		`data-ends="2026-11-26T14:30:00Z" data-grace="600"`,
		`Ends at <time id="ends" datetime="2026-11-26T14:30:00Z" data-zone>14:30 UTC</time>`,
		`<span id="countdown" role="timer">30 minutes</span> left`,
		`data-state="/api/rooms/game-night"`,
		`<details id="transcript" class="transcript"><summary>Download the transcript</summary>`, `<a href="/rooms/game-night/transcript.txt" download>text</a>`,
		`<a href="/rooms/game-night/transcript.md" download>Markdown</a>`,
		`<a href="/rooms/game-night/transcript.json" download>JSON</a>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("timed room lacks %s", want)
		}
	}
	if strings.Contains(got, `id="expiry"`) {
		t.Errorf("a timed room says its history vanishes after the last post")
	}
	if !hidden(t, got, "ended-note") || !hidden(t, got, "locked-note") || hidden(t, got, "ends-line") {
		t.Errorf("a running, unlocked room: want only the end shown")
	}
	for _, s := range []string{"data-host", `id="host"`, `class="delete"`, `name="host"`} {
		if strings.Contains(got, s) {
			t.Errorf("a reader's page has the host's %s", s)
		}
	}

	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{30 * time.Minute, "30 minutes"},
		{29*time.Minute + 1*time.Second, "30 minutes"},
		{50 * time.Second, "less than a minute"},
		{90 * time.Minute, "1 hour 30 minutes"},
	} {
		v := timed(false)
		v.Ends = now.Add(tc.left)
		if got := render(t, views.RoomPage(v)); !strings.Contains(got, `role="timer">`+tc.want+`</span>`) {
			t.Errorf("%v left: countdown is not %q", tc.left, tc.want)
		}
	}

	// An end on another day says which.
	v.Ends = now.Add(20 * time.Hour)
	if got := render(t, views.RoomPage(v)); !strings.Contains(got, `data-zone>27 Nov 10:00 UTC</time>`) {
		t.Errorf("an end tomorrow does not name its day")
	}

	v = timed(false)
	v.Locked = true
	got = render(t, views.RoomPage(v))
	if hidden(t, got, "locked-note") || !strings.Contains(got, "Posting is locked.") {
		t.Errorf("a locked room does not say so")
	}
	if strings.Contains(got, `<textarea id="text" name="message" required rows="1" enterkeyhint="send" disabled`) {
		t.Errorf("a locked room's form is disabled: a post is what shows the reader the error")
	}
}

func TestEndedRoom(t *testing.T) {
	for _, host := range []bool{false, true} {
		v := timed(host)
		v.Ended, v.Locked = true, true
		got := render(t, views.RoomPage(v))
		for _, want := range []string{
			`class="room ended"`,
			`<p id="status" data-state="ended" role="status">ended</p>`,
			`<strong>This room has ended</strong>`,
			`at <time datetime="2026-11-26T14:30:00Z" data-zone>14:30 UTC</time>`,
			`Its history stays readable until <time datetime="2026-11-26T14:40:00Z" data-zone>14:40 UTC</time>`,
			`placeholder="This room has ended: it takes no more messages."`,
			`<button id="send" type="submit" disabled>`,
			`<details id="transcript" class="transcript" open>`,
			`<p class="text" dir="auto">hey</p>`, // the history stays
		} {
			if !strings.Contains(got, want) {
				t.Errorf("ended room (host %v) lacks %s", host, want)
			}
		}
		if hidden(t, got, "ended-note") || !hidden(t, got, "ends-line") || !hidden(t, got, "locked-note") {
			t.Errorf("ended room (host %v): want the ended note only", host)
		}
		if strings.Contains(got, `class="delete"`) {
			t.Errorf("ended room (host %v) offers to delete messages", host)
		}
		if host && !hidden(t, got, "host-controls") {
			t.Errorf("ended room: the host's controls are shown")
		}
	}
}

func TestHostView(t *testing.T) {
	v := timed(true)
	got := render(t, views.RoomPage(v))
	for _, want := range []string{
		`data-host="k3y"`,
		`<h2 id="host-title">You are the host</h2>`,
		`<input id="share-link" class="link" value="http://chat.example/rooms/game-night" readonly`,
		`<input id="host-link" class="link" value="http://chat.example/rooms/game-night?host=k3y" readonly`,
		`<form id="lock-form" method="post" action="/rooms/game-night/host/lock"><input type="hidden" name="host" value="k3y">`,
		`<form id="unlock-form" method="post" action="/rooms/game-night/host/unlock" hidden>`,
		`<form id="end-form" method="post" action="/rooms/game-night/host/end">`,
		`name="lifetime" value="15m"`, `name="lifetime" value="1h"`,
		`<form class="delete" method="post" action="/rooms/game-night/messages/7-1/delete"><input type="hidden" name="host" value="k3y">`,
		`<form class="delete" method="post" action="/rooms/game-night/messages/7-2/delete">`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("host view lacks %s", want)
		}
	}
	list, tmpl, _ := strings.Cut(got, `<template id="message-template">`)
	if n := strings.Count(list, `class="delete"`); n != 2 {
		t.Errorf("host view has %d delete forms in the list, want 2 (none for the item without an id)", n)
	}
	if !strings.Contains(tmpl, `<form class="delete" method="post" action="">`) {
		t.Errorf("the template for live messages has no delete form for the script to fill in")
	}

	v.Locked = true
	got = render(t, views.RoomPage(v))
	if !hidden(t, got, "lock-form") || hidden(t, got, "unlock-form") {
		t.Errorf("locked room: want the unlock form shown, the lock form hidden")
	}

	// A room without a set end cannot be extended.
	v.Ends = time.Time{}
	if got := render(t, views.RoomPage(v)); strings.Contains(got, `id="extend-form"`) {
		t.Errorf("a room without an end offers to extend it")
	}

	// The embed never shows the host's controls or key.
	v = timed(true)
	v.Embed = true
	if got := render(t, views.EmbedPage(v)); strings.Contains(got, "k3y") || strings.Contains(got, `id="host"`) {
		t.Errorf("the embed shows the host's key or controls")
	}
}

// A stored item's author tag may be anything another writer of the list
// put there: a short one still renders.
func TestShortAuthorTagRenders(t *testing.T) {
	for _, tag := range []string{"a", "ab", "abc", "abcd", "abcdefgh"} {
		m := msg(1, "alice", "hi")
		m.Author = tag
		if out := render(t, views.MessageItem(m, false)); !strings.Contains(out, "alice") {
			t.Errorf("author %q: the message did not render: %s", tag, out)
		}
	}
}
