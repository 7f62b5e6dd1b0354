package handlers

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination safe for the server's goroutines; wrote
// tells of each write.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A stream that takes over its connection is logged when it ends, with
// the bytes it wrote and its whole duration, not when its handler returns.
func TestObserveLogsADetachedStreamAtItsEnd(t *testing.T) {
	logs := &syncBuffer{wrote: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(logs, nil))
	finish := make(chan struct{})
	returned := make(chan struct{})
	const body = "data: one\n\ndata: two\n\n"
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		end := streamEnd(r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			end(0)
			return
		}
		go func() {
			defer conn.Close()
			head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
			n, _ := io.WriteString(conn, head+body)
			<-finish
			end(int64(n))
			end(1) // a second call counts for nothing
		}()
	})
	observed := observe(log, newMetrics(nil, nil))(stream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observed.ServeHTTP(w, r)
		close(returned) // observe is done with the request
	}))
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/rooms/r/events HTTP/1.1\r\nHost: chat\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	open := time.Now() // the stream has begun: its line's duration includes what follows
	line := make([]byte, len("data: one\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil {
		t.Fatal(err)
	}
	<-returned
	if got := logs.String(); got != "" {
		t.Errorf("logged while the stream is open: %q", got)
	}
	least := time.Since(open)
	close(finish)

	select {
	case <-logs.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("no log line 5s after the stream ended")
	}
	got := logs.String()
	if strings.Count(got, "msg=request") != 1 {
		t.Fatalf("log %q, want one request line", got)
	}
	wantBytes := len("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + body)
	for _, want := range []string{"path=/api/rooms/r/events", "status=200", "bytes=" + strconv.Itoa(wantBytes)} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %s", got, want)
		}
	}
	d := got[strings.Index(got, "duration=")+len("duration="):]
	d = strings.Fields(d)[0]
	if dur, err := time.ParseDuration(d); err != nil || dur < least {
		t.Errorf("duration %s (%v), want the stream's whole life (at least %s)", d, err, least)
	}
}

// A stream may end before its handler has returned: the line is written
// once, at the return.
func TestObserveLogsAStreamEndedBeforeItsHandlerReturned(t *testing.T) {
	logs := &syncBuffer{wrote: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(logs, nil))
	h := observe(log, newMetrics(nil, nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		end := streamEnd(r)
		end(42)
		if got := logs.String(); got != "" {
			t.Errorf("logged before the handler returned: %q", got)
		}
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := logs.String()
	if strings.Count(got, "msg=request") != 1 || !strings.Contains(got, "bytes=42") {
		t.Errorf("log %q, want one request line with bytes=42", got)
	}
}
