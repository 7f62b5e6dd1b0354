package chat_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/memory"
)

// roomService is a service over the memory store with a hand-moved clock
// shared by the store and the service.
func roomService(t *testing.T) (*chat.Service, *chat.Hub, *chattest.Clock) {
	t.Helper()
	clock := chattest.NewClock(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 100, Now: clock.Now})
	t.Cleanup(mem.Close)
	hub := chat.NewHub(chat.HubOptions{Store: mem})
	t.Cleanup(hub.Close)
	svc := chat.NewServiceWith(chat.ServiceOptions{Store: mem, Hub: hub, Clock: clock, Grace: 10 * time.Minute})
	return svc, hub, clock
}

func TestRoomLifecycle(t *testing.T) {
	svc, _, clock := roomService(t)
	ctx := t.Context()
	st, err := svc.Start(ctx, chat.StartOptions{Room: "game", Title: "Game night", Ends: clock.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if st.Room != "game" || st.Title != "Game night" || st.Ended {
		t.Fatalf("Start = %+v", st)
	}
	if _, err := svc.Start(ctx, chat.StartOptions{Room: "game", Ends: clock.Now().Add(time.Minute)}); !errors.Is(err, chat.ErrExists) {
		t.Errorf("Start again: %v, want ErrExists", err)
	}
	stream, err := svc.Join(ctx, "game", "")
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer stream.Close()
	if stream.State.Title != "Game night" {
		t.Errorf("stream.State = %+v", stream.State)
	}
	m, err := svc.Post(ctx, "game", "alice", "hi")
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if err := svc.SetLocked(ctx, "game", true); err != nil {
		t.Fatalf("SetLocked: %v", err)
	}
	if _, err := svc.Post(ctx, "game", "alice", "again"); !errors.Is(err, chat.ErrLocked) {
		t.Errorf("Post while locked: %v, want ErrLocked", err)
	}
	if err := svc.DeleteMessage(ctx, "game", m.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if h, _ := svc.History(ctx, "game"); len(h) != 0 {
		t.Errorf("History after delete = %v", h)
	}
	clock.Advance(30 * time.Minute)
	var kinds []chat.Kind
	for ended := false; !ended; {
		<-stream.Ready()
		evs, _, ok := stream.Take(nil)
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
			ended = ended || e.Kind == chat.KindEnded
		}
		if !ok {
			break
		}
	}
	want := []chat.Kind{chat.KindMessage, chat.KindRoom, chat.KindDeleted, chat.KindEnded}
	if len(kinds) != len(want) {
		t.Fatalf("events %q, want %q", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %q, want %q", kinds, want)
		}
	}
	if _, err := svc.Post(ctx, "game", "alice", "late"); !errors.Is(err, chat.ErrEnded) {
		t.Errorf("Post after the end: %v, want ErrEnded", err)
	}
	if _, err := svc.Join(ctx, "game", ""); !errors.Is(err, chat.ErrEnded) {
		t.Errorf("Join after the end: %v, want ErrEnded", err)
	}
	if err := svc.End(ctx, "game"); !errors.Is(err, chat.ErrEnded) {
		t.Errorf("End after the end: %v, want ErrEnded", err)
	}
	clock.Advance(10 * time.Minute)
	if st, err := svc.State(ctx, "game"); err != nil || st.Started() {
		// Cached state is trusted for StateTTL (1m); the grace is longer.
		t.Logf("State after grace = %+v, %v", st, err)
	}
}

// kinds is what Take returns: "" for a message (with its seq), else the
// room event's kind.
func kinds(s *chat.Stream) []string {
	evs, _, _ := s.Take(nil)
	var out []string
	for _, e := range evs {
		if e.Kind == chat.KindMessage {
			out = append(out, fmt.Sprint(e.Message.ID.Seq))
		} else {
			out = append(out, string(e.Kind))
		}
	}
	return out
}

// Room events go to every stream at once, after what is queued, whatever
// the order of messages: Take filters messages only.
func TestRoomEventsAreDeliveredUnordered(t *testing.T) {
	h := chat.NewHub(chat.HubOptions{Queue: 16, GapWait: time.Hour})
	defer h.Close()
	s := subscribe(t, h, "r")
	defer s.Close()
	h.Baseline("r", chat.ID{Epoch: 1, Seq: 5})
	h.Receive(event(t, "r", 6))
	h.Receive(chat.NewRoomEvent(chat.KindRoom, chat.RoomState{Room: "r", Locked: true}))
	h.Receive(event(t, "r", 8)) // waits for 7
	h.Receive(chat.NewDeletedEvent("r", chat.ID{Epoch: 1, Seq: 6}))
	h.Receive(event(t, "r", 3)) // delivered long ago
	if diff := cmp.Diff([]string{"6", "room", "deleted"}, kinds(s)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	h.Receive(event(t, "r", 7))
	h.Receive(chat.NewRoomEvent(chat.KindEnded, chat.RoomState{Room: "r", Ended: true}))
	if diff := cmp.Diff([]string{"7", "8", "ended"}, kinds(s)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	// Other rooms hear nothing.
	o := subscribe(t, h, "other")
	defer o.Close()
	h.Receive(chat.NewRoomEvent(chat.KindRoom, chat.RoomState{Room: "r"}))
	if got := kinds(o); len(got) != 0 {
		t.Errorf("another room's stream got %q", got)
	}
}

// A deleted message leaves the hub's tail, so that history served from
// memory does not bring it back.
func TestDeletedMessageLeavesTheTail(t *testing.T) {
	clock := chattest.NewClock(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 100, Now: clock.Now})
	t.Cleanup(mem.Close)
	store := &chattest.FlakyStore{Store: mem}
	hub := chat.NewHub(chat.HubOptions{Store: store, Tail: 100})
	t.Cleanup(hub.Close)
	svc := chat.NewServiceWith(chat.ServiceOptions{Store: store, Hub: hub, Clock: clock})
	ctx := t.Context()
	st, err := svc.Join(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, _ := svc.Post(ctx, "r", "a", "keep")
	b, _ := svc.Post(ctx, "r", "a", "delete me")
	if err := svc.DeleteMessage(ctx, "r", b.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	store.Down.Store(true) // history must come from the tail
	got, err := svc.History(ctx, "r")
	if err != nil {
		t.Fatalf("History from the tail: %v", err)
	}
	if len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("History after delete = %v, want only %s", got, a.ID)
	}
}

// However many streams a room has, this instance ends them from one
// timer, moved by an extension and stopped by an early end.
func TestOneEndTimerPerRoom(t *testing.T) {
	svc, hub, clock := roomService(t)
	ctx := t.Context()
	if _, err := svc.Start(ctx, chat.StartOptions{Room: "big", Ends: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var streams []*chat.Stream
	for range 50 {
		s, err := svc.Join(ctx, "big", "")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		streams = append(streams, s)
	}
	if n := clock.Timers(); n != 1 {
		t.Errorf("%d timers for one room with 50 streams, want 1", n)
	}
	if err := svc.Extend(ctx, "big", clock.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := clock.Timers(); n != 1 {
		t.Errorf("%d timers after an extension, want 1", n)
	}
	clock.Advance(time.Hour + time.Minute) // the old end passes: nothing ends
	for _, s := range streams[:1] {
		if got := kinds(s); len(got) != 1 || got[0] != "room" {
			t.Errorf("after the old end: %q, want just the extension's room event", got)
		}
	}
	if err := svc.End(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if n := clock.Timers(); n != 0 {
		t.Errorf("%d timers after End, want 0", n)
	}
	for i, s := range streams {
		if got := kinds(s); i > 0 && len(got) != 2 || got[len(got)-1] != "ended" {
			t.Fatalf("stream %d got %q, want it to end with ended", i, got)
		}
	}
	clock.Advance(2 * time.Hour)
	if hub.Stats().Delivered == 0 {
		t.Error("nothing delivered")
	}
}

// relay is a Relay between two services' hubs, as momento.Broker is
// between instances: what one publishes reaches the other's hub.
type relay struct {
	to    *chat.Hub
	kinds []chat.Kind
}

func (r *relay) Publish(e *chat.Event) {
	r.kinds = append(r.kinds, e.Kind)
	if e.Kind != chat.KindMessage {
		r.to.Receive(e)
	}
}
func (r *relay) Skip(chat.Room, chat.ID) {}

// Two instances over one store: a host action on A reaches B's state at
// once (posts on B are refused, B's streams hear it) through the relay,
// and a room's set end is each instance's own (never relayed).
func TestRoomEventsTravelBetweenInstances(t *testing.T) {
	clock := chattest.NewClock(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 100, Now: clock.Now})
	t.Cleanup(mem.Close)
	hubA, hubB := chat.NewHub(chat.HubOptions{Store: mem}), chat.NewHub(chat.HubOptions{Store: mem})
	t.Cleanup(hubA.Close)
	t.Cleanup(hubB.Close)
	toB, toA := &relay{to: hubB}, &relay{to: hubA}
	secret := []byte("one secret for both instances, 32+ bytes")
	a := chat.NewServiceWith(chat.ServiceOptions{Store: mem, Hub: hubA, Relay: toB, Clock: clock, HostSecret: secret, StateTTL: time.Hour})
	b := chat.NewServiceWith(chat.ServiceOptions{Store: mem, Hub: hubB, Relay: toA, Clock: clock, HostSecret: secret, StateTTL: time.Hour})
	ctx := t.Context()
	if a.HostKey("x") != b.HostKey("x") || !b.IsHost("x", a.HostKey("x")) {
		t.Error("instances with one secret disagree on host keys")
	}
	if _, err := a.Start(ctx, chat.StartOptions{Room: "x", Ends: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sb, err := b.Join(ctx, "x", "") // B learns the state, unlocked
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if _, err := b.Post(ctx, "x", "bob", "hi"); err != nil {
		t.Fatal(err)
	}
	kinds(sb)
	if err := a.SetLocked(ctx, "x", true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Post(ctx, "x", "bob", "again"); !errors.Is(err, chat.ErrLocked) {
		t.Errorf("post on B after A locked: %v, want ErrLocked", err)
	}
	if got := kinds(sb); len(got) != 1 || got[0] != "room" {
		t.Errorf("B's stream after A locked: %q", got)
	}
	clock.Advance(time.Hour)
	if got := kinds(sb); len(got) != 1 || got[0] != "ended" {
		t.Errorf("B's stream at the end: %q, want ended (from B's own timer)", got)
	}
	for _, k := range toB.kinds {
		if k == chat.KindEnded {
			t.Error("A relayed the end of the room's set time: each instance ends its own")
		}
	}
	// An early end is relayed.
	if _, err := a.Start(ctx, chat.StartOptions{Room: "y", Ends: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sy, err := b.Join(ctx, "y", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sy.Close()
	kinds(sy)
	if err := a.End(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if got := kinds(sy); len(got) != 1 || got[0] != "ended" {
		t.Errorf("B's stream after A ended the room: %q", got)
	}
	if _, err := b.Post(ctx, "y", "bob", "late"); !errors.Is(err, chat.ErrEnded) {
		t.Errorf("post on B after A ended: %v, want ErrEnded", err)
	}
}

func TestParseLifetime(t *testing.T) {
	now := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		lifetime, ends string
		want           time.Duration // 0: ErrInvalid
	}{
		{"30m", "", 30 * time.Minute},
		{" 1h30m ", "", 90 * time.Minute},
		{"90", "", 90 * time.Minute},
		{"45s", "", 45 * time.Second},
		{"", "2026-11-26T14:00:00Z", time.Hour},
		{"", "2026-11-26T14:00:00-01:00", 2 * time.Hour},
		{"24h", "", 24 * time.Hour},
		{"24h1s", "", 0},
		{"0", "", 0},
		{"-1m", "", 0},
		{"500ms", "", 0},
		{"1.5", "", 0},
		{"soon", "", 0},
		{"", "", 0},
		{"30m", "2026-11-26T14:00:00Z", 0},
		{"", "2026-11-26T13:00:00Z", 0},
		{"", "2026-11-26 14:00", 0},
	} {
		got, err := chat.ParseLifetime(tt.lifetime, tt.ends, now, 24*time.Hour)
		switch {
		case tt.want == 0 && !errors.Is(err, chat.ErrInvalid):
			t.Errorf("ParseLifetime(%q, %q) = %s, %v; want ErrInvalid", tt.lifetime, tt.ends, got, err)
		case tt.want != 0 && (err != nil || got.Sub(now) != tt.want):
			t.Errorf("ParseLifetime(%q, %q) = %s, %v; want now + %s", tt.lifetime, tt.ends, got, err, tt.want)
		}
	}
}

func TestParseTitle(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  Game night 🎲 ", "Game night 🎲", true},
		{"ゲーム", "ゲーム", true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true},
		{strings.Repeat("é", 101), "", false},
		{"tab\there", "", false},
		{"bell\a", "", false},
		{"del\x7f", "", false},
		{"\xff", "", false},
	} {
		got, err := chat.ParseTitle(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseTitle(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Past its end and grace a room is gone, and its name takes posts again
// at once, however recently the service learnt its state.
func TestRoomNameIsFreeAfterTheGrace(t *testing.T) {
	clock := chattest.NewClock(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
	mem := memory.New(memory.Options{TTL: time.Hour, Limit: 100, Now: clock.Now})
	t.Cleanup(mem.Close)
	hub := chat.NewHub(chat.HubOptions{Store: mem})
	t.Cleanup(hub.Close)
	// States are trusted for a day: only the end and grace can say the
	// room has gone.
	svc := chat.NewServiceWith(chat.ServiceOptions{Store: mem, Hub: hub, Clock: clock, Grace: 10 * time.Minute, StateTTL: 24 * time.Hour})
	ctx := t.Context()
	if _, err := svc.Start(ctx, chat.StartOptions{Room: "brief", Ends: clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := svc.Post(ctx, "brief", "a", "late"); !errors.Is(err, chat.ErrEnded) {
		t.Fatalf("post after the end: %v, want ErrEnded", err)
	}
	clock.Advance(10 * time.Minute) // the grace
	if _, err := svc.Post(ctx, "brief", "a", "again"); err != nil {
		t.Errorf("post after the grace: %v, want a new plain room", err)
	}
}
