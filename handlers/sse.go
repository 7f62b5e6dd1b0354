package handlers

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

var heartbeat = []byte(": heartbeat\n\n")

// appendRetry appends the reconnection hint.
func appendRetry(b []byte, d time.Duration) []byte {
	b = append(b, "retry: "...)
	b = strconv.AppendInt(b, d.Milliseconds(), 10)
	return append(b, "\n\n"...)
}

// appendEvent appends one message event from its JSON encoding. A message
// without an id (written by the original app) carries no id line, so the
// client's cursor stays on the last message that had one.
func appendEvent(b []byte, id chat.ID, data []byte) []byte {
	if !id.IsZero() {
		b = append(b, "id: "...)
		b = id.AppendText(b)
		b = append(b, '\n')
	}
	b = append(b, "event: message\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// appendMessage encodes a stored message and appends its event.
func appendMessage(b []byte, m chat.Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return b, err
	}
	return appendEvent(b, m.ID, data), nil
}

// Write buffers are pooled: an idle stream holds none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // let an outsized one go
	}
	*b = (*b)[:0]
	buffers.Put(b)
}

// sink is where a stream's bytes go: each write is sent at once.
type sink interface {
	write(b []byte) error
}

// rawConn is a hijacked HTTP/1.1 connection: the body is the rest of the
// connection, delimited by its close.
type rawConn struct{ net.Conn }

func (c rawConn) write(b []byte) error {
	_, err := c.Conn.Write(b)
	return err
}

// hijack takes over the connection of rc's request and writes the
// response header with h.
func hijack(rc *http.ResponseController, h http.Header) (rawConn, error) {
	conn, _, err := rc.Hijack()
	if err != nil {
		return rawConn{}, err
	}
	// The server's read and write deadlines no longer apply; the bufio
	// reader and writer that came with the connection are dropped.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return rawConn{}, err
	}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h.Set("Connection", "close")
	h.Write(&head)
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		conn.Close()
		return rawConn{}, err
	}
	return rawConn{conn}, nil
}

// flusher streams through a ResponseWriter (HTTP/2, or when hijacking is
// not possible).
type flusher struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f flusher) write(b []byte) error {
	if _, err := f.w.Write(b); err != nil {
		return err
	}
	return f.rc.Flush()
}

// pulse ticks the hub every heartbeat interval while streams exist: one
// ticker for all of them.
type pulse struct {
	every time.Duration
	hub   *chat.Hub

	mu    sync.Mutex
	users int
	stop  chan struct{}
}

func newPulse(every time.Duration, hub *chat.Hub) *pulse {
	return &pulse{every: every, hub: hub}
}

// join counts a stream in; the first starts the clock.
func (p *pulse) join() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users++; p.users == 1 {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
}

// leave counts a stream out; the last one stops the clock.
func (p *pulse) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users--; p.users == 0 {
		close(p.stop)
	}
}

func (p *pulse) run(stop chan struct{}) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.hub.Tick()
		}
	}
}
