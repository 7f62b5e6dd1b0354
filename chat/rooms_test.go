package chat_test

import (
	"errors"
	"testing"
	"time"

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
