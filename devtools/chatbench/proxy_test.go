package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// Streams through the tool's proxy, all cut at once while posts go on,
// come back after the server's retry hint with their Last-Event-ID and
// end with every message exactly once.
//
// Without the proxy the tool cuts its own connections, to the same end.
func TestRunCutResumes(t *testing.T) {
	for _, io := range ioModes() {
		for _, proxy := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s proxy=%v", io, proxy), func(t *testing.T) {
				testRunCutResumes(t, io, proxy)
			})
		}
	}
}

func testRunCutResumes(t *testing.T, io string, proxy bool) {
	{
		{
			srv := handlerstest.New(t, handlerstest.Config{Handlers: handlers.Options{Retry: 50 * time.Millisecond}}).Server
			res, err := Run(t.Context(), Config{
				IO: io, URL: srv.URL, Streams: 20, Rate: 100, Duration: 600 * time.Millisecond, Posters: 2,
				Proxy: proxy, RetryHint: true, DisruptAt: 200 * time.Millisecond, Drain: 5 * time.Second,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Stalled || res.Deliveries != res.Expected {
				t.Errorf("lost %d, duplicated %d, out of order %d, stalled %v, deliveries %d of %d; want every message once",
					res.Lost, res.Duplicated, res.OutOfOrder, res.Stalled, res.Deliveries, res.Expected)
			}
			if !res.Disrupted || res.Cut != 20 || res.StormStreams != 20 || res.StormResumed != 20 || res.ResumedOver5s != 0 {
				t.Errorf("disrupted %v, cut %d, storm streams %d, resumed %d, over 5 s %d; want true, 20, 20, 20, 0",
					res.Disrupted, res.Cut, res.StormStreams, res.StormResumed, res.ResumedOver5s)
			}
			// Each waited for the hint before it reconnected.
			if res.ResumeP50 < 50*time.Millisecond || res.ResumeMax < res.ResumeP50 {
				t.Errorf("resume p50 %s, max %s; want p50 ≥ the 50 ms hint and max ≥ p50", res.ResumeP50, res.ResumeMax)
			}
		}
	}
}

// The proxy sends a new connection to the next upstream that accepts,
// so that one that went away is skipped.
func TestProxySkipsUpstreamThatRefuses(t *testing.T) {
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.Addr().String()
	gone.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write([]byte(strings.ToUpper(string(buf[:n]))))
			}()
		}
	}()
	px, err := startProxy([]string{goneAddr, live.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer px.close()
	for i := range 4 {
		c, err := net.Dial("tcp", px.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello"))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if got := string(buf[:n]); got != "HELLO" {
			t.Errorf("connection %d: read %q (%v), want HELLO from the live upstream", i, got, err)
		}
		c.Close()
	}
	if n := px.cut(); n != 0 {
		t.Errorf("cut after every client left: %d connections, want 0", n)
	}
}

// Over HTTP/2 in cleartext the streams share connections, and a cut (a
// reset of every stream) resumes them exactly as over HTTP/1.1.
func TestRunH2CutResumes(t *testing.T) {
	srv := handlerstest.New(t, handlerstest.Config{
		Handlers: handlers.Options{Retry: 50 * time.Millisecond},
		Configure: func(s *httptest.Server) {
			var p http.Protocols
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			s.Config.Protocols = &p
		},
	}).Server
	res, err := Run(t.Context(), Config{
		IO: "h2", URL: srv.URL, Streams: 20, Rate: 100, Duration: 600 * time.Millisecond, Posters: 2,
		RetryHint: true, DisruptAt: 200 * time.Millisecond, Drain: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Stalled || res.Deliveries != res.Expected {
		t.Errorf("lost %d, duplicated %d, out of order %d, stalled %v, deliveries %d of %d; want every message once",
			res.Lost, res.Duplicated, res.OutOfOrder, res.Stalled, res.Deliveries, res.Expected)
	}
	if res.StormStreams != 20 || res.StormResumed != 20 {
		t.Errorf("storm streams %d, resumed %d; want 20 and 20", res.StormStreams, res.StormResumed)
	}
}
