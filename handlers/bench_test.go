package handlers_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
)

// BenchmarkPostHandler is a JSON post through the whole router: middleware,
// decode, validate, store, publish to one subscriber, encode.
func BenchmarkPostHandler(b *testing.B) {
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
	defer mem.Close()
	hub := chat.NewHub(chat.HubOptions{Store: mem})
	defer hub.Close()
	h := handlers.New(slog.New(slog.NewTextHandler(io.Discard, nil)), chat.NewService(mem, hub, hub), hub, handlers.Options{})
	sub, err := hub.Subscribe("r")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	hub.Baseline("r", chat.ID{})
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
