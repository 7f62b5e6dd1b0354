package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// recoverer turns a panic in a handler into a logged 500 and keeps the
// process alive. http.ErrAbortHandler is re-raised: it is net/http's way
// of aborting a response on purpose.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeFor(log, w, r, errInternal)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// observe logs one line per request, without query strings or bodies
// (they may carry names, cursors, tokens or message text), with the
// reason of a refusal, and counts it in m. The line is written when the
// response ends: when the handler returns, or for a stream that outlives
// its handler when the stream says so (see streamEnd).
func observe(log *slog.Logger, m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			// The note outlives the handler for a detached stream, so it
			// keeps what the line needs and not the request (its headers)
			// nor the ResponseWriter (its buffers).
			method, path := r.Method, r.URL.Path
			note := &requestNote{}
			note.line = func(code int, bytes int64) {
				elapsed := time.Since(start)
				attrs := []slog.Attr{
					slog.String("method", method),
					slog.String("path", path),
					slog.Int("status", code),
					slog.Int64("bytes", bytes),
					slog.Duration("duration", elapsed),
				}
				if note.reason != "" {
					attrs = append(attrs, slog.String("reason", note.reason))
				}
				log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
				m.observe(method, path, code, note.reason, elapsed)
			}
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, note)))
			note.returned(rec.code(), rec.bytes)
		})
	}
}

// requestNote carries what handlers learn about a request back to observe.
type requestNote struct {
	reason   string
	detached bool // see streamEnd; set and read by the handler's goroutine
	line     func(code int, bytes int64)

	// For a detached stream, the line waits for both the handler's
	// return and the stream's end, whichever comes last.
	mu                       sync.Mutex
	handlerDone, streamEnded bool
	code                     int
	bytes                    int64
}

// returned is the handler's return, with the status and the bytes the
// ResponseWriter saw.
func (n *requestNote) returned(code int, bytes int64) {
	if !n.detached {
		n.line(code, bytes)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlerDone, n.code = true, code
	n.bytes += bytes
	if n.streamEnded {
		n.line(n.code, n.bytes)
	}
}

// ended is a detached stream's end, with the bytes it wrote itself.
func (n *requestNote) ended(bytes int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.streamEnded {
		return
	}
	n.streamEnded = true
	n.bytes += bytes
	if n.handlerDone {
		n.line(n.code, n.bytes)
	}
}

type noteKey struct{}

// noteReason records why the request was refused.
func noteReason(r *http.Request, reason string) {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		n.reason = reason
	}
}

// streamEnd is for a response that goes on after its handler returns: an
// event stream that took over its HTTP/1.1 connection. The handler calls
// it before it returns; observe then writes the request's log line, and
// counts it, not at the handler's return but when the stream calls end,
// with the bytes the stream wrote outside the ResponseWriter (its
// response header included): the line's duration runs from the request's
// arrival to the later of that call and the handler's return. Only the
// first call of end counts; it is safe from any goroutine. Outside
// observe, end does nothing.
//
// A stream that writes through the ResponseWriter (HTTP/2) needs none of
// this: its handler returns when the stream ends.
func streamEnd(r *http.Request) (end func(bytes int64)) {
	n, ok := r.Context().Value(noteKey{}).(*requestNote)
	if !ok {
		return func(int64) {}
	}
	n.detached = true
	return n.ended
}

// statusRecorder notes the status and size of a response. Unwrap lets
// http.ResponseController reach the connection's Flusher and deadlines.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// commonHeaders go on every response: routes may replace them.
func commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// Pages and JSON are live and may be a private room's, so no cache
		// keeps them; what may be cached says so itself (assets, streams).
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// pageCSP allows the page's own styles, script and stream, nothing inline;
// frame-ancestors is added per page.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "

// setPageHeaders gives an HTML page its security policy, refusing to be
// framed unless a route has already allowed it (embedHeaders).
func setPageHeaders(h http.Header) {
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", pageCSP+"frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
	}
}

// embedHeaders lets this site and origins frame the page.
func embedHeaders(origins []string) func(http.Handler) http.Handler {
	csp := pageCSP + strings.Join(append([]string{"frame-ancestors 'self'"}, origins...), " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", csp)
			next.ServeHTTP(w, r)
		})
	}
}

// crossOriginProtection rejects cross-origin form and JSON posts (by
// Sec-Fetch-Site and Origin), except from the CORS origins, answering in
// the caller's format.
func crossOriginProtection(log *slog.Logger, trusted []string) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		// Origins were checked when the configuration was read.
		_ = cop.AddTrustedOrigin(o)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeFor(log, w, r, errCrossOrigin)
	}))
	return cop.Handler
}
