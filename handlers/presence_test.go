package handlers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// nextOf reads the stream up to its next event of kind, passing over
// the others.
func (s *stream) nextOf(t *testing.T, kind string) string {
	t.Helper()
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("reading the stream for a %s event: %v", kind, err)
		}
		if ev.Event == kind {
			return ev.Data
		}
	}
}

func decodePresence(t *testing.T, data string) chat.Presence {
	t.Helper()
	var p chat.Presence
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		t.Fatalf("presence %q: %v", data, err)
	}
	return p
}

func names(ps []chat.Person) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return strings.Join(s, ",")
}

// who is the Cookie header of a browser named name with author key key.
func who(name, key string) []string {
	c := "chat_author=" + key
	if name != "" {
		c += "; chat_name=" + name
	}
	return []string{"Cookie", c}
}

// A stream says who is here first (after the room's state), and again
// when that changes, at most once a PresenceEvery: people by name, once
// however many tabs they have, and the count of those who only watch; a
// closed tab drops out.
func TestPresenceOnTheStream(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	path := "/api/rooms/here/events"
	alice := a.openStream(t, path, who("alice", "ka")...)
	first, err := alice.next()
	for err == nil && first.Event != "room" {
		first, err = alice.next()
	}
	if ev, err := alice.next(); err != nil || ev.Event != "presence" {
		t.Fatalf("after the room event: %+v, %v; want presence", ev, err)
	} else if p := decodePresence(t, ev.Data); names(p.People) != "alice" || p.Watchers != 0 || p.Room != "here" {
		t.Fatalf("presence on connect %s, want alice alone", ev.Data)
	}
	// The change her own arrival made, sent at once: the room was quiet.
	if p := decodePresence(t, alice.nextOf(t, "presence")); names(p.People) != "alice" {
		t.Fatalf("first change %+v", p)
	}

	// Within PresenceEvery of that, three arrivals make one event.
	a.openStream(t, path, who("alice", "ka")...) // her second tab
	a.openStream(t, path, who("", "kw")...)      // a watcher
	bob := a.openStream(t, path, who("bob", "kb")...)
	bob.nextOf(t, "presence")
	a.clock.Advance(chat.PresenceEvery)
	p := decodePresence(t, alice.nextOf(t, "presence"))
	if names(p.People) != "alice,bob" || p.Watchers != 1 {
		t.Fatalf("after three arrivals: %+v; want alice and bob and one watcher", p)
	}
	for _, pe := range p.People {
		if len(pe.Tag) != chat.TagLen {
			t.Errorf("%s's tag %q, want %d characters", pe.Name, pe.Tag, chat.TagLen)
		}
	}

	// A closed tab drops out: the next event lacks bob.
	bob.close()
	a.clock.Advance(chat.PresenceEvery)
	if p := decodePresence(t, alice.nextOf(t, "presence")); names(p.People) != "alice" || p.Watchers != 1 {
		t.Fatalf("after bob left: %+v; want alice and one watcher", p)
	}

	// The page renders it without the script, and the lobby counts people.
	_, body := a.do(t, "GET", "/rooms/here", "", "")
	if !strings.Contains(body, `id="presence"`) || !strings.Contains(body, ">alice<") || !strings.Contains(body, "1 watching") {
		t.Errorf("room page lacks the presence: alice and 1 watching")
	}
}

// The lobby orders rooms by the people in them, not by tabs.
func TestLobbyOrdersByPeople(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	for range 4 { // one person, four tabs
		a.openStream(t, "/api/rooms/tabs/events", who("ann", "k1")...).nextOf(t, "presence")
	}
	for _, k := range []string{"k2", "k3"} {
		a.openStream(t, "/api/rooms/people/events", who("p"+k, k)...).nextOf(t, "presence")
	}
	_, body := a.do(t, "GET", "/", "", "")
	i, j := strings.Index(body, `href="/rooms/people"`), strings.Index(body, `href="/rooms/tabs"`)
	if i < 0 || j < 0 || i > j {
		t.Errorf("lobby lists people at %d, tabs at %d; want people (2 here) first", i, j)
	}
	if !strings.Contains(body, "2 here") || !strings.Contains(body, "1 here") {
		t.Errorf("lobby lacks the counts 2 here and 1 here")
	}
}

// postAs posts through the API with an author key; it returns the
// status and the body.
func (a *app) postAs(t *testing.T, room, key, name, text string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": name, "message": text})
	var h []string
	if key != "" {
		h = []string{"X-Author-Key", key}
	}
	resp, got := a.do(t, "POST", "/api/rooms/"+room+"/messages", "application/json", string(body), h...)
	return resp.StatusCode, got
}

func TestAuthorTags(t *testing.T) {
	a := newApp(t, handlers.Options{})
	tag := func(room, key, name string) string {
		t.Helper()
		code, body := a.postAs(t, room, key, name, "hi")
		if code != http.StatusCreated {
			t.Fatalf("post to %s as %s with key %q: %d %s", room, name, key, code, body)
		}
		if strings.Contains(body, key) && key != "" {
			t.Errorf("the response shows the key: %s", body)
		}
		var m chat.Message
		_ = json.Unmarshal([]byte(body), &m)
		return m.Author
	}
	t1 := tag("one", "key-1", "bob")
	if len(t1) != chat.TagLen {
		t.Fatalf("tag %q, want %d characters", t1, chat.TagLen)
	}
	if again := tag("one", "key-1", "bob"); again != t1 {
		t.Errorf("one key, one room: tags %q and %q", t1, again)
	}
	if other := tag("two", "key-1", "bob"); other == t1 {
		t.Errorf("one key in two rooms has one tag %q: it links the rooms", t1)
	}
	// No key: no tag, and no "author" in the JSON; it claims no name.
	code, body := a.postAs(t, "one", "", "bob", "anonymous")
	if code != http.StatusCreated || strings.Contains(body, `"author"`) {
		t.Errorf("untagged post: %d %s; want 201 without an author field", code, body)
	}
	// The cookie is a key as the header is.
	resp, body := a.do(t, "POST", "/api/rooms/one/messages", "application/json", `{"username":"bob","message":"by cookie"}`, "Cookie", "chat_author=key-1")
	var m chat.Message
	_ = json.Unmarshal([]byte(body), &m)
	if resp.StatusCode != http.StatusCreated || m.Author != t1 {
		t.Errorf("post with the cookie: %d, tag %q; want 201, %q", resp.StatusCode, m.Author, t1)
	}

	// Another author, bob's name: a 409 that names the choice.
	for _, name := range []string{"bob", "BOB"} {
		code, body = a.postAs(t, "one", "key-2", name, "me too")
		var conflict struct{ Error, Name, Suggestion string }
		_ = json.Unmarshal([]byte(body), &conflict)
		if code != http.StatusConflict || conflict.Suggestion != name+" (2)" || !strings.Contains(conflict.Error, name) {
			t.Errorf("second author as %s: %d %s; want 409 suggesting %q", name, code, body, name+" (2)")
		}
	}
	if t2 := tag("one", "key-2", "bob (2)"); t2 == t1 || t2 == "" {
		t.Errorf("the second author's tag %q (the first's %q)", t2, t1)
	}
	// A third finds both taken.
	if _, body := a.postAs(t, "one", "key-3", "bob", "x"); !strings.Contains(body, `"bob (3)"`) {
		t.Errorf("third author: %s, want the suggestion bob (3)", body)
	}

	// The stored JSON has the tag, never the key.
	hist, _ := a.store.History(t.Context(), "one")
	raw, _ := json.Marshal(hist)
	if strings.Contains(string(raw), "key-1") || !strings.Contains(string(raw), t1) {
		t.Errorf("stored history %s: want the tag, not the key", raw)
	}
}

// In the page, "mine" is my tag, not my name; the form offers the
// numbered name when another author has mine.
func TestMineIsMyTag(t *testing.T) {
	a := newApp(t, handlers.Options{})
	if code, _ := a.postAs(t, "r", "kA", "sam", "from the first sam"); code != http.StatusCreated {
		t.Fatal(code)
	}
	// The second sam's browser: it got its key from a page view.
	resp, _ := a.do(t, "GET", "/rooms/r", "", "")
	key := cookie(resp, "chat_author")
	if key == nil {
		t.Fatal("a page view gave no author key")
	}
	jar := "chat_name=sam; chat_author=" + key.Value
	resp, body := a.do(t, "POST", "/rooms/r/messages", formType, form("username", "sam", "message", "from the second"), "Cookie", jar)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `value="sam (2)"`) || !strings.Contains(body, "from the second") {
		t.Fatalf("the second sam's form post = %d; want 409 with the name sam (2) offered and the draft kept", resp.StatusCode)
	}
	resp, _ = a.do(t, "POST", "/rooms/r/messages", formType, form("username", "sam (2)", "message", "from the second"), "Cookie", jar)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("posting as sam (2) = %d, want 303", resp.StatusCode)
	}
	_, body = a.do(t, "GET", "/rooms/r", "", "", "Cookie", jar)
	items := strings.Split(body, "<li ")
	mine := slices.IndexFunc(items, func(s string) bool { return strings.Contains(s, "my-message") })
	if mine < 0 || !strings.Contains(items[mine], "from the second") {
		t.Errorf("the second sam's page does not mark their own message as theirs")
	}
	for _, it := range items {
		if strings.Contains(it, "from the first sam") && strings.Contains(it, "my-message") {
			t.Errorf("the second sam's page marks the first sam's message as theirs")
		}
		if strings.Contains(it, "from the") && !strings.Contains(it, `class="mark mark-`) {
			t.Errorf("a tagged message without its mark: %.200s", it)
		}
	}
}

// Typing notices reach the room's streams, coalesced, and are never
// stored.
func TestTyping(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	s := a.openStream(t, "/api/rooms/t/events", who("", "kw")...)
	s.nextOf(t, "presence")
	typing := func(key, name string) {
		t.Helper()
		resp, body := a.do(t, "POST", "/api/rooms/t/typing", "application/json", `{"username":"`+name+`"}`, "X-Author-Key", key)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("typing as %s: %d %s", name, resp.StatusCode, body)
		}
	}
	typing("ka", "ann")
	var ty chat.Typing
	_ = json.Unmarshal([]byte(s.nextOf(t, "typing")), &ty)
	if names(ty.People) != "ann" {
		t.Fatalf("typing event %+v, want ann", ty)
	}
	// Three notices within TypingEvery: one event naming both.
	typing("kb", "ben")
	typing("ka", "ann")
	typing("kb", "ben")
	a.clock.Advance(chat.TypingEvery)
	_ = json.Unmarshal([]byte(s.nextOf(t, "typing")), &ty)
	if names(ty.People) != "ann,ben" {
		t.Fatalf("coalesced typing %+v, want ann and ben", ty)
	}
	if resp, _ := a.do(t, "POST", "/api/rooms/t/typing", "application/json", `{"username":""}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("typing without a name = %d, want 400", resp.StatusCode)
	}
	if hist, _ := a.store.History(t.Context(), "t"); len(hist) != 0 {
		t.Errorf("typing stored %v", hist)
	}
}

// In a private room the tag comes from the token (its sub, else its
// name): a header cannot borrow another's, and no name is refused.
func TestPrivateAuthorTags(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	rooms := auth.Rooms{Read: []string{"club"}, Write: []string{"club"}}
	carol := bearer(token(t, "carol", time.Hour, rooms))
	post := func(header ...string) chat.Message {
		t.Helper()
		resp, body := a.do(t, "POST", "/api/rooms/club/messages", "application/json", `{"message":"hi"}`, header...)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("post: %d %s", resp.StatusCode, body)
		}
		var m chat.Message
		_ = json.Unmarshal([]byte(body), &m)
		return m
	}
	m := post(carol...)
	if m.Author == "" || m.Username != "carol" {
		t.Fatalf("carol's post %+v, want her tag and name", m)
	}
	if got := post(append(carol, "X-Author-Key", "someone-else")...).Author; got != m.Author {
		t.Errorf("with another X-Author-Key carol's tag is %q, want %q: the token decides", got, m.Author)
	}
	if d := post(bearer(token(t, "dave", time.Hour, rooms))...); d.Author == m.Author || d.Author == "" {
		t.Errorf("dave's tag %q, carol's %q", d.Author, m.Author)
	}
}

// However many keys type at once, a typing event names at most eight.
func TestTypingIsBounded(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	s := a.openStream(t, "/api/rooms/crowd/events", who("", "kw")...)
	s.nextOf(t, "presence")
	for i := range 20 {
		resp, _ := a.do(t, "POST", "/api/rooms/crowd/typing", "application/json", `{"username":"p`+string(rune('a'+i))+`"}`, "X-Author-Key", "key-"+string(rune('a'+i)))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("typing notice %d: %d", i, resp.StatusCode)
		}
	}
	s.nextOf(t, "typing") // the first, at once
	a.clock.Advance(chat.TypingEvery)
	var ty chat.Typing
	_ = json.Unmarshal([]byte(s.nextOf(t, "typing")), &ty)
	if len(ty.People) != 8 {
		t.Errorf("typing event names %d people, want 8 at most (and 20 typed)", len(ty.People))
	}
}
