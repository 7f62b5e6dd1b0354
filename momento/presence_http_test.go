package momento_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// serve serves in's chat over HTTP on 127.0.0.1, as cmd/chat does.
func serve(t *testing.T, in *instance) *httptest.Server {
	t.Helper()
	streams, end := context.WithCancel(context.Background())
	h := handlers.New(slog.New(slog.NewTextHandler(io.Discard, nil)), in.svc, in.hub, handlers.Options{Streams: streams, HistoryTTL: time.Hour})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return streams }
	srv.Start()
	t.Cleanup(func() { end(); srv.Close() })
	return srv
}

// sse reads the events of one stream.
type sse struct {
	lines  *bufio.Reader
	cancel context.CancelFunc
}

func openSSE(t *testing.T, url, cookie string) *sse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s: %v %v", url, resp, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return &sse{lines: bufio.NewReader(resp.Body), cancel: cancel}
}

// presence reads up to the next presence event for which ok holds.
func (s *sse) presence(t *testing.T, what string, ok func(chat.Presence) bool) chat.Presence {
	t.Helper()
	event := ""
	for {
		line, err := s.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream for %s: %v", what, err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "presence":
			var p chat.Presence
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p); err != nil {
				t.Fatal(err)
			}
			if ok(p) {
				return p
			}
		case line == "":
			event = ""
		}
	}
}

func hasPeople(want string) func(chat.Presence) bool {
	return func(p chat.Presence) bool { return peopleNames(p) == want }
}

// Over HTTP, two instances on one Momento: a stream on each, each sees
// both; the lobby of either counts both; a closed tab on one drops out of
// the other's stream.
func TestPresenceOverHTTPAcrossInstances(t *testing.T) {
	clock := roomClock()
	srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
	a, b := newRoomInstance(t, srv, clock), newRoomInstance(t, srv, clock)
	ha, hb := serve(t, a), serve(t, b)
	// step moves the clock a coalescing window on once cond (news the
	// other instance sends over the topic) holds.
	step := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, cond)
		clock.Advance(chat.PresenceEvery)
	}

	alice := openSSE(t, ha.URL+"/api/rooms/p/events", "chat_name=alice; chat_author=ka")
	alice.presence(t, "alice on connect", hasPeople("alice"))
	bob := openSSE(t, hb.URL+"/api/rooms/p/events", "chat_name=bob; chat_author=kb")
	bob.presence(t, "bob on connect", func(p chat.Presence) bool { return strings.Contains(peopleNames(p), "bob") })

	step("A hears of bob", func() bool { return peopleNames(a.svc.Presence("p")) == "alice,bob" })
	alice.presence(t, "bob on A's stream", hasPeople("alice,bob"))
	step("B hears of alice", func() bool { return peopleNames(b.svc.Presence("p")) == "alice,bob" })
	bob.presence(t, "alice on B's stream", hasPeople("alice,bob"))

	resp, err := http.Get(ha.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "2 here") {
		t.Errorf("A's lobby does not count bob, who is on B: want 2 here")
	}

	bob.cancel() // the tab closes
	step("B sees bob leave", func() bool { return peopleNames(b.svc.Presence("p")) == "alice" })
	step("A hears bob left", func() bool { return peopleNames(a.svc.Presence("p")) == "alice" })
	alice.presence(t, "bob gone from A's stream", hasPeople("alice"))
}
