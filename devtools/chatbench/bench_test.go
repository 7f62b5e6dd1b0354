package main

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// newChat serves a real chat (memory store, hub, handlers) on 127.0.0.1.
func newChat(t *testing.T, hubOpts chat.HubOptions) *httptest.Server {
	t.Helper()
	return handlerstest.New(t, handlerstest.Config{Hub: hubOpts}).Server
}

// ioModes are the ways of reading streams on this system.
func ioModes() []string {
	if epollSupported {
		return []string{"epoll", "goroutine"}
	}
	return []string{"goroutine"}
}

func TestRunAgainstChat(t *testing.T) {
	type test struct {
		name string
		cfg  Config
	}
	var tests []test
	for _, io := range ioModes() {
		tests = append(tests,
			test{io + " at a rate", Config{IO: io, Streams: 5, Rate: 200, Duration: 150 * time.Millisecond, Posters: 2}},
			test{io + " at max rate", Config{IO: io, Streams: 5, Duration: 150 * time.Millisecond, Posts: 60, Posters: 3}},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newChat(t, chat.HubOptions{})
			cfg := tc.cfg
			cfg.URL = srv.URL
			cfg.Drain = 5 * time.Second
			res, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Accepted == 0 || res.Accepted != res.Attempted {
				t.Errorf("accepted %d of %d posts, want all and some (errors %q)", res.Accepted, res.Attempted, res.FirstErrors)
			}
			if res.Deliveries != res.Expected || res.Stalled {
				t.Errorf("deliveries %d, want %d (stalled %v)", res.Deliveries, res.Expected, res.Stalled)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Foreign != 0 {
				t.Errorf("lost %d, duplicated %d, out of order %d, foreign %d; want 0", res.Lost, res.Duplicated, res.OutOfOrder, res.Foreign)
			}
			if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
				t.Errorf("latency p50 %s p99 %s max %s, want 0 < p50 ≤ p99 ≤ max", res.P50, res.P99, res.Max)
			}
			if res.ReadP99 < res.P99 || res.ReadMax < res.Max {
				t.Errorf("read p99 %s, max %s below arrival p99 %s, max %s: an event read before it arrived", res.ReadP99, res.ReadMax, res.P99, res.Max)
			}
		})
	}
}

// A hub with a queue of one drops subscribers that fall behind a burst;
// they must resume from their last event id and end complete.
func TestRunResumesDroppedStreams(t *testing.T) {
	for _, io := range ioModes() {
		t.Run(io, func(t *testing.T) {
			srv := newChat(t, chat.HubOptions{Queue: 1})
			res, err := Run(t.Context(), Config{IO: io, URL: srv.URL, Streams: 4, Duration: 200 * time.Millisecond, Posts: 150, Posters: 4, Drain: 5 * time.Second})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Stalled {
				t.Errorf("lost %d, duplicated %d, out of order %d, stalled %v; want none", res.Lost, res.Duplicated, res.OutOfOrder, res.Stalled)
			}
			if res.Resumed != res.Dropped {
				t.Errorf("dropped %d, resumed %d; want every drop resumed", res.Dropped, res.Resumed)
			}
			t.Logf("dropped %d, resumed %d", res.Dropped, res.Resumed)
		})
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	_, err := Run(t.Context(), Config{URL: "http://192.0.2.1:8080", Streams: 1})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run against 192.0.2.1: %v, want a loopback-only error", err)
	}
}

// chunk frames s as one HTTP/1.1 chunk.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// feedAll feeds resp to s in pieces of n bytes, as reads might cut it.
func feedAll(t *testing.T, s *stream, resp string, n int) error {
	t.Helper()
	for len(resp) > 0 {
		k := min(n, len(resp))
		if err := s.feed([]byte(resp[:k]), 1000); err != nil {
			return err
		}
		resp = resp[k:]
	}
	return nil
}

func testBench(target string) *bench {
	return &bench{target: target, channel: "bench:r", maxPosts: 10, words: 1, posters: 2}
}

func TestStreamParsesChat(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	body := chunk("retry: 2000\n\nevent: room\ndata: {\"room\":\"r\",\"locked\":false}\n\n") +
		chunk("id: a-1\nevent: message\ndata: {\"message\":\"~b0.0.100~xx\"}\n\nid: a-2\nevent: mes") +
		chunk("sage\ndata: {\"message\":\"~b1.1.200~\"}\n\n: heartbeat\n\n") +
		chunk("id: a-3\nevent: message\ndata: {\"message\":\"~b0.0.300~\"}\n\n") + // duplicate
		chunk("id: a-4\nevent: message\ndata: {\"message\":\"plain\"}\n\n") +
		"0\r\n\r\n"
	for _, n := range []int{1, 7, 4096} {
		b := testBench(targetChat)
		s := newStream(b, 0)
		err := feedAll(t, s, head+body, n)
		if err != errEndOfStream {
			t.Errorf("pieces of %d: feed ended with %v, want errEndOfStream", n, err)
		}
		if !s.ready || s.got != 2 || s.dup != 1 || s.foreign != 1 || string(s.lastID) != "a-4" {
			t.Errorf("pieces of %d: ready %v got %d dup %d foreign %d last id %q; want true 2 1 1 a-4",
				n, s.ready, s.got, s.dup, s.foreign, s.lastID)
		}
	}
}

func TestStreamParsesCentrifugo(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
	body := chunk("\r\n") +
		chunk(`data: {"connect":{"client":"c","subs":{"bench:r":{"recoverable":true,"epoch":"E","offset":7,"recovered":true,`+
			`"publications":[{"data":{"message":"~b0.0.1~"},"offset":6},{"data":{"message":"~b1.1.1~"},"offset":7}]}},"ping":25}}`+"\n\n") +
		chunk(`data: {"channel":"bench:r","pub":{"data":{"username":"bench","message":"~b2.0.5~"},"offset":8,"epoch":"E"}}`+"\n\n") +
		chunk("data: {}\n\n")
	for _, n := range []int{1, 5, 4096} {
		b := testBench(targetCentrifugo)
		s := newStream(b, 0)
		if err := feedAll(t, s, head+body, n); err != nil {
			t.Fatalf("pieces of %d: %v", n, err)
		}
		if !s.ready || s.got != 3 || s.dup != 0 || s.foreign != 0 || s.epoch != "E" || s.offset != 8 {
			t.Errorf("pieces of %d: ready %v got %d dup %d foreign %d epoch %q offset %d; want true 3 0 0 E 8",
				n, s.ready, s.got, s.dup, s.foreign, s.epoch, s.offset)
		}
		req := string(b.streamRequest(s))
		if !strings.Contains(req, "%22recover%22%3Atrue") || !strings.Contains(req, "%22offset%22%3A8") {
			t.Errorf("resume request %q does not ask to recover from offset 8", req)
		}
	}
}

func TestStreamRefusedIsFatal(t *testing.T) {
	s := newStream(testBench(targetChat), 0)
	err := s.feed([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 0)
	if fe := (*fatalError)(nil); !errors.As(err, &fe) {
		t.Errorf("404: %v, want a fatal error", err)
	}
}

func TestStamp(t *testing.T) {
	text := appendStamp(nil, 123, 4, 56789, 40)
	if len(text) != 40 {
		t.Errorf("stamp %q: length %d, want 40", text, len(text))
	}
	post, poster, sent, ok := parseStamp(append([]byte(`{"message":"`), text...))
	if !ok || post != 123 || poster != 4 || sent != 56789 {
		t.Errorf("parseStamp(%q) = %d, %d, %d, %v; want 123, 4, 56789, true", text, post, poster, sent, ok)
	}
	for _, bad := range []string{"~b1.2~", "~b1.2.3", "~b.1.2~", "nothing"} {
		if _, _, _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%q) ok, want not", bad)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if d := got - tc.want; d < -tc.want/25 || d > tc.want/25 {
			t.Errorf("quantile(%g) = %s, want %s ± 4%%", tc.q, got, tc.want)
		}
	}
	if got := time.Duration(h.max.Load()); got != time.Second {
		t.Errorf("max %s, want 1s", got)
	}
}

func TestStreamReadsRetryHint(t *testing.T) {
	s := newStream(testBench(targetChat), 0)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	if err := feedAll(t, s, head+chunk("retry: 2500\n\n"), 3); err != nil {
		t.Fatal(err)
	}
	if s.retry != 2500*time.Millisecond {
		t.Errorf("retry %s, want 2.5s", s.retry)
	}
	s.b.cfg.RetryHint = true
	if got := s.dropped(); got != 2500*time.Millisecond {
		t.Errorf("wait after a drop with RetryHint: %s, want the 2.5s hint", got)
	}
}
