package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessionchat/sessionchat/auth"
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
	errNoToken        = errors.New("this room is private: it needs a token")
	errCannotRead     = errors.New("your token does not let you read this room")
	errCannotWrite    = errors.New("your token does not let you post in this room")
	errCannotHost     = errors.New("your token does not let you start or host this room")
	// errClientGone is the outcome of a request whose context ended before
	// it was answered: its client closed the connection or reset the
	// HTTP/2 stream (or the server is shutting down). Whatever the
	// request's calls then returned is no failure of theirs (see outcome).
	errClientGone = errors.New("the request was canceled before it was answered")
)

// statusClientGone is what the log and the metrics say of a request whose
// client went away: nginx's 499 (Client Closed Request), which no client
// ever reads.
const statusClientGone = 499

// statuses maps errors to HTTP statuses: the one table of it. detail says
// whether the wrapped error's whole text is safe to show (it is for input
// errors, which say what was wrong); otherwise only the sentinel's is.
// reason names the error in logs and metrics.
var statuses = []struct {
	err    error
	status int
	detail bool
	reason string
}{
	{errClientGone, statusClientGone, false, "client_gone"}, // first: it wraps what the cut-short call returned
	{chat.ErrInvalid, http.StatusBadRequest, true, "invalid"},
	{errTooLarge, http.StatusRequestEntityTooLarge, false, "too_large"},
	{errNotJSON, http.StatusUnsupportedMediaType, false, "not_json"},
	{errRateLimited, http.StatusTooManyRequests, false, "rate_limited"},
	{errTooManyStreams, http.StatusTooManyRequests, false, "too_many_streams"},
	{errNotFound, http.StatusNotFound, false, "not_found"},
	{errMethod, http.StatusMethodNotAllowed, false, "method"},
	{errCrossOrigin, http.StatusForbidden, false, "cross_origin"},
	{errNoToken, http.StatusUnauthorized, false, "no_token"},
	{auth.ErrInvalid, http.StatusUnauthorized, false, "bad_token"},
	{auth.ErrExpired, http.StatusUnauthorized, false, "expired_token"},
	{errCannotRead, http.StatusForbidden, false, "cannot_read"},
	{errCannotWrite, http.StatusForbidden, false, "cannot_write"},
	{chat.ErrEnded, http.StatusGone, false, "room_ended"},
	{chat.ErrLocked, http.StatusForbidden, false, "room_locked"},
	{chat.ErrNotHost, http.StatusForbidden, false, "not_host"},
	{errCannotHost, http.StatusForbidden, false, "cannot_host"},
	{chat.ErrExists, http.StatusConflict, true, "room_exists"},
	{chat.ErrNotFound, http.StatusNotFound, false, "no_message"},
	{chat.ErrNoRooms, http.StatusNotImplemented, false, "no_rooms"},
	{chat.ErrUnavailable, http.StatusServiceUnavailable, false, "store_unavailable"},
	{chat.ErrRoomFull, http.StatusServiceUnavailable, false, "room_full"},
}

// status returns the status for err, the text to show a person and the
// reason for logs and metrics.
func status(err error) (code int, msg, reason string) {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			if s.detail && s.err == chat.ErrInvalid {
				// ErrInvalid only classifies; the wrapping says what was
				// wrong, and that is all a person needs to read.
				return s.status, strings.TrimPrefix(err.Error(), s.err.Error()+": "), s.reason
			}
			if s.detail {
				return s.status, err.Error(), s.reason
			}
			return s.status, s.err.Error(), s.reason
		}
	}
	return http.StatusInternalServerError, errInternal.Error(), "internal"
}

// failure looks err up in the table, logs its detail if it is the server's
// fault, and notes its reason on the request (see observe). It returns the
// status and the text to show.
func failure(log *slog.Logger, r *http.Request, err error) (int, string) {
	err = outcome(r, err)
	code, msg, reason := status(err)
	switch {
	case code == statusClientGone:
		log.Debug("client gone", "method", r.Method, "path", r.URL.Path, "err", err)
	case code >= 500:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	noteReason(r, reason)
	return code, msg
}

// outcome is what err means given how r's context stands. Once the context
// has ended, a call it cut short fails (a store call with the context's
// error, a body read with a broken connection) through no fault of the
// store or the input: the client went away, which is errClientGone, or a
// private room's token expired meanwhile (the gate's deadline, see
// gate.canRead), which is auth.ErrExpired.
func outcome(r *http.Request, err error) error {
	ctx := r.Context()
	if ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); errors.Is(cause, auth.ErrExpired) {
		return fmt.Errorf("%w during the request: %w", cause, err)
	}
	return fmt.Errorf("%w: %w", errClientGone, err)
}

// writeError answers an API request with {"error": ...}.
func writeError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code, msg := failure(log, r, err)
	if code == statusClientGone {
		w.WriteHeader(code) // for the log: nobody reads it
		return
	}
	encode(w, code, map[string]string{"error": msg})
}

// writeErrorPage answers a page request with a readable error page.
func writeErrorPage(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code, msg := failure(log, r, err)
	writePage(log, w, r, code, msg)
}

// writePage renders the error page for a failure's code and msg; for a
// client that has gone it writes the status alone, for the log.
func writePage(log *slog.Logger, w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code == statusClientGone {
		w.WriteHeader(code)
		return
	}
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

// handleMethodNotAllowed answers 405 with the Allow header that RFC 9110
// requires, listing the methods the path is routed for; a path routed for
// none (a method chi does not know, on a path that does not exist) is 404.
func handleMethodNotAllowed(log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		allowed := allowedMethods(r)
		if len(allowed) == 0 {
			writeFor(log, w, r, errNotFound)
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeFor(log, w, r, errMethod)
	}
}
