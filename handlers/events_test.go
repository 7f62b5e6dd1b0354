package handlers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

func TestStreamHeadersGoOutAtOnce(t *testing.T) {
	a := newApp(t, handlers.Options{Retry: 1500 * time.Millisecond})
	// openStream returns when the response headers arrive: in an empty,
	// quiet room nothing else will.
	s := a.openStream(t, "/api/rooms/quiet/events")
	h := s.resp.Header
	if s.resp.StatusCode != 200 || h.Get("Content-Type") != "text/event-stream" ||
		h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Errorf("stream answered %d with headers %v", s.resp.StatusCode, h)
	}
	ev, err := s.next()
	if err != nil || ev.Retry != "1500" {
		t.Errorf("first field = %+v, %v; want retry: 1500", ev, err)
	}
}

func TestStreamReplaysHistoryThenLive(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "r", "alice", "one")
	a.post(t, "r", "bob", "two")
	s := a.openStream(t, "/api/rooms/r/events")
	if got := s.messages(t, 2); !cmp.Equal(got, []string{"one", "two"}) {
		t.Errorf("replay = %q, want [one two]", got)
	}
	for _, text := range []string{"three", "four", "five"} {
		a.post(t, "r", "carol", text)
	}
	if got := s.messages(t, 3); !cmp.Equal(got, []string{"three", "four", "five"}) {
		t.Errorf("live = %q, want [three four five]", got)
	}
}

func TestStreamResume(t *testing.T) {
	// cursor is an index into the five posted ids, or -1 for none.
	tests := []struct {
		name      string
		query     int // ?after=
		header    int // Last-Event-ID
		rawQuery  string
		rawHeader string
		want      []string
	}{
		{name: "Last-Event-ID", query: -1, header: 2, want: []string{"3", "4"}},
		{name: "after", query: 0, header: -1, want: []string{"1", "2", "3", "4"}},
		{name: "header wins over after", query: 0, header: 3, want: []string{"4"}},
		{name: "unknown cursor", query: -1, header: -1, rawQuery: "zzz-1", want: []string{"0", "1", "2", "3", "4"}},
		{name: "garbage cursor", query: -1, header: -1, rawHeader: "<script>", want: []string{"0", "1", "2", "3", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, handlers.Options{})
			var ids []string
			for i := range 5 {
				ids = append(ids, a.post(t, "r", "a", fmt.Sprint(i)).ID.String())
			}
			after, lastID := tt.rawQuery, tt.rawHeader
			if tt.query >= 0 {
				after = ids[tt.query]
			}
			if tt.header >= 0 {
				lastID = ids[tt.header]
			}
			path := "/api/rooms/r/events"
			if after != "" {
				path += "?after=" + url.QueryEscape(after)
			}
			var header []string
			if lastID != "" {
				header = []string{"Last-Event-ID", lastID}
			}
			s := a.openStream(t, path, header...)
			if got := s.messages(t, len(tt.want)); !cmp.Equal(got, tt.want) {
				t.Errorf("backlog = %q, want %q", got, tt.want)
			}
			// Then live, with nothing in between.
			live := a.post(t, "r", "a", "live")
			if got := s.nextMessage(t); got.ID != live.ID {
				t.Errorf("after the backlog got %q (%s), want the live message (%s)", got.Text, got.ID, live.ID)
			}
		})
	}
}

// A cursor at the end of history sends nothing until the next message.
func TestStreamResumeAtTheEnd(t *testing.T) {
	a := newApp(t, handlers.Options{})
	last := a.post(t, "r", "a", "seen")
	s := a.openStream(t, "/api/rooms/r/events", "Last-Event-ID", last.ID.String())
	a.post(t, "r", "a", "new")
	if got := s.nextMessage(t).Text; got != "new" {
		t.Errorf("first message after resuming at the end = %q, want new", got)
	}
}

func TestStreamRoomIsolation(t *testing.T) {
	a := newApp(t, handlers.Options{})
	sa := a.openStream(t, "/api/rooms/a/events")
	sb := a.openStream(t, "/api/rooms/b/events")
	a.post(t, "b", "x", "for b")
	a.post(t, "a", "x", "for a")
	if got := sa.nextMessage(t).Text; got != "for a" {
		t.Errorf("room a's stream got %q", got)
	}
	if got := sb.nextMessage(t).Text; got != "for b" {
		t.Errorf("room b's stream got %q", got)
	}
}

func TestStreamHeartbeat(t *testing.T) {
	a := newApp(t, handlers.Options{Heartbeat: 20 * time.Millisecond})
	s := a.openStream(t, "/api/rooms/idle/events")
	for range 2 {
		ev, err := s.next()
		for err == nil && (ev.Retry != "" || ev.Event == "room" || ev.Event == "presence") {
			ev, err = s.next()
		}
		if err != nil || ev.Comment == "" || ev.Event != "" {
			t.Fatalf("idle stream sent %+v, %v; want a comment", ev, err)
		}
	}
}

// A dropped subscriber's stream ends; the client resumes with its last
// id and gets what was posted meanwhile, nothing twice.
func TestDroppedStreamResumes(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.post(t, "r", "a", "0")
	s := a.openStream(t, "/api/rooms/r/events")
	last := s.nextMessage(t)
	a.hub.Drop("r")
	for {
		_, err := s.next()
		if err != nil {
			break // the server ended the stream
		}
	}
	a.post(t, "r", "a", "1")
	a.post(t, "r", "a", "2")
	s2 := a.openStream(t, "/api/rooms/r/events", "Last-Event-ID", last.ID.String())
	if got := s2.messages(t, 2); !cmp.Equal(got, []string{"1", "2"}) {
		t.Errorf("after resuming = %q, want [1 2]", got)
	}
}

// Many posters and many streams at once: every stream sees every message
// exactly once, in history order.
func TestConcurrentPostersAndStreams(t *testing.T) {
	const posters, each, streams = 5, 30, 20
	a := newApp(t, handlers.Options{})
	var ss []*stream
	for range streams / 2 {
		ss = append(ss, a.openStream(t, "/api/rooms/busy/events"))
	}
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				a.post(t, "busy", fmt.Sprint("p", p), fmt.Sprint(i))
			}
		})
	}
	// Half the streams join while the posts are under way.
	for range streams - streams/2 {
		ss = append(ss, a.openStream(t, "/api/rooms/busy/events"))
	}
	wg.Wait()
	hist, err := a.store.History(t.Context(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	var want []chat.ID
	for _, m := range hist {
		want = append(want, m.ID)
	}
	for i, s := range ss {
		var got []chat.ID
		for range posters * each {
			got = append(got, s.nextMessage(t).ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stream %d differs from history (-history +stream):\n%s", i, diff)
		}
	}
}

// Streams end when clients leave, leaving no goroutine behind.
func TestStreamsLeaveNoGoroutines(t *testing.T) {
	a := newApp(t, handlers.Options{Heartbeat: time.Millisecond})
	before := runtime.NumGoroutine()
	for i := range 10 {
		s := a.openStream(t, fmt.Sprint("/api/rooms/r", i%3, "/events"))
		s.next()
		s.close()
	}
	// A stream that took over its connection notices the client's close
	// (its close watch) and unsubscribes, and the watch's goroutine ends
	// with the last stream; the server's own goroutines go with Close.
	// Both must hold: the server's exits could otherwise hide a stream
	// still running in the count.
	a.Close()
	waitFor(t, func() bool { return len(a.hub.Rooms()) == 0 && runtime.NumGoroutine() <= before })
}

// The handler lifts the server's write timeout for its stream: heartbeats
// and messages still go out long after it would have struck.
func TestStreamHasNoWriteTimeout(t *testing.T) {
	a := newApp(t, handlers.Options{Heartbeat: 40 * time.Millisecond}, func(s *httptest.Server) {
		s.Config.WriteTimeout = 30 * time.Millisecond
	})
	s := a.openStream(t, "/api/rooms/r/events")
	for beats := 0; beats < 3; {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("stream ended after %d heartbeats: %v", beats, err)
		}
		if ev.Comment != "" {
			beats++
		}
	}
	a.post(t, "r", "a", "still here")
	if got := s.nextMessage(t).Text; got != "still here" {
		t.Errorf("got %q, want the message posted after the write timeout", got)
	}
}

// Over HTTP/2 a stream cannot take over its connection: it streams through
// the ResponseWriter, with the same events.
func TestStreamOverHTTP2(t *testing.T) {
	a := newApp(t, handlers.Options{}, func(s *httptest.Server) { s.EnableHTTP2 = true })
	a.post(t, "r", "a", "before")
	s := a.openStream(t, "/api/rooms/r/events")
	if s.resp.ProtoMajor != 2 || s.resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %s %q, want an HTTP/2 event stream", s.resp.Proto, s.resp.Header.Get("Content-Type"))
	}
	a.post(t, "r", "a", "after")
	if got := s.messages(t, 2); !cmp.Equal(got, []string{"before", "after"}) {
		t.Errorf("HTTP/2 stream = %q, want [before after]", got)
	}
}

// A stream that took over its HTTP/1.1 connection keeps its request's
// deadline (a private room's token expiry): it ends then.
func TestHijackedStreamKeepsTheRequestDeadline(t *testing.T) {
	a := newApp(t, handlers.Options{Heartbeat: time.Hour}, func(s *httptest.Server) {
		s.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}
	})
	s := a.openStream(t, "/api/rooms/r/events")
	start := time.Now()
	for {
		if _, err := s.next(); err != nil {
			break // the server ended the stream
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stream ended after %v, want about 300ms", d)
	}
}

func TestRoomFull(t *testing.T) {
	a := newAppHub(t, chat.HubOptions{MaxPerRoom: 1}, handlers.Options{})
	a.openStream(t, "/api/rooms/r/events")
	resp, body := a.do(t, "GET", "/api/rooms/r/events", "", "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "full") {
		t.Errorf("second stream of a room capped at 1 = %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if s := a.openStream(t, "/api/rooms/other/events"); s.resp.StatusCode != 200 {
		t.Errorf("a stream of another room = %d, want 200", s.resp.StatusCode)
	}
}

// An HTTP/2 client that stops reading fills its flow-control window and
// blocks the stream's flush; when the hub drops the stream, the handler
// must still end, or the client's stream slot would stay taken.
func TestStalledHTTP2StreamEndsWhenDropped(t *testing.T) {
	a := newAppHub(t, chat.HubOptions{Queue: 8}, handlers.Options{MaxStreamsPerClient: 1},
		func(s *httptest.Server) { s.EnableHTTP2 = true })
	// A client with a small receive window stalls after a few messages.
	tr := a.Client().Transport.(*http.Transport).Clone()
	tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10}
	req, err := http.NewRequestWithContext(t.Context(), "GET", a.URL+"/api/rooms/r/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Body.Close() // never read
	if stalled.ProtoMajor != 2 {
		t.Fatalf("stream over %s, want HTTP/2", stalled.Proto)
	}
	text := strings.Repeat("z", chat.MaxTextChars)
	for n := 0; a.hub.Stats().Dropped == 0; n++ {
		if n == 1000 {
			t.Fatalf("the stalled stream was not dropped after %d posts", n)
		}
		a.post(t, "r", "a", text)
	}
	// The slot frees once the handler has returned.
	waitFor(t, func() bool {
		s := a.openStream(t, "/api/rooms/r/events")
		defer s.close()
		return s.resp.StatusCode == 200
	})
}

// No stream is silent for longer than the heartbeat interval (plus the
// time a tick takes to reach it): not before its first heartbeat, not
// between two, not after a message.
func TestHeartbeatGapIsBounded(t *testing.T) {
	const every = 300 * time.Millisecond
	const bound = every + every/2 // generous slack for a loaded machine
	a := newApp(t, handlers.Options{Heartbeat: every})
	s := a.openStream(t, "/api/rooms/r/events")
	last := time.Now() // the head and the retry hint go out together
	var longest time.Duration
	// read reads the next event and notes the silence before it.
	read := func() sseEvent {
		t.Helper()
		ev, err := s.next()
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		now := time.Now()
		if ev.Retry == "" {
			longest = max(longest, now.Sub(last))
		}
		last = now
		return ev
	}
	for beats := 0; beats < 3; {
		if read().Comment != "" {
			beats++
		}
	}
	// A message restarts the count; the next heartbeat is due an
	// interval after it.
	a.post(t, "r", "a", "hi")
	for read().Event != "message" {
	}
	for beats := 0; beats < 2; {
		if read().Comment != "" {
			beats++
		}
	}
	t.Logf("longest silence %v with a heartbeat every %v", longest.Round(time.Millisecond), every)
	if longest > bound {
		t.Errorf("a stream was silent for %v with a heartbeat every %v, want at most %v", longest, every, bound)
	}
}

// A stream that took over its connection writes its own head, with the
// Date every response carries; HTTP/2 streams get theirs from net/http.
func TestStreamHasDate(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		a := newApp(t, handlers.Options{}, func(s *httptest.Server) { s.EnableHTTP2 = h2 })
		s := a.openStream(t, "/api/rooms/r/events")
		date, err := http.ParseTime(s.resp.Header.Get("Date"))
		if err != nil || time.Since(date).Abs() > time.Minute {
			t.Errorf("%s stream: Date %q (%v), want the time now", s.resp.Proto, s.resp.Header.Get("Date"), err)
		}
	}
}

// The stalled-writer bound is on writes, not on silence: an idle stream
// whose heartbeats are further apart than the bound lives on, over
// HTTP/2 (where a deadline is a timer that resets the stream) as well.
func TestIdleStreamOutlivesTheStallBound(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		a := newApp(t, handlers.Options{Heartbeat: 200 * time.Millisecond, StallTimeout: 50 * time.Millisecond},
			func(s *httptest.Server) { s.EnableHTTP2 = h2 })
		s := a.openStream(t, "/api/rooms/r/events")
		for beats := 0; beats < 3; {
			ev, err := s.next()
			if err != nil {
				t.Fatalf("%s stream ended after %d heartbeats: %v", s.resp.Proto, beats, err)
			}
			if ev.Comment != "" {
				beats++
			}
		}
	}
}
