package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// BenchmarkPostHandler is a JSON post through the whole router: middleware,
// decode, validate, store, publish to one subscriber, encode.
func BenchmarkPostHandler(b *testing.B) {
	ch := handlerstest.Wire(b, handlerstest.Config{})
	h := ch.Handler
	sub, err := ch.Service.Join(b.Context(), "r", "")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	const body = `{"username":"alice","message":"hello there, how is the game going?"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/rooms/r/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		sub.Take(nil)
	}
}
