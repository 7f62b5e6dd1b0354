package handlers

// The Server-Sent Events wire format, all of it: the response head
// (headers, and the status line of a stream that took over its
// connection), the framing of events, comments and reconnection hints,
// and the two transports that carry the bytes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// setStreamHeaders gives an event stream its headers: never cached, never
// buffered by a proxy (X-Accel-Buffering is nginx's).
func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// appendHead appends the response head of a stream that took over its
// HTTP/1.1 connection, which net/http then no longer writes: the status
// line, the Date net/http would have set, and h. The body is delimited
// by the connection's close.
func appendHead(b []byte, h http.Header) []byte {
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	buf := bytes.NewBuffer(b)
	buf.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(buf) // a bytes.Buffer does not fail
	buf.WriteString("\r\n")
	return buf.Bytes()
}

var heartbeat = []byte(": heartbeat\n\n")

// appendRetry appends the reconnection hint.
func appendRetry(b []byte, d time.Duration) []byte {
	b = append(b, "retry: "...)
	b = strconv.AppendInt(b, d.Milliseconds(), 10)
	return append(b, "\n\n"...)
}

// appendEvent appends one event from its JSON encoding: a message (kind
// zero) with its id line, or a room event (room, deleted, ended), which
// has none, so that Last-Event-ID always names a message. A message
// without an id (written by the original app) carries no id line either,
// so the client's cursor stays on the last message that had one.
func appendEvent(b []byte, kind chat.Kind, id chat.ID, data []byte) []byte {
	if kind != chat.KindMessage {
		b = append(b, "event: "...)
		b = append(b, kind...)
		b = append(b, "\ndata: "...)
		b = append(b, data...)
		return append(b, "\n\n"...)
	}
	if !id.IsZero() {
		b = append(b, "id: "...)
		b = id.AppendText(b)
		b = append(b, '\n')
	}
	b = append(b, "event: message\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// endedRetry is the reconnection hint after an ended event: an hour, so
// that a generic EventSource client that reconnects anyway (and is then
// refused with 410, which stops it) does not storm the server.
const endedRetry = time.Hour

// chunkSize bounds one write of a stream: a history or a burst of events
// goes out in chunks of at most this much (an event bigger than a chunk
// goes alone), so that a stream holds about one chunk of encoded bytes,
// never a history encoded whole.
const chunkSize = 32 << 10

// framer frames a stream's events into chunks of at most chunkSize and
// writes each to out with the stalled-writer bound. It holds a pooled
// buffer only between its first append and release.
type framer struct {
	out   sink
	stall time.Duration
	buf   *[]byte
	last  time.Time // when the latest write began
	sent  int64     // bytes written
}

func (f *framer) bytes() []byte {
	if f.buf == nil {
		f.buf = getBuffer()
	}
	return *f.buf
}

// head appends the response head, if out writes one itself.
func (f *framer) head() { *f.buf = f.out.head(f.bytes()) }

// retry appends the reconnection hint.
func (f *framer) retry(d time.Duration) { *f.buf = appendRetry(f.bytes(), d) }

// heartbeat appends the comment an idle stream sends.
func (f *framer) heartbeat() { *f.buf = append(f.bytes(), heartbeat...) }

// message encodes a stored message and appends its event.
func (f *framer) message(m *chat.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return f.event(chat.KindMessage, m.ID, data)
}

// event appends an event, first writing what the buffer holds if the
// event would take it past chunkSize.
func (f *framer) event(kind chat.Kind, id chat.ID, data []byte) error {
	b := f.bytes()
	n := len(b)
	b = appendEvent(b, kind, id, data)
	*f.buf = b
	if n == 0 || len(b) <= chunkSize {
		return nil
	}
	err := f.write(b[:n])
	*f.buf = b[:copy(b, b[n:])]
	return err
}

// flush writes what the buffer holds.
func (f *framer) flush() error {
	if f.buf == nil || len(*f.buf) == 0 {
		return nil
	}
	err := f.write(*f.buf)
	*f.buf = (*f.buf)[:0]
	return err
}

func (f *framer) write(b []byte) error {
	f.last = time.Now()
	n, err := f.out.write(b, f.last.Add(f.stall))
	f.sent += int64(n)
	return err
}

// release returns the buffer to the pool: an idle stream holds none.
func (f *framer) release() {
	if f.buf != nil {
		putBuffer(f.buf)
		f.buf = nil
	}
}

// Write buffers are pooled: an idle stream holds none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > 2*chunkSize {
		return // let an outsized one go
	}
	*b = (*b)[:0]
	buffers.Put(b)
}

// sink is where a stream's bytes go.
type sink interface {
	// head appends the response head to b if the sink writes it itself;
	// otherwise it has the server send it with the first write.
	head(b []byte) []byte
	// write sends b at once and returns how much of it went. It fails if
	// the client has not taken all of it by deadline (or, where moving a
	// deadline is dear, a little later: see rawConn.write).
	write(b []byte, deadline time.Time) (int, error)
	// abort makes a blocked write fail and every later one too. It is
	// safe from any goroutine and quick: it runs with the hub's room
	// locked (Stream.OnDrop).
	abort()
	// close lets the connection go once the stream has ended.
	close()
}

// rawConn is a taken-over HTTP/1.1 connection: the body is the rest of
// the connection, delimited by its close. Closing it stops its close
// watch first (see closeWatcher), so that the watch never outlives the
// descriptor it names.
type rawConn struct {
	net.Conn
	header  http.Header
	slack   time.Duration // how far past a write's deadline the one set may be
	until   time.Time     // the write deadline set
	unwatch func()
	once    sync.Once
}

// errNoHijack: the connection cannot be taken over; stream through the
// ResponseWriter.
var errNoHijack = errors.New("connection cannot be taken over")

// errAborted: the hub dropped the stream.
var errAborted = errors.New("stream dropped")

// hijack takes over the connection of rc's request, whose response
// header is h; its writes may fail up to slack after their deadlines.
func hijack(rc *http.ResponseController, h http.Header, slack time.Duration) (*rawConn, error) {
	conn, _, err := rc.Hijack()
	if err != nil {
		return nil, errNoHijack
	}
	// The server's read and write deadlines no longer apply; each write
	// sets its own. The bufio reader and writer that came with the
	// connection are dropped: the client has nothing more to say.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return &rawConn{Conn: conn, header: h, slack: slack, unwatch: func() {}}, nil
}

func (c *rawConn) head(b []byte) []byte {
	b = appendHead(b, c.header)
	c.header = nil // an idle stream keeps no map of headers
	return b
}

func (c *rawConn) write(b []byte, deadline time.Time) (int, error) {
	// Moving the deadline costs a few percent of a small write, so it
	// is moved only once the one set falls short of the one asked for,
	// and then slack further: a busy stream moves it once per slack.
	if c.until.Before(deadline) {
		c.until = deadline.Add(c.slack)
		if err := c.SetWriteDeadline(c.until); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

// abort closes the connection: a write blocked on a stalled client fails.
func (c *rawConn) abort() { c.close() }

func (c *rawConn) close() {
	c.once.Do(func() {
		c.unwatch()
		c.Conn.Close()
	})
}

// flusher streams through a ResponseWriter: HTTP/2, or HTTP/1.1 when the
// connection cannot be taken over.
type flusher struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	aborted  atomic.Bool
	aborting sync.WaitGroup
}

func (f *flusher) head(b []byte) []byte {
	f.w.WriteHeader(http.StatusOK)
	return b
}

func (f *flusher) write(b []byte, deadline time.Time) (int, error) {
	// A deadline also lifts the server's WriteTimeout, which a stream
	// outlives. On HTTP/2 a deadline that passes resets the stream.
	if err := f.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	// Checked after the deadline is set: either abort's deadline in the
	// past comes later and wins, or this sees the flag.
	if f.aborted.Load() {
		return 0, errAborted
	}
	n, err := f.w.Write(b)
	if err == nil {
		err = f.rc.Flush()
	}
	if err != nil {
		return n, err
	}
	// On HTTP/2 a deadline is a timer that resets the stream when it
	// fires, written to or not: an idle stream must not carry one.
	if err := f.rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return n, err
	}
	return n, nil
}

// abort sets a deadline in the past, which fails a flush blocked on a
// stalled client (on HTTP/2 it resets the stream at once). Not on the
// caller's goroutine: the HTTP/2 server may take a moment to accept it.
func (f *flusher) abort() {
	f.aborted.Store(true)
	f.aborting.Go(func() { _ = f.rc.SetWriteDeadline(time.Unix(1, 0)) })
}

// close waits for an abort under way: the ResponseController must not be
// used once the handler has returned.
func (f *flusher) close() { f.aborting.Wait() }
