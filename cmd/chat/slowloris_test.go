package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// shortTimeouts is a configuration whose server timeouts are short enough
// to be passed in a test.
func shortTimeouts() Config {
	return Config{
		Store: "memory", HistoryTTL: time.Hour, HistoryLimit: 10,
		Heartbeat:         100 * time.Millisecond,
		ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout:       500 * time.Millisecond,
		WriteTimeout:      500 * time.Millisecond,
	}
}

// A client that sends its headers a byte at a time, never finishing them,
// is disconnected within the header timeout, while others are served.
func TestSlowlorisIsClosedWithinReadHeaderTimeout(t *testing.T) {
	cfg := shortTimeouts()
	addr := serve(t, cfg)
	// Room for the scheduler, and for the race detector, on a busy machine.
	const margin = 1500 * time.Millisecond

	const conns = 20
	request := "GET /api/rooms/lobby/messages HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 200)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("conn %d: dial: %v", i, err)
				return
			}
			defer c.Close()
			start := time.Now()
			// The trickle: one byte every 50ms until the server hangs up.
			stop := make(chan struct{})
			trickled := make(chan int, 1)
			go func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				n := 0
				defer func() { trickled <- n }()
				for ; n < len(request); n++ {
					if _, err := c.Write([]byte{request[n]}); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			defer func() { close(stop); <-trickled }()

			c.SetReadDeadline(start.Add(cfg.ReadHeaderTimeout + margin))
			_, err = c.Read(make([]byte, 512))
			elapsed := time.Since(start)
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				t.Errorf("conn %d: still open %v after it started trickling headers (header timeout %v)", i, elapsed, cfg.ReadHeaderTimeout)
				return
			}
			if err == nil {
				// Anything the server says must end the connection.
				_, err = io.Copy(io.Discard, c)
				if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
					t.Errorf("conn %d: answered but still open %v later", i, time.Since(start))
				}
			}
			if i == 0 {
				t.Logf("a slow client was cut off after %v (header timeout %v)", elapsed.Round(time.Millisecond), cfg.ReadHeaderTimeout)
			}
		})
	}
	// The server keeps serving everyone else meanwhile.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz while slow clients trickle: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz while slow clients trickle = %d, want 200", resp.StatusCode)
	}
	wg.Wait()
}

// An event stream is not a slow request: it outlives the header, read and
// write timeouts, and still delivers what is posted afterwards.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	cfg := shortTimeouts()
	addr := serve(t, cfg)
	base := "http://" + addr

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /api/rooms/lobby/events HTTP/1.1\r\nHost: "+addr+"\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// A generous bound on the whole test, so that a stuck stream fails it
	// instead of hanging it.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	lines := bufio.NewReader(c)
	resp, err := http.ReadResponse(lines, nil)
	if err != nil {
		t.Fatalf("reading the stream's response: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET events = %d, want 200", resp.StatusCode)
	}
	body := bufio.NewReader(resp.Body)
	opened := time.Now()

	// Hold the stream three times past the longest timeout, reading its
	// heartbeats.
	hold := 3 * max(cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout)
	heartbeats := 0
	for time.Since(opened) < hold {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended %v after it opened (timeouts %v/%v/%v): %v",
				time.Since(opened).Round(time.Millisecond), cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout, err)
		}
		if strings.HasPrefix(line, ":") {
			heartbeats++
		}
	}
	if heartbeats == 0 {
		t.Errorf("no heartbeat in %v with a heartbeat every %v", hold, cfg.Heartbeat)
	}

	post, err := http.Post(base+"/api/rooms/lobby/messages", "application/json", strings.NewReader(`{"username":"a","message":"still there?"}`))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d, want 201", post.StatusCode)
	}
	for {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before the message posted %v after it opened: %v", time.Since(opened).Round(time.Millisecond), err)
		}
		if strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"message":"still there?"`) {
				t.Fatalf("stream sent %q, want the message just posted", line)
			}
			break
		}
	}
	t.Logf("the stream lived %v with %d heartbeats and delivered a message posted after all the timeouts",
		time.Since(opened).Round(time.Millisecond), heartbeats)
}
