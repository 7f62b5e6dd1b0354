package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
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
// reason of a refusal, and counts it in m.
func observe(log *slog.Logger, m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			note := &requestNote{}
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, note)))
			elapsed := time.Since(start)
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.code()),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", elapsed),
			}
			if note.reason != "" {
				attrs = append(attrs, slog.String("reason", note.reason))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
			m.observe(r, rec.code(), note.reason, elapsed)
		})
	}
}

// requestNote carries what handlers learn about a request back to observe.
type requestNote struct{ reason string }

type noteKey struct{}

// noteReason records why the request was refused.
func noteReason(r *http.Request, reason string) {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		n.reason = reason
	}
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
