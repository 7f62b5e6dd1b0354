package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// Errors the handlers themselves raise. Their text is shown to people.
var (
	errTooLarge       = errors.New("the request body is too large")
	errNotJSON        = errors.New("the request body must be JSON (Content-Type: application/json)")
	errRateLimited    = errors.New("too many messages: slow down and try again shortly")
	errTooManyStreams = errors.New("too many open streams from this client")
	errNotFound       = errors.New("there is nothing here")
	errMethod         = errors.New("that method is not allowed here")
	errCrossOrigin    = errors.New("cross-origin requests are not allowed")
	errInternal       = errors.New("something went wrong on our side")
)

// statuses maps errors to HTTP statuses: the one table of it. detail says
// whether the wrapped error's whole text is safe to show (it is for input
// errors, which say what was wrong); otherwise only the sentinel's is.
var statuses = []struct {
	err    error
	status int
	detail bool
}{
	{chat.ErrInvalid, http.StatusBadRequest, true},
	{errTooLarge, http.StatusRequestEntityTooLarge, false},
	{errNotJSON, http.StatusUnsupportedMediaType, false},
	{errRateLimited, http.StatusTooManyRequests, false},
	{errTooManyStreams, http.StatusTooManyRequests, false},
	{errNotFound, http.StatusNotFound, false},
	{errMethod, http.StatusMethodNotAllowed, false},
	{errCrossOrigin, http.StatusForbidden, false},
	{chat.ErrUnavailable, http.StatusServiceUnavailable, false},
}

// status returns the status for err and the text to show a person.
func status(err error) (int, string) {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			if s.detail {
				return s.status, err.Error()
			}
			return s.status, s.err.Error()
		}
	}
	return http.StatusInternalServerError, errInternal.Error()
}

// logFailure logs the detail of errors that are the server's fault.
func logFailure(log *slog.Logger, r *http.Request, code int, err error) {
	if code >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
}

// writeError answers an API request with {"error": ...}.
func writeError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	logFailure(log, r, code, err)
	encode(w, code, map[string]string{"error": msg})
}

// writeErrorPage answers a page request with a readable error page.
func writeErrorPage(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	logFailure(log, r, code, err)
	render(log, w, r, code, views.ErrorPage(code, msg))
}

// writeFor answers with JSON under /api/ and with a page elsewhere.
func writeFor(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(log, w, r, err)
		return
	}
	writeErrorPage(log, w, r, err)
}

func handleNotFound(log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeFor(log, w, r, errNotFound) }
}

func handleMethodNotAllowed(log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeFor(log, w, r, errMethod) }
}
