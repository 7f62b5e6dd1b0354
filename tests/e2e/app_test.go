package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// app is the whole chat served in-process on 127.0.0.1, with hooks that
// let a test see and hold the requests the page makes.
type app struct {
	*httptest.Server
	hub   *chat.Hub
	svc   *chat.Service
	store *chattest.FlakyStore

	opened chan streamRequest // each event stream request, as it arrives

	mu      sync.Mutex
	pages   []string      // "GET /path" of each page served
	streams chan struct{} // while non-nil, new event streams wait for it to close
	posts   chan struct{} // while non-nil, API posts wait for it to close
}

// streamRequest is how a page asked for an event stream.
type streamRequest struct {
	lastEventID string // the Last-Event-ID header: the browser resuming
	after       string // the ?after= cursor the page put in the URL
}

// newApp serves a chat with options o (a post rate of 0 unless o sets
// one: tests are not rate limited).
func newApp(t *testing.T, o handlers.Options) *app {
	t.Helper()
	return newAppOn(t, newListener(t), o)
}

// newListener listens on a free port of 127.0.0.1.
func newListener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// newAppOn serves the chat on l.
func newAppOn(t *testing.T, l net.Listener, o handlers.Options) *app {
	t.Helper()
	a := &app{opened: make(chan streamRequest, 64)}
	if o.Retry == 0 {
		// Reconnect fast: the resume tests wait on it.
		o.Retry = 100 * time.Millisecond
	}
	served := handlerstest.New(t, handlerstest.Config{Handlers: o, Listener: l, Wrap: a.tap})
	a.Server, a.hub, a.svc, a.store = served.Server, served.Hub, served.Service, served.Store
	return a
}

// tap reports each event stream request, notes the pages served, and
// holds streams and API posts while the test asks it to.
func (a *app) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var hold chan struct{}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/events"):
			select {
			case a.opened <- streamRequest{lastEventID: r.Header.Get("Last-Event-ID"), after: r.URL.Query().Get("after")}:
			default: // nobody is counting
			}
			a.mu.Lock()
			hold = a.streams
			a.mu.Unlock()
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/"):
			a.mu.Lock()
			hold = a.posts
			a.mu.Unlock()
		case r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/assets/"):
			a.mu.Lock()
			a.pages = append(a.pages, "GET "+r.URL.Path)
			a.mu.Unlock()
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// nextStream waits for the next event stream request.
func (a *app) nextStream(t *testing.T) streamRequest {
	t.Helper()
	select {
	case req := <-a.opened:
		return req
	case <-time.After(pollWait):
		t.Fatalf("no event stream request within %v", pollWait)
		return streamRequest{}
	}
}

// served reports whether the app has served the page "GET path".
func (a *app) served(path string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.pages, "GET "+path)
}

// holdStreams makes new event streams wait until release is called.
func (a *app) holdStreams() (release func()) {
	return a.hold(&a.streams)
}

// holdPosts makes API posts wait until release is called.
func (a *app) holdPosts() (release func()) {
	return a.hold(&a.posts)
}

func (a *app) hold(gate *chan struct{}) func() {
	c := make(chan struct{})
	a.mu.Lock()
	*gate = c
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			*gate = nil
			a.mu.Unlock()
			close(c)
		})
	}
}

// post stores a message as if someone else had sent it.
func (a *app) post(t *testing.T, room chat.Room, name, text string) chat.Message {
	t.Helper()
	m, err := a.svc.Post(t.Context(), room, name, text)
	if err != nil {
		t.Fatalf("post %q to %s: %v", text, room, err)
	}
	return m
}

// listen keeps an event stream of room open until the test ends, as a
// reader elsewhere would.
func (a *app) listen(t *testing.T, room string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/api/rooms/"+room+"/events", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// The headers go out at once: once Do returns, the stream is open.
	resp, err := a.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("listening to %s: %v", room, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
}
