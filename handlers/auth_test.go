package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
)

const authSecret = "test secret of at least 32 bytes, for HS256"

// token mints a token for name that expires in ttl.
func token(t *testing.T, name string, ttl time.Duration, rooms auth.Rooms) string {
	t.Helper()
	now := time.Now()
	tok, err := auth.Mint([]byte(authSecret), auth.Claims{
		Name:  name,
		Rooms: rooms,
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signedWith signs a token for alice in lobby with another method or key.
func signedWith(t *testing.T, m jwt.SigningMethod, key any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, auth.Claims{
		Name:             "alice",
		Rooms:            auth.Rooms{Read: []string{"*"}, Write: []string{"*"}},
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// privateRoutes are the room routes, each with a request that succeeds
// given a token that may read and write lobby.
var privateRoutes = []struct {
	method, path, contentType, body string
	ok                              int
}{
	{"GET", "/rooms/lobby", "", "", http.StatusOK},
	{"GET", "/embed/lobby", "", "", http.StatusOK},
	{"GET", "/api/rooms/lobby/messages", "", "", http.StatusOK},
	{"GET", "/api/rooms/lobby/events", "", "", http.StatusOK},
	{"POST", "/api/rooms/lobby/messages", "application/json", `{"username":"x","message":"hi"}`, http.StatusCreated},
	{"POST", "/rooms/lobby/messages", "application/x-www-form-urlencoded", "username=x&message=hi", http.StatusSeeOther},
	{"POST", "/embed/lobby/messages", "application/x-www-form-urlencoded", "username=x&message=hi", http.StatusSeeOther},
}

func TestPrivateRoomsNeedAToken(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	both := auth.Rooms{Read: []string{"lobby"}, Write: []string{"lobby"}}
	tests := []struct {
		name   string
		header []string
		want   int // 0: the route's success
		error  string
	}{
		{"no token", nil, http.StatusUnauthorized, "this room is private: it needs a token"},
		{"not a bearer token", []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}, http.StatusUnauthorized, "it needs a token"},
		{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized, "it needs a token"},
		{"garbage", bearer("not.a.token"), http.StatusUnauthorized, "the token is not valid"},
		{"expired", bearer(token(t, "alice", -time.Hour, both)), http.StatusUnauthorized, "the token has expired"},
		{"wrong signature", bearer(func() string {
			tok, _ := auth.Mint([]byte("another secret, just as long as the first"), auth.Claims{
				Name: "alice", Rooms: both,
				RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
			})
			return tok
		}()), http.StatusUnauthorized, "the token is not valid"},
		{"alg none", bearer(signedWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)), http.StatusUnauthorized, "the token is not valid"},
		{"alg HS512", bearer(signedWith(t, jwt.SigningMethodHS512, []byte(authSecret))), http.StatusUnauthorized, "the token is not valid"},
		{"name too long", bearer(token(t, strings.Repeat("a", chat.MaxNameChars+1), time.Hour, both)), http.StatusUnauthorized, "the token is not valid"},
		{"other room", bearer(token(t, "alice", time.Hour, auth.Rooms{Read: []string{"lobby2"}, Write: []string{"game-*"}})), http.StatusForbidden, "your token does not let you"},
		{"room named", bearer(token(t, "alice", time.Hour, both)), 0, ""},
		{"wildcard", bearer(token(t, "alice", time.Hour, auth.Rooms{Read: []string{"*"}, Write: []string{"lob*"}})), 0, ""},
		{"bearer in lower case", []string{"Authorization", "bearer " + token(t, "alice", time.Hour, both)}, 0, ""},
	}
	for _, tt := range tests {
		for _, rt := range privateRoutes {
			t.Run(tt.name+"/"+rt.method+rt.path, func(t *testing.T) {
				want := tt.want
				if want == 0 {
					want = rt.ok
				}
				if rt.path == "/api/rooms/lobby/events" && want == http.StatusOK {
					s := a.openStream(t, rt.path, tt.header...)
					if s.resp.StatusCode != want {
						t.Errorf("status %d, want %d", s.resp.StatusCode, want)
					}
					return
				}
				resp, body := a.do(t, rt.method, rt.path, rt.contentType, rt.body, tt.header...)
				if resp.StatusCode != want {
					t.Fatalf("status %d, want %d; body %.300s", resp.StatusCode, want, body)
				}
				if tt.error == "" {
					return
				}
				if !strings.Contains(body, tt.error) {
					t.Errorf("body %.300s, want it to say %q", body, tt.error)
				}
				api := strings.HasPrefix(rt.path, "/api/")
				if ct := resp.Header.Get("Content-Type"); api != strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q on %s", ct, rt.path)
				}
				if auth := resp.Header.Get("WWW-Authenticate"); (want == http.StatusUnauthorized) != strings.HasPrefix(auth, "Bearer") {
					t.Errorf("status %d with WWW-Authenticate %q", want, auth)
				}
			})
		}
	}
}

func TestPermissionsAreSeparate(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	readOnly := bearer(token(t, "alice", time.Hour, auth.Rooms{Read: []string{"lobby"}}))
	writeOnly := bearer(token(t, "alice", time.Hour, auth.Rooms{Write: []string{"lobby"}}))
	for _, rt := range privateRoutes {
		t.Run(rt.method+rt.path, func(t *testing.T) {
			header, want := writeOnly, "your token does not let you read this room"
			if rt.method == "POST" {
				header, want = readOnly, "your token does not let you post in this room"
			}
			resp, body := a.do(t, rt.method, rt.path, rt.contentType, rt.body, header...)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, want) {
				t.Errorf("status %d, body %.300s; want 403 saying %q", resp.StatusCode, body, want)
			}
		})
	}
	if msgs := history(t, a, "lobby", readOnly); len(msgs) != 0 {
		t.Errorf("a read-only token posted %v", msgs)
	}
}

// history reads room's messages with a token header.
func history(t *testing.T, a *app, room string, header []string) []chat.Message {
	t.Helper()
	resp, body := a.do(t, "GET", "/api/rooms/"+room+"/messages", "", "", header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("history of %s: status %d, body %s", room, resp.StatusCode, body)
	}
	var got struct{ Messages []chat.Message }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	return got.Messages
}

func TestTheTokensNameWins(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	alice := bearer(token(t, "  alice ", time.Hour, auth.Rooms{Read: []string{"lobby"}, Write: []string{"lobby"}}))
	posts := []struct {
		path, contentType, body string
	}{
		{"/api/rooms/lobby/messages", "application/json", `{"username":"mallory","message":"json"}`},
		{"/api/rooms/lobby/messages", "application/json", `{"message":"json without a name"}`},
		{"/rooms/lobby/messages", "application/x-www-form-urlencoded", "username=mallory&message=form"},
		{"/embed/lobby/messages", "application/x-www-form-urlencoded", "message=embed+without+a+name"},
	}
	for _, p := range posts {
		if resp, body := a.do(t, "POST", p.path, p.contentType, p.body, alice...); resp.StatusCode >= 400 {
			t.Fatalf("POST %s %s: status %d, body %.300s", p.path, p.body, resp.StatusCode, body)
		}
	}
	for _, m := range history(t, a, "lobby", alice) {
		if m.Username != "alice" {
			t.Errorf("message %q posted as %q, want alice", m.Text, m.Username)
		}
	}

	// The page shows the token's name, read-only, whatever ?name= says.
	for _, path := range []string{"/rooms/lobby?name=mallory", "/embed/lobby?name=mallory"} {
		_, body := a.do(t, "GET", path, "", "", alice...)
		if !strings.Contains(body, `value="alice"`) || !strings.Contains(body, "readonly") || strings.Contains(body, "mallory") {
			t.Errorf("GET %s: the name field is not alice's, read-only: %.2000s", path, body)
		}
	}
	_, body := a.do(t, "GET", "/embed/lobby", "", "", alice...)
	if strings.Contains(body, "Open full room") {
		t.Error("a private embed links to the full room, which has no token")
	}
}

func TestTokenExchange(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	tok := token(t, "alice", time.Hour, auth.Rooms{Read: []string{"lobby"}, Write: []string{"lobby"}})
	for _, tt := range []struct{ path, location string }{
		{"/embed/lobby?token=" + tok, "/embed/lobby"},
		{"/rooms/lobby?name=bob&token=" + tok, "/rooms/lobby?name=bob"},
	} {
		resp, _ := a.do(t, "GET", tt.path, "", "")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.location {
			t.Fatalf("GET %s: status %d to %q, want 303 to %q", strings.Split(tt.path, "token=")[0], resp.StatusCode, resp.Header.Get("Location"), tt.location)
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v, want one", cookies)
		}
		c := cookies[0]
		if c.Value != tok || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteNoneMode || !c.Partitioned || c.Path != "/" {
			t.Errorf("cookie %s: want the token, HttpOnly; Secure; SameSite=None; Partitioned; Path=/", c)
		}
		if c.MaxAge < 3590 || c.MaxAge > 3600 {
			t.Errorf("cookie Max-Age %d, want the token's hour left", c.MaxAge)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}

	// The cookie then opens every room route.
	cookie := []string{"Cookie", "chat_token=" + tok}
	for _, rt := range privateRoutes {
		if rt.path == "/api/rooms/lobby/events" {
			if s := a.openStream(t, rt.path, cookie...); s.resp.StatusCode != http.StatusOK {
				t.Errorf("stream with the cookie: status %d", s.resp.StatusCode)
			}
			continue
		}
		if resp, body := a.do(t, rt.method, rt.path, rt.contentType, rt.body, cookie...); resp.StatusCode != rt.ok {
			t.Errorf("%s %s with the cookie: status %d, want %d; body %.300s", rt.method, rt.path, resp.StatusCode, rt.ok, body)
		}
	}

	// A bad token is not exchanged; the API does not take ?token=.
	for _, path := range []string{
		"/rooms/lobby?token=" + token(t, "alice", -time.Hour, auth.Rooms{Read: []string{"lobby"}}),
		"/embed/lobby?token=",
		"/api/rooms/lobby/messages?token=" + tok,
	} {
		resp, _ := a.do(t, "GET", path, "", "")
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("GET %s: status %d, cookies %v; want 401 and none", strings.Split(path, "token=")[0], resp.StatusCode, resp.Cookies())
		}
	}
}

func TestPrivateLobbyListsNoRooms(t *testing.T) {
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	a.openStream(t, "/api/rooms/secret-room/events", bearer(token(t, "alice", time.Hour, auth.Rooms{Read: []string{"secret-room"}}))...)
	resp, body := a.do(t, "GET", "/", "", "")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "secret-room") || strings.Contains(body, `id="join"`) {
		t.Errorf("lobby: status %d, body %s; want no rooms and no form", resp.StatusCode, body)
	}
	if !strings.Contains(body, "private") {
		t.Errorf("lobby: %s; want it to say rooms are private", body)
	}
}

func TestPublicRoomsNeedNoToken(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for _, rt := range privateRoutes {
		if rt.path == "/api/rooms/lobby/events" {
			continue
		}
		if resp, _ := a.do(t, rt.method, rt.path+"?token=x", rt.contentType, rt.body); resp.StatusCode != rt.ok {
			t.Errorf("%s %s without auth: status %d, want %d", rt.method, rt.path, resp.StatusCode, rt.ok)
		}
	}
}

// lockedBuffer is a log destination safe for concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTokensAreNeverLogged(t *testing.T) {
	var logs lockedBuffer
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
	t.Cleanup(mem.Close)
	hub := chat.NewHub(chat.HubOptions{Store: mem})
	t.Cleanup(hub.Close)
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(handlers.New(log, chat.NewService(mem, hub, nil), hub, handlers.Options{AuthSecret: authSecret}))
	a := &app{Server: srv, hub: hub}

	lobby := auth.Rooms{Read: []string{"lobby"}, Write: []string{"lobby"}}
	good := token(t, "alice", time.Hour, lobby)
	tokens := []string{
		good,
		token(t, "alice", -time.Hour, lobby),
		token(t, "alice", time.Hour, auth.Rooms{Read: []string{"elsewhere"}}),
		signedWith(t, jwt.SigningMethodHS512, []byte(authSecret)),
		good[:len(good)-4] + "AAAA",
		"garbage-" + good[10:40],
	}
	for _, tok := range tokens {
		s := a.openStream(t, "/api/rooms/lobby/events", bearer(tok)...)
		s.close()
		for _, rt := range privateRoutes {
			if rt.path == "/api/rooms/lobby/events" {
				continue
			}
			a.do(t, rt.method, rt.path, rt.contentType, rt.body, bearer(tok)...)
			a.do(t, rt.method, rt.path, rt.contentType, rt.body, "Cookie", "chat_token="+tok)
			a.do(t, rt.method, rt.path+"?token="+url.QueryEscape(tok), rt.contentType, rt.body)
		}
	}
	srv.Close() // waits for the handlers, and so for their log lines

	out := logs.String()
	if !strings.Contains(out, "token refused") || !strings.Contains(out, "status=401") || !strings.Contains(out, "status=303") {
		t.Fatalf("the log misses the requests: %s", out)
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(out, tok) || strings.Contains(out, sig) {
			t.Errorf("the log contains the token %s", tok)
		}
	}
}

// A stream ends when its token expires (with the leeway of the check).
// A recorder cannot be hijacked: this is the stream that writes through
// its ResponseWriter (HTTP/2).
func TestStreamEndsWhenTheTokenExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
		defer mem.Close()
		hub := chat.NewHub(chat.HubOptions{Store: mem})
		defer hub.Close()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		h := handlers.New(log, chat.NewService(mem, hub, nil), hub, handlers.Options{AuthSecret: authSecret, Heartbeat: time.Hour})

		start := time.Now()
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/api/rooms/lobby/events", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, "alice", 10*time.Minute, auth.Rooms{Read: []string{"lobby"}}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, want 200", rec.Code)
		}
		if got, want := time.Since(start), 10*time.Minute+auth.Leeway; got != want {
			t.Errorf("the stream ended after %s, want %s", got, want)
		}
	})
}
