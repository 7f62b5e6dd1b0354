package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/handlers"
)

func TestHealthAndReadiness(t *testing.T) {
	a := newApp(t, handlers.Options{})
	if resp, body := a.do(t, "GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /healthz = %d %s, want 200", resp.StatusCode, body)
	}
	if resp, body := a.do(t, "GET", "/readyz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /readyz = %d %s, want 200", resp.StatusCode, body)
	}
	a.store.Down.Store(true)
	if resp, body := a.do(t, "GET", "/readyz", "", ""); resp.StatusCode != 503 || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /readyz with the store down = %d %s, want 503 with an error", resp.StatusCode, body)
	}
	if resp, _ := a.do(t, "GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /healthz with the store down = %d, want 200", resp.StatusCode)
	}
}

func TestEmptyRoomListsNoMessages(t *testing.T) {
	a := newApp(t, handlers.Options{})
	resp, body := a.do(t, "GET", "/api/rooms/empty/messages", "", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"messages":[]}` {
		t.Errorf("GET an unknown room = %d %s, want 200 {\"messages\":[]}", resp.StatusCode, body)
	}
}

func TestPostAndList(t *testing.T) {
	a := newApp(t, handlers.Options{})
	before := time.Now().UTC().Add(-time.Second)
	texts := []string{"hi", "こんにちは 👋🏽", "שלום", "<b>bold?</b> & \"quotes\""}
	var posted []chat.Message
	for _, text := range texts {
		m := a.post(t, "lobby", "alice", text)
		if m.Text != text || m.Username != "alice" || m.Room != "lobby" || m.ID.IsZero() {
			t.Errorf("POST %q answered %+v", text, m)
		}
		if m.Time.Before(before) || m.Time.After(time.Now().Add(time.Second)) || m.Time.Location() != time.UTC {
			t.Errorf("POST %q: time %v is not the server's UTC now", text, m.Time)
		}
		posted = append(posted, m)
	}
	resp, body := a.do(t, "GET", "/api/rooms/lobby/messages", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET messages = %d %s", resp.StatusCode, body)
	}
	var got struct{ Messages []chat.Message }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(posted, got.Messages); diff != "" {
		t.Errorf("history (-posted +listed):\n%s", diff)
	}
	// The wire format of the contract, field by field.
	var raw []map[string]any
	json.Unmarshal([]byte(body[len(`{"messages":`):len(body)-2]), &raw)
	if len(raw) == 0 {
		t.Fatalf("cannot read the raw messages of %s", body)
	}
	for _, k := range []string{"id", "room", "username", "message", "time"} {
		if _, ok := raw[0][k].(string); !ok {
			t.Errorf("message field %q missing or not a string in %v", k, raw[0])
		}
	}
}

func TestAPIErrors(t *testing.T) {
	long := strings.Repeat("a", chat.MaxTextChars+1)
	tests := []struct {
		name, path, contentType, body string
		header                        []string
		want                          int
	}{
		{"malformed JSON", "/api/rooms/r/messages", "application/json", `{"username": "a", "message":`, nil, 400},
		{"data after the JSON value", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"b"} {}`, nil, 400},
		{"wrong JSON type", "/api/rooms/r/messages", "application/json", `{"username":1,"message":"b"}`, nil, 400},
		{"JSON array", "/api/rooms/r/messages", "application/json", `["a","b"]`, nil, 400},
		{"empty message", "/api/rooms/r/messages", "application/json", `{"username":"a","message":""}`, nil, 400},
		{"blank message", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"  \n "}`, nil, 400},
		{"missing name", "/api/rooms/r/messages", "application/json", `{"message":"b"}`, nil, 400},
		{"message too long", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"` + long + `"}`, nil, 400},
		{"name too long", "/api/rooms/r/messages", "application/json", `{"username":"` + strings.Repeat("n", 33) + `","message":"b"}`, nil, 400},
		{"invalid UTF-8", "/api/rooms/r/messages", "application/json", "{\"username\":\"a\",\"message\":\"\xff\"}", nil, 400},
		{"invalid room", "/api/rooms/no%20spaces/messages", "application/json", `{"username":"a","message":"b"}`, nil, 400},
		{"room too long", "/api/rooms/" + strings.Repeat("r", 65) + "/messages", "application/json", `{"username":"a","message":"b"}`, nil, 400},
		{"not JSON", "/api/rooms/r/messages", "text/plain", `{"username":"a","message":"b"}`, nil, 415},
		{"form to the API", "/api/rooms/r/messages", "application/x-www-form-urlencoded", `username=a&message=b`, nil, 415},
		{"no content type", "/api/rooms/r/messages", "", `{"username":"a","message":"b"}`, nil, 415},
		{"body too large", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"` + strings.Repeat("a", 100<<10) + `"}`, nil, 413},
		{"cross-site post", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"b"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign origin", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"b"}`, []string{"Origin", "https://evil.example"}, 403},
		{"unknown API path", "/api/nothing", "", "", nil, 404},
		{"wrong method", "/api/rooms/r/messages", "application/json", "", []string{"X-Method", "DELETE"}, 405},
		{"stream of an invalid room", "/api/rooms/bad!room/events", "", "", []string{"X-Method", "GET"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, handlers.Options{})
			method := "POST"
			if len(tt.header) == 2 && tt.header[0] == "X-Method" {
				method, tt.header = tt.header[1], nil
			}
			if tt.path == "/api/nothing" {
				method = "GET"
			}
			resp, body := a.do(t, method, tt.path, tt.contentType, tt.body, tt.header...)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Errorf("body %q is not {\"error\": ...}", body)
			}
			if hist, _ := a.store.History(t.Context(), "r"); len(hist) != 0 {
				t.Errorf("a rejected post was stored: %v", hist)
			}
		})
	}
}

func TestStoreDownIs503AndNothingIsStored(t *testing.T) {
	a := newApp(t, handlers.Options{})
	s := a.openStream(t, "/api/rooms/r/events")
	a.store.Down.Store(true)
	resp, body := a.do(t, "POST", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"lost?"}`)
	if resp.StatusCode != 503 || !strings.Contains(body, "unavailable") || strings.Contains(body, chattest.ErrDown.Error()) {
		t.Errorf("POST with the store down = %d %s, want 503 with a safe error", resp.StatusCode, body)
	}
	if resp, _ := a.do(t, "GET", "/api/rooms/r/messages", "", ""); resp.StatusCode != 503 {
		t.Errorf("GET messages with the store down = %d, want 503", resp.StatusCode)
	}
	a.store.Down.Store(false)
	a.post(t, "r", "a", "stored")
	if got := s.nextMessage(t).Text; got != "stored" {
		t.Errorf("the stream's first message is %q, want the stored one", got)
	}
}

func TestPostRateLimit(t *testing.T) {
	a := newApp(t, handlers.Options{PostRate: 0.5, PostBurst: 2})
	a.post(t, "r", "a", "1")
	a.post(t, "r", "a", "2")
	resp, body := a.do(t, "POST", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"3"}`)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third post in a burst of 2 = %d %s, want 429", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2 (one post every 2s)", ra)
	}
	if hist, _ := a.store.History(t.Context(), "r"); len(hist) != 2 {
		t.Errorf("%d messages stored, want 2", len(hist))
	}
}

func TestStreamsPerClientLimit(t *testing.T) {
	// A stream notices its client left at its next write: beat often.
	a := newApp(t, handlers.Options{MaxStreamsPerClient: 2, Heartbeat: 5 * time.Millisecond})
	first := a.openStream(t, "/api/rooms/r/events")
	a.openStream(t, "/api/rooms/other/events")
	resp, body := a.do(t, "GET", "/api/rooms/r/events", "", "")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "streams") {
		t.Errorf("third stream = %d %s, want 429", resp.StatusCode, body)
	}
	first.close()
	// The slot is released when the server notices the client left (at
	// the next heartbeat); the hub's subscriber count is that signal.
	waitFor(t, func() bool { return len(a.hub.Rooms()) == 1 })
	s := a.openStream(t, "/api/rooms/r/events")
	if s.resp.StatusCode != 200 {
		t.Errorf("stream after one closed = %d, want 200", s.resp.StatusCode)
	}
}

// waitFor polls cond, which watches state another goroutine changes with
// no channel to wait on, until it holds or 5s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCORS(t *testing.T) {
	a := newApp(t, handlers.Options{CORSOrigins: []string{"https://game.example"}})
	resp, _ := a.do(t, "OPTIONS", "/api/rooms/r/messages", "", "",
		"Origin", "https://game.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://game.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight from an allowed origin = %d %v", resp.StatusCode, resp.Header)
	}
	// A site may start rooms and act as their host from its pages.
	for _, pre := range []struct{ path, method, headers string }{
		{"/api/rooms", "POST", "content-type"},
		{"/api/rooms/r/host/lock", "POST", "x-host-key"},
		{"/api/rooms/r/messages/x-1", "DELETE", "x-host-key"},
	} {
		resp, _ := a.do(t, "OPTIONS", pre.path, "", "",
			"Origin", "https://game.example", "Access-Control-Request-Method", pre.method, "Access-Control-Request-Headers", pre.headers)
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), pre.method) ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), pre.headers) {
			t.Errorf("preflight of %s %s = %d %v", pre.method, pre.path, resp.StatusCode, resp.Header)
		}
	}
	resp, got := a.do(t, "POST", "/api/rooms", "application/json", `{"lifetime":"30m"}`,
		"Origin", "https://game.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != "https://game.example" {
		t.Errorf("cross-site start from an allowed origin = %d %s", resp.StatusCode, got)
	}
	body := `{"username":"a","message":"from the game"}`
	resp, got = a.do(t, "POST", "/api/rooms/r/messages", "application/json", body,
		"Origin", "https://game.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != "https://game.example" {
		t.Errorf("cross-site post from an allowed origin = %d %s", resp.StatusCode, got)
	}
	resp, _ = a.do(t, "POST", "/api/rooms/r/messages", "application/json", body,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("cross-site post from another origin = %d, ACAO %q; want 403, none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestClientBehindTrustedProxies(t *testing.T) {
	a := newApp(t, handlers.Options{
		PostRate: 0.001, PostBurst: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
	})
	post := func(xff string) int {
		resp, _ := a.do(t, "POST", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"b"}`, "X-Forwarded-For", xff)
		return resp.StatusCode
	}
	// Two clients behind the same proxies each get their own budget; a
	// client cannot shed its limit by prepending a forged address.
	for _, tt := range []struct {
		xff  string
		want int
	}{
		{"203.0.113.7", 201},
		{"203.0.113.7", 429},
		{"198.51.100.9, 10.1.2.3", 201},
		{"1.2.3.4, 203.0.113.7", 429},
		{"garbage", 201}, // an unreadable chain: the proxy itself is the client
		{"garbage", 429},
	} {
		if got := post(tt.xff); got != tt.want {
			t.Errorf("X-Forwarded-For %q: %d, want %d", tt.xff, got, tt.want)
		}
	}
}
