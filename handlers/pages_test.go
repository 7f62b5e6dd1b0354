package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/handlers"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

func TestPagesRefuseFramingExceptEmbed(t *testing.T) {
	a := newApp(t, handlers.Options{EmbedOrigins: []string{"https://host.example", "http://localhost:9000"}})
	for _, path := range []string{"/", "/rooms/lobby", "/nope"} {
		resp, _ := a.do(t, "GET", path, "", "")
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: CSP %q, X-Frame-Options %q; want framing refused", path, csp, resp.Header.Get("X-Frame-Options"))
		}
		if strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q allows inline script", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	resp, body := a.do(t, "GET", "/embed/lobby", "", "")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "frame-ancestors 'self' https://host.example http://localhost:9000") {
		t.Errorf("GET /embed/lobby: %d, CSP %q; want the embed origins as frame-ancestors", resp.StatusCode, csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("GET /embed/lobby: X-Frame-Options %q would block every embedding site", xfo)
	}
	if !strings.Contains(body, `class="embed"`) {
		t.Errorf("embed page is not the compact layout")
	}
}

func TestRoomPageRendersHistoryEscaped(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "r", "<img src=x onerror=alert(1)>", "<script>alert('pwned')</script>")
	a.post(t, "r", "alice", "plain & simple")
	resp, body := a.do(t, "GET", "/rooms/r", "", "", "Cookie", "chat_name=alice")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /rooms/r = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(", "&lt;img src=x onerror=alert(1)&gt;", "plain &amp; simple"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks the escaped text %q", want)
		}
	}
	if n := strings.Count(body, "my-message"); n != 1 {
		t.Errorf("%d messages marked my-message for alice, want 1", n)
	}
}

func TestNameFromQueryIsRemembered(t *testing.T) {
	a := newApp(t, handlers.Options{})
	resp, body := a.do(t, "GET", "/rooms/r?name=Zoë", "", "")
	if !strings.Contains(body, `value="Zoë"`) {
		t.Errorf("?name=Zoë not in the form")
	}
	if c := cookie(resp, "chat_name"); c == nil || c.Value != url.QueryEscape("Zoë") {
		t.Errorf("cookies %v, want chat_name=%s", resp.Cookies(), url.QueryEscape("Zoë"))
	}
}

func TestFormPostWithoutJavaScript(t *testing.T) {
	a := newApp(t, handlers.Options{})
	resp, _ := a.do(t, "POST", "/rooms/r/messages", formType, form("username", "bob", "message", "hello <b>world</b>"))
	if c := cookie(resp, "chat_name"); c == nil || c.Value != "bob" {
		t.Errorf("form post did not remember the name: %v", resp.Cookies())
	}
	key := cookie(resp, "chat_author")
	if key == nil || !key.HttpOnly || key.SameSite != http.SameSiteLaxMode {
		t.Fatalf("form post without a key got no HttpOnly, SameSite=Lax author cookie: %v", resp.Cookies())
	}
	hist, _ := a.store.History(t.Context(), "r")
	if len(hist) != 1 || hist[0].Text != "hello <b>world</b>" || hist[0].Username != "bob" {
		t.Fatalf("stored %+v", hist)
	}
	// Back at the message sent, the newest, not at the top of the room.
	if want := "/rooms/r#m-" + hist[0].ID.String(); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("form post = %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	_, body := a.do(t, "GET", "/rooms/r", "", "", "Cookie", "chat_name=bob; chat_author="+key.Value)
	if !strings.Contains(body, "hello &lt;b&gt;world&lt;/b&gt;") || !strings.Contains(body, "my-message") {
		t.Errorf("the redirect target does not show the message as bob's")
	}

	// The embed posts back to the embed.
	resp, _ = a.do(t, "POST", "/embed/r/messages", formType, form("username", "bob", "message", "from the iframe"))
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/embed/r?name=bob#m-") {
		t.Errorf("embed form post = %d to %q, want 303 to /embed/r?name=bob#m-<id> (the frame may not keep cookies)", resp.StatusCode, loc)
	}
}

func TestFormPostErrorsKeepTheDraft(t *testing.T) {
	a := newApp(t, handlers.Options{})
	resp, body := a.do(t, "POST", "/rooms/r/messages", formType, form("username", "", "message", "my draft"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "name is empty") || !strings.Contains(body, "my draft") {
		t.Errorf("form post without a name = %d; want 400 with the error and the draft", resp.StatusCode)
	}
	a.store.Down.Store(true)
	resp, body = a.do(t, "POST", "/rooms/r/messages", formType, form("username", "bob", "message", "hi"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Errorf("form post with the store down = %d; want 503 with a readable page", resp.StatusCode)
	}
	a.store.Down.Store(false)
	resp, _ = a.do(t, "POST", "/rooms/r/messages", formType, form("username", "bob", "message", "hi"), "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form post = %d, want 403", resp.StatusCode)
	}
	if hist, _ := a.store.History(t.Context(), "r"); len(hist) != 0 {
		t.Errorf("rejected form posts stored %v", hist)
	}
}

func TestLobbyAndJoin(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.openStream(t, "/api/rooms/busy-room/events")
	a.openStream(t, "/api/rooms/busy-room/events")
	resp, body := a.do(t, "GET", "/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/rooms/busy-room"`) || !strings.Contains(body, "0 here, 2 watching") {
		t.Errorf("lobby = %d, want busy-room with 2 watching listed", resp.StatusCode)
	}
	resp, _ = a.do(t, "POST", "/join", formType, form("username", "dana", "room", "games"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/games" {
		t.Errorf("join = %d to %q, want 303 to /rooms/games", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = a.do(t, "POST", "/join", formType, form("username", "dana", "room", "no spaces please"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "room name may contain only") || !strings.Contains(body, "no spaces please") {
		t.Errorf("join with a bad room = %d; want 400 with the error and the typed room", resp.StatusCode)
	}
}

func TestBadRoomAndUnknownPathArePages(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for path, want := range map[string]int{"/rooms/bad%20room": 400, "/nothing": 404, "/rooms/" + strings.Repeat("x", 65): 400} {
		resp, body := a.do(t, "GET", path, "", "")
		if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `href="/"`) {
			t.Errorf("GET %s = %d %s, want %d as a page with a way back", path, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
	}
}

func TestAssets(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for path, ctype := range map[string]string{"/assets/app.css": "text/css", "/assets/chat.js": "text/javascript"} {
		resp, body := a.do(t, "GET", path, "", "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		etag := resp.Header.Get("ETag")
		resp, _ = a.do(t, "GET", path, "", "", "If-None-Match", etag)
		if etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag %q = %d, want 304", path, etag, resp.StatusCode)
		}
	}
}

// cookie is the cookie of resp named name, or nil.
func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
