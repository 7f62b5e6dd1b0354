package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
)

// recordingStore is a real memory store that keeps the last message
// appended and counts the appends.
type recordingStore struct {
	*memory.Store

	mu      sync.Mutex
	appends int
	last    chat.Message
}

func (s *recordingStore) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	m, err := s.Store.Append(ctx, m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends++
	s.last = m
	return m, err
}

func (s *recordingStore) stats() (int, chat.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends, s.last
}

// A JSON post, whatever its room, content type and body, is stored and
// answered 201 with what was stored, or refused with a JSON error that is
// not the server's fault; a refused post never reaches the store.
func FuzzPostJSON(f *testing.F) {
	for _, seed := range []struct{ room, ct, body string }{
		{"lobby", "application/json", `{"username":"alice","message":"hi"}`},
		{"lobby", "application/json; charset=utf-8", `{"username":" 名前 ","message":"こんにちは 👋🏽"}`},
		{"lobby", "application/json", `{"username":"a","message":"b"} {}`},
		{"lobby", "application/json", `{"username":"a","message":"\u0000"}`},
		{"lobby", "application/json", "{\"username\":\"a\",\"message\":\"\xff\"}"},
		{"lobby", "application/json", `{"username":"a","message":"   "}`},
		{"lobby", "application/json", `[1,2,3]`},
		{"lobby", "application/json", `{"username":"a","message":"x","username":"b"}`},
		{"lobby", "text/plain", `{"username":"a","message":"b"}`},
		{"lobby", "", ``},
		{"a/b", "application/json", `{"username":"a","message":"b"}`},
		{"", "application/json", `{"username":"a","message":"b"}`},
		{"bad room", "application/json", `{"username":"a","message":"b"}`},
	} {
		f.Add(seed.room, seed.ct, []byte(seed.body))
	}

	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 10, MaxBytes: 32 << 20})
	f.Cleanup(mem.Close)
	store := &recordingStore{Store: mem}
	hub := chat.NewHub(chat.HubOptions{Store: store})
	f.Cleanup(hub.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := handlers.New(log, chat.NewService(store, hub, nil), hub, handlers.Options{HistoryTTL: time.Hour})

	f.Fuzz(func(t *testing.T, room, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		// Set the path directly: any string may arrive in one, and
		// NewRequest would refuse some.
		req.URL.Path = "/api/rooms/" + room + "/messages"
		req.Header.Set("Content-Type", contentType)
		before, _ := store.stats()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		after, last := store.stats()

		resp := w.Result()
		if resp.StatusCode >= 500 {
			t.Fatalf("room %q, %q, body %q: status %d (%s)", room, contentType, body, resp.StatusCode, w.Body)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			t.Fatalf("room %q, %q, body %q: status %d answered as %q, want JSON", room, contentType, body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}

		if resp.StatusCode != http.StatusCreated {
			if after != before {
				t.Fatalf("room %q, %q, body %q: refused with %d but reached the store", room, contentType, body, resp.StatusCode)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("room %q, %q, body %q: status %d with body %q, want {\"error\": …}", room, contentType, body, resp.StatusCode, w.Body)
			}
			switch resp.StatusCode {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			case http.StatusNotFound, http.StatusMethodNotAllowed:
				if _, err := chat.ParseRoom(room); err == nil {
					t.Fatalf("room %q, %q, body %q: status %d for a valid room", room, contentType, body, resp.StatusCode)
				}
			default:
				t.Fatalf("room %q, %q, body %q: unexpected status %d (%s)", room, contentType, body, resp.StatusCode, w.Body)
			}
			return
		}

		// Accepted: exactly what the body said, stored once.
		if after != before+1 {
			t.Fatalf("room %q, body %q: 201 after %d appends, want 1", room, body, after-before)
		}
		if _, err := chat.ParseRoom(room); err != nil {
			t.Fatalf("201 for invalid room %q", room)
		}
		if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
			t.Fatalf("201 for content type %q", contentType)
		}
		if !utf8.Valid(body) {
			t.Fatalf("201 for a body that is not UTF-8: %q", body)
		}
		var in struct {
			Username string `json:"username"`
			Message  string `json:"message"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("201 for body %q, which encoding/json rejects: %v", body, err)
		}
		var got chat.Message
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("201 body %q: %v", w.Body, err)
		}
		if !cmp.Equal(got, last) {
			t.Fatalf("answered %+v, stored %+v", got, last)
		}
		if got.ID.IsZero() || got.Time.IsZero() || string(got.Room) != room {
			t.Fatalf("stored %+v for room %q: want an id, a time and the room", got, room)
		}
		if got.Text != in.Message || got.Username != strings.TrimSpace(in.Username) {
			t.Fatalf("body %q stored as %q by %q", body, got.Text, got.Username)
		}
		if _, err := chat.ParseText(got.Text); err != nil {
			t.Fatalf("stored text %q breaks the rule: %v", got.Text, err)
		}
		if _, err := chat.ParseName(got.Username); err != nil {
			t.Fatalf("stored name %q breaks the rule: %v", got.Username, err)
		}
	})
}
