package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// handleEvents streams a room: the stored history after the client's
// cursor (Last-Event-ID, or ?after=), then live messages, each once and in
// history order, with a comment every heartbeat while idle. The stream
// ends when the client goes, the server shuts down (the request context
// ends), or the hub drops the subscriber for falling behind; the client
// then resumes from its last event id.
func handleEvents(log *slog.Logger, svc *chat.Service, streams *streamLimiter, heartbeat, retry time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		release, ok := streams.acquire(r)
		if !ok {
			w.Header().Set("Retry-After", "1")
			writeError(log, w, r, errTooManyStreams)
			return
		}
		defer release()
		cursor := r.Header.Get("Last-Event-ID")
		if cursor == "" {
			cursor = r.URL.Query().Get("after")
		}
		st, err := svc.Join(r.Context(), room, cursor)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		defer st.Close()

		// A stream outlives any write timeout the server has.
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			log.Warn("stream: clear write deadline", "err", err)
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)

		sse := newSSEWriter(w, rc)
		sse.retry(retry)
		for _, m := range st.Backlog {
			if err := sse.message(m); err != nil {
				return
			}
		}
		if sse.flush() != nil {
			return
		}

		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				sse.heartbeat()
			case e, ok := <-st.Events():
				if !ok {
					return
				}
				sse.event(st, e)
				// Coalesce whatever else is queued into the same write.
				for more := true; more; {
					select {
					case e, ok := <-st.Events():
						if !ok {
							sse.flush()
							return
						}
						sse.event(st, e)
					default:
						more = false
					}
				}
				tick.Reset(heartbeat)
			}
			if sse.flush() != nil {
				return
			}
		}
	}
}
