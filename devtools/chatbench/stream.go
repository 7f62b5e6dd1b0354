package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"time"
)

// stream is one Server-Sent Events subscriber over a raw TCP connection:
// one read buffer, HTTP/1.1 chunked framing and SSE lines decoded in
// place, one clock reading per read, no allocation per event. Its bytes
// come from a poller (epoll_linux.go) or, with -io goroutine, from its own
// goroutine (run). When the server ends it (a subscriber dropped as too
// slow), it reconnects from its last position, counting a drop and a
// resume.
type stream struct {
	b   *bench
	idx int

	mu       sync.Mutex
	conn     net.Conn // goroutine mode: nil between connections
	cancelH2 func()   // h2 mode: ends the current request

	// What the stream received. Owned by whoever reads the stream: its
	// goroutine, or in turn its poller and a connect goroutine; the run
	// reads them once those have ended.
	seen        []uint64 // bit per post number
	last        []int32  // per poster, the highest post number received
	got         int64
	dup         int64
	ooo         int64
	foreign     int64         // events without a stamp of this run
	drops       int64         // established connections the server ended
	resumes     int64         // connections established after a drop
	unrecovered int64         // Centrifugo: resumes it said it could not recover
	crossGot    int64         // deliveries while reading another server than the one posted to
	retry       time.Duration // the server's reconnection hint (SSE retry:)
	stormDrop   bool          // dropped after the run's disruption
	resumeAt    int64         // b.now() when it was up again after that drop
	everReady   bool
	batch       int64 // deliveries in the current read
	readAt      int64 // b.now() when the current read returned

	// Where to resume: the last event id (chat), or epoch and offset
	// (Centrifugo).
	lastID []byte
	epoch  string
	offset uint64
	hasPos bool

	// Per connection.
	fd      int    // epoll mode: the socket, set by the connect goroutine
	pollFD  int    // epoll mode: the socket while in its poller's set
	semHeld bool   // epoll mode: the stream holds a place in dialSem
	raw     []byte // read buffer
	hdr     []byte // response head until complete
	payload []byte // decoded body not yet split into lines
	csize   []byte // a chunk-size line split across reads
	ready   bool   // established: the server will send what is posted from now on
	headDone,
	chunked bool
	cstate int
	cleft  int
	pendID []byte // id of the event being read
	other  bool   // the event being read is not a message (room, presence…)
	pend   delivery
	hasPnd bool
}

type delivery struct {
	post, poster int
	sent         int64
}

const (
	chunkSize = iota
	chunkData
	chunkEnd
)

// errEndOfStream is the server ending the response.
var errEndOfStream = errors.New("server ended the stream")

// fatalError stops the run: retrying would not help.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func newStream(b *bench, idx int) *stream {
	last := make([]int32, b.posters)
	for i := range last {
		last[i] = -1
	}
	return &stream{
		b:       b,
		idx:     idx,
		seen:    make([]uint64, b.words),
		last:    last,
		fd:      -1,
		pollFD:  -1,
		raw:     make([]byte, 4096),
		payload: make([]byte, 0, 1024),
	}
}

// run keeps the stream connected, reading it on this goroutine, until ctx
// ends or the run stops.
func (s *stream) run(ctx context.Context) {
	wait := 20 * time.Millisecond
	for {
		err := s.session(ctx)
		if ctx.Err() != nil || s.b.stopping.Load() {
			return
		}
		if fe := (*fatalError)(nil); errors.As(err, &fe) {
			s.b.fatal(err)
			return
		}
		if s.ready {
			wait = s.dropped()
		} else {
			s.b.noteError(err)
			wait = min(2*wait, time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// session is one connection, from dial to its end.
func (s *stream) session(ctx context.Context) error {
	b := s.b
	// Connections are opened a few hundred at a time so that the
	// server's accept queue never overflows.
	select {
	case b.dialSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	held := true
	defer func() {
		if held {
			<-b.dialSem
		}
	}()
	conn, err := b.dial(ctx, s.idx)
	if err != nil {
		return err
	}
	if !s.setConn(conn) {
		return net.ErrClosed
	}
	defer s.closeConn()
	s.reset()
	if _, err := conn.Write(b.streamRequest(s)); err != nil {
		return err
	}
	for {
		n, err := conn.Read(s.raw)
		if n > 0 {
			s.readAt = b.now()
			ferr := s.feed(s.raw[:n], s.readAt)
			if s.batch > 0 {
				b.delivered(s.batch)
				s.batch = 0
			}
			if s.ready && held {
				<-b.dialSem
				held = false
			}
			if ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

func (s *stream) setConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.stopping.Load() {
		c.Close()
		return false
	}
	s.conn = c
	return true
}

// closeConn closes the connection with a reset rather than a FIN, so
// that thousands of closed streams leave no TIME_WAIT behind.
func (s *stream) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return
	}
	if tc, ok := s.conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	s.conn.Close()
	s.conn = nil
}

func (s *stream) reset() {
	s.hdr = s.hdr[:0]
	s.payload = s.payload[:0]
	s.csize = s.csize[:0]
	s.headDone, s.chunked, s.ready = false, false, false
	s.cstate, s.cleft = chunkSize, 0
	s.pendID = s.pendID[:0]
	s.hasPnd, s.other = false, false
}

// dropped counts the end of an established connection and returns how
// long to wait before reconnecting: the server's retry hint with
// cfg.RetryHint (as EventSource waits), else 20 ms.
func (s *stream) dropped() time.Duration {
	s.drops++
	if s.b.disruptAt.Load() > 0 {
		s.stormDrop = true
	}
	if s.b.cfg.RetryHint && s.retry > 0 {
		return s.retry
	}
	return 20 * time.Millisecond
}

func (s *stream) markReady() {
	s.ready = true
	if s.everReady {
		s.resumes++
		if s.stormDrop && s.resumeAt == 0 {
			s.resumeAt = s.b.now()
		}
		return
	}
	s.everReady = true
	s.b.readyStreams.Add(1)
}

// feed takes bytes read from the connection at time now.
func (s *stream) feed(p []byte, now int64) error {
	if !s.headDone {
		s.hdr = append(s.hdr, p...)
		end := bytes.Index(s.hdr, []byte("\r\n\r\n"))
		if end < 0 {
			if len(s.hdr) > 64<<10 {
				return &fatalError{errors.New("stream: response head over 64 KiB")}
			}
			return nil
		}
		head, body := s.hdr[:end+2], s.hdr[end+4:]
		s.headDone = true
		status := 0
		if len(head) >= 12 && bytes.HasPrefix(head, []byte("HTTP/1.")) {
			status, _ = strconv.Atoi(string(head[9:12]))
		}
		if status != 200 {
			line, _, _ := bytes.Cut(head, []byte("\r\n"))
			err := fmt.Errorf("stream: %s: %.200q", line, body)
			if status >= 400 && status < 500 && status != 429 {
				return &fatalError{err}
			}
			return err
		}
		s.chunked = bytes.Contains(bytes.ToLower(head), []byte("\ntransfer-encoding: chunked"))
		if s.b.target == targetChat {
			// The server subscribes before it sends the head: from now on
			// every post reaches this stream.
			s.markReady()
		}
		p = body
	}
	ended := false
	if s.chunked {
		var err error
		if ended, err = s.dechunk(p); err != nil {
			return err
		}
	} else {
		s.payload = append(s.payload, p...)
	}
	if err := s.lines(now); err != nil {
		return err
	}
	if ended {
		return errEndOfStream
	}
	return nil
}

// dechunk appends the body bytes in p to the payload; ended reports the
// last chunk.
func (s *stream) dechunk(p []byte) (ended bool, err error) {
	for len(p) > 0 {
		switch s.cstate {
		case chunkSize:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.csize = append(s.csize, p...)
				return false, nil
			}
			line := p[:i]
			if len(s.csize) > 0 {
				line = append(s.csize, line...)
				s.csize = s.csize[:0]
			}
			p = p[i+1:]
			n, err := parseChunkSize(line)
			if err != nil {
				return false, err
			}
			if n == 0 {
				return true, nil
			}
			s.cstate, s.cleft = chunkData, n
		case chunkData:
			k := min(len(p), s.cleft)
			s.payload = append(s.payload, p[:k]...)
			p = p[k:]
			if s.cleft -= k; s.cleft == 0 {
				s.cstate = chunkEnd
			}
		case chunkEnd:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return false, nil
			}
			p = p[i+1:]
			s.cstate = chunkSize
		}
	}
	return false, nil
}

func parseChunkSize(line []byte) (int, error) {
	line, _, _ = bytes.Cut(line, []byte(";"))
	line = bytes.TrimSpace(line)
	n, err := strconv.ParseUint(string(line), 16, 31)
	if err != nil {
		return 0, fmt.Errorf("stream: bad chunk size %q", line)
	}
	return int(n), nil
}

// lines handles the complete lines in the payload and keeps the rest.
func (s *stream) lines(now int64) error {
	buf, start := s.payload, 0
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			break
		}
		line := buf[start : start+i]
		start += i + 1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		var err error
		if s.b.target == targetChat {
			s.chatLine(line, now)
		} else {
			err = s.centrifugoLine(line, now)
		}
		if err != nil {
			return err
		}
	}
	n := copy(buf, buf[start:])
	s.payload = buf[:n]
	return nil
}

// field returns the value of an SSE line "name: value".
func field(line []byte, name string) ([]byte, bool) {
	if len(line) <= len(name) || line[len(name)] != ':' || string(line[:len(name)]) != name {
		return nil, false
	}
	v := line[len(name)+1:]
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	return v, true
}

// chatLine reads one line of a sessionchat stream: an event is its id,
// its data, and the blank line that dispatches it.
func (s *stream) chatLine(line []byte, now int64) {
	if len(line) == 0 {
		if s.hasPnd {
			s.deliver(s.pend, now)
			s.hasPnd = false
		}
		if len(s.pendID) > 0 {
			s.lastID = append(s.lastID[:0], s.pendID...)
			s.pendID = s.pendID[:0]
		}
		s.other = false
		return
	}
	switch line[0] {
	case 'e':
		// Room events (room, ended, deleted, presence) carry no stamp
		// and no id.
		if v, ok := field(line, "event"); ok {
			s.other = string(v) != "message"
		}
	case 'd':
		if v, ok := field(line, "data"); ok && !s.other {
			if post, poster, sent, ok := parseStamp(v); ok {
				s.pend, s.hasPnd = delivery{post, poster, sent}, true
			} else {
				s.foreign++
			}
		}
	case 'i':
		if v, ok := field(line, "id"); ok {
			s.pendID = append(s.pendID[:0], v...)
		}
	case 'r':
		if v, ok := field(line, "retry"); ok {
			if n, rest, ok := parseUint(v); ok && len(rest) == 0 {
				s.retry = time.Duration(n) * time.Millisecond
			}
		}
	}
}

// centrifugoLine reads one line of a Centrifugo uni SSE stream: each data
// line is one push, a connect reply, a publication, a disconnect or an
// empty ping.
func (s *stream) centrifugoLine(line []byte, now int64) error {
	v, ok := field(line, "data")
	if !ok || len(v) <= 2 {
		return nil
	}
	if bytes.HasPrefix(v, []byte(`{"connect":`)) {
		return s.centrifugoConnect(v, now)
	}
	if post, poster, sent, ok := parseStamp(v); ok {
		s.deliver(delivery{post, poster, sent}, now)
		if i := bytes.LastIndex(v, []byte(`"offset":`)); i >= 0 {
			if off, _, ok := parseUint(v[i+len(`"offset":`):]); ok {
				s.offset = off
			}
		}
		return nil
	}
	if !bytes.HasPrefix(v, []byte(`{"disconnect":`)) {
		s.foreign++
	}
	return nil
}

func (s *stream) centrifugoConnect(v []byte, now int64) error {
	var m cfConnect
	if err := json.Unmarshal(v, &m); err != nil || m.Connect == nil {
		return fmt.Errorf("stream: connect push %.200q: %v", v, err)
	}
	sub, ok := m.Connect.Subs[s.b.channel]
	if !ok {
		return &fatalError{fmt.Errorf("stream: centrifugo did not subscribe to %q (is the namespace configured for anonymous subscribers?): %.300s", s.b.channel, v)}
	}
	if s.hasPos && !sub.Recovered {
		s.unrecovered++
	}
	for _, p := range sub.Publications {
		if post, poster, sent, ok := parseStamp(p.Data); ok {
			s.deliver(delivery{post, poster, sent}, now)
		} else {
			s.foreign++
		}
	}
	s.epoch, s.offset, s.hasPos = sub.Epoch, sub.Offset, true
	s.markReady()
	return nil
}

// deliver counts a message that arrived at time now (and was read at
// s.readAt).
func (s *stream) deliver(d delivery, now int64) {
	if d.post < 0 || d.post >= s.b.maxPosts {
		s.foreign++
		return
	}
	w, bit := d.post>>6, uint64(1)<<(d.post&63)
	if s.seen[w]&bit != 0 {
		s.dup++
		return
	}
	s.seen[w] |= bit
	s.got++
	s.batch++
	cross := s.b.isCross(s.idx)
	if cross {
		s.crossGot++
	}
	// A poster sends its next post only once the last was accepted, so
	// on every stream its posts must come in the order it sent them.
	if d.poster >= 0 && d.poster < len(s.last) {
		if int32(d.post) < s.last[d.poster] {
			s.ooo++
		} else {
			s.last[d.poster] = int32(d.post)
		}
	}
	s.b.lat[s.idx%histShards].record(time.Duration(now - d.sent))
	if cross {
		s.b.crossLat[s.idx%histShards].record(time.Duration(now - d.sent))
	}
	s.b.readLat[s.idx%histShards].record(time.Duration(s.readAt - d.sent))
}

// lost counts the accepted posts the stream never received.
func (s *stream) lost(acked []uint64) int64 {
	var n int
	for w, a := range acked {
		n += bits.OnesCount64(a &^ s.seen[w])
	}
	return int64(n)
}
