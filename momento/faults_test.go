package momento_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"
	"google.golang.org/grpc/codes"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// Reproductions of issue 11, each on two instances and momentotest's
// fault injection.

// A refused publish in a room that then goes quiet: the message still
// reaches the other instance (the publisher keeps it and retries), where
// before it waited for the room's next post.
func TestRefusedPublishInAQuietRoom(t *testing.T) {
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "quiet")
	srv.FailNext("Publish", 3, codes.ResourceExhausted)
	posted, err := a.svc.Post(t.Context(), "quiet", "alice", "anyone there?")
	if err != nil {
		t.Fatalf("Post with publishes refused: %v (the message is stored: it must be acknowledged)", err)
	}
	if got := collect(t, st, 1); got[0].ID != posted.ID {
		t.Errorf("B got %s, want %s", got[0].ID, posted.ID)
	}
	if n := a.broker.Stats().Refused; n != 3 {
		t.Errorf("A's broker saw %d refused publishes, want 3", n)
	}
}

// A refused publish while history reads are refused too: the stream on
// the other instance waits (a refusal is not an absence) and gets the
// message once, in order, where before it skipped it for good.
func TestRefusedPublishAndRefusedReads(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out 6s of publish backoff")
	}
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "r")
	// A's publish is refused 6 times: with its backoff it gets through
	// 4.8s after its fifth refusal, longer than B's SkipAfter.
	srv.FailNext("Publish", 5, codes.ResourceExhausted)
	first, err := a.svc.Post(t.Context(), "r", "alice", "one")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A's fifth refused publish", func() bool { return a.broker.Stats().Refused >= 5 })
	// B's own post shows B the gap before it; its reads are refused
	// throughout.
	srv.FailNext("ListFetch", 1000, codes.ResourceExhausted)
	defer srv.FailNext("ListFetch", 0, codes.OK)
	second, err := b.svc.Post(t.Context(), "r", "bob", "two")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's publish", func() bool { return b.broker.Stats().Publishes >= 1 })
	srv.FailNext("Publish", 1, codes.ResourceExhausted) // A's sixth
	if diff := cmp.Diff([]string{first.ID.String(), second.ID.String()}, ids(collect(t, st, 2))); diff != "" {
		t.Errorf("B's stream (-want +got):\n%s", diff)
	}
	if got := drainNow(st); len(got) != 0 {
		t.Errorf("then also %v", ids(got))
	}
	if n := a.broker.Stats().Refused; n != 6 {
		t.Errorf("A's publish was refused %d times, want 6", n)
	}
}

// One refused push after its Increment, amid 100 posts/s from one
// instance: the post fails, is not stored, and its number is skipped at
// once on every instance: no stream waits, none falls behind, and the
// other instance reads no history for it.
func TestRefusedPushAfterIncrementAt100PostsPerSecond(t *testing.T) {
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	var streams []*chat.Stream
	for range 4 {
		streams = append(streams, join(t, a, "busy"), join(t, b, "busy"))
	}
	before := srv.Meter()
	var acked []chat.Message
	failed := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range 200 {
		<-tick.C // a steady 100 posts/s: the load, not a measurement
		if i == 100 {
			srv.FailNext("ListPushBack", 1, codes.ResourceExhausted)
		}
		m, err := a.svc.Post(t.Context(), "busy", "alice", fmt.Sprint(i))
		if err != nil {
			if !errors.Is(err, chat.ErrUnavailable) {
				t.Fatalf("post %d: %v, want ErrUnavailable", i, err)
			}
			failed++
			continue
		}
		acked = append(acked, m)
	}
	if failed != 1 {
		t.Fatalf("%d posts failed, want the 1 refused", failed)
	}
	for i, st := range streams {
		if diff := cmp.Diff(ids(acked), ids(collect(t, st, len(acked)))); diff != "" {
			t.Errorf("stream %d (-acknowledged +received):\n%s", i, diff)
		}
	}
	history, err := b.svc.History(t.Context(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(acked), ids(history)); diff != "" {
		t.Errorf("history (-acknowledged +stored):\n%s", diff)
	}
	if n := b.hub.Stats().GapReads; n != 0 {
		t.Errorf("B read history %d times for gaps, want 0: the skip travels with the messages", n)
	}
	if d := b.hub.Stats().Dropped; d != 0 {
		t.Errorf("B dropped %d streams", d)
	}
	if n := srv.Meter().Since(before).Calls["ListFetch"]; n != 0 {
		t.Errorf("%d ListFetch calls during the run, want 0 (warm rooms, no gap reads)", n)
	}
}

// lossyCache loses the answers of the next ListPushBack calls: lose ones
// are carried out first (a reply lost on the way back), drop ones never
// reach Momento (a request lost on the way there); both look like a
// timeout to the caller.
type lossyCache struct {
	sdk.CacheClient
	lose, drop *atomic.Int32
}

func (c lossyCache) ListPushBack(ctx context.Context, r *sdk.ListPushBackRequest) (responses.ListPushBackResponse, error) {
	timeout := sdk.NewMomentoError(sdk.TimeoutError, "deadline exceeded (test: answer lost)", context.DeadlineExceeded)
	if c.lose.Add(-1) >= 0 {
		if _, err := c.CacheClient.ListPushBack(ctx, r); err != nil {
			return nil, err
		}
		return nil, timeout
	}
	if c.drop.Add(-1) >= 0 {
		return nil, timeout
	}
	return c.CacheClient.ListPushBack(ctx, r)
}

// A push whose answer was lost: if it was stored the post succeeds (once),
// if it was not the post fails and the number is skipped everywhere. A
// 503 never stands for a stored message.
func TestAmbiguousPushFailure(t *testing.T) {
	srv := momentotest.Start(t)
	var lose, drop atomic.Int32
	a := newInstanceWith(t, srv, options{cfg: func(c *momento.Config) {
		c.WrapCacheClient = func(cc sdk.CacheClient) sdk.CacheClient { return lossyCache{cc, &lose, &drop} }
	}})
	b := newInstance(t, srv)
	st := join(t, b, "r")

	lose.Store(1)
	stored, err := a.svc.Post(t.Context(), "r", "alice", "reply lost")
	if err != nil {
		t.Fatalf("a post whose push was stored but whose answer was lost: %v, want success", err)
	}
	drop.Store(1)
	if _, err := a.svc.Post(t.Context(), "r", "alice", "request lost"); !errors.Is(err, chat.ErrUnavailable) {
		t.Fatalf("a post whose push never arrived: %v, want ErrUnavailable", err)
	}
	after, err := a.svc.Post(t.Context(), "r", "alice", "fine")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{stored.ID.String(), after.ID.String()}
	if diff := cmp.Diff(want, ids(collect(t, st, 2))); diff != "" {
		t.Errorf("B's stream (-acknowledged +received):\n%s", diff)
	}
	cold := newInstance(t, srv) // reads the list itself
	history, err := cold.svc.History(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(history)); diff != "" {
		t.Errorf("history (-acknowledged +stored):\n%s", diff)
	}
	if n := b.hub.Stats().GapReads; n != 0 {
		t.Errorf("B read history %d times for gaps, want 0", n)
	}
}

// drainNow takes what a stream has waiting, without blocking.
func drainNow(st *chat.Stream) []chat.Message {
	evs, _, _ := st.Take(nil)
	var out []chat.Message
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

// A hub far behind a full list (a subscription broke while more than the
// history limit was posted) reads further back until it reaches the
// whole list, then stops: a bounded number of reads.
func TestResyncFarBehindAFullListEnds(t *testing.T) {
	srv := momentotest.Start(t)
	in := newInstanceWith(t, srv, options{cfg: func(c *momento.Config) { c.Limit = 100 }})
	st := join(t, in, "far")
	for i := range 150 { // unpublished: as if the topic lost them all
		if _, err := in.store.Append(t.Context(), chat.Message{Room: "far", Username: "u", Text: fmt.Sprint(i), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	before := srv.Meter()
	in.hub.Resync()
	got := collect(t, st, 100) // the 100 the list keeps
	if got[99].Text != "149" {
		t.Errorf("after the resync the stream ends with %q, want the last post", got[99].Text)
	}
	// 32, 64, then the whole list (100); again GapWait later, and at
	// SkipAfter, which skips the numbers the list no longer holds. Then
	// the gap is closed and no read is due.
	if n := srv.Meter().Since(before).Calls["ListFetch"]; n != 5 {
		t.Errorf("%d ListFetch calls, want 5", n)
	}
}
