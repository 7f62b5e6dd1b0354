package chattest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
)

// TestRoomStore runs the conformance suite of chat.RoomStore (rooms'
// state, their keep, deleting messages) against stores made by newStore,
// which must be RoomStores.
func TestRoomStore(t *testing.T, newStore NewStore) {
	rooms := func(t *testing.T, ttl time.Duration, limit int) (Harness, chat.RoomStore) {
		t.Helper()
		h := newStore(t, ttl, limit)
		rs, ok := h.Store.(chat.RoomStore)
		if !ok {
			t.Fatalf("%T is not a chat.RoomStore", h.Store)
		}
		return h, rs
	}
	state := func(t *testing.T, rs chat.RoomStore, room chat.Room) (chat.RoomState, bool) {
		t.Helper()
		st, ok, err := rs.RoomState(t.Context(), room)
		if err != nil {
			t.Fatalf("RoomState(%s): %v", room, err)
		}
		return st, ok
	}

	t.Run("StartAndRead", func(t *testing.T) {
		h, rs := rooms(t, time.Hour, 10)
		ends := h.now().Add(30 * time.Minute).UTC().Truncate(time.Second)
		want := chat.RoomState{Room: "game", Title: "Spieleabend 🎲 — ゲーム", Ends: ends}
		if err := rs.StartRoom(t.Context(), want, ends.Add(10*time.Minute)); err != nil {
			t.Fatalf("StartRoom: %v", err)
		}
		got, ok := state(t, rs, "game")
		if !ok {
			t.Fatal("RoomState of a started room: not found")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RoomState (-started +read):\n%s", diff)
		}
		if msgs := history(t, h.Store, "game"); len(msgs) != 0 {
			t.Errorf("a started room's history = %v, want empty", msgs)
		}
		// Posts number on from the start.
		a := appendN(t, h.Store, "game", 2)
		if !a[1].ID.After(a[0].ID) {
			t.Errorf("ids %s then %s", a[0].ID, a[1].ID)
		}
	})

	t.Run("NoState", func(t *testing.T) {
		h, rs := rooms(t, time.Hour, 10)
		if _, ok := state(t, rs, "never"); ok {
			t.Error("RoomState of a room that never existed: found")
		}
		appendN(t, h.Store, "plain", 1)
		if _, ok := state(t, rs, "plain"); ok {
			t.Error("RoomState of a room made by a post: found")
		}
	})

	t.Run("StartExisting", func(t *testing.T) {
		h, rs := rooms(t, time.Hour, 10)
		ends := h.now().Add(time.Hour).UTC().Truncate(time.Second)
		appendN(t, h.Store, "busy", 1)
		if err := rs.StartRoom(t.Context(), chat.RoomState{Room: "busy", Ends: ends}, ends); !errors.Is(err, chat.ErrExists) {
			t.Errorf("StartRoom of a room with a message: %v, want ErrExists", err)
		}
		if _, ok := state(t, rs, "busy"); ok {
			t.Error("a refused StartRoom left a state")
		}
		first := chat.RoomState{Room: "taken", Title: "first", Ends: ends}
		if err := rs.StartRoom(t.Context(), first, ends); err != nil {
			t.Fatalf("StartRoom: %v", err)
		}
		if err := rs.StartRoom(t.Context(), chat.RoomState{Room: "taken", Title: "second", Ends: ends}, ends); !errors.Is(err, chat.ErrExists) {
			t.Errorf("StartRoom twice: %v, want ErrExists", err)
		}
		if got, _ := state(t, rs, "taken"); got.Title != "first" {
			t.Errorf("after a refused second start, title %q, want %q", got.Title, "first")
		}
	})

	t.Run("Save", func(t *testing.T) {
		h, rs := rooms(t, time.Hour, 10)
		ends := h.now().Add(time.Hour).UTC().Truncate(time.Second)
		st := chat.RoomState{Room: "saved", Title: "t", Ends: ends}
		if err := rs.StartRoom(t.Context(), st, ends); err != nil {
			t.Fatalf("StartRoom: %v", err)
		}
		msgs := appendN(t, h.Store, "saved", 2)
		st.Locked, st.Ends = true, ends.Add(time.Hour)
		if err := rs.SaveRoom(t.Context(), st, st.Ends); err != nil {
			t.Fatalf("SaveRoom: %v", err)
		}
		if got, _ := state(t, rs, "saved"); !cmp.Equal(got, st) {
			t.Errorf("after SaveRoom, state %+v, want %+v", got, st)
		}
		if diff := cmp.Diff(msgs, history(t, h.Store, "saved")); diff != "" {
			t.Errorf("SaveRoom changed the history (-before +after):\n%s", diff)
		}
		// A plain room, locked by a host: its state with no keep.
		appendN(t, h.Store, "plain", 1)
		lock := chat.RoomState{Room: "plain", Locked: true}
		if err := rs.SaveRoom(t.Context(), lock, time.Time{}); err != nil {
			t.Fatalf("SaveRoom of a plain room: %v", err)
		}
		if got, ok := state(t, rs, "plain"); !ok || !got.Locked {
			t.Errorf("plain room after SaveRoom: %+v (found %v), want locked", got, ok)
		}
		if got := history(t, h.Store, "plain"); len(got) != 1 {
			t.Errorf("plain room's history after SaveRoom: %d messages, want 1", len(got))
		}
	})

	t.Run("Delete", func(t *testing.T) {
		h, rs := rooms(t, time.Hour, 10)
		msgs := appendN(t, h.Store, "del", 3)
		if err := rs.Delete(t.Context(), "del", msgs[1].ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		want := []chat.Message{msgs[0], msgs[2]}
		if diff := cmp.Diff(want, history(t, h.Store, "del")); diff != "" {
			t.Errorf("after deleting the middle message (-want +got):\n%s", diff)
		}
		if err := rs.Delete(t.Context(), "del", msgs[1].ID); !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("Delete twice: %v, want ErrNotFound", err)
		}
		if err := rs.Delete(t.Context(), "del", chat.ID{Epoch: msgs[0].ID.Epoch, Seq: 99}); !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("Delete of an unknown id: %v, want ErrNotFound", err)
		}
		if err := rs.Delete(t.Context(), "nowhere", msgs[0].ID); !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("Delete in an unknown room: %v, want ErrNotFound", err)
		}
		if diff := cmp.Diff(want, history(t, h.Store, "del")); diff != "" {
			t.Errorf("failed deletes changed the history (-want +got):\n%s", diff)
		}
		next := appendN(t, h.Store, "del", 1)
		if !next[0].ID.After(msgs[2].ID) {
			t.Errorf("after a delete, the next id %s is not after the last %s", next[0].ID, msgs[2].ID)
		}
		if err := rs.Delete(t.Context(), "del", msgs[2].ID); err != nil {
			t.Fatalf("Delete of the last but one: %v", err)
		}
		if diff := cmp.Diff([]chat.Message{msgs[0], next[0]}, history(t, h.Store, "del")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("Keep", func(t *testing.T) {
		h, rs := rooms(t, 10*time.Second, 10)
		if h.Advance == nil {
			t.Skip("the store's clock cannot be advanced")
		}
		// A keep longer than the TTL: posts do not shorten it...
		ends := h.now().Add(20 * time.Second)
		st := chat.RoomState{Room: "kept", Ends: ends.UTC().Truncate(time.Second)}
		if err := rs.StartRoom(t.Context(), st, ends.Add(10*time.Second)); err != nil {
			t.Fatalf("StartRoom: %v", err)
		}
		appendN(t, h.Store, "kept", 1)
		h.Advance(25 * time.Second) // 15s after the post, over the TTL
		if got := history(t, h.Store, "kept"); len(got) != 1 {
			t.Errorf("before its keep, 15s after a post with a 10s TTL: %d messages, want 1", len(got))
		}
		if _, ok := state(t, rs, "kept"); !ok {
			t.Error("before its keep: no state")
		}
		// ...nor lengthen it.
		appendN(t, h.Store, "kept", 1)
		h.Advance(6 * time.Second) // 31s: past the keep, 6s after a post
		if got := history(t, h.Store, "kept"); len(got) != 0 {
			t.Errorf("past its keep: %d messages, want 0", len(got))
		}
		if _, ok := state(t, rs, "kept"); ok {
			t.Error("past its keep: the state is still there")
		}
		// The name is free again.
		if err := rs.StartRoom(t.Context(), st, h.now().Add(time.Minute)); err != nil {
			t.Errorf("StartRoom of an expired room's name: %v", err)
		}

		// SaveRoom moves the keep.
		short := chat.RoomState{Room: "moved", Ends: h.now().Add(5 * time.Second)}
		if err := rs.StartRoom(t.Context(), short, h.now().Add(5*time.Second)); err != nil {
			t.Fatalf("StartRoom: %v", err)
		}
		appendN(t, h.Store, "moved", 1)
		short.Ends = h.now().Add(30 * time.Second)
		if err := rs.SaveRoom(t.Context(), short, h.now().Add(30*time.Second)); err != nil {
			t.Fatalf("SaveRoom: %v", err)
		}
		h.Advance(20 * time.Second)
		if got := history(t, h.Store, "moved"); len(got) != 1 {
			t.Errorf("20s in, keep moved to 30s: %d messages, want 1", len(got))
		}
		h.Advance(11 * time.Second)
		if got := history(t, h.Store, "moved"); len(got) != 0 {
			t.Errorf("31s in, keep moved to 30s: %d messages, want 0", len(got))
		}
	})
}
