package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/handlers"
)

// getRoutes are the paths of every route that serves GET but the stream.
var getRoutes = []string{
	"/healthz", "/readyz", "/metrics", "/assets/app.css", "/assets/chat.js",
	"/", "/rooms/big", "/embed/big", "/api/rooms/big/messages",
}

// bigRoom posts enough to room "big" that its page and its JSON history
// are well above the size worth compressing.
func bigRoom(t *testing.T, a *app) {
	t.Helper()
	for i := range 30 {
		a.post(t, "big", "alice", fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog", i))
	}
}

// fetch sends a request with exactly the headers given: the client
// neither asks for gzip on its own nor decodes what it gets.
func (a *app) fetch(t *testing.T, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	tr := a.Client().Transport.(*http.Transport).Clone() // with the test server's TLS, for HTTP/2
	tr.DisableCompression = true
	client := &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

// rawHead sends HEAD path and then GET /healthz on one connection and
// returns the HEAD's response. That the second response parses right after
// the first's header shows that the HEAD's response had no body.
func (a *app) rawHead(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", a.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var extra strings.Builder
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&extra, "%s: %s\r\n", header[i], header[i+1])
	}
	fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: chat\r\n%s\r\nGET /healthz HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n", path, extra.String())
	br := bufio.NewReader(conn)
	head, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil {
		t.Fatalf("HEAD %s: %v", path, err)
	}
	next, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("HEAD %s: the next response on the connection: %v (the HEAD sent a body?)", path, err)
	}
	body, _ := io.ReadAll(next.Body)
	if next.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("HEAD %s: the next response on the connection is %d %q, want /healthz's (the HEAD sent a body?)", path, next.StatusCode, body)
	}
	return head
}

func TestHeadAnswersLikeGet(t *testing.T) {
	a := newApp(t, handlers.Options{})
	bigRoom(t, a)
	for _, ae := range []string{"identity", "gzip, br"} {
		for _, path := range getRoutes {
			t.Run(ae+" "+path, func(t *testing.T) {
				// A reader with an author key: a page gives one to a
				// browser without (a new one each time).
				me := "chat_author=head-test"
				get, body := a.fetch(t, "GET", path, "Accept-Encoding", ae, "Cookie", me)
				head, headBody := a.fetch(t, "HEAD", path, "Accept-Encoding", ae, "Cookie", me)
				if get.StatusCode != http.StatusOK || head.StatusCode != get.StatusCode {
					t.Fatalf("GET %d, HEAD %d; want 200 for both", get.StatusCode, head.StatusCode)
				}
				if len(body) == 0 || len(headBody) != 0 {
					t.Errorf("GET body %d bytes, HEAD body %d; want some, none", len(body), len(headBody))
				}
				ignore := []string{"Date"}
				if path == "/metrics" {
					ignore = append(ignore, "Content-Length") // the numbers move between scrapes
				}
				g, h := get.Header.Clone(), head.Header.Clone()
				for _, k := range ignore {
					g.Del(k)
					h.Del(k)
				}
				if diff := cmp.Diff(g, h); diff != "" {
					t.Errorf("HEAD headers differ from GET's (-GET +HEAD):\n%s", diff)
				}
				raw := a.rawHead(t, path, "Accept-Encoding", ae)
				if raw.StatusCode != http.StatusOK || raw.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
					t.Errorf("raw HEAD: %d %q", raw.StatusCode, raw.Header.Get("Content-Type"))
				}
			})
		}
	}
}

func TestHeadOnTheEventStreamOpensNone(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "r", "alice", "hi")
	resp := a.rawHead(t, "/api/rooms/r/events", "Accept", "text/event-stream")
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != "text/event-stream" ||
		h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" || h.Get("Date") == "" {
		t.Errorf("HEAD events: %d %v; want 200 with the stream's headers", resp.StatusCode, h)
	}
	if resp, _ := a.fetch(t, "HEAD", "/api/rooms/r/events"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD events = %d", resp.StatusCode)
	}
	if n := a.hub.Stats().Subscribers; n != 0 {
		t.Errorf("after HEAD, %d streams open; want none", n)
	}
	// Same headers as the stream itself.
	st := a.openStream(t, "/api/rooms/r/events")
	for _, k := range []string{"Content-Type", "Cache-Control", "X-Accel-Buffering"} {
		if got, want := h.Get(k), st.resp.Header.Get(k); got != want {
			t.Errorf("HEAD events %s %q, the stream's %q", k, got, want)
		}
	}
	if resp, _ := a.fetch(t, "HEAD", "/api/rooms/"+strings.Repeat("x", 300)+"/events"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("HEAD events of an invalid room = %d, want 400 as GET", resp.StatusCode)
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/healthz", "GET, HEAD"},
		{"POST", "/readyz", "GET, HEAD"},
		{"PUT", "/metrics", "GET, HEAD"},
		{"DELETE", "/metrics", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
		{"PUT", "/assets/app.css", "GET, HEAD"},
		{"DELETE", "/assets/x", "GET, HEAD"},
		{"DELETE", "/", "GET, HEAD"},
		{"GET", "/join", "POST"},
		{"PUT", "/rooms/lobby", "GET, HEAD"},
		{"GET", "/rooms/lobby/messages", "POST"},
		{"PATCH", "/embed/lobby", "GET, HEAD"},
		{"GET", "/embed/lobby/messages", "POST"},
		{"DELETE", "/api/rooms/lobby/messages", "GET, HEAD, POST"},
		{"POST", "/api/rooms/lobby/events", "GET, HEAD"},
		{"BREW", "/healthz", "GET, HEAD"}, // a method chi does not know
	} {
		resp, body := a.fetch(t, c.method, c.path)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d, Allow %q; want 405, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
		if strings.HasPrefix(c.path, "/api/") && !bytes.Contains(body, []byte(`"error"`)) {
			t.Errorf("%s %s: body %q, want a JSON error", c.method, c.path, body)
		}
	}
	if resp, _ := a.fetch(t, "BREW", "/nowhere"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("BREW /nowhere = %d, want 404", resp.StatusCode)
	}
}

func TestCacheControlFitsTheRoute(t *testing.T) {
	a := newApp(t, handlers.Options{})
	bigRoom(t, a)
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/", "no-store"},
		{"GET", "/rooms/big", "no-store"},
		{"GET", "/embed/big", "no-store"},
		{"GET", "/api/rooms/big/messages", "no-store"},
		{"GET", "/healthz", "no-store"},
		{"GET", "/readyz", "no-store"},
		{"GET", "/metrics", "no-store"},
		{"GET", "/nowhere", "no-store"},
		{"PUT", "/healthz", "no-store"},
		{"GET", "/assets/app.css", "no-cache"},
		{"GET", "/assets/chat.js", "no-cache"},
	} {
		resp, _ := a.fetch(t, c.method, c.path)
		if got := resp.Header.Get("Cache-Control"); got != c.want {
			t.Errorf("%s %s: Cache-Control %q, want %q", c.method, c.path, got, c.want)
		}
	}
	resp, _ := a.fetch(t, "POST", "/join")
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("POST /join: Cache-Control %q, want no-store", got)
	}
	// Assets revalidate.
	resp, _ = a.fetch(t, "GET", "/assets/app.css")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /assets/app.css")
	}
	if resp, _ := a.fetch(t, "GET", "/assets/app.css", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match its own ETag = %d, want 304", resp.StatusCode)
	}
	st := a.openStream(t, "/api/rooms/big/events")
	if got := st.resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("event stream: Cache-Control %q, want no-cache", got)
	}
}

func TestEveryResponseIsDated(t *testing.T) {
	a := newApp(t, handlers.Options{})
	bigRoom(t, a)
	check := func(what string, h http.Header) {
		t.Helper()
		if _, err := http.ParseTime(h.Get("Date")); err != nil {
			t.Errorf("%s: Date %q: %v", what, h.Get("Date"), err)
		}
	}
	for _, path := range append(slices.Clone(getRoutes), "/nowhere") {
		for _, m := range []string{"GET", "HEAD", "PUT"} {
			resp, _ := a.fetch(t, m, path, "Accept-Encoding", "gzip, br")
			check(m+" "+path, resp.Header)
		}
	}
	resp, _ := a.fetch(t, "POST", "/join")
	check("POST /join", resp.Header)
	check("HEAD events", a.rawHead(t, "/api/rooms/big/events").Header)
}

// decoded returns body decoded from coding.
func decoded(t *testing.T, coding string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "":
		return body
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = z
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		t.Fatalf("Content-Encoding %q", coding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return b
}

func TestCompressionFollowsAcceptEncoding(t *testing.T) {
	a := newApp(t, handlers.Options{})
	bigRoom(t, a)
	for _, path := range []string{"/rooms/big", "/embed/big", "/api/rooms/big/messages", "/assets/app.css", "/assets/chat.js"} {
		// One author key, so that the pages show one reader's tag.
		me := "chat_author=compression-test"
		_, plain := a.fetch(t, "GET", path, "Cookie", me)
		if len(plain) < 2048 {
			t.Fatalf("GET %s: %d bytes, too few to test compression", path, len(plain))
		}
		for _, c := range []struct{ accept, want string }{
			{"", ""},
			{"gzip", "gzip"},
			{"br", "br"},
			{"gzip, br", "br"},
			{"gzip, deflate, br, zstd", "br"},
			{"br;q=0.5, gzip", "gzip"},
			{"gzip;q=0.8, br;q=0.9", "br"},
			{"GZIP", "gzip"},
			{"x-gzip", "gzip"},
			{"*", "br"},
			{"br;q=0, *", "gzip"},
			{"*;q=0", ""},
			{"gzip;q=0, br;q=0", ""},
			{"identity", ""},
			{"gzip;q=0.5, identity", ""},
			{"deflate", ""},
			{"gzip;q=x", ""},
		} {
			resp, body := a.fetch(t, "GET", path, "Accept-Encoding", c.accept, "Cookie", me)
			ce := resp.Header.Get("Content-Encoding")
			if resp.StatusCode != http.StatusOK || ce != c.want {
				t.Errorf("GET %s, Accept-Encoding %q: %d, Content-Encoding %q; want 200, %q", path, c.accept, resp.StatusCode, ce, c.want)
				continue
			}
			if !slices.Contains(resp.Header.Values("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s, Accept-Encoding %q: Vary %q, want Accept-Encoding", path, c.accept, resp.Header.Values("Vary"))
			}
			if got := decoded(t, ce, body); !bytes.Equal(got, plain) {
				t.Errorf("GET %s, Accept-Encoding %q: decoded body differs from the plain one (%d, %d bytes)", path, c.accept, len(got), len(plain))
			}
			if ce != "" && len(body) > len(plain)/2 {
				t.Errorf("GET %s, %s: %d bytes of %d", path, ce, len(body), len(plain))
			}
			if ce != "" && resp.Header.Get("Content-Type") == "" {
				t.Errorf("GET %s, %s: no Content-Type", path, ce)
			}
		}
	}
}

func TestSmallResponsesAreNotCompressed(t *testing.T) {
	a := newApp(t, handlers.Options{})
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/rooms/empty/messages"},
		{"GET", "/healthz"},
		{"GET", "/nowhere"},
		{"DELETE", "/api/rooms/empty/messages"},
	} {
		resp, body := a.fetch(t, c.method, c.path, "Accept-Encoding", "gzip, br")
		if ce := resp.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s %s (%d bytes): Content-Encoding %q, want none", c.method, c.path, len(body), ce)
		}
	}
	resp, body := a.fetch(t, "GET", "/api/rooms/empty/messages", "Accept-Encoding", "gzip, br")
	if string(body) != "{\"messages\":[]}\n" || resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Errorf("small JSON: %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
	}
	m := a.post(t, "r", "alice", "hi") // the 201 is small too
	if m.Text != "hi" {
		t.Errorf("posted %q", m.Text)
	}
}

func TestEventStreamIsNeverCompressed(t *testing.T) {
	a := newApp(t, handlers.Options{})
	long := strings.Repeat("compress me ", 100) // well above the threshold
	a.post(t, "r", "alice", long)
	st := a.openStream(t, "/api/rooms/r/events", "Accept-Encoding", "gzip, br")
	if ce := st.resp.Header.Get("Content-Encoding"); ce != "" || st.resp.Uncompressed {
		t.Fatalf("stream Content-Encoding %q (decoded by the client: %v), want none", ce, st.resp.Uncompressed)
	}
	if got := st.nextMessage(t).Text; got != long {
		t.Errorf("backlog message %d bytes, want %d", len(got), len(long))
	}
	for i := range 3 {
		text := fmt.Sprintf("%d %s", i, long)
		a.post(t, "r", "bob", text)
		if got := st.nextMessage(t).Text; got != text {
			t.Errorf("live message %d: %d bytes, want %d", i, len(got), len(text))
		}
	}
}

func TestCompressedAssetsRevalidate(t *testing.T) {
	a := newApp(t, handlers.Options{})
	etags := map[string]string{}
	for _, ae := range []string{"", "gzip", "br"} {
		resp, _ := a.fetch(t, "GET", "/assets/chat.js", "Accept-Encoding", ae)
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("Accept-Encoding %q: no ETag", ae)
		}
		for other, e := range etags {
			if e == etag {
				t.Errorf("Accept-Encoding %q and %q share ETag %s; each representation needs its own", ae, other, etag)
			}
		}
		etags[ae] = etag
		resp, body := a.fetch(t, "GET", "/assets/chat.js", "Accept-Encoding", ae, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("Accept-Encoding %q, If-None-Match its ETag: %d, %d bytes; want 304, none", ae, resp.StatusCode, len(body))
		}
	}
	// A brotli ETag does not validate the gzip representation.
	if resp, _ := a.fetch(t, "GET", "/assets/chat.js", "Accept-Encoding", "gzip", "If-None-Match", etags["br"]); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip with the brotli ETag: %d %q; want 200 gzip", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
}

// Over HTTP/2 the stream goes through the ResponseWriter: it must still
// pass uncompressed, while a page is compressed.
func TestCompressionOverHTTP2(t *testing.T) {
	a := newApp(t, handlers.Options{}, func(s *httptest.Server) { s.EnableHTTP2 = true })
	bigRoom(t, a)
	resp, body := a.fetch(t, "GET", "/rooms/big", "Accept-Encoding", "br")
	if resp.ProtoMajor != 2 || resp.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("page over HTTP/%d: Content-Encoding %q, want br over HTTP/2", resp.ProtoMajor, resp.Header.Get("Content-Encoding"))
	}
	if !bytes.Contains(decoded(t, "br", body), []byte("message 29")) {
		t.Errorf("decoded page lacks the last message")
	}
	if head, _ := a.fetch(t, "HEAD", "/rooms/big", "Accept-Encoding", "br"); head.StatusCode != http.StatusOK || head.Header.Get("Content-Encoding") != "br" {
		t.Errorf("HEAD over HTTP/2: %d %q", head.StatusCode, head.Header.Get("Content-Encoding"))
	}
	st := a.openStream(t, "/api/rooms/big/events", "Accept-Encoding", "gzip, br")
	if st.resp.ProtoMajor != 2 || st.resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("stream over HTTP/%d: Content-Encoding %q, want none over HTTP/2", st.resp.ProtoMajor, st.resp.Header.Get("Content-Encoding"))
	}
	if got := st.nextMessage(t).Text; !strings.HasPrefix(got, "message 0:") {
		t.Errorf("first message %q", got)
	}
}
