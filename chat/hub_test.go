package chat_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/memory"
)

// subscribe subscribes to room, failing the test if the hub refuses.
func subscribe(t testing.TB, h *chat.Hub, room chat.Room) *chat.Stream {
	t.Helper()
	s, err := h.Subscribe(room)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", room, err)
	}
	return s
}

func event(t *testing.T, room chat.Room, seq uint64) *chat.Event {
	t.Helper()
	e, err := chat.NewEvent(chat.Message{ID: chat.ID{Epoch: 1, Seq: seq}, Room: room, Username: "a", Text: fmt.Sprint(seq)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// drain takes what is queued on s without blocking.
func drain(s *chat.Stream) (seqs []uint64, closed bool) {
	evs, _, ok := s.Take(nil)
	for _, e := range evs {
		seqs = append(seqs, e.Message.ID.Seq)
	}
	return seqs, !ok
}

func TestHubDeliversInOrderToTheRoomOnly(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{Queue: 16})
	a1, a2, b := subscribe(t, h, "a"), subscribe(t, h, "a"), subscribe(t, h, "b")
	h.Baseline("a", chat.ID{})
	h.Baseline("b", chat.ID{})
	defer a1.Close()
	defer a2.Close()
	defer b.Close()
	for seq := range uint64(5) {
		h.Receive(event(t, "a", seq+1))
	}
	want := []uint64{1, 2, 3, 4, 5}
	for i, s := range []*chat.Stream{a1, a2} {
		got, closed := drain(s)
		if diff := cmp.Diff(want, got); diff != "" || closed {
			t.Errorf("subscriber %d of a: closed=%v, events (-want +got):\n%s", i, closed, diff)
		}
	}
	if got, _ := drain(b); len(got) != 0 {
		t.Errorf("subscriber of b got %v from a", got)
	}
}

func TestHubDropsSlowSubscriberOnly(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{Queue: 4})
	slow, fast := subscribe(t, h, "r"), subscribe(t, h, "r")
	h.Baseline("r", chat.ID{})
	defer slow.Close()
	defer fast.Close()
	var fastGot []uint64
	for seq := range uint64(10) {
		h.Receive(event(t, "r", seq+1)) // never blocks, even with slow full
		got, _ := drain(fast)
		fastGot = append(fastGot, got...)
	}
	// A dropped subscriber's queue is discarded: it resumes from the last
	// event it wrote.
	got, closed := drain(slow)
	if !closed || len(got) != 0 {
		t.Errorf("slow subscriber after 10 events with a queue of 4: ended=%v, events %v; want ended, none", closed, got)
	}
	if len(fastGot) != 10 {
		t.Errorf("fast subscriber got %v, want all 10", fastGot)
	}
	if rooms := h.Rooms(); len(rooms) != 1 || rooms[0].Subscribers != 1 {
		t.Errorf("Rooms() = %v, want r with 1 subscriber", rooms)
	}
}

func TestHubRoomsAndClose(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{})
	a := []*chat.Stream{subscribe(t, h, "alpha"), subscribe(t, h, "alpha")}
	z := subscribe(t, h, "zeta")
	b := subscribe(t, h, "beta")
	want := []chat.RoomInfo{{Room: "alpha", Subscribers: 2}, {Room: "beta", Subscribers: 1}, {Room: "zeta", Subscribers: 1}}
	if diff := cmp.Diff(want, h.Rooms()); diff != "" {
		t.Errorf("Rooms() (-want +got):\n%s", diff)
	}
	for _, s := range append(a, z, b) {
		s.Close()
		s.Close()
		if _, closed := drain(s); !closed {
			t.Errorf("Events not closed after Close")
		}
	}
	if got := h.Rooms(); len(got) != 0 {
		t.Errorf("Rooms() after every Close = %v, want none", got)
	}
	h.Receive(event(t, "alpha", 1)) // no subscribers: no panic, nothing to do
}

func TestHubDrop(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{})
	s, other := subscribe(t, h, "r"), subscribe(t, h, "o")
	defer s.Close()
	defer other.Close()
	h.Drop("r")
	if _, closed := drain(s); !closed {
		t.Errorf("subscriber of r still open after Drop(r)")
	}
	if _, closed := drain(other); closed {
		t.Errorf("subscriber of o closed by Drop(r)")
	}
	after := subscribe(t, h, "r")
	defer after.Close()
	h.Baseline("r", chat.ID{})
	h.Receive(event(t, "r", 1))
	if got, _ := drain(after); len(got) != 1 {
		t.Errorf("a new subscriber after Drop got %v, want [1]", got)
	}
}

// Subscribing, publishing and closing from many goroutines at once is
// race-free (run with -race) and never delivers to a closed channel.
func TestHubConcurrency(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{Queue: 8})
	defer h.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := range uint64(2000) {
			h.Receive(event(t, "r", seq+1))
		}
	}()
	for range 200 {
		s := subscribe(t, h, "r")
		h.Baseline("r", chat.ID{})
		drain(s)
		s.Close()
	}
	<-done
	if got := h.Rooms(); len(got) != 0 {
		t.Errorf("Rooms() = %v after every subscriber closed", got)
	}
}

// ids waits for n events on s, failing if it ends first.
func ids(t *testing.T, s *chat.Stream, n int) []uint64 {
	t.Helper()
	var got []uint64
	for len(got) < n {
		<-s.Ready()
		more, ended := drain(s)
		got = append(got, more...)
		if ended {
			t.Fatalf("subscription ended after %v", got)
		}
	}
	return got
}

func TestHubOrdersOutOfOrderEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := chat.NewHub(chat.HubOptions{GapWait: time.Second})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", chat.ID{Epoch: 1, Seq: 2})
		for _, seq := range []uint64{5, 2, 4, 3, 3, 1} {
			h.Receive(event(t, "r", seq))
		}
		if diff := cmp.Diff([]uint64{3, 4, 5}, ids(t, s, 3)); diff != "" {
			t.Errorf("after the baseline 2, events 5 2 4 3 3 1 came as (-want +got):\n%s", diff)
		}
		synctest.Wait()
		if got, _ := drain(s); len(got) != 0 {
			t.Errorf("then also %v", got)
		}
	})
}

// Events published before the first stream read its history wait for its
// baseline: none is lost, none repeats what the history gave.
func TestHubEventsWaitForTheBaseline(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{})
	defer h.Close()
	s := subscribe(t, h, "r")
	defer s.Close()
	h.Receive(event(t, "r", 4))
	h.Receive(event(t, "r", 3))
	if got, _ := drain(s); len(got) != 0 {
		t.Fatalf("delivered %v before the baseline", got)
	}
	h.Baseline("r", chat.ID{Epoch: 1, Seq: 3})
	if diff := cmp.Diff([]uint64{4}, ids(t, s, 1)); diff != "" {
		t.Errorf("after the baseline 3 (-want +got):\n%s", diff)
	}
	h.Baseline("r", chat.ID{Epoch: 1, Seq: 9}) // a later stream's: no effect
	h.Receive(event(t, "r", 5))
	if diff := cmp.Diff([]uint64{5}, ids(t, s, 1)); diff != "" {
		t.Errorf("after a second baseline (-want +got):\n%s", diff)
	}
}

// A gap that does not close in GapWait is filled from the store; a number
// the store never got is skipped.
func TestHubFillsGapsFromHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New(memory.Options{TTL: time.Hour, Limit: 100})
		defer store.Close()
		var stored []chat.Message
		for i := range 4 {
			m, err := store.Append(t.Context(), chat.Message{Room: "r", Username: "a", Text: fmt.Sprint(i)})
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, m)
		}
		h := chat.NewHub(chat.HubOptions{GapWait: time.Second, SkipAfter: 3 * time.Second, Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", stored[0].ID)
		// 2 and 3 are in history but their events were lost; 4 arrives.
		last, err := chat.NewEvent(stored[3])
		if err != nil {
			t.Fatal(err)
		}
		h.Receive(last)
		synctest.Wait()
		if got, _ := drain(s); len(got) != 0 {
			t.Fatalf("delivered %v before the gap wait ended", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got, _ := drain(s)
		if diff := cmp.Diff([]uint64{2, 3, 4}, got); diff != "" {
			t.Errorf("after the gap wait (-want +got):\n%s", diff)
		}

		// 5 and 6 never reach the store (their appends failed, or are
		// still on their way): 7 waits for reads of history 1s and 3s
		// after it came; the second, SkipAfter after it, skips the gap.
		skip := chat.ID{Epoch: stored[0].ID.Epoch, Seq: 7}
		h.Receive(&chat.Event{Message: chat.Message{ID: skip, Room: "r"}})
		time.Sleep(3*time.Second - time.Millisecond)
		synctest.Wait()
		if got, _ := drain(s); len(got) != 0 {
			t.Fatalf("delivered %v across the gap before SkipAfter", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got, _ = drain(s)
		if diff := cmp.Diff([]uint64{7}, got); diff != "" {
			t.Errorf("with 5 and 6 never stored, after SkipAfter (-want +got):\n%s", diff)
		}
		if n := h.Stats().GapReads; n != 3 {
			t.Errorf("%d history reads for two gaps, want 3 (1 + 2)", n)
		}
	})
}

func TestHubResyncFillsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New(memory.Options{TTL: time.Hour, Limit: 100})
		defer store.Close()
		h := chat.NewHub(chat.HubOptions{GapWait: time.Hour, Store: store})
		defer h.Close()
		s := subscribe(t, h, "r")
		defer s.Close()
		h.Baseline("r", chat.ID{})
		m, err := store.Append(t.Context(), chat.Message{Room: "r", Username: "a", Text: "missed"})
		if err != nil {
			t.Fatal(err)
		}
		h.Resync()
		synctest.Wait()
		if got, _ := drain(s); len(got) != 1 || got[0] != m.ID.Seq {
			t.Errorf("after Resync got %v, want [%d]", got, m.ID.Seq)
		}
	})
}

// A new epoch (the room expired and came back) follows the old one.
func TestHubNewEpochFollows(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{})
	defer h.Close()
	s := subscribe(t, h, "r")
	defer s.Close()
	h.Baseline("r", chat.ID{Epoch: 1, Seq: 40})
	e, _ := chat.NewEvent(chat.Message{ID: chat.ID{Epoch: 2, Seq: 1}, Room: "r"})
	h.Receive(e)
	if got := ids(t, s, 1); got[0] != 1 {
		t.Errorf("got %v", got)
	}
}

// OnDrop runs when the hub drops a subscriber, so that a writer blocked on
// a stalled client can be unblocked; not when its owner closes it.
func TestHubOnDrop(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{Queue: 1})
	defer h.Close()
	slow, closed := subscribe(t, h, "r"), subscribe(t, h, "r")
	h.Baseline("r", chat.ID{})
	var drops []string
	slow.OnDrop(func() { drops = append(drops, "slow") })
	closed.OnDrop(func() { drops = append(drops, "closed") })
	closed.Close()
	h.Receive(event(t, "r", 1))
	h.Receive(event(t, "r", 2)) // the queue of 1 is full
	if diff := cmp.Diff([]string{"slow"}, drops); diff != "" {
		t.Errorf("OnDrop calls (-want +got):\n%s", diff)
	}
	slow.Close()
	if len(drops) != 1 {
		t.Errorf("OnDrop ran again on Close: %v", drops)
	}
}

func TestHubMaxPerRoom(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{MaxPerRoom: 2})
	defer h.Close()
	a, b := subscribe(t, h, "r"), subscribe(t, h, "r")
	defer b.Close()
	if _, err := h.Subscribe("r"); !errors.Is(err, chat.ErrRoomFull) {
		t.Errorf("third subscriber of a room capped at 2: %v, want ErrRoomFull", err)
	}
	other := subscribe(t, h, "other") // the cap is per room
	defer other.Close()
	a.Close()
	c := subscribe(t, h, "r") // a place came free
	c.Close()
}

// Tick reaches every subscriber once, however many ticks it missed, and
// says nothing of events.
func TestHubTick(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{})
	defer h.Close()
	a, b := subscribe(t, h, "a"), subscribe(t, h, "b")
	defer a.Close()
	defer b.Close()
	h.Tick()
	h.Tick()
	for _, s := range []*chat.Stream{a, b} {
		<-s.Ready()
		evs, tick, ok := s.Take(nil)
		if len(evs) != 0 || !tick || !ok {
			t.Errorf("after two ticks: %d events, tick %v, open %v; want 0, true, true", len(evs), tick, ok)
		}
		if _, tick, _ := s.Take(nil); tick {
			t.Errorf("a second Take still reports the tick")
		}
	}
}
