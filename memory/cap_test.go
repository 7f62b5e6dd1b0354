package memory_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/memory"
)

func post(t testing.TB, s *memory.Store, room chat.Room, text string) chat.Message {
	t.Helper()
	m, err := s.Append(t.Context(), chat.Message{Room: room, Username: "alice", Text: text})
	if err != nil {
		t.Fatalf("Append to %s: %v", room, err)
	}
	return m
}

func held(t *testing.T, s *memory.Store, room chat.Room) int {
	t.Helper()
	msgs, err := s.History(t.Context(), room)
	if err != nil {
		t.Fatalf("History of %s: %v", room, err)
	}
	return len(msgs)
}

func checkInvariants(t *testing.T, s *memory.Store) {
	t.Helper()
	if err := memory.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
}

// sizeOf measures what the given posts cost in a store without a cap.
func sizeOf(t *testing.T, limit int, posts ...chat.Room) int64 {
	t.Helper()
	s := memory.New(memory.Options{TTL: time.Hour, Limit: limit})
	defer s.Close()
	for _, r := range posts {
		post(t, s, r, "hi")
	}
	return s.Bytes()
}

// Whatever the number of rooms, the store stays within its cap plus the
// room being posted to.
func TestCapHoldsUnderManyRooms(t *testing.T) {
	const maxBytes = 64 << 10
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 5, MaxBytes: maxBytes})
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const rooms = 20000
	for i := range rooms {
		// Mostly new rooms, sometimes a post to a recent one, with texts
		// of varying size.
		name := chat.Room("room-" + strconv.Itoa(i))
		if i > 10 && rng.IntN(4) == 0 {
			name = chat.Room("room-" + strconv.Itoa(i-1-rng.IntN(10)))
		}
		post(t, s, name, strings.Repeat("x", 1+rng.IntN(2000)))
		// One room holds at most 2×5 messages of 2 KB in its buffer.
		if got := s.Bytes(); got > maxBytes+12<<10 {
			t.Fatalf("after %d posts the store holds %d bytes, cap %d", i+1, got, maxBytes)
		}
	}
	checkInvariants(t, s)
	if s.Evictions() == 0 {
		t.Errorf("no evictions after %d rooms under a %d-byte cap", rooms, maxBytes)
	}
	t.Logf("%d rooms held, %d bytes, %d evicted", s.Len(), s.Bytes(), s.Evictions())
}

// The least recently posted-to rooms go first; reading a room does not
// count as activity.
func TestEvictsLeastRecentlyPostedFirst(t *testing.T) {
	three := sizeOf(t, 10, "a", "b", "c")
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 10, MaxBytes: three})
	defer s.Close()
	for _, r := range []chat.Room{"a", "b", "c"} {
		post(t, s, r, "hi")
	}
	if s.Evictions() != 0 || s.Len() != 3 {
		t.Fatalf("three rooms in a store sized for three: %d held, %d evicted", s.Len(), s.Evictions())
	}
	held(t, s, "b") // a read is not activity
	post(t, s, "a", "hi")
	if got := held(t, s, "b"); got != 0 {
		t.Errorf("after a second post to a, b (least recent) holds %d messages, want evicted", got)
	}
	post(t, s, "d", "hi")
	for room, want := range map[chat.Room]int{"a": 2, "b": 0, "c": 0, "d": 1} {
		if got := held(t, s, room); got != want {
			t.Errorf("room %s holds %d messages, want %d", room, got, want)
		}
	}
	if got := s.Evictions(); got != 2 {
		t.Errorf("Evictions() = %d, want 2 (b, then c)", got)
	}
	checkInvariants(t, s)

	// An evicted room comes back as a new incarnation.
	old := post(t, s, "b", "back")
	if old.ID.Seq != 1 {
		t.Errorf("first post to the evicted room b got id %s, want sequence 1 of a new epoch", old.ID)
	}
}

// The room being posted to is never evicted, even alone over the cap: it
// keeps its whole history (the per-room limit bounds it) and the store
// goes over the cap by that one room.
func TestRoomPostedToIsNeverEvicted(t *testing.T) {
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 50, MaxBytes: 1})
	defer s.Close()
	for i := range 120 {
		post(t, s, "big", fmt.Sprint("message ", i))
	}
	if got := held(t, s, "big"); got != 50 {
		t.Errorf("room over the cap alone holds %d messages, want its limit of 50", got)
	}
	if got := s.Evictions(); got != 0 {
		t.Errorf("Evictions() = %d, want 0", got)
	}
	post(t, s, "next", "hi")
	if got := held(t, s, "big"); got != 0 {
		t.Errorf("big holds %d messages after a post to another room, want evicted", got)
	}
	if got, want := s.Bytes(), sizeOf(t, 50, "next"); got != want {
		t.Errorf("Bytes() = %d, want %d (the one-message room next)", got, want)
	}
	checkInvariants(t, s)
}

// Trimming and expiry give back what they free; without a cap nothing is
// evicted.
func TestBytesFollowTrimAndExpiry(t *testing.T) {
	clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	s := memory.New(memory.Options{TTL: time.Minute, Limit: 3, Now: clock.Now})
	defer s.Close()
	var peak int64
	for i := range 100 {
		post(t, s, "trim", strings.Repeat("x", 100))
		// The buffer of 2×3 slots fills within the first 20 posts.
		if i < 20 {
			peak = max(peak, s.Bytes())
		} else if s.Bytes() > peak {
			t.Fatalf("after %d posts to a room of 3, %d bytes held, more than the %d of the first 20", i+1, s.Bytes(), peak)
		}
		checkInvariants(t, s)
	}
	post(t, s, "other", "hi")
	clock.Advance(time.Minute)
	held(t, s, "trim") // an expired room is freed when touched
	held(t, s, "other")
	if got := s.Bytes(); got != 0 {
		t.Errorf("Bytes() = %d after every room expired, want 0", got)
	}
	if got := s.Evictions(); got != 0 {
		t.Errorf("Evictions() = %d without a cap, want 0", got)
	}
	checkInvariants(t, s)
}

func TestSweepFreesBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New(memory.Options{TTL: time.Minute, Limit: 10, MaxBytes: 1 << 20})
		defer s.Close()
		for i := range 100 {
			post(t, s, chat.Room(fmt.Sprint("room-", i)), "hi")
			time.Sleep(time.Second)
		}
		// 100s in: the first 40 rooms (posted to 61s ago or earlier)
		// went in sweeps every 15s, at the latest at 90s.
		synctest.Wait()
		if got := s.Len(); got < 60 || got > 85 {
			t.Errorf("%d rooms held 100s in with a 1m TTL, want those of the last 60 to 85 seconds", got)
		}
		checkInvariants(t, s)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s.Len() != 0 || s.Bytes() != 0 {
			t.Errorf("after every TTL passed: %d rooms, %d bytes held, want none", s.Len(), s.Bytes())
		}
	})
}

// Evictions are logged as counts, at most one line per 10 seconds, never
// with names or text.
func TestEvictionsAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		log := slog.New(slog.NewTextHandler(&out, nil))
		s := memory.New(memory.Options{TTL: time.Hour, Limit: 10, MaxBytes: 1, Log: log})
		defer s.Close()
		for i := range 50 {
			post(t, s, chat.Room(fmt.Sprint("secret-room-", i)), "secret text")
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "rooms=1 ") {
			t.Fatalf("after 49 evictions in an instant, log:\n%s\nwant one line for the first eviction", out.String())
		}
		// The sweep (every minute with a 1h TTL) sums up the rest.
		time.Sleep(time.Minute)
		synctest.Wait()
		lines = strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[1], "rooms=48 ") || !strings.Contains(lines[1], "evictions_total=49") {
			t.Errorf("a minute later, log:\n%s\nwant a second line for the other 48 evictions", out.String())
		}
		if strings.Contains(out.String(), "secret") {
			t.Errorf("the log names a room or a text:\n%s", out.String())
		}
	})
}

// lockedBuffer is a bytes.Buffer the sweep may write while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A million one-message rooms under a small cap: the store holds a
// bounded number of them and the heap stays small.
func TestMillionOneMessageRooms(t *testing.T) {
	if testing.Short() {
		t.Skip("a million posts: skipped with -short")
	}
	const maxBytes = 1 << 20
	const rooms = 1_000_000
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 500, MaxBytes: maxBytes})
	defer s.Close()
	before := heapInUse()

	name := make([]byte, 0, 16)
	m := chat.Message{Username: "alice", Text: "hello, room"}
	for i := range rooms {
		name = strconv.AppendInt(append(name[:0], "room-"...), int64(i), 10)
		m.Room = chat.Room(name)
		if _, err := s.Append(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	after := heapInUse()
	n, b, ev := s.Len(), s.Bytes(), s.Evictions()
	t.Logf("%d one-message rooms posted under a %d-byte cap: %d rooms held, %d bytes counted, %d evicted, heap %+.1f MiB",
		rooms, maxBytes, n, b, ev, float64(after-before)/(1<<20))
	if b > maxBytes {
		t.Errorf("Bytes() = %d, over the cap of %d", b, maxBytes)
	}
	if int64(n)*memory.RoomBytes > maxBytes {
		t.Errorf("%d rooms held: more than fit in %d bytes", n, maxBytes)
	}
	if uint64(n)+ev != rooms {
		t.Errorf("%d rooms held + %d evicted ≠ %d posted", n, ev, rooms)
	}
	if got := held(t, s, chat.Room(name)); got != 1 {
		t.Errorf("the room posted to last holds %d messages, want 1", got)
	}
	if got := held(t, s, "room-0"); got != 0 {
		t.Errorf("the room posted to first holds %d messages, want evicted", got)
	}
	// Unbounded, a million rooms take hundreds of MiB.
	if grew := after - before; grew > 32<<20 {
		t.Errorf("the heap grew by %.1f MiB, want the store bounded near its 1 MiB cap", float64(grew)/(1<<20))
	}
	checkInvariants(t, s)
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
