// Package chattest is the conformance suite every chat.Store runs, so the
// embedded and remote backends keep one behaviour, and the test doubles
// that tests of the chat share (a flaky store, a hand-moved clock).
//
// It imports the domain and the standard library (plus go-cmp for diffs).
package chattest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
)

// Harness is one store under test.
type Harness struct {
	Store chat.Store
	// Advance moves the store's clock forward by d, so that TTLs can be
	// tested without waiting.
	Advance func(d time.Duration)
	// Now is the store's clock, from which TestRoomStore reckons keep
	// times; time.Now when nil.
	Now func() time.Time
}

func (h Harness) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// NewStore makes a fresh, empty store whose rooms keep limit messages for
// ttl after their last post. It registers its own cleanup.
type NewStore func(t *testing.T, ttl time.Duration, limit int) Harness

// TestStore runs the conformance suite against stores made by newStore.
func TestStore(t *testing.T, newStore NewStore) {
	t.Run("EmptyRoom", func(t *testing.T) {
		h := newStore(t, time.Hour, 10)
		got, err := h.Store.History(t.Context(), "nobody-here")
		if err != nil {
			t.Fatalf("History of an unknown room: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("History of an unknown room = %v, want empty", got)
		}
	})

	t.Run("OrderAndIDs", func(t *testing.T) {
		h := newStore(t, time.Hour, 10)
		want := appendN(t, h.Store, "order", 5)
		got := history(t, h.Store, "order")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("History mismatch (-appended +history):\n%s", diff)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].ID.After(got[i-1].ID) {
				t.Errorf("id %d (%s) is not after id %d (%s)", i, got[i].ID, i-1, got[i-1].ID)
			}
		}
	})

	t.Run("ByteExact", func(t *testing.T) {
		h := newStore(t, time.Hour, 10)
		texts := []string{"こんにちは世界", "emoji 👋🏽🎉", "مرحبا بالعالم", "<script>alert(1)</script>", "line\nbreak\ttab", `quote " backslash \`}
		for _, text := range texts {
			if _, err := h.Store.Append(t.Context(), chat.Message{Room: "bytes", Username: "名前", Text: text, Time: now()}); err != nil {
				t.Fatalf("Append(%q): %v", text, err)
			}
		}
		got := history(t, h.Store, "bytes")
		if len(got) != len(texts) {
			t.Fatalf("History has %d messages, want %d", len(got), len(texts))
		}
		for i, m := range got {
			if m.Text != texts[i] || m.Username != "名前" {
				t.Errorf("message %d = %q by %q, want %q by %q", i, m.Text, m.Username, texts[i], "名前")
			}
		}
	})

	t.Run("RoomIsolation", func(t *testing.T) {
		h := newStore(t, time.Hour, 10)
		a := appendN(t, h.Store, "room-a", 2)
		b := appendN(t, h.Store, "room-b", 3)
		if diff := cmp.Diff(a, history(t, h.Store, "room-a")); diff != "" {
			t.Errorf("room-a (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(b, history(t, h.Store, "room-b")); diff != "" {
			t.Errorf("room-b (-want +got):\n%s", diff)
		}
	})

	t.Run("Trim", func(t *testing.T) {
		h := newStore(t, time.Hour, 3)
		all := appendN(t, h.Store, "trim", 8)
		if diff := cmp.Diff(all[5:], history(t, h.Store, "trim")); diff != "" {
			t.Errorf("after 8 appends with limit 3 (-want last 3 +got):\n%s", diff)
		}
	})

	t.Run("TTLRefreshAndExpiry", func(t *testing.T) {
		h := newStore(t, 10*time.Second, 10)
		if h.Advance == nil {
			t.Skip("the store's clock cannot be advanced")
		}
		first := appendN(t, h.Store, "ttl", 1)
		h.Advance(6 * time.Second)
		second := appendN(t, h.Store, "ttl", 1) // refreshes the TTL
		h.Advance(6 * time.Second)
		if got := history(t, h.Store, "ttl"); len(got) != 2 {
			t.Fatalf("12s after the first post, 6s after the second: %d messages, want 2 (the TTL is refreshed by each post)", len(got))
		}
		h.Advance(5 * time.Second)
		if got := history(t, h.Store, "ttl"); len(got) != 0 {
			t.Fatalf("11s after the last post with a 10s TTL: %d messages, want 0", len(got))
		}
		// The room comes back as a new incarnation whose ids are all
		// later than the old ones.
		again := appendN(t, h.Store, "ttl", 1)
		if again[0].ID.Epoch == first[0].ID.Epoch {
			t.Errorf("re-created room kept epoch %d", first[0].ID.Epoch)
		}
		if !again[0].ID.After(second[0].ID) {
			t.Errorf("re-created room's id %s is not after the old room's %s", again[0].ID, second[0].ID)
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		const writers, each = 8, 25
		h := newStore(t, time.Hour, writers*each)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					m := chat.Message{Room: "busy", Username: fmt.Sprint("w", w), Text: fmt.Sprint(i), Time: now()}
					if _, err := h.Store.Append(context.Background(), m); err != nil {
						t.Errorf("Append: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		got := history(t, h.Store, "busy")
		if len(got) != writers*each {
			t.Fatalf("%d messages stored, want %d", len(got), writers*each)
		}
		seen := make(map[chat.ID]bool)
		next := make(map[string]int)
		for i, m := range got {
			if seen[m.ID] {
				t.Errorf("id %s appears twice", m.ID)
			}
			seen[m.ID] = true
			if i > 0 && !m.ID.After(got[i-1].ID) {
				t.Errorf("history out of id order at %d: %s after %s", i, m.ID, got[i-1].ID)
			}
			if want := fmt.Sprint(next[m.Username]); m.Text != want {
				t.Errorf("%s's messages out of order: got %s, want %s", m.Username, m.Text, want)
			}
			next[m.Username]++
		}
	})

	t.Run("Ping", func(t *testing.T) {
		h := newStore(t, time.Hour, 10)
		if err := h.Store.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// appendN appends n messages to room and returns them as stored.
func appendN(t *testing.T, s chat.Store, room chat.Room, n int) []chat.Message {
	t.Helper()
	var out []chat.Message
	for i := range n {
		m, err := s.Append(t.Context(), chat.Message{Room: room, Username: "alice", Text: fmt.Sprintf("message %d", i), Time: now()})
		if err != nil {
			t.Fatalf("Append to %s: %v", room, err)
		}
		if m.ID.IsZero() || m.Room != room || m.Text != fmt.Sprintf("message %d", i) {
			t.Fatalf("Append returned %+v: want an id, room %s and the text", m, room)
		}
		out = append(out, m)
	}
	return out
}

func history(t *testing.T, s chat.Store, room chat.Room) []chat.Message {
	t.Helper()
	got, err := s.History(t.Context(), room)
	if err != nil {
		t.Fatalf("History(%s): %v", room, err)
	}
	return got
}
