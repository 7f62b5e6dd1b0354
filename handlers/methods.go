package handlers

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// get serves h for GET and for HEAD at pattern. For HEAD the handler runs
// as for GET and net/http drops the body, so that both answer with the
// same status and headers, Content-Length included (RFC 9110 9.3.2).
// chi's Get alone would answer HEAD with 405.
func get(r chi.Router, pattern string, h http.Handler) {
	r.Method(http.MethodGet, pattern, h)
	r.Method(http.MethodHead, pattern, h)
}

// routeMethods are the methods a 405's Allow may list, in its order.
var routeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// allowedMethods lists the methods that r's path is routed for. chi knows
// them when it finds the method wrong, but hands them only to its own
// method-not-allowed handler, so they are looked up again (a 405 is rare).
func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return nil
	}
	// rctx.Routes is the top router; the path is matched whole, as it was
	// routed.
	p := r.URL.RawPath
	if p == "" {
		p = r.URL.Path
	}
	var allowed []string
	for _, m := range routeMethods {
		if rctx.Routes.Match(chi.NewRouteContext(), m, p) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// handleEventsHead answers HEAD on a room's event stream with the headers
// a GET's stream starts with, and opens no stream: it takes no stream
// slot and joins no room. (The routes give it the GET's gate.)
func handleEventsHead(log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := roomParam(r); err != nil {
			writeError(log, w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
	}
}
