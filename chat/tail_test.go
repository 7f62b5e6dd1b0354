package chat_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/memory"
)

// readCounter is a chat.TailStore over a real store that counts reads and
// remembers how much each tail read asked for.
type readCounter struct {
	chattest.FlakyStore
	mu        sync.Mutex
	histories int
	tails     []int
}

func (s *readCounter) History(ctx context.Context, r chat.Room) ([]chat.Message, error) {
	s.mu.Lock()
	s.histories++
	s.mu.Unlock()
	return s.FlakyStore.History(ctx, r)
}

func (s *readCounter) Tail(ctx context.Context, r chat.Room, n int) ([]chat.Message, bool, error) {
	s.mu.Lock()
	s.tails = append(s.tails, n)
	s.mu.Unlock()
	msgs, err := s.FlakyStore.History(ctx, r)
	if err != nil {
		return nil, false, err
	}
	return msgs[max(0, len(msgs)-n):], len(msgs) <= n, nil
}

func (s *readCounter) reads() (histories int, tails []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.histories, append([]int(nil), s.tails...)
}

func newCounter(t *testing.T) *readCounter {
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 1000})
	t.Cleanup(mem.Close)
	return &readCounter{FlakyStore: chattest.FlakyStore{Store: mem}}
}

func post(t *testing.T, svc *chat.Service, room chat.Room, n int) []chat.Message {
	t.Helper()
	var out []chat.Message
	for i := range n {
		m, err := svc.Post(t.Context(), room, "alice", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// With a tail, a room that has streams (or had one within Linger) is
// joined, resumed and read from memory: the store is read once.
func TestWarmRoomsReadNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		hub := chat.NewHub(chat.HubOptions{Store: store, Tail: 3, Linger: time.Minute})
		defer hub.Close()
		svc := chat.NewService(store, hub, nil)
		posted := post(t, svc, "r", 4)

		first, err := svc.Join(t.Context(), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := store.reads(); h != 1 {
			t.Fatalf("a cold join read history %d times, want 1", h)
		}
		more := post(t, svc, "r", 2)
		all := append(posted, more...)
		second, err := svc.Join(t.Context(), "r", all[3].ID.String())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all[4:], second.Backlog); diff != "" {
			t.Errorf("warm join after %s (-want +got):\n%s", all[3].ID, diff)
		}
		got, err := svc.History(t.Context(), "r")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all[3:], got); diff != "" {
			t.Errorf("warm history, a tail of 3 (-want +got):\n%s", diff)
		}
		first.Close()
		second.Close()
		time.Sleep(59 * time.Second)
		third, err := svc.Join(t.Context(), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		third.Close()
		if h, _ := store.reads(); h != 1 {
			t.Errorf("joins of a warm room and a lingering one, and a history read: %d history reads, want 1", h)
		}
		time.Sleep(time.Minute + time.Second)
		if _, err := svc.History(t.Context(), "r"); err != nil {
			t.Fatal(err)
		}
		if h, _ := store.reads(); h != 2 {
			t.Errorf("after Linger with no stream: %d history reads, want 2 (the room went cold)", h)
		}
	})
}

// A page view of a cold room (History) warms it for the stream that
// follows; without a tail the hub keeps nothing.
func TestHistoryWarmsTheRoomOnlyWithATail(t *testing.T) {
	for _, tail := range []int{0, 10} {
		t.Run(fmt.Sprint("tail ", tail), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newCounter(t)
				hub := chat.NewHub(chat.HubOptions{Store: store, Tail: tail})
				defer hub.Close()
				svc := chat.NewService(store, hub, nil)
				post(t, svc, "r", 2)
				if _, err := svc.History(t.Context(), "r"); err != nil {
					t.Fatal(err)
				}
				st, err := svc.Join(t.Context(), "r", "")
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				want := 2
				if tail > 0 {
					want = 1
				}
				if h, _ := store.reads(); h != want || len(st.Backlog) != 2 {
					t.Errorf("page view then join: %d reads and a backlog of %d, want %d and 2", h, len(st.Backlog), want)
				}
				if tail == 0 {
					st.Close()
					if rooms := hub.Stats().Rooms; rooms != 0 {
						t.Errorf("without a tail the hub keeps %d rooms with no stream", rooms)
					}
				}
			})
		})
	}
}

// A tail whose newest message is older than the store's TTL is not served:
// the stored history may have expired.
func TestTailOlderThanTTLIsRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		hub := chat.NewHub(chat.HubOptions{Store: store, Tail: 10, TTL: time.Minute})
		defer hub.Close()
		svc := chat.NewService(store, hub, nil)
		post(t, svc, "r", 1)
		st, err := svc.Join(t.Context(), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		time.Sleep(2 * time.Minute)
		again, err := svc.Join(t.Context(), "r", "")
		if err != nil {
			t.Fatal(err)
		}
		again.Close()
		if h, _ := store.reads(); h != 2 {
			t.Errorf("a join 2 minutes after the last post with a TTL of 1: %d reads, want 2", h)
		}
	})
}

// Skip lets the events after a number that will never be stored through
// at once, with no read.
func TestHubSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		h := chat.NewHub(chat.HubOptions{Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", chat.ID{Epoch: 1, Seq: 1})
		h.Receive(event(t, "r", 3))
		h.Skip("r", chat.ID{Epoch: 1, Seq: 2})
		h.Receive(event(t, "r", 4))
		if got, _ := drain(s); !cmp.Equal(got, []uint64{3, 4}) {
			t.Errorf("after skipping 2: %v, want [3 4] at once", got)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		if n := h.Stats().GapReads; n != 0 {
			t.Errorf("%d gap reads, want 0", n)
		}
	})
}

// A gap that closes before GapWait costs no read: the timer stops.
func TestHubGapTimerStopsWhenTheGapCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		h := chat.NewHub(chat.HubOptions{Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", chat.ID{Epoch: 1, Seq: 1})
		h.Receive(event(t, "r", 3))
		h.Receive(event(t, "r", 2))
		time.Sleep(time.Minute)
		if got, _ := drain(s); !cmp.Equal(got, []uint64{2, 3}) {
			t.Errorf("got %v, want [2 3]", got)
		}
		if n := h.Stats().GapReads; n != 0 {
			t.Errorf("%d gap reads for a gap that closed at once, want 0", n)
		}
	})
}

// A gap is filled by reading only the end of the history: from the last
// delivered message through the last waiting, and a few more.
func TestHubFillReadsTheMissingTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		svc := chat.NewService(store, chat.NewHub(chat.HubOptions{}), nil)
		stored := post(t, svc, "r", 100)
		h := chat.NewHub(chat.HubOptions{Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", stored[96].ID)
		h.Expect("r", stored[99].ID) // stored, not carried
		synctest.Wait()
		time.Sleep(chat.DefaultGapWait)
		synctest.Wait()
		got, _ := drain(s)
		want := []uint64{stored[97].ID.Seq, stored[98].ID.Seq, stored[99].ID.Seq}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after an Expect of the 100th (-want +got):\n%s", diff)
		}
		if hist, tails := store.reads(); hist != 0 || !cmp.Equal(tails, []int{3 + 4}) {
			t.Errorf("reads: %d whole histories and tails of %v, want none and [7]", hist, tails)
		}
	})
}

// A read that fails (a refusal, an outage) never leads to a skip: the hub
// keeps trying, with backoff, and delivers once a read succeeds.
func TestHubFailedReadsNeverSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCounter(t)
		svc := chat.NewService(store, chat.NewHub(chat.HubOptions{}), nil)
		stored := post(t, svc, "r", 3)
		h := chat.NewHub(chat.HubOptions{Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", stored[0].ID)
		store.Down.Store(true)
		last, err := chat.NewEvent(stored[2])
		if err != nil {
			t.Fatal(err)
		}
		h.Receive(last)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, _ := drain(s); len(got) != 0 {
			t.Fatalf("delivered %v while every read failed, want nothing", got)
		}
		reads := h.Stats().GapReads
		if reads < 3 || reads > 20 {
			t.Errorf("%d reads in a minute of failures, want a few (backoff)", reads)
		}
		store.Down.Store(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got, _ := drain(s); !cmp.Equal(got, []uint64{stored[1].ID.Seq, stored[2].ID.Seq}) {
			t.Errorf("once reads succeed: %v, want both", got)
		}
	})
}

// gatedStore holds every History call until gate is closed.
type gatedStore struct {
	*readCounter
	gate chan struct{}
}

func (s gatedStore) History(ctx context.Context, r chat.Room) ([]chat.Message, error) {
	<-s.gate
	return s.readCounter.History(ctx, r)
}

// Joins that find a room cold at once (clients reconnecting after a
// restart) read the store once: the others wait for that read.
func TestColdJoinsAtOnceReadOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		counter := newCounter(t)
		store := gatedStore{counter, make(chan struct{})}
		hub := chat.NewHub(chat.HubOptions{Store: store, Tail: 10})
		defer hub.Close()
		svc := chat.NewService(store, hub, nil)
		posted := post(t, chat.NewService(counter, chat.NewHub(chat.HubOptions{}), nil), "r", 3)
		var wg sync.WaitGroup
		streams := make([]*chat.Stream, 8)
		for i := range streams {
			wg.Go(func() {
				st, err := svc.Join(t.Context(), "r", posted[i%3].ID.String())
				if err != nil {
					t.Error(err)
					return
				}
				streams[i] = st
			})
		}
		synctest.Wait() // every join is in: one reads, the others wait
		close(store.gate)
		wg.Wait()
		for i, st := range streams {
			if st == nil {
				continue
			}
			if diff := cmp.Diff(posted[i%3+1:], st.Backlog, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("join %d after %s (-want +got):\n%s", i, posted[i%3].ID, diff)
			}
			st.Close()
		}
		if h, _ := counter.reads(); h != 1 {
			t.Errorf("8 joins of a cold room at once read history %d times, want 1", h)
		}
	})
}
