package handlers

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// handleEvents streams a room: the stored history after the client's
// cursor (Last-Event-ID, or ?after=), then live messages, each once and in
// history order, with a comment on every heartbeat that finds the stream
// idle. The stream ends when the client goes, when streams ends (shutdown)
// or when the hub drops the subscriber for falling behind; the client then
// resumes from its last event id.
//
// An HTTP/1.1 stream takes over its connection: the server's read and
// write buffers, its chunked encoding and its per-request goroutines are
// released, which keeps an idle stream to a few kilobytes. Other protocols
// stream through the ResponseWriter.
func handleEvents(log *slog.Logger, svc *chat.Service, limit *streamLimiter, beat *pulse, streams context.Context, retry time.Duration) http.HandlerFunc {
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
		cursor := r.Header.Get("Last-Event-ID")
		if cursor == "" {
			cursor = r.URL.Query().Get("after")
		}
		st, err := svc.Join(r.Context(), room, cursor)
		if err != nil {
			release()
			if errors.Is(err, chat.ErrRoomFull) {
				w.Header().Set("Retry-After", "5")
			}
			writeError(log, w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")

		rc := http.NewResponseController(w)
		if r.ProtoMajor == 1 {
			if out, err := hijack(rc, h); err == nil {
				st.OnDrop(func() { out.Close() }) // unblocks a write to a stalled client
				// The request's context ends when this handler returns;
				// its deadline (a private room's token expiry) carries over.
				ctx, cancel := streams, context.CancelFunc(func() {})
				if d, ok := r.Context().Deadline(); ok {
					ctx, cancel = context.WithDeadline(streams, d)
				}
				go func() {
					defer release()
					defer st.Close()
					defer out.Close()
					defer cancel()
					stream(ctx, st, out, beat, retry)
				}()
				return
			}
		}
		defer release()
		defer st.Close()
		// A stream outlives any write timeout the server has; when the hub
		// drops it, a deadline in the past fails a flush blocked on a
		// stalled client (on HTTP/2 it resets the stream). Not under the
		// hub's lock: the HTTP/2 server may take a moment to accept it.
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			log.Warn("stream: clear write deadline", "err", err)
		}
		st.OnDrop(func() { go rc.SetWriteDeadline(time.Unix(1, 0)) })
		w.WriteHeader(http.StatusOK)
		stream(r.Context(), st, flusher{w, rc}, beat, retry)
	}
}

// reconnectAfter is the least a client is asked to wait before it
// reconnects when the server ends its stream; each waits up to twice that.
const reconnectAfter = 500 * time.Millisecond

// stream writes st until ctx ends, the stream ends or a write fails. Each
// wake-up writes everything waiting in one write. The goroutine waits on
// the stream's own signal only: ctx's end closes the stream, and the hub's
// tick (driven by beat) brings heartbeats, so that thousands of streams
// share no channel and no timer.
func stream(ctx context.Context, st *chat.Stream, out sink, beat *pulse, retry time.Duration) {
	beat.join()
	defer beat.leave()
	defer context.AfterFunc(ctx, st.Close)()

	b := getBuffer()
	*b = appendRetry(*b, retry)
	for _, m := range st.Backlog {
		var err error
		if *b, err = appendMessage(*b, m); err != nil {
			putBuffer(b)
			return
		}
	}
	st.Backlog = nil
	err := out.write(*b)
	putBuffer(b)
	if err != nil {
		return
	}

	var events []*chat.Event
	wrote := true // since the last tick
	for range st.Ready() {
		var tick, open bool
		events, tick, open = st.Take(events[:0])
		if len(events) > 0 {
			b := getBuffer()
			for _, e := range events {
				*b = appendEvent(*b, e.Message.ID, e.JSON)
			}
			clear(events)
			err := out.write(*b)
			putBuffer(b)
			if err != nil {
				return
			}
			wrote = true
		}
		if tick {
			if !wrote && out.write(heartbeat) != nil {
				return
			}
			wrote = false
		}
		if !open {
			if ctx.Err() != nil {
				// Shutting down (or the token expired): ask the client
				// to come back soon, at a moment of its own, so that a
				// restart's reconnections spread out.
				_ = out.write(appendRetry(nil, reconnectAfter+rand.N(reconnectAfter)))
			}
			return
		}
		if cap(events) > 64 {
			events = nil // a burst's backing array is not kept while idle
		}
	}
}
