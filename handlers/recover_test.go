package handlers

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A panic in a handler answers 500 JSON (a page outside the API), is
// logged with its stack, and leaves the server serving.
func TestRecoverer(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := recoverer(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	for path, ctype := range map[string]string{"/api/rooms/r/messages": "application/json", "/rooms/r": "text/html"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) {
			t.Errorf("GET %s after a panic = %d %q, want 500 %s", path, rec.Code, rec.Header().Get("Content-Type"), ctype)
		}
		if strings.Contains(rec.Body.String(), "boom") {
			t.Errorf("GET %s: the panic's value reached the client", path)
		}
	}
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the panic was not logged with its stack: %s", logs.String())
	}
}
