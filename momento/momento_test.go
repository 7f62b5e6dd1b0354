package momento_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/momentohq/client-sdk-go/auth"
	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/utils"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

const topic = "chat-events"

// testTopics is the SDK's topic client with Close left out: in SDK v1.38.0
// TopicClient.Close closes a channel its pool goroutine may be sending on,
// which the race detector reports every time. It counts subscribe calls.
type testTopics struct {
	sdk.TopicClient
	subscribes *atomic.Int64
}

func (testTopics) Close() {}

func (c testTopics) Subscribe(ctx context.Context, r *sdk.TopicSubscribeRequest) (sdk.TopicSubscription, error) {
	c.subscribes.Add(1)
	return c.TopicClient.Subscribe(ctx, r)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, cfg momento.Config) *momento.Backend {
	t.Helper()
	return openLog(t, quietLog(), cfg)
}

func openLog(t *testing.T, log *slog.Logger, cfg momento.Config) *momento.Backend {
	t.Helper()
	b, err := momento.Open(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// The store passes the conformance suite whatever Increment does to an
// existing counter's TTL (Momento does not say).
func TestConformance(t *testing.T) {
	for _, mode := range []momentotest.IncrementTTL{momentotest.IncrementKeepTTL, momentotest.IncrementRefreshTTL} {
		t.Run("increment-"+mode.String(), func(t *testing.T) {
			chattest.TestStore(t, func(t *testing.T, ttl time.Duration, limit int) chattest.Harness {
				clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
				srv := momentotest.Start(t, momentotest.WithClock(clock.Now), momentotest.WithIncrementTTL(mode))
				b := open(t, momento.Config{Endpoint: srv.Addr(), Cache: "chat", TTL: ttl, Limit: limit, Now: clock.Now})
				return chattest.Harness{Store: b.Store(), Advance: clock.Advance}
			})
		})
	}
}

// instance is one chat server's domain wired to Momento, as cmd/chat does.
type instance struct {
	srv        *momentotest.Server
	svc        *chat.Service
	hub        *chat.Hub
	store      *momento.Store
	broker     *momento.Broker
	subscribes atomic.Int64
	// retries has the wait the broker announces after each failed
	// subscribe, read from its log.
	retries chan time.Duration
}

// retryLog is a log handler that passes on each record's retry_in.
type retryLog chan time.Duration

func (retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h retryLog) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h retryLog) WithGroup(string) slog.Handler          { return h }

func (h retryLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retry_in" {
			select {
			case h <- a.Value.Duration():
			default: // nobody is counting
			}
		}
		return true
	})
	return nil
}

// options adjust an instance: its backend's Config, its hub's options
// and its service's.
type options struct {
	cfg func(*momento.Config)
	hub func(*chat.HubOptions)
	svc func(*chat.ServiceOptions)
}

func newInstance(t *testing.T, srv *momentotest.Server) *instance {
	return newInstanceWith(t, srv, options{})
}

// newInstanceWith wires an instance as cmd/chat does for CHAT_STORE=momento
// (a hub tail of the history limit), with opts applied.
func newInstanceWith(t *testing.T, srv *momentotest.Server, opts options) *instance {
	t.Helper()
	in := &instance{srv: srv, retries: make(chan time.Duration, 64)}
	subscribed := srv.Subscribers("chat", topic)
	cfg := momento.Config{
		Endpoint: srv.Addr(), Cache: "chat", TTL: time.Hour, Limit: 500,
		NewTopicClient: func(creds auth.CredentialProvider) (sdk.TopicClient, error) {
			c, err := sdk.NewTopicClient(momento.TopicsConfig(), creds)
			return testTopics{TopicClient: c, subscribes: &in.subscribes}, err
		},
	}
	if opts.cfg != nil {
		opts.cfg(&cfg)
	}
	b := openLog(t, slog.New(retryLog(in.retries)), cfg)
	in.store = b.Store()
	ho := b.HubOptions()
	if opts.hub != nil {
		opts.hub(&ho)
	}
	in.hub = chat.NewHub(ho)
	broker, err := b.NewBroker()
	if err != nil {
		t.Fatal(err)
	}
	in.broker = broker
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		broker.Run(ctx, in.hub)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("broker.Run did not return within 10s of its context ending")
		}
		in.hub.Close()
	})
	// The host secret as cmd/chat derives it in Momento mode: every
	// instance's the same.
	secret, _ := b.HostSecret()
	so := chat.ServiceOptions{Store: in.store, Hub: in.hub, Relay: broker, HostSecret: secret}
	if opts.svc != nil {
		opts.svc(&so)
	}
	in.svc = chat.NewServiceWith(so)
	// The broker is live once the server sees its subscription.
	waitFor(t, "the instance's subscription", func() bool { return srv.Subscribers("chat", topic) > subscribed })
	return in
}

// waitFor polls cond, which reads state of another process-like party (the
// test server) that offers no channel to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// collect reads a stream until it holds n messages (backlog included),
// passing over room events.
func collect(t *testing.T, st *chat.Stream, n int) []chat.Message {
	t.Helper()
	got := append([]chat.Message(nil), st.Backlog...)
	timeout := time.After(10 * time.Second)
	var evs []*chat.Event
	for len(got) < n {
		select {
		case <-st.Ready():
			var ok bool
			if evs, _, ok = st.Take(evs[:0]); !ok {
				t.Fatalf("stream dropped after %d of %d messages", len(got), n)
			}
			for _, e := range evs {
				if e.Kind == chat.KindMessage {
					got = append(got, e.Message)
				}
			}
		case <-timeout:
			t.Fatalf("%d of %d messages within 10s", len(got), n)
		}
	}
	return got
}

// join opens a stream of room on in, closed when the test ends.
func join(t *testing.T, in *instance, room chat.Room) *chat.Stream {
	t.Helper()
	st, err := in.svc.Join(t.Context(), room, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func ids(msgs []chat.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID.String()
	}
	return out
}

func TestPostOnOneInstanceReachesAStreamOnAnother(t *testing.T) {
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "lobby")
	posted, err := a.svc.Post(t.Context(), "lobby", "alice", "こんにちは 👋")
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, st, 1)
	if diff := cmp.Diff([]chat.Message{posted}, got); diff != "" {
		t.Errorf("stream on B (-posted on A +received):\n%s", diff)
	}
}

// A message too big for a topic message (4 KB) travels as a reference and
// is read from the list.
func TestLargeMessageCrossesInstances(t *testing.T) {
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "big")
	text := strings.Repeat("字", chat.MaxTextChars) // 6000 bytes of UTF-8
	posted, err := a.svc.Post(t.Context(), "big", "alice", text)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, st, 1); got[0].ID != posted.ID || got[0].Text != text {
		t.Errorf("B got %s (%d bytes), want %s (%d bytes)", got[0].ID, len(got[0].Text), posted.ID, len(text))
	}
}

// Concurrent posts on two instances land in one order that every stream
// and every history read agree on.
func TestConcurrentPostsOnTwoInstancesAgreeOnOneOrder(t *testing.T) {
	const perInstance = 40
	srv := momentotest.Start(t)
	insts := []*instance{newInstance(t, srv), newInstance(t, srv)}
	var streams []*chat.Stream
	for _, in := range insts {
		for range 2 {
			streams = append(streams, join(t, in, "race"))
		}
	}
	var wg sync.WaitGroup
	for i, in := range insts {
		for p := range 2 {
			wg.Go(func() {
				for n := range perInstance / 2 {
					if _, err := in.svc.Post(context.Background(), "race", fmt.Sprint("i", i, "p", p), fmt.Sprint(n)); err != nil {
						t.Errorf("Post: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	history, err := insts[1].svc.History(t.Context(), "race")
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2*perInstance {
		t.Fatalf("history holds %d messages, want %d", len(history), 2*perInstance)
	}
	for i, st := range streams {
		if diff := cmp.Diff(ids(history), ids(collect(t, st, len(history)))); diff != "" {
			t.Errorf("stream %d (-history +stream):\n%s", i, diff)
		}
	}
}

// The test server goes away mid-stream and during posts: posts fail with
// ErrUnavailable while it is down, streams stay open, and once it is back
// every acknowledged message reaches every stream exactly once, in order.
func TestOutageLosesNothingAcknowledged(t *testing.T) {
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "r")

	var acked []chat.Message
	post := func(in *instance, text string) error {
		m, err := in.svc.Post(t.Context(), "r", "u", text)
		if err == nil {
			acked = append(acked, m)
		}
		return err
	}
	for i := range 3 {
		if err := post(a, fmt.Sprint("before ", i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	if err := post(a, "during"); err == nil {
		t.Errorf("a post while Momento is down succeeded")
	} else if !strings.Contains(err.Error(), chat.ErrUnavailable.Error()) {
		t.Errorf("a post while Momento is down: %v, want ErrUnavailable", err)
	}
	if err := a.svc.Ready(t.Context()); err == nil {
		t.Errorf("Ready while Momento is down: nil")
	}
	// The broker must not spin: each failed subscribe waits twice as long
	// as the one before.
	for len(b.retries) > 0 {
		<-b.retries // announced before the outage
	}
	var waits []time.Duration
	for len(waits) < 4 {
		select {
		case d := <-b.retries:
			waits = append(waits, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("the broker announced %v in 10s of outage, want 4 retries", waits)
		}
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < 2*waits[i-1] && waits[i] < 5*time.Second {
			t.Errorf("retry waits %v in an outage: want each twice the one before", waits)
			break
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both instances subscribed again", func() bool { return srv.Subscribers("chat", topic) >= 2 })
	// The cache clients reconnect on their own schedule: like any client,
	// retry a post that was refused (it was not acknowledged).
	for i := range 3 {
		waitFor(t, "a post to be accepted", func() bool {
			return post([]*instance{a, b}[i%2], fmt.Sprint("after ", i)) == nil
		})
	}
	if diff := cmp.Diff(ids(acked), ids(collect(t, st, len(acked)))); diff != "" {
		t.Errorf("stream across the outage (-acknowledged +received):\n%s", diff)
	}
}

// SDK v1.38.0 lets a TopicClient subscribe about 400 times in its life; the
// broker replaces its client before then and keeps delivering.
func TestManyResubscribes(t *testing.T) {
	if testing.Short() {
		t.Skip("450 subscribe cycles")
	}
	srv := momentotest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	st := join(t, b, "r")
	for range 450 {
		n := b.subscribes.Load()
		srv.DropSubscriptions()
		waitFor(t, "a resubscription", func() bool {
			return b.subscribes.Load() > n && srv.Subscribers("chat", topic) >= 2
		})
	}
	if total := b.subscribes.Load(); total < 450 {
		t.Fatalf("%d subscribe calls, want over 450", total)
	}
	posted, err := a.svc.Post(t.Context(), "r", "u", "still here")
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, st, 1); got[0].ID != posted.ID {
		t.Errorf("after 450 resubscriptions B got %s, want %s", got[0].ID, posted.ID)
	}
}

// Items written by the original Socket.io app carry only username and
// message; they load, first, and new messages follow them.
func TestLegacyItemsLoad(t *testing.T) {
	srv := momentotest.Start(t)
	in := newInstance(t, srv)
	cc, err := sdk.NewCacheClient(momento.CacheConfig(), srv.Credential(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, item := range []string{`{"username":"old","message":"from the old app"}`, `not json`} {
		if _, err := cc.ListPushBack(t.Context(), &sdk.ListPushBackRequest{
			CacheName: "chat", ListName: "legacy", Value: sdk.String(item),
			Ttl: &utils.CollectionTtl{Ttl: time.Hour, RefreshTtl: true},
		}); err != nil {
			t.Fatal(err)
		}
	}
	posted, err := in.svc.Post(t.Context(), "legacy", "new", "hello")
	if err != nil {
		t.Fatal(err)
	}
	got, err := in.svc.History(t.Context(), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.Message{{Room: "legacy", Username: "old", Text: "from the old app"}, posted}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// Run against real Momento when MOMENTO_API_KEY is set.
func TestRealMomento(t *testing.T) {
	key := os.Getenv("MOMENTO_API_KEY")
	if key == "" {
		t.Skip("MOMENTO_API_KEY is not set")
	}
	b := open(t, momento.Config{APIKey: key, Cache: "chat-test", TTL: time.Minute, Limit: 10})
	room := chat.Room(fmt.Sprint("test-", time.Now().UnixNano()))
	m, err := b.Store().Append(t.Context(), chat.Message{Room: room, Username: "ci", Text: "hello", Time: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Store().History(t.Context(), room)
	if err != nil || len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("History = %v, %v; want the one message %s", got, err, m.ID)
	}
}
