package momento_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"
	"google.golang.org/grpc/codes"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// The store keeps rooms' state as chat.RoomStore says, whatever Increment
// does to an existing counter's TTL.
func TestRoomConformance(t *testing.T) {
	for _, mode := range []momentotest.IncrementTTL{momentotest.IncrementKeepTTL, momentotest.IncrementRefreshTTL} {
		t.Run("increment-"+mode.String(), func(t *testing.T) {
			chattest.TestRoomStore(t, func(t *testing.T, ttl time.Duration, limit int) chattest.Harness {
				clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
				srv := momentotest.Start(t, momentotest.WithClock(clock.Now), momentotest.WithIncrementTTL(mode))
				b := open(t, momento.Config{Endpoint: srv.Addr(), Cache: "chat", TTL: ttl, Limit: limit, Now: clock.Now})
				return chattest.Harness{Store: b.Store(), Advance: clock.Advance, Now: clock.Now}
			})
		})
	}
}

func TestHostSecret(t *testing.T) {
	a, keyed := momento.HostSecret("key", "", "chat")
	if len(a) != 32 || !keyed {
		t.Fatalf("HostSecret(key): %d bytes, keyed %v; want 32, true", len(a), keyed)
	}
	if again, _ := momento.HostSecret("key", "", "chat"); !bytes.Equal(a, again) {
		t.Error("HostSecret differs between calls with the same settings")
	}
	for _, other := range [][3]string{{"key2", "", "chat"}, {"key", "", "chat2"}, {"key", "127.0.0.1:9090", "chat"}} {
		if b, _ := momento.HostSecret(other[0], other[1], other[2]); bytes.Equal(a, b) {
			t.Errorf("HostSecret%q = HostSecret(key, , chat)", other)
		}
	}
	if _, keyed := momento.HostSecret("", "127.0.0.1:9090", "chat"); keyed {
		t.Error("HostSecret without a key: keyed")
	}
}

// roomClock is the time of a two-instance room test: the test server's,
// the stores' and the services', moved by hand.
func roomClock() *chattest.Clock {
	return chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
}

// newRoomInstance is an instance whose store and service run on clock.
func newRoomInstance(t *testing.T, srv *momentotest.Server, clock *chattest.Clock) *instance {
	return newInstanceWith(t, srv, options{
		cfg: func(c *momento.Config) { c.Now = clock.Now },
		svc: func(o *chat.ServiceOptions) { o.Clock = clock },
	})
}

// reader reads a stream event by event.
type reader struct {
	st    *chat.Stream
	queue []*chat.Event
	ended bool // Take said the stream has ended
}

func newReader(st *chat.Stream) *reader { return &reader{st: st} }

// next returns the stream's next event, nil once it has ended.
func (r *reader) next(t *testing.T) *chat.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for len(r.queue) == 0 && !r.ended {
		select {
		case <-r.st.Ready():
			var ok bool
			r.queue, _, ok = r.st.Take(r.queue)
			r.ended = !ok
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
	if len(r.queue) == 0 {
		return nil
	}
	e := r.queue[0]
	r.queue = r.queue[1:]
	return e
}

// until returns the first event for which ok holds, and the messages
// before it.
func (r *reader) until(t *testing.T, what string, ok func(*chat.Event) bool) (*chat.Event, []chat.Message) {
	t.Helper()
	var msgs []chat.Message
	for {
		e := r.next(t)
		switch {
		case e == nil:
			t.Fatalf("stream ended before %s", what)
		case ok(e):
			return e, msgs
		case e.Kind == chat.KindMessage:
			msgs = append(msgs, e.Message)
		}
	}
}

func isKind(k chat.Kind) func(*chat.Event) bool {
	return func(e *chat.Event) bool { return e.Kind == k }
}

// ttlLeft is what the test server says key has left to live; ok false
// when it is gone.
func ttlLeft(t *testing.T, srv *momentotest.Server, key string) (time.Duration, bool) {
	t.Helper()
	cc, err := sdk.NewCacheClient(momento.CacheConfig(), srv.Credential(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := cc.ItemGetTtl(t.Context(), &sdk.ItemGetTtlRequest{CacheName: "chat", Key: sdk.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if hit, ok := resp.(*responses.ItemGetTtlHit); ok {
		return hit.RemainingTtl(), true
	}
	return 0, false
}

// getKey reads a scalar straight from the test server.
func getKey(t *testing.T, srv *momentotest.Server, key string) ([]byte, bool) {
	t.Helper()
	cc, err := sdk.NewCacheClient(momento.CacheConfig(), srv.Credential(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := cc.Get(t.Context(), &sdk.GetRequest{CacheName: "chat", Key: sdk.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if hit, ok := resp.(*responses.GetHit); ok {
		return hit.ValueByte(), true
	}
	return nil, false
}

// The layout in the cache: a started room's state is "room:<room>", its
// RoomState as JSON with its keep, expiring at the keep, written by
// check-and-set calls only; its posts set the list's and counter's expiry
// to the keep, on the instance that started it and on another that heard
// of it only from the relay.
func TestRoomLayout(t *testing.T) {
	clock := roomClock()
	srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
	a, b := newRoomInstance(t, srv, clock), newRoomInstance(t, srv, clock)
	ctx := t.Context()

	// B has a stream in the room before it starts: it learns of the
	// start only from the relay.
	stB := newReader(join(t, b, "layout"))
	before := srv.Meter()
	st, err := a.svc.Start(ctx, chat.StartOptions{Room: "layout", Title: "Quiz 🎲", Ends: clock.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	stB.until(t, "the start", func(e *chat.Event) bool { return e.Kind == chat.KindRoom && cmp.Equal(e.State, st) })
	u := srv.Meter().Since(before)
	if u.Calls["Set"] != 0 || u.Calls["Delete"] != 0 || u.Calls["SetIf"] != 1 {
		t.Errorf("Start made calls %v, want one SetIf and no Set or Delete", u.Calls)
	}

	keep := st.Ends.Add(chat.DefaultGrace)
	raw, ok := getKey(t, srv, "room:layout")
	if !ok {
		t.Fatal("no key room:layout")
	}
	var stored map[string]any
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatalf("room:layout is not JSON: %q", raw)
	}
	want := map[string]any{"room": "layout", "title": "Quiz 🎲", "ends": st.Ends.Format(time.RFC3339), "locked": false, "ended": false, "keep": keep.Format(time.RFC3339)}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("room:layout (-want +got):\n%s", diff)
	}
	wantTTL := func(key string, want time.Duration) {
		t.Helper()
		if d, ok := ttlLeft(t, srv, key); !ok || d != want {
			t.Errorf("%s: TTL left %v (found %v), want %v", key, d, ok, want)
		}
	}
	wantTTL("room:layout", 40*time.Minute)

	// Posts on both, 30s in (B reads no state: it knows the room from
	// the relay): list and counter until the keep, not the history TTL
	// (an hour) after the post.
	clock.Advance(30 * time.Second)
	for _, in := range []*instance{b, a} {
		before := srv.Meter()
		if _, err := in.svc.Post(ctx, "layout", "bob", "hi"); err != nil {
			t.Fatal(err)
		}
		if u := srv.Meter().Since(before); in == b && u.Calls["Get"] != 0 {
			t.Errorf("B's post read the state: calls %v", u.Calls)
		}
		wantTTL("layout", 39*time.Minute+30*time.Second)
		wantTTL("seq:layout", 39*time.Minute+30*time.Second)
	}
	clock.Advance(4*time.Minute + 30*time.Second)

	// Locked on B: the state is written again by check-and-set, keeping
	// its expiry; the list's is moved to it too.
	before = srv.Meter()
	if err := b.svc.SetLocked(ctx, "layout", true); err != nil {
		t.Fatal(err)
	}
	if u := srv.Meter().Since(before); u.Calls["Set"] != 0 || u.Calls["Delete"] != 0 {
		t.Errorf("SetLocked made calls %v, want no Set or Delete", u.Calls)
	}
	wantTTL("room:layout", 35*time.Minute)
	// Extended on A by 20 minutes: both move.
	if err := a.svc.Extend(ctx, "layout", st.Ends.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantTTL("room:layout", 55*time.Minute)
	wantTTL("layout", 55*time.Minute)
	// Unlocked on A. B hears of both with the keep: its post keeps the
	// list to the new keep, not the one B saved with its lock.
	if err := a.svc.SetLocked(ctx, "layout", false); err != nil {
		t.Fatal(err)
	}
	stB.until(t, "the unlock", func(e *chat.Event) bool { return !e.State.Locked && e.State.Ends.Equal(st.Ends.Add(20*time.Minute)) })
	if _, err := b.svc.Post(ctx, "layout", "bob", "after the extension"); err != nil {
		t.Fatal(err)
	}
	wantTTL("layout", 55*time.Minute)
}

// Delete finds a message's item whatever its age, by the counter, with
// one short read; also when numbers were skipped after it or the original
// app pushed items after it.
func TestDeleteFindsItsItem(t *testing.T) {
	srv := momentotest.Start(t)
	in := newInstance(t, srv)
	ctx := t.Context()
	rs := chat.RoomStore(in.store)
	post := func(n int) []chat.Message {
		var out []chat.Message
		for range n {
			m, err := in.svc.Post(ctx, "del", "alice", "some words of a message")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	msgs := post(300)
	// Pushes that fail, more than Delete's window: their numbers are
	// skipped, and the messages before them are nearer the end than the
	// counter says.
	for range 12 {
		srv.FailNext("ListPushBack", 1, codes.ResourceExhausted)
		if _, err := in.svc.Post(ctx, "del", "alice", "refused"); err == nil {
			t.Fatal("a refused push was acknowledged")
		}
	}
	msgs = append(msgs, post(20)...)

	cost := func(id chat.ID) momentotest.Usage {
		t.Helper()
		before := srv.Meter()
		if err := rs.Delete(ctx, "del", id); err != nil {
			t.Fatalf("Delete %s: %v", id, err)
		}
		return srv.Meter().Since(before)
	}
	for _, tc := range []struct {
		name string
		i    int
	}{{"the last", len(msgs) - 1}, {"a recent one", len(msgs) - 5}, {"an old one", 10}, {"before the skipped number", 299}} {
		u := cost(msgs[tc.i].ID)
		// Two short reads at most (the skipped numbers move older
		// messages out of the first), never the whole list.
		if u.Calls["ListFetch"] > 2 || u.CacheOps > 60 || u.Calls["ListRemove"] != 1 {
			t.Errorf("deleting %s: %d operations, calls %v; want at most 2 ListFetch, 60 operations, one ListRemove", tc.name, u.CacheOps, u.Calls)
		}
		t.Logf("deleting %s: %d operations %v", tc.name, u.CacheOps, u.Ops)
	}

	// Items of the original app after a message: found all the same.
	seedPush(t, srv, "del", `{"username":"old","message":"from the old app"}`, time.Hour)
	for range 20 {
		seedPush(t, srv, "del", `{"username":"old","message":"more"}`, time.Hour)
	}
	if err := rs.Delete(ctx, "del", msgs[250].ID); err != nil {
		t.Fatalf("Delete with the old app's items after it: %v", err)
	}
	if err := rs.Delete(ctx, "del", msgs[250].ID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Delete again: %v, want ErrNotFound", err)
	}

	gone := []chat.ID{msgs[len(msgs)-1].ID, msgs[len(msgs)-5].ID, msgs[10].ID, msgs[299].ID, msgs[250].ID}
	history, err := newInstance(t, srv).svc.History(ctx, "del")
	if err != nil {
		t.Fatal(err)
	}
	var left []chat.ID
	for _, m := range history {
		if !m.ID.IsZero() {
			left = append(left, m.ID)
		}
	}
	for _, id := range gone {
		if slices.Contains(left, id) {
			t.Errorf("%s still in the history", id)
		}
	}
	if want := len(msgs) - len(gone); len(left) != want {
		t.Errorf("history holds %d of our messages, want %d", len(left), want)
	}
}

// Two instances on one Momento: what a host does on A holds on B.
func TestRoomsAcrossInstances(t *testing.T) {
	setup := func(t *testing.T) (a, b *instance, clock *chattest.Clock, st chat.RoomState) {
		clock = roomClock()
		srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
		a, b = newRoomInstance(t, srv, clock), newRoomInstance(t, srv, clock)
		st, err := a.svc.Start(t.Context(), chat.StartOptions{Room: "event", Title: "Launch", Ends: clock.Now().Add(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return a, b, clock, st
	}

	t.Run("StartedOnASeenOnB", func(t *testing.T) {
		a, b, _, st := setup(t)
		got, err := b.svc.State(t.Context(), "event")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st, got); diff != "" {
			t.Errorf("B's state of the room (-A's +B's):\n%s", diff)
		}
		stream := join(t, b, "event")
		if !cmp.Equal(stream.State, st) {
			t.Errorf("B's stream starts with %+v, want %+v", stream.State, st)
		}
		if !b.svc.IsHost("event", a.svc.HostKey("event")) {
			t.Error("A's host key is not valid on B")
		}
		if _, err := b.svc.Start(t.Context(), chat.StartOptions{Room: "event", Ends: st.Ends}); !errors.Is(err, chat.ErrExists) {
			t.Errorf("starting it again on B: %v, want ErrExists", err)
		}
	})

	t.Run("EndNowOnA", func(t *testing.T) {
		a, b, _, _ := setup(t)
		stream := newReader(join(t, b, "event"))
		m, err := b.svc.Post(t.Context(), "event", "bob", "before the end")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.svc.End(t.Context(), "event"); err != nil {
			t.Fatal(err)
		}
		e, msgs := stream.until(t, "the end", isKind(chat.KindEnded))
		if !e.State.Ended {
			t.Errorf("B's ended event: %+v, want ended", e.State)
		}
		if len(msgs) != 1 || msgs[0].ID != m.ID {
			t.Errorf("B's stream before the end: %v, want B's post", msgs)
		}
		if _, err := b.svc.Post(t.Context(), "event", "bob", "too late"); !errors.Is(err, chat.ErrEnded) {
			t.Errorf("post on B after the end on A: %v, want ErrEnded", err)
		}
		if _, err := b.svc.Join(t.Context(), "event", ""); !errors.Is(err, chat.ErrEnded) {
			t.Errorf("join on B after the end on A: %v, want ErrEnded", err)
		}
		// The history stays for the grace period.
		if h, err := b.svc.History(t.Context(), "event"); err != nil || len(h) != 1 {
			t.Errorf("history on B after the end: %d messages, %v; want 1", len(h), err)
		}
	})

	t.Run("EndByTime", func(t *testing.T) {
		a, b, clock, st := setup(t)
		streamA, streamB := join(t, a, "event"), join(t, b, "event")
		if _, err := a.svc.Post(t.Context(), "event", "alice", "hello"); err != nil {
			t.Fatal(err)
		}
		collect(t, streamB, 1)
		collect(t, streamA, 1)
		clock.Advance(st.Ends.Sub(clock.Now()))
		for name, stream := range map[string]*chat.Stream{"A": streamA, "B": streamB} {
			r := newReader(stream)
			if e, _ := r.until(t, name+"'s end", isKind(chat.KindEnded)); !e.State.Ended {
				t.Errorf("%s's ended event: %+v, want ended", name, e.State)
			}
		}
		if _, err := b.svc.Post(t.Context(), "event", "bob", "too late"); !errors.Is(err, chat.ErrEnded) {
			t.Errorf("post on B at the end: %v, want ErrEnded", err)
		}
		// The grace period, then the room is gone.
		clock.Advance(chat.DefaultGrace - time.Second)
		if h, err := b.store.History(t.Context(), "event"); err != nil || len(h) != 1 {
			t.Errorf("history a second before the grace ends: %d messages, %v; want 1", len(h), err)
		}
		clock.Advance(time.Second)
		if h, err := b.store.History(t.Context(), "event"); err != nil || len(h) != 0 {
			t.Errorf("history after the grace: %d messages, %v; want none", len(h), err)
		}
		if _, ok, err := b.store.RoomState(t.Context(), "event"); err != nil || ok {
			t.Errorf("state after the grace: found %v, %v; want none", ok, err)
		}
	})

	t.Run("DeletedOnA", func(t *testing.T) {
		a, b, _, _ := setup(t)
		stream := newReader(join(t, b, "event"))
		var posted []chat.Message
		for i, in := range []*instance{a, b, a} {
			m, err := in.svc.Post(t.Context(), "event", "alice", []string{"one", "spam", "three"}[i])
			if err != nil {
				t.Fatal(err)
			}
			posted = append(posted, m)
		}
		if err := a.svc.DeleteMessage(t.Context(), "event", posted[1].ID); err != nil {
			t.Fatal(err)
		}
		e, msgs := stream.until(t, "the deletion", isKind(chat.KindDeleted))
		if e.Message.ID != posted[1].ID || e.Message.Room != "event" || string(e.JSON) != `{"room":"event","id":"`+posted[1].ID.String()+`"}` {
			t.Errorf("B's deleted event: %+v %s, want %s", e.Message, e.JSON, posted[1].ID)
		}
		if diff := cmp.Diff(posted, msgs); diff != "" {
			t.Errorf("B's stream before the deletion (-posted +got):\n%s", diff)
		}
		want := []chat.Message{posted[0], posted[2]}
		for name, in := range map[string]*instance{"B (warm)": b, "a new instance (cold)": newInstance(t, b.srv)} {
			h, err := in.svc.History(t.Context(), "event")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, h); diff != "" {
				t.Errorf("history on %s (-want +got):\n%s", name, diff)
			}
		}
		if err := b.svc.DeleteMessage(t.Context(), "event", posted[1].ID); !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("deleting it again on B: %v, want ErrNotFound", err)
		}
	})

	t.Run("LockedOnA", func(t *testing.T) {
		a, b, _, _ := setup(t)
		stream := newReader(join(t, b, "event"))
		if _, err := b.svc.Post(t.Context(), "event", "bob", "open"); err != nil {
			t.Fatal(err)
		}
		if err := a.svc.SetLocked(t.Context(), "event", true); err != nil {
			t.Fatal(err)
		}
		stream.until(t, "the lock", func(e *chat.Event) bool { return e.Kind == chat.KindRoom && e.State.Locked })
		if _, err := b.svc.Post(t.Context(), "event", "bob", "locked out"); !errors.Is(err, chat.ErrLocked) {
			t.Errorf("post on B after the lock on A: %v, want ErrLocked", err)
		}
		if err := a.svc.SetLocked(t.Context(), "event", false); err != nil {
			t.Fatal(err)
		}
		stream.until(t, "the unlock", func(e *chat.Event) bool { return e.Kind == chat.KindRoom && !e.State.Locked })
		if _, err := b.svc.Post(t.Context(), "event", "bob", "open again"); err != nil {
			t.Errorf("post on B after the unlock on A: %v", err)
		}
	})
}

// TestRoomCostReport measures with momentotest's meter what rooms with a
// lifetime and a host cost on Momento, two instances each with a stream
// in the room: a start, a post (the first on an instance that has not
// read the room's state, then the rest), each host action, an end now
// and an end by time, and the state each instance reads again once per
// chat.DefaultStateTTL while it posts to the room. Run with -v for the
// table (docs/momento.md quotes it).
func TestRoomCostReport(t *testing.T) {
	const n = 2
	clock := roomClock()
	srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
	insts := make([]*instance, n)
	for i := range insts {
		insts[i] = newRoomInstance(t, srv, clock)
	}
	a, b := insts[0], insts[1]
	ctx := t.Context()
	// settled waits until every instance has published what it queued
	// and the topic has delivered it to all.
	settled := func(before momentotest.Usage) momentotest.Usage {
		t.Helper()
		waitFor(t, "the publishers and deliveries", func() bool {
			for _, in := range insts {
				if in.broker.Stats().PendingEvents > 0 {
					return false
				}
			}
			u := srv.Meter().Since(before)
			return u.Deliveries == int64(n)*u.Calls["Publish"]
		})
		return srv.Meter().Since(before)
	}
	var rows []string
	row := func(what string, u momentotest.Usage) {
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %s |", what, u.CacheOps, u.TopicOps, opsList(u)))
	}
	measure := func(what string, f func()) momentotest.Usage {
		t.Helper()
		before := srv.Meter()
		f()
		u := settled(before)
		row(what, u)
		return u
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	text := strings.Repeat("x", 155) // ≈250 bytes of stored JSON

	// Streams wait in the room before it starts (a page opened early).
	streams := []*reader{newReader(join(t, a, "cost")), newReader(join(t, b, "cost"))}
	var st chat.RoomState
	start := measure("start a room (`POST /api/rooms`)", func() {
		var err error
		st, err = a.svc.Start(ctx, chat.StartOptions{Room: "cost", Title: "The cost of a room", Ends: clock.Now().Add(30 * time.Minute)})
		must(err)
		for _, r := range streams {
			r.until(t, "the start", isKind(chat.KindRoom))
		}
	})
	var posted []chat.Message
	post := func(in *instance) {
		m, err := in.svc.Post(ctx, "cost", "alice", text)
		must(err)
		posted = append(posted, m)
		for _, r := range streams {
			r.until(t, "the post", func(e *chat.Event) bool { return e.Message.ID == m.ID })
		}
	}
	var perPost momentotest.Usage
	for i := range 10 {
		u := measure(fmt.Sprintf("post %d", i+1), func() { post(insts[i%n]) })
		if i >= n {
			perPost.CacheOps += u.CacheOps
			perPost.TopicOps += u.TopicOps
		}
	}
	rows = rows[:len(rows)-10+n] // the rest are like the last
	rows = append(rows, fmt.Sprintf("| a post, later (mean of %d) | %.1f | %.1f | |", 10-n, float64(perPost.CacheOps)/float64(10-n), float64(perPost.TopicOps)/float64(10-n)))

	clock.Advance(chat.DefaultStateTTL)
	measure("a post after the state's TTL (it is read again)", func() { post(b) })

	host := func(what string, f func() error, kind chat.Kind) momentotest.Usage {
		return measure(what, func() {
			must(f())
			for _, r := range streams {
				r.until(t, what, isKind(kind))
			}
		})
	}
	lock := host("lock", func() error { return a.svc.SetLocked(ctx, "cost", true) }, chat.KindRoom)
	host("unlock", func() error { return b.svc.SetLocked(ctx, "cost", false) }, chat.KindRoom)
	host("extend", func() error { return a.svc.Extend(ctx, "cost", st.Ends.Add(15*time.Minute)) }, chat.KindRoom)
	del := host("delete the last message", func() error { return a.svc.DeleteMessage(ctx, "cost", posted[len(posted)-1].ID) }, chat.KindDeleted)
	host("delete an older message (the first)", func() error { return b.svc.DeleteMessage(ctx, "cost", posted[0].ID) }, chat.KindDeleted)

	// The end by time: one timer per room on each instance, nothing billed.
	byTime := measure("the end by time (each instance's timer)", func() {
		clock.Advance(st.Ends.Add(15 * time.Minute).Sub(clock.Now()))
		for _, r := range streams {
			r.until(t, "the end", isKind(chat.KindEnded))
		}
	})
	// A second room, ended by its host.
	streams = []*reader{newReader(join(t, a, "cost2")), newReader(join(t, b, "cost2"))}
	_, err := b.svc.Start(ctx, chat.StartOptions{Room: "cost2", Ends: clock.Now().Add(time.Hour)})
	must(err)
	for _, r := range streams {
		r.until(t, "the start", isKind(chat.KindRoom))
	}
	settled(srv.Meter())
	endNow := host("end now", func() error { return a.svc.End(ctx, "cost2") }, chat.KindEnded)

	t.Logf("billed operations (momentotest meter), %d instances each with a stream in the room, ≈250-byte messages:\n"+
		"| what | cache ops | topic ops | by method |\n|---|---|---|---|\n%s", n, strings.Join(rows, "\n"))

	// Targets: a post in a started room costs what any post does, the
	// end by time nothing, a host action a few operations.
	if got := float64(perPost.CacheOps) / float64(10-n); got > 2 {
		t.Errorf("a post in a started room: %.1f cache operations, want 2", got)
	}
	if byTime.CacheOps+byTime.TopicOps != 0 {
		t.Errorf("the end by time billed %+v, want nothing", byTime.Ops)
	}
	for name, u := range map[string]momentotest.Usage{"start": start, "lock": lock, "end now": endNow} {
		if u.CacheOps > 6 || u.Calls["Publish"] != 1 {
			t.Errorf("%s: %d cache operations and %d publishes, want at most 6 and 1", name, u.CacheOps, u.Calls["Publish"])
		}
	}
	if del.CacheOps > 30 {
		t.Errorf("delete: %d cache operations, want at most 30", del.CacheOps)
	}
}

// opsList is u's billed operations by method, sorted.
func opsList(u momentotest.Usage) string {
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(u.Ops)) {
		parts = append(parts, fmt.Sprintf("%s %d", m, u.Ops[m]))
	}
	return strings.Join(parts, ", ")
}

// On the topic a room event is {"k": kind, "d": its JSON} with the room's
// keep, and no "m": an instance of the version before room events, which
// reads only m, skip and ref, passes over it.
func TestRoomEventWire(t *testing.T) {
	clock := roomClock()
	srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
	a := newRoomInstance(t, srv, clock)
	tc, err := sdk.NewTopicClient(momento.TopicsConfig(), srv.Credential())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tc.Subscribe(t.Context(), &sdk.TopicSubscribeRequest{CacheName: "chat", TopicName: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	st, err := a.svc.Start(t.Context(), chat.StartOptions{Room: "wire", Ends: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		item, err := sub.Item(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s, ok := item.(sdk.String)
		if !ok {
			t.Fatalf("topic item %T, want a small JSON string", item)
		}
		var batch struct {
			E []map[string]json.RawMessage `json:"e"`
		}
		if err := json.Unmarshal([]byte(s), &batch); err != nil {
			t.Fatalf("topic item %q: %v", s, err)
		}
		if len(batch.E) == 0 {
			continue // a beacon
		}
		data, _ := json.Marshal(st)
		want := map[string]string{
			"k":    `"room"`,
			"d":    string(data),
			"keep": `"` + st.Ends.Add(chat.DefaultGrace).Format(time.RFC3339) + `"`,
		}
		got := make(map[string]string)
		for k, v := range batch.E[0] {
			got[k] = string(v)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the start's entry on the topic (-want +got):\n%s", diff)
		}
		return
	}
}
