package chat_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/memory"
)

func newService(t *testing.T, queue int) (*chat.Service, *chat.Hub, *chattest.FlakyStore) {
	t.Helper()
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 10000})
	t.Cleanup(mem.Close)
	store := &chattest.FlakyStore{Store: mem}
	hub := chat.NewHub(chat.HubOptions{Queue: queue, Store: store})
	t.Cleanup(hub.Close)
	return chat.NewService(store, hub, nil), hub, store
}

func TestPostRejectsBadInputBeforeTheStore(t *testing.T) {
	svc, _, store := newService(t, 0)
	for _, tt := range []struct{ name, text string }{
		{"", "hi"}, {"alice", ""}, {"alice", "   "}, {"alice", "\xff"}, {"\x01", "hi"},
	} {
		if _, err := svc.Post(t.Context(), "r", tt.name, tt.text); !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("Post(%q, %q) error = %v, want ErrInvalid", tt.name, tt.text, err)
		}
	}
	if n := store.Appends.Load(); n != 0 {
		t.Errorf("%d rejected posts reached the store", n)
	}
}

func TestPostStoreFailurePublishesNothing(t *testing.T) {
	svc, hub, store := newService(t, 0)
	sub := subscribe(t, hub, "r")
	defer sub.Close()
	hub.Baseline("r", chat.ID{})
	store.Down.Store(true)
	if _, err := svc.Post(t.Context(), "r", "alice", "hi"); !errors.Is(err, chat.ErrUnavailable) {
		t.Fatalf("Post with the store down: error = %v, want ErrUnavailable", err)
	}
	if got, _ := drain(sub); len(got) != 0 {
		t.Errorf("subscriber received %v for a post that was not stored", got)
	}
	if _, err := svc.Join(t.Context(), "r", ""); !errors.Is(err, chat.ErrUnavailable) {
		t.Errorf("Join with the store down: error = %v, want ErrUnavailable", err)
	}
	store.Down.Store(false)
	m, err := svc.Post(t.Context(), "r", "alice", "back")
	if err != nil {
		t.Fatalf("Post after recovery: %v", err)
	}
	if got, _ := drain(sub); len(got) != 1 || got[0] != m.ID.Seq {
		t.Errorf("after recovery the subscriber got %v, want [%d]", got, m.ID.Seq)
	}
}

func TestJoinCursor(t *testing.T) {
	svc, _, _ := newService(t, 0)
	var posted []chat.Message
	for i := range 5 {
		m, err := svc.Post(t.Context(), "r", "alice", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		posted = append(posted, m)
	}
	other := chat.ID{Epoch: posted[0].ID.Epoch + 1, Seq: 2}
	ahead := chat.ID{Epoch: posted[0].ID.Epoch, Seq: 99}
	tests := []struct {
		name, cursor string
		want         []chat.Message
	}{
		{"none", "", posted},
		{"first", posted[0].ID.String(), posted[1:]},
		{"middle", posted[2].ID.String(), posted[3:]},
		{"last", posted[4].ID.String(), nil},
		{"malformed", "not-an-id", posted},
		{"other incarnation", other.String(), posted},
		{"ahead of history", ahead.String(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := svc.Join(t.Context(), "r", tt.cursor)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if diff := cmp.Diff(tt.want, st.Backlog); diff != "" {
				t.Errorf("Join(after %q) backlog (-want +got):\n%s", tt.cursor, diff)
			}
		})
	}
}

// A stream sees each message once whatever the interleaving of Join and
// concurrent posts: the history read and the subscription overlap, and
// Take removes the overlap.
func TestJoinRacingPostsSeesEachMessageOnce(t *testing.T) {
	const posters, each, joiners = 4, 50, 20
	svc, _, _ := newService(t, posters*each)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	received := make([][]chat.ID, joiners)
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				if _, err := svc.Post(ctx, "race", fmt.Sprint("p", p), fmt.Sprint(i)); err != nil {
					t.Errorf("Post: %v", err)
					return
				}
			}
		})
	}
	for j := range joiners {
		wg.Go(func() {
			st, err := svc.Join(ctx, "race", "")
			if err != nil {
				t.Errorf("Join: %v", err)
				return
			}
			defer st.Close()
			var got []chat.ID
			for _, m := range st.Backlog {
				got = append(got, m.ID)
			}
			var evs []*chat.Event
			for len(got) < posters*each {
				select {
				case <-st.Ready():
					var ok bool
					if evs, _, ok = st.Take(evs[:0]); !ok {
						t.Errorf("joiner %d dropped", j)
						return
					}
					for _, e := range evs {
						got = append(got, e.Message.ID)
					}
				case <-ctx.Done():
					t.Errorf("joiner %d: %d of %d messages before the deadline", j, len(got), posters*each)
					return
				}
			}
			received[j] = got
		})
	}
	wg.Wait()

	history, err := svc.History(t.Context(), "race")
	if err != nil {
		t.Fatal(err)
	}
	var want []chat.ID
	for _, m := range history {
		want = append(want, m.ID)
	}
	for j, got := range received {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("joiner %d saw a different sequence than history (-history +got):\n%s", j, diff)
		}
	}
}

func TestStats(t *testing.T) {
	svc, hub, store := newService(t, 0)
	st, err := svc.Join(t.Context(), "r", "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 3 {
		if _, err := svc.Post(t.Context(), "r", "a", "b"); err != nil {
			t.Fatal(err)
		}
	}
	store.Down.Store(true)
	svc.Post(t.Context(), "r", "a", "lost")
	svc.History(t.Context(), "r")
	if got, want := svc.Stats(), (chat.ServiceStats{Posts: 3, StoreErrors: 2}); got != want {
		t.Errorf("service stats %+v, want %+v", got, want)
	}
	if got, want := hub.Stats(), (chat.HubStats{Rooms: 1, Subscribers: 1, Delivered: 3}); got != want {
		t.Errorf("hub stats %+v, want %+v", got, want)
	}
	hub.Drop("r")
	if got := hub.Stats(); got.Dropped != 1 || got.Subscribers != 0 {
		t.Errorf("hub stats after Drop %+v, want 1 dropped, no subscriber", got)
	}
}

// A join counts the room's visitors afresh only in a small room: in a big
// one, n joins must not cost n² (10,000 joins once allocated 6.5 GB).
func TestJoinsToABigRoomCostLinear(t *testing.T) {
	svc, _, _ := newService(t, 0)
	join := func(n int) {
		for i := range n {
			st, err := svc.JoinAs(t.Context(), "r", "", chat.Visitor{Key: fmt.Sprint("k", i)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(st.Close)
		}
	}
	join(1000) // a big room
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const more = 1000
	join(more)
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / more; per > 16<<10 {
		t.Errorf("a join to a room of 1,000 streams allocated %d bytes, want at most 16 KiB (no recount per join)", per)
	}
}
