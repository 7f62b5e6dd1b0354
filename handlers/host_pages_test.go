package handlers_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/handlers"
)

// startRoom starts a room from the lobby's form and returns its name and
// the host view's path the form redirected to.
func (a *app) startRoom(t *testing.T, kv ...string) (room, hostPath string) {
	t.Helper()
	resp, body := a.do(t, "POST", "/rooms", formType, form(kv...))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("starting a room with %q = %d, want 303: %s", kv, resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(u.Path, "/rooms/") || u.Query().Get("host") == "" {
		t.Fatalf("starting a room redirects to %q, want /rooms/{room}?host=KEY", loc)
	}
	return strings.TrimPrefix(u.Path, "/rooms/"), loc
}

// hostKey is the key in a host view's path.
func hostKey(t *testing.T, hostPath string) string {
	t.Helper()
	u, _ := url.Parse(hostPath)
	return u.Query().Get("host")
}

var endsRE = regexp.MustCompile(`<time id="ends" datetime="([^"]+)"`)

// endsOn is the end a room page shows.
func endsOn(t *testing.T, page string) time.Time {
	t.Helper()
	m := endsRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page shows no end")
	}
	ends, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// shown reports whether the page renders the element #id without hidden.
func shown(t *testing.T, page, id string) bool {
	t.Helper()
	tag := regexp.MustCompile(`<[a-z]+ id="` + id + `"[^>]*>`).FindString(page)
	if tag == "" {
		t.Fatalf("the page has no #%s", id)
	}
	return !regexp.MustCompile(`\shidden[\s>]`).MatchString(tag)
}

func TestStartARoomFromTheLobby(t *testing.T) {
	a := newApp(t, handlers.Options{})
	_, lobby := a.do(t, "GET", "/", "", "")
	if !strings.Contains(lobby, `action="/rooms"`) || !strings.Contains(lobby, `max="1440"`) {
		t.Fatalf("the lobby has no start form bounded by the 24h cap")
	}

	before := time.Now().Truncate(time.Second)
	room, hostPath := a.startRoom(t, "minutes", "30", "title", "Game night")
	if !regexp.MustCompile(`^[a-z]+-[a-z]+-[a-z2-7]{6}$`).MatchString(room) {
		t.Errorf("generated room name %q, want two words and six base32 characters", room)
	}
	resp, page := a.do(t, "GET", hostPath, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", hostPath, resp.StatusCode)
	}
	if ends := endsOn(t, page); ends.Before(before.Add(30*time.Minute)) || ends.After(time.Now().Add(30*time.Minute)) {
		t.Errorf("a 30-minute room ends at %v, want 30 minutes from %v", ends, before)
	}
	share := a.URL + "/rooms/" + room
	for _, want := range []string{
		"<h1 id=\"room-title\" dir=\"auto\">Game night</h1>",
		`<input id="share-link" class="link" value="` + share + `"`,
		`<input id="host-link" class="link" value="` + a.URL + hostPath + `"`,
		`<form id="lock-form" method="post" action="/rooms/` + room + `/host/lock">`,
		`name="host" value="` + hostKey(t, hostPath) + `"`,
		`role="timer">30 minutes</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the host view lacks %s", want)
		}
	}
	_, reader := a.do(t, "GET", "/rooms/"+room, "", "")
	if strings.Contains(reader, hostKey(t, hostPath)) || strings.Contains(reader, `id="host"`) {
		t.Errorf("the share link's page shows the host's key or controls")
	}
	if !strings.Contains(reader, "Game night") || endsOn(t, reader).IsZero() {
		t.Errorf("the share link's page lacks the title or the end")
	}

	// A name of one's own, once.
	if room, _ := a.startRoom(t, "minutes", "90", "room", "quiz-night"); room != "quiz-night" {
		t.Errorf("started %q, want quiz-night", room)
	}
	resp, body := a.do(t, "POST", "/rooms", formType, form("minutes", "30", "room", "quiz-night", "title", "Again"))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "a room of that name already exists") || !strings.Contains(body, `value="Again"`) {
		t.Errorf("starting an existing room = %d; want 409 with the error and what was typed", resp.StatusCode)
	}
}

func TestStartFormRefusesBadInput(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"no lifetime", []string{"minutes", ""}, "whole number of minutes"},
		{"words", []string{"minutes", "half an hour"}, "whole number of minutes"},
		{"fraction", []string{"minutes", "1.5"}, "whole number of minutes"},
		{"duration syntax", []string{"minutes", "30m"}, "whole number of minutes"},
		{"zero", []string{"minutes", "0"}, "lifetime must be positive"},
		{"over the cap", []string{"minutes", "1441"}, "at most 24h"},
		{"control characters", []string{"minutes", "30", "title", "bell\a"}, "control characters"},
		{"long title", []string{"minutes", "30", "title", strings.Repeat("x", 101)}, "longer than 100"},
		{"bad name", []string{"minutes", "30", "room", "no spaces"}, "room name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := tc.kv
			if !slices.Contains(kv, "room") {
				kv = slices.Concat(kv, []string{"room", "refused"})
			}
			resp, body := a.do(t, "POST", "/rooms", formType, form(kv...))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="start-error"`) || !strings.Contains(body, tc.want) {
				t.Errorf("%q = %d; want 400, the lobby saying %q", kv, resp.StatusCode, tc.want)
			}
		})
	}
	if _, page := a.do(t, "GET", "/rooms/refused", "", ""); strings.Contains(page, `id="ends"`) {
		t.Errorf("a refused form started the room")
	}
}

func TestHostActionsWithoutJavaScript(t *testing.T) {
	a := newApp(t, handlers.Options{})
	room, hostPath := a.startRoom(t, "minutes", "30", "title", "Support call")
	key := hostKey(t, hostPath)
	path := "/rooms/" + room
	spam := a.post(t, room, "troll", "buy my stuff")
	a.post(t, room, "alice", "hello")

	act := func(action string, kv ...string) (*http.Response, string) {
		t.Helper()
		return a.do(t, "POST", path+"/host/"+action, formType, form(append([]string{"host", key}, kv...)...))
	}
	back := func(what string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != hostPath {
			t.Fatalf("%s = %d to %q, want 303 back to %s", what, resp.StatusCode, resp.Header.Get("Location"), hostPath)
		}
	}

	// Wrong keys change nothing and show no host view.
	for _, bad := range []string{"", "x", strings.Repeat("A", 43)} {
		resp, body := a.do(t, "POST", path+"/host/lock", formType, form("host", bad))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "host key is not valid") || strings.Contains(body, `id="host"`) {
			t.Errorf("lock with key %q = %d; want 403, a page saying the key is wrong", bad, resp.StatusCode)
		}
		if resp, _ := a.do(t, "GET", path+"?host="+url.QueryEscape(bad), "", ""); bad != "" && resp.StatusCode != http.StatusForbidden {
			t.Errorf("host view with key %q = %d, want 403", bad, resp.StatusCode)
		}
	}
	if _, page := a.do(t, "GET", path, "", ""); shown(t, page, "locked-note") {
		t.Fatalf("a wrong key locked the room")
	}
	if resp, _ := act("shout"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown action = %d, want 404", resp.StatusCode)
	}

	// Lock: posts are refused with a readable page that keeps the draft.
	resp, _ := act("lock")
	back("lock", resp)
	_, page := a.do(t, "GET", hostPath, "", "")
	if !shown(t, page, "locked-note") || shown(t, page, "lock-form") || !shown(t, page, "unlock-form") {
		t.Errorf("after lock the host view does not show the room locked and the unlock form")
	}
	resp, body := a.do(t, "POST", path+"/messages", formType, form("username", "bob", "message", "am I heard?"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "the host has locked this room") || !strings.Contains(body, "am I heard?") {
		t.Errorf("a post to a locked room = %d; want 403 with the error and the draft", resp.StatusCode)
	}
	resp, _ = act("unlock")
	back("unlock", resp)
	if resp, _ := a.do(t, "POST", path+"/messages", formType, form("username", "bob", "message", "am I heard?")); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a post after unlock = %d, want 303", resp.StatusCode)
	}

	// Extend by 15 minutes; a bad extension shows the host view with the
	// error and changes nothing.
	ends := endsOn(t, page)
	resp, _ = act("extend", "lifetime", "15m")
	back("extend", resp)
	_, page = a.do(t, "GET", hostPath, "", "")
	if got := endsOn(t, page); !got.Equal(ends.Add(15 * time.Minute)) {
		t.Errorf("after +15m the room ends at %v, want %v", got, ends.Add(15*time.Minute))
	}
	for _, bad := range []string{"", "soon", "-5m", "48h"} {
		resp, body := act("extend", "lifetime", bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="host-error"`) || !strings.Contains(body, `id="host"`) {
			t.Errorf("extend by %q = %d; want 400 and the host view with the error", bad, resp.StatusCode)
		}
		if got := endsOn(t, body); !got.Equal(ends.Add(15 * time.Minute)) {
			t.Errorf("extend by %q moved the end to %v", bad, got)
		}
	}

	// Delete: gone from the page and the history.
	resp, _ = a.do(t, "POST", path+"/messages/"+spam.ID.String()+"/delete", formType, form("host", key))
	back("delete", resp)
	_, page = a.do(t, "GET", hostPath, "", "")
	if strings.Contains(page, "buy my stuff") || !strings.Contains(page, "hello") {
		t.Errorf("after deleting, the page still shows the message, or lost the others")
	}
	if hist, _ := a.store.History(t.Context(), "r"); len(hist) != 0 {
		t.Errorf("stored %v in an unrelated room", hist)
	}
	for _, id := range []string{spam.ID.String(), "nope"} {
		if resp, _ := a.do(t, "POST", path+"/messages/"+id+"/delete", formType, form("host", key)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("deleting %q (gone or never there) = %d, want 404", id, resp.StatusCode)
		}
	}
	if resp, _ := a.do(t, "POST", path+"/messages/"+spam.ID.String()+"/delete", formType, form("host", "wrong")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete with a wrong key = %d, want 403", resp.StatusCode)
	}

	// End now: the room says so, takes no posts, and its history stays.
	resp, _ = act("end")
	back("end", resp)
	for _, p := range []string{hostPath, path, "/embed/" + room} {
		resp, page := a.do(t, "GET", p, "", "")
		if resp.StatusCode != 200 || !shown(t, page, "ended-note") || !strings.Contains(page, "This room has ended") ||
			!strings.Contains(page, `<button id="send" type="submit" disabled>`) || !strings.Contains(page, "hello") {
			t.Errorf("GET %s after the end = %d; want the ended note, the form disabled, the history", p, resp.StatusCode)
		}
	}
	resp, body = a.do(t, "POST", path+"/messages", formType, form("username", "bob", "message", "too late"))
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, "this room has ended") {
		t.Errorf("a post after the end = %d, want 410 with a readable page", resp.StatusCode)
	}
	for _, action := range []string{"lock", "extend", "end"} {
		resp, body := act(action, "lifetime", "15m")
		if resp.StatusCode != http.StatusGone || !strings.Contains(body, "this room has ended") {
			t.Errorf("%s after the end = %d, want 410 with a readable page", action, resp.StatusCode)
		}
	}
}

func TestHostLinksNameTheProxiedOrigin(t *testing.T) {
	trusted := newApp(t, handlers.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	untrusted := newApp(t, handlers.Options{})
	for _, tc := range []struct {
		a    *app
		want string
	}{
		{trusted, "https://chat.example"},
		{untrusted, untrusted.URL},
	} {
		room, hostPath := tc.a.startRoom(t, "minutes", "5")
		_, page := tc.a.do(t, "GET", hostPath, "", "", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "chat.example")
		if want := `value="` + tc.want + `/rooms/` + room + `"`; !strings.Contains(page, want) {
			t.Errorf("share link: page lacks %s", want)
		}
	}
}
