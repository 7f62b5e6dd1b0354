package handlers

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// handleEvents streams a room: its state (a room event), who is here (a
// presence event: the stream counts as the name the page keeps, or as a
// watcher without one), the stored
// history after the client's cursor (Last-Event-ID, or ?after=), then
// live messages, each once and in history order, and the room's events
// (room on a change of state, deleted, ended), with a comment whenever the
// stream has been idle for about a heartbeat interval (see pulse). The
// stream ends when the client goes, at shutdown, when a write waits on the
// client for the stalled-writer bound, or when the hub drops it for
// falling behind; the client then resumes from its last event id. At the
// room's end it ends after the ended event with a long reconnection hint;
// a room that has ended answers 410.
//
// An HTTP/1.1 stream takes over its connection: the server's read and
// write buffers, its chunked encoding and its per-request goroutines are
// released, which keeps an idle stream to a few kilobytes, and a close
// watch (closeWatcher) notices at once when the client closes it. Other
// protocols stream through the ResponseWriter.
func handleEvents(log *slog.Logger, svc *chat.Service, limit *streamLimiter, s *streamer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		release, ok := limit.acquire(r)
		if !ok {
			w.Header().Set("Retry-After", "1")
			writeError(log, w, r, errTooManyStreams)
			return
		}
		st, err := svc.JoinAs(r.Context(), room, cursor(r), visitor(r))
		if err != nil {
			release()
			if errors.Is(err, chat.ErrRoomFull) {
				w.Header().Set("Retry-After", "5")
			}
			writeError(log, w, r, err)
			return
		}
		ss := &session{st: st, release: release, logged: func(int64) {}}
		detached := s.open(log, w, r, ss)
		if err := s.begin(ss); err != nil {
			ss.end()
			return
		}
		if detached {
			go s.run(ss) // the stream took over its connection
			return
		}
		s.run(ss)
	}
}

// cursor is the id of the last message the client has.
func cursor(r *http.Request) string {
	if c := r.Header.Get("Last-Event-ID"); c != "" {
		return c
	}
	return r.URL.Query().Get("after")
}

// streamer is what every event stream shares.
type streamer struct {
	beat   *pulse
	closes *closeWatcher
	life   context.Context // ends every stream (shutdown)
	retry  time.Duration   // the reconnection hint
	stall  time.Duration   // the stalled-writer bound
}

func newStreamer(log *slog.Logger, hub *chat.Hub, o Options) *streamer {
	return &streamer{
		beat:   newPulse(o.Heartbeat, hub),
		closes: newCloseWatcher(log),
		life:   o.Streams,
		retry:  o.Retry,
		stall:  o.StallTimeout,
	}
}

// session is one open stream and all it holds; end lets all of it go.
type session struct {
	st      *chat.Stream
	release func() // the client's stream slot
	out     sink
	ctx     context.Context // the stream ends with it
	cancel  context.CancelFunc
	f       framer
	freed   atomic.Bool // the slot was released
	// logged writes the request's log line of a stream that outlives
	// its handler, with the bytes it wrote (see streamEnd).
	logged func(bytes int64)
}

// end releases the session: its context, its slot, its subscription and
// its connection. The slot goes before the subscription, so that whoever
// sees the stream gone from the hub finds the slot free; the subscription
// before the sink, so that no abort (Stream.OnDrop) starts once the sink
// has let its connection go.
func (ss *session) end() {
	ss.f.release()
	ss.cancel()
	ss.free()
	ss.st.Close()
	ss.out.close()
	ss.logged(ss.f.sent)
}

// free releases the client's slot, once.
func (ss *session) free() {
	if ss.freed.CompareAndSwap(false, true) {
		ss.release()
	}
}

// hangUp is the client's close of a connection the stream took over: the
// stream ends, with its slot freed first, as end does.
func (ss *session) hangUp() {
	ss.free()
	ss.st.Close()
}

// open picks the stream's transport and reports whether the stream took
// over its connection, and so outlives the handler. A stream that did
// keeps its request's deadline (a private room's token expiry) but not
// its context, which ends when the handler returns.
func (s *streamer) open(log *slog.Logger, w http.ResponseWriter, r *http.Request, ss *session) (detached bool) {
	h := w.Header()
	setStreamHeaders(h)
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		c, err := hijack(rc, h, s.stall/4)
		if err == nil {
			ss.out, ss.logged = c, streamEnd(r)
			ss.ctx, ss.cancel = s.life, func() {}
			if d, ok := r.Context().Deadline(); ok {
				ss.ctx, ss.cancel = context.WithDeadline(s.life, d)
			}
			if c.unwatch, err = s.closes.watch(c.Conn, ss.hangUp); err != nil {
				// The stream still ends, at the first write that fails.
				log.Warn("stream: watch for the client's close", "err", err)
				c.unwatch = func() {}
			}
			ss.st.OnDrop(c.abort)
			return true
		}
		if !errors.Is(err, errNoHijack) {
			// Taken over, but broken already: the stream ends at once.
			ss.out, ss.ctx, ss.cancel = closedSink{}, r.Context(), func() {}
			return false
		}
	}
	f := &flusher{w: w, rc: rc}
	ss.out, ss.ctx, ss.cancel = f, r.Context(), func() {}
	ss.st.OnDrop(f.abort)
	return false
}

// closedSink is a connection lost while it was being taken over.
type closedSink struct{}

func (closedSink) head(b []byte) []byte                 { return b }
func (closedSink) write([]byte, time.Time) (int, error) { return 0, net.ErrClosed }
func (closedSink) abort()                               {}
func (closedSink) close()                               {}

// reconnectAfter is the least a client is asked to wait before it
// reconnects when the server ends its stream; each waits up to twice that.
const reconnectAfter = 500 * time.Millisecond

// begin writes the response head, the reconnection hint and the stored
// messages after the client's cursor. It runs on the handler's goroutine,
// whose stack the request, the headers and the JSON have grown already,
// so that a detached stream's own goroutine, which stays as long as the
// stream idles, keeps a small one.
func (s *streamer) begin(ss *session) error {
	ss.f = framer{out: ss.out, stall: s.stall}
	defer ss.f.release()
	return ss.f.backlog(ss.st, s.retry)
}

// run writes live events and heartbeats until the stream ends, then ends
// the session. The goroutine waits on the stream's own signal only: the
// context's end closes the stream, a close watch or a drop closes or
// aborts it, and the hub's ticks (driven by the pulse) bring heartbeats,
// so that thousands of streams share no channel and no timer.
func (s *streamer) run(ss *session) {
	defer ss.end()
	s.beat.join()
	defer s.beat.leave()
	defer context.AfterFunc(ss.ctx, ss.st.Close)()

	f := &ss.f
	var events []*chat.Event
	for range ss.st.Ready() {
		var tick, open bool
		events, tick, open = ss.st.Take(events[:0])
		if len(events) > 0 {
			ended := false
			for _, e := range events {
				if f.event(e.Kind, e.Message.ID, e.JSON) != nil {
					return
				}
				if e.Kind == chat.KindEnded {
					ended = true
					break // the room's last word
				}
			}
			clear(events)
			if ended {
				f.retry(endedRetry)
			}
			if f.flush() != nil || ended {
				return
			}
		}
		if tick && time.Since(f.last) >= s.beat.due() {
			f.heartbeat()
			if f.flush() != nil {
				return
			}
		}
		if !open {
			if ss.ctx.Err() != nil {
				// Shutting down (or the token expired): ask the client
				// to come back soon, at a moment of its own, so that a
				// restart's reconnections spread out.
				f.retry(reconnectAfter + rand.N(reconnectAfter))
				_ = f.flush()
			}
			return
		}
		if cap(events) > 64 {
			events = nil // a burst's backing array is not kept while idle
		}
		f.release()
	}
}

// backlog writes the response head, the reconnection hint, the room's
// state and the stored messages after the client's cursor, in chunks.
// Each message is let go as it is encoded: a stream stalled in its
// history holds one chunk and the messages it has not reached, never the
// history encoded whole.
func (f *framer) backlog(st *chat.Stream, retry time.Duration) error {
	f.head()
	f.retry(retry)
	if err := f.event(chat.KindRoom, chat.ID{}, chat.NewRoomEvent(chat.KindRoom, st.State).JSON); err != nil {
		return err
	}
	if p := st.Presence; p != nil {
		if err := f.event(p.Kind, chat.ID{}, p.JSON); err != nil {
			return err
		}
		st.Presence = nil
	}
	for i := range st.Backlog {
		m := st.Backlog[i]
		st.Backlog[i] = chat.Message{}
		if err := f.message(&m); err != nil {
			return err
		}
	}
	st.Backlog = nil
	return f.flush()
}
