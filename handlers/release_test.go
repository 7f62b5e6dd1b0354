package handlers_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/handlers"
)

// rawStream is an event stream read off a bare TCP connection, so that a
// test decides how the connection ends (FIN or RST) and how much the
// client takes.
type rawStream struct {
	net.Conn
	r *bufio.Reader
}

// dialStream opens path on addr over a bare connection; control, if set,
// sets the socket up before it connects. It does not read the response.
func dialStream(t *testing.T, addr, path string, control func(network, address string, c syscall.RawConn) error) *rawStream {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: control}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return &rawStream{Conn: c, r: bufio.NewReader(c)}
}

// head reads the response head and checks it is a 200 event stream.
func (s *rawStream) head(t *testing.T) *http.Response {
	t.Helper()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		t.Fatalf("reading the stream's head: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream answered %d %q, want a 200 event stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

// hangUp closes the connection as how says: "FIN", or "RST" (a close
// with a zero linger time resets the connection).
func (s *rawStream) hangUp(t *testing.T, how string) {
	t.Helper()
	if how == "RST" {
		if err := s.Conn.(*net.TCPConn).SetLinger(0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// openFiles counts this process's open descriptors, or -1 where /proc
// does not tell.
func openFiles() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// A stream that took over its HTTP/1.1 connection is released as soon as
// its client closes the connection, not at its next write (here an hour
// away): its slot, its subscription, its descriptor and its goroutine.
func TestClosedStreamIsReleasedAtOnce(t *testing.T) {
	for _, how := range []string{"FIN", "RST"} {
		t.Run(how, func(t *testing.T) {
			a := newApp(t, handlers.Options{Heartbeat: time.Hour, MaxStreamsPerClient: 1})
			a.post(t, "r", "a", "before")
			files, goroutines := openFiles(), runtime.NumGoroutine()
			s := dialStream(t, a.Listener.Addr().String(), "/api/rooms/r/events", nil)
			s.head(t)
			waitFor(t, func() bool { return a.hub.Stats().Subscribers == 1 })

			start := time.Now()
			s.hangUp(t, how)
			waitFor(t, func() bool { return a.hub.Stats().Subscribers == 0 })
			t.Logf("released %v after the client's %s", time.Since(start), how)
			waitFor(t, func() bool { return openFiles() <= files && runtime.NumGoroutine() <= goroutines })
			if again := a.openStream(t, "/api/rooms/r/events"); again.resp.StatusCode != 200 {
				t.Errorf("a new stream from the same client = %d, want 200 (its slot is free)", again.resp.StatusCode)
			}
		})
	}
}

// The same through nginx, which speaks HTTP/1.1 to the chat: when the
// browser goes, nginx closes its connection to the chat, and the stream's
// slot is free for the client's next one (a page reload).
func TestClosedStreamIsReleasedBehindNginx(t *testing.T) {
	a := newApp(t, handlers.Options{Heartbeat: time.Hour, MaxStreamsPerClient: 1})
	proxy := startNginx(t, a.Listener.Addr().String())
	s := dialStream(t, proxy, "/api/rooms/r/events", nil)
	s.head(t)
	waitFor(t, func() bool { return a.hub.Stats().Subscribers == 1 })

	start := time.Now()
	s.hangUp(t, "FIN")
	waitFor(t, func() bool { return a.hub.Stats().Subscribers == 0 })
	t.Logf("released %v after the client's close, through nginx", time.Since(start))
	again := dialStream(t, proxy, "/api/rooms/r/events", nil)
	again.head(t) // 200, not 429: the slot is free
}

// startNginx runs nginx on 127.0.0.1 in front of upstream, configured as
// the docs advise for event streams, and returns its address. It skips
// the test when nginx is not installed, unless CI=true.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("nginx is not installed; CI must run this test")
			}
			t.Skip("nginx is not installed")
		}
	}
	dir := t.TempDir()
	// A free port, for nginx to take; another process might take it
	// first, which the wait below would report.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s;
		location / {
			proxy_pass http://%[3]s;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_read_timeout 1h;
		}
	}
}
`, dir, addr, upstream)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited (%v): %s%s", waitErr, out.String(), log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s", addr)
		}
	}
}
