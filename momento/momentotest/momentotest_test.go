package momentotest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/momentohq/client-sdk-go/auth"
	"github.com/momentohq/client-sdk-go/config"
	"github.com/momentohq/client-sdk-go/config/logger"
	"github.com/momentohq/client-sdk-go/config/retry"
	"github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"
	"github.com/momentohq/client-sdk-go/utils"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sessionchat/sessionchat/chat/chattest"
	chatmomento "github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

const testCache = "chat"

// Helpers.

func cacheClient(t *testing.T, creds auth.CredentialProvider) momento.CacheClient {
	t.Helper()
	cfg := config.LaptopLatestWithLogger(logger.NewNoopMomentoLoggerFactory())
	cc, err := momento.NewCacheClient(cfg, creds, time.Hour)
	if err != nil {
		t.Fatalf("NewCacheClient: %v", err)
	}
	t.Cleanup(cc.Close)
	return cc
}

// topicClient returns a topic client that never reconnects by itself, so
// stream errors reach Item and Event.
//
// It is never closed: in SDK v1.38.0 TopicClient.Close closes a channel that
// a pool goroutine may be sending on (static_stream_grpc_manager_pool.go:57
// vs :123), which the race detector reports every time and which can panic.
// Each test leaks one idle client instead; subscriptions still end with the
// test's context.
func topicClient(t *testing.T, creds auth.CredentialProvider) momento.TopicClient {
	t.Helper()
	cfg := config.TopicsDefaultWithLogger(logger.NewNoopMomentoLoggerFactory()).
		WithRetryStrategy(retry.NewNeverRetryStrategy())
	tc, err := momento.NewTopicClient(cfg, creds)
	if err != nil {
		t.Fatalf("NewTopicClient: %v", err)
	}
	return tc
}

// startWithCache starts a server with testCache created and returns it with
// a cache client and a topic client.
func startWithCache(t *testing.T, opts ...momentotest.Option) (*momentotest.Server, momento.CacheClient, momento.TopicClient) {
	t.Helper()
	s := momentotest.Start(t, opts...)
	s.CreateCache(testCache)
	return s, cacheClient(t, s.Credential()), topicClient(t, s.Credential())
}

func errCode(err error) string {
	var me momento.MomentoError
	if errors.As(err, &me) {
		return me.Code()
	}
	return fmt.Sprintf("non-Momento error %v", err)
}

func wantErrCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %s", what, code)
	}
	if got := errCode(err); got != code {
		t.Fatalf("%s: got %s (%v), want %s", what, got, err, code)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func push(t *testing.T, cc momento.CacheClient, list, value string, truncate uint32, ttl *utils.CollectionTtl) int {
	t.Helper()
	resp := must[responses.ListPushBackResponse](t, "ListPushBack "+value)(cc.ListPushBack(t.Context(), &momento.ListPushBackRequest{
		CacheName: testCache, ListName: list, Value: momento.String(value),
		TruncateFrontToSize: truncate, Ttl: ttl,
	}))
	return int(resp.(*responses.ListPushBackSuccess).ListLength())
}

// fetch returns the list slice, or nil for a miss.
func fetch(t *testing.T, cc momento.CacheClient, list string, start, end *int32) []string {
	t.Helper()
	resp := must[responses.ListFetchResponse](t, "ListFetch")(cc.ListFetch(t.Context(), &momento.ListFetchRequest{
		CacheName: testCache, ListName: list, StartIndex: start, EndIndex: end,
	}))
	switch r := resp.(type) {
	case *responses.ListFetchHit:
		return r.ValueList()
	case *responses.ListFetchMiss:
		return nil
	}
	t.Fatalf("ListFetch: unexpected response %T", resp)
	return nil
}

func listLength(t *testing.T, cc momento.CacheClient, list string) (int, bool) {
	t.Helper()
	resp := must[responses.ListLengthResponse](t, "ListLength")(cc.ListLength(t.Context(), &momento.ListLengthRequest{
		CacheName: testCache, ListName: list,
	}))
	if hit, ok := resp.(*responses.ListLengthHit); ok {
		return int(hit.Length()), true
	}
	return 0, false
}

// get returns the value at key and whether it was a hit.
func get(t *testing.T, cc momento.CacheClient, key string) (string, bool) {
	t.Helper()
	resp := must[responses.GetResponse](t, "Get")(cc.Get(t.Context(), &momento.GetRequest{
		CacheName: testCache, Key: momento.String(key),
	}))
	if hit, ok := resp.(*responses.GetHit); ok {
		return hit.ValueString(), true
	}
	return "", false
}

func increment(cc momento.CacheClient, ctx context.Context, key string, amount int64, ttl time.Duration) (int64, error) {
	resp, err := cc.Increment(ctx, &momento.IncrementRequest{
		CacheName: testCache, Field: momento.String(key), Amount: amount,
		Ttl: &utils.CollectionTtl{Ttl: ttl},
	})
	if err != nil {
		return 0, err
	}
	return resp.(*responses.IncrementSuccess).Value(), nil
}

func publish(t *testing.T, tc momento.TopicClient, topic string, value momento.TopicValue) {
	t.Helper()
	_, err := tc.Publish(t.Context(), &momento.TopicPublishRequest{CacheName: testCache, TopicName: topic, Value: value})
	if err != nil {
		t.Fatalf("Publish %v: %v", value, err)
	}
}

// subscribe subscribes; a fresh subscription's opening discontinuity
// (see TestFreshSubscribe) is read and checked here, so the next event is
// the topic's latest retained item, if any, or what comes next.
func subscribe(t *testing.T, tc momento.TopicClient, req momento.TopicSubscribeRequest) momento.TopicSubscription {
	t.Helper()
	sub := subscribeRaw(t, tc, req)
	if req.ResumeAtTopicSequenceNumber == 0 {
		d := nextDiscontinuity(t, sub)
		if d.GetLastKnownSequenceNumber() != 0 || d.GetNewSequencePage() == 0 {
			t.Fatalf("fresh subscription: got discontinuity %+v, want last 0 and a page", d)
		}
	}
	return sub
}

// subscribeRaw subscribes and leaves every event to the caller.
func subscribeRaw(t *testing.T, tc momento.TopicClient, req momento.TopicSubscribeRequest) momento.TopicSubscription {
	t.Helper()
	if req.CacheName == "" {
		req.CacheName = testCache
	}
	sub, err := tc.Subscribe(t.Context(), &req)
	if err != nil {
		t.Fatalf("Subscribe %+v: %v", req, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// nextEvent returns the next event that is not a heartbeat. Event only
// checks its ctx between messages, so servers in these tests send
// heartbeats often.
func nextEvent(t *testing.T, sub momento.TopicSubscription) momento.TopicEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for {
		ev, err := sub.Event(ctx)
		if err != nil {
			t.Fatalf("Event: %v", err)
		}
		if _, ok := ev.(momento.TopicHeartbeat); !ok {
			return ev
		}
	}
}

func nextItem(t *testing.T, sub momento.TopicSubscription) momento.TopicItem {
	t.Helper()
	ev := nextEvent(t, sub)
	it, ok := ev.(momento.TopicItem)
	if !ok {
		t.Fatalf("got %T %+v, want a TopicItem", ev, ev)
	}
	return it
}

func nextDiscontinuity(t *testing.T, sub momento.TopicSubscription) momento.TopicDiscontinuity {
	t.Helper()
	ev := nextEvent(t, sub)
	d, ok := ev.(momento.TopicDiscontinuity)
	if !ok {
		t.Fatalf("got %T %+v, want a TopicDiscontinuity", ev, ev)
	}
	return d
}

// wantItems reads len(want) items and checks their text and sequence
// numbers; it returns their page.
func wantItems(t *testing.T, sub momento.TopicSubscription, want ...string) uint64 {
	t.Helper()
	var page uint64
	for _, w := range want {
		text, seq, _ := strings.Cut(w, "#")
		it := nextItem(t, sub)
		got := fmt.Sprintf("%v#%d", it.GetValue(), it.GetTopicSequenceNumber())
		if got != text+"#"+seq {
			t.Fatalf("got item %s, want %s", got, w)
		}
		if page != 0 && it.GetTopicSequencePage() != page {
			t.Fatalf("item %s: page %d, want %d like the others", w, it.GetTopicSequencePage(), page)
		}
		page = it.GetTopicSequencePage()
	}
	return page
}

// waitFor polls cond: subscription counts change when the server notices a
// closed stream, and nothing signals that.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newFakeClock() *chattest.Clock {
	return chattest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
}

func ptr(i int32) *int32 { return &i }

// Cache and control plane.

func TestControlPlane(t *testing.T) {
	s := momentotest.Start(t)
	cc := cacheClient(t, s.Credential())
	ctx := t.Context()

	if _, err := cc.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	resp, err := cc.CreateCache(ctx, &momento.CreateCacheRequest{CacheName: "c1"})
	if _, ok := resp.(*responses.CreateCacheSuccess); err != nil || !ok {
		t.Fatalf("CreateCache: got %T, %v; want CreateCacheSuccess", resp, err)
	}
	resp, err = cc.CreateCache(ctx, &momento.CreateCacheRequest{CacheName: "c1"})
	if _, ok := resp.(*responses.CreateCacheAlreadyExists); err != nil || !ok {
		t.Fatalf("CreateCache again: got %T, %v; want CreateCacheAlreadyExists", resp, err)
	}
	s.CreateCache("c0")
	list, err := cc.ListCaches(ctx, &momento.ListCachesRequest{})
	if err != nil {
		t.Fatalf("ListCaches: %v", err)
	}
	var names []string
	for _, ci := range list.(*responses.ListCachesSuccess).Caches() {
		names = append(names, ci.Name())
	}
	if want := []string{"c0", "c1"}; !slices.Equal(names, want) {
		t.Errorf("ListCaches: got %q, want %q", names, want)
	}

	if _, err := cc.DeleteCache(ctx, &momento.DeleteCacheRequest{CacheName: "c1"}); err != nil {
		t.Fatalf("DeleteCache: %v", err)
	}
	_, err = cc.Set(ctx, &momento.SetRequest{CacheName: "c1", Key: momento.String("k"), Value: momento.String("v")})
	wantErrCode(t, "Set after DeleteCache", err, momento.NotFoundError)
	// The SDK turns NotFound from DeleteCache into success.
	if _, err := cc.DeleteCache(ctx, &momento.DeleteCacheRequest{CacheName: "c1"}); err != nil {
		t.Fatalf("DeleteCache of a missing cache: %v", err)
	}
}

func TestLists(t *testing.T) {
	_, cc, _ := startWithCache(t)

	var lengths []int
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		lengths = append(lengths, push(t, cc, "room", v, 3, nil))
	}
	if want := []int{1, 2, 3, 3, 3}; !slices.Equal(lengths, want) {
		t.Errorf("lengths after pushes with truncate 3: got %v, want %v", lengths, want)
	}
	for i := range 4 {
		push(t, cc, "long", fmt.Sprint(i), 0, nil)
	}

	for _, tc := range []struct {
		name       string
		list       string
		start, end *int32
		want       []string // nil = miss
	}{
		{"all", "room", nil, nil, []string{"c", "d", "e"}},
		{"tail of 2", "room", ptr(-2), nil, []string{"d", "e"}},
		{"tail longer than list", "room", ptr(-50), nil, []string{"c", "d", "e"}},
		{"start 1 end 3", "long", ptr(1), ptr(3), []string{"1", "2"}},
		{"end -1", "long", nil, ptr(-1), []string{"0", "1", "2"}},
		{"start -2 end -1", "long", ptr(-2), ptr(-1), []string{"2"}},
		{"end beyond length", "long", ptr(2), ptr(99), []string{"2", "3"}},
		{"end 0 is an empty range, a miss", "long", nil, ptr(0), nil},
		{"start after end", "long", ptr(3), ptr(1), nil},
		{"missing list", "nope", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fetch(t, cc, tc.list, tc.start, tc.end); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("ListFetch(%s): got %q, want %q", tc.list, got, tc.want)
			}
		})
	}

	if n, ok := listLength(t, cc, "long"); !ok || n != 4 {
		t.Errorf("ListLength(long): got %d, %v; want 4, hit", n, ok)
	}
	if _, ok := listLength(t, cc, "nope"); ok {
		t.Errorf("ListLength(nope): got a hit, want a miss")
	}
	if _, err := cc.Delete(t.Context(), &momento.DeleteRequest{CacheName: testCache, Key: momento.String("room")}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := fetch(t, cc, "room", nil, nil); got != nil {
		t.Errorf("ListFetch after Delete: got %q, want a miss", got)
	}

	// A list is not a scalar.
	_, err := cc.Get(t.Context(), &momento.GetRequest{CacheName: testCache, Key: momento.String("long")})
	wantErrCode(t, "Get of a list", err, momento.FailedPreconditionError)
}

func TestListTTL(t *testing.T) {
	clock := newFakeClock()
	_, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now))
	refresh := &utils.CollectionTtl{Ttl: 10 * time.Second, RefreshTtl: true}
	keep := &utils.CollectionTtl{Ttl: 10 * time.Second, RefreshTtl: false}

	push(t, cc, "refreshed", "1", 0, refresh)
	push(t, cc, "kept", "1", 0, keep)
	push(t, cc, "default", "1", 0, nil) // client default TTL (1h), refreshed
	clock.Advance(6 * time.Second)
	push(t, cc, "refreshed", "2", 0, refresh) // expires at 16s now
	push(t, cc, "kept", "2", 0, keep)         // still expires at 10s
	clock.Advance(6 * time.Second)            // 12s

	if n, ok := listLength(t, cc, "refreshed"); !ok || n != 2 {
		t.Errorf("refreshed list at 12s: got %d, %v; want 2, hit", n, ok)
	}
	if _, ok := listLength(t, cc, "kept"); ok {
		t.Errorf("list without refresh at 12s: got a hit, want expired")
	}
	clock.Advance(5 * time.Second) // 17s
	if got := fetch(t, cc, "refreshed", nil, nil); got != nil {
		t.Errorf("refreshed list at 17s: got %q, want expired", got)
	}
	if n, ok := listLength(t, cc, "default"); !ok || n != 1 {
		t.Errorf("list with the default TTL at 17s: got %d, %v; want 1, hit", n, ok)
	}
	// A push after expiry starts a new list.
	if n := push(t, cc, "kept", "3", 0, keep); n != 1 {
		t.Errorf("push onto an expired list: got length %d, want 1", n)
	}
}

func TestListRemoveValue(t *testing.T) {
	clock := newFakeClock()
	_, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now))
	ctx := t.Context()
	remove := func(list, value string) {
		t.Helper()
		resp := must[responses.ListRemoveValueResponse](t, "ListRemoveValue "+value)(cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{
			CacheName: testCache, ListName: list, Value: momento.String(value),
		}))
		if _, ok := resp.(*responses.ListRemoveValueSuccess); !ok {
			t.Fatalf("ListRemoveValue: unexpected response %T", resp)
		}
	}
	ttl := &utils.CollectionTtl{Ttl: 10 * time.Second, RefreshTtl: true}
	for _, v := range []string{"a", "b", "a", "c", "a"} {
		push(t, cc, "room", v, 0, ttl)
	}
	remove("room", "a") // every one
	if got, want := fetch(t, cc, "room", nil, nil), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after removing a: got %q, want %q", got, want)
	}
	remove("room", "x") // none: no change
	remove("room", "B") // exact bytes only
	if got, want := fetch(t, cc, "room", nil, nil), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after removing values not there: got %q, want %q", got, want)
	}
	remove("nope", "a") // a missing list succeeds too

	// The list keeps its expiry: 10s from the last push.
	clock.Advance(9 * time.Second)
	remove("room", "b")
	if n, ok := listLength(t, cc, "room"); !ok || n != 1 {
		t.Errorf("ListLength at 9s: got %d, %v; want 1, hit", n, ok)
	}
	clock.Advance(2 * time.Second)
	if _, ok := listLength(t, cc, "room"); ok {
		t.Errorf("ListLength at 11s: got a hit; ListRemoveValue must not refresh the TTL")
	}

	// Removing the last element leaves no list: a push starts a new one
	// with the push's TTL.
	push(t, cc, "one", "a", 0, &utils.CollectionTtl{Ttl: time.Second})
	remove("one", "a")
	if _, ok := listLength(t, cc, "one"); ok {
		t.Errorf("ListLength of an emptied list: got a hit, want a miss")
	}

	// Not on a scalar.
	if _, err := cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("k"), Value: momento.String("a")}); err != nil {
		t.Fatal(err)
	}
	_, err := cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: testCache, ListName: "k", Value: momento.String("a")})
	wantErrCode(t, "ListRemoveValue on a scalar", err, momento.FailedPreconditionError)
	_, err = cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: "nope", ListName: "room", Value: momento.String("a")})
	wantErrCode(t, "ListRemoveValue on an unknown cache", err, momento.NotFoundError)
}

func TestUpdateTTL(t *testing.T) {
	clock := newFakeClock()
	_, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now))
	ctx := t.Context()
	ttlOf := func(key string) (time.Duration, bool) {
		t.Helper()
		resp := must[responses.ItemGetTtlResponse](t, "ItemGetTtl")(cc.ItemGetTtl(ctx, &momento.ItemGetTtlRequest{CacheName: testCache, Key: momento.String(key)}))
		if hit, ok := resp.(*responses.ItemGetTtlHit); ok {
			return hit.RemainingTtl(), true
		}
		return 0, false
	}
	if _, err := cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("k"), Value: momento.String("v"), Ttl: time.Minute}); err != nil {
		t.Fatal(err)
	}
	push(t, cc, "list", "x", 0, &utils.CollectionTtl{Ttl: time.Minute})
	clock.Advance(10 * time.Second)
	if d, ok := ttlOf("k"); !ok || d != 50*time.Second {
		t.Errorf("ItemGetTtl(k) after 10s of 1m: got %v, %v; want 50s, hit", d, ok)
	}
	if _, ok := ttlOf("nope"); ok {
		t.Errorf("ItemGetTtl(nope): got a hit, want a miss")
	}

	for _, tc := range []struct {
		name string
		call func() (any, error)
		want string // response type
		left time.Duration
	}{
		{"overwrite shorter", func() (any, error) {
			return cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("k"), Ttl: 5 * time.Second})
		}, "*responses.UpdateTtlSet", 5 * time.Second},
		{"overwrite longer", func() (any, error) {
			return cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("k"), Ttl: time.Hour})
		}, "*responses.UpdateTtlSet", time.Hour},
		{"increase to less", func() (any, error) {
			return cc.IncreaseTtl(ctx, &momento.IncreaseTtlRequest{CacheName: testCache, Key: momento.String("k"), Ttl: time.Minute})
		}, "*responses.IncreaseTtlNotSet", time.Hour},
		{"decrease", func() (any, error) {
			return cc.DecreaseTtl(ctx, &momento.DecreaseTtlRequest{CacheName: testCache, Key: momento.String("k"), Ttl: time.Minute})
		}, "*responses.DecreaseTtlSet", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.call()
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", resp); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if d, ok := ttlOf("k"); !ok || d != tc.left {
				t.Errorf("TTL left: got %v, %v; want %v", d, ok, tc.left)
			}
		})
	}

	// A list's TTL too; then it expires by it.
	resp, err := cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("list"), Ttl: 2 * time.Second})
	if _, ok := resp.(*responses.UpdateTtlSet); err != nil || !ok {
		t.Fatalf("UpdateTtl of a list: %T, %v; want set", resp, err)
	}
	clock.Advance(2 * time.Second)
	if _, ok := listLength(t, cc, "list"); ok {
		t.Errorf("list 2s after UpdateTtl(2s): got a hit, want expired")
	}
	resp, err = cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("list"), Ttl: time.Second})
	if _, ok := resp.(*responses.UpdateTtlMiss); err != nil || !ok {
		t.Errorf("UpdateTtl of an expired list: %T, %v; want a miss", resp, err)
	}
	_, err = cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("k"), Ttl: 25 * time.Hour})
	wantErrCode(t, "UpdateTtl above 24h", err, momento.InvalidArgumentError)
}

func TestSweep(t *testing.T) {
	clock := newFakeClock()
	s, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now))
	for _, k := range []string{"a", "b", "c"} {
		if _, err := cc.Set(t.Context(), &momento.SetRequest{
			CacheName: testCache, Key: momento.String(k), Value: momento.String("v"), Ttl: time.Second,
		}); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	push(t, cc, "list", "x", 0, &utils.CollectionTtl{Ttl: time.Minute})
	clock.Advance(2 * time.Second)
	if n := s.Sweep(); n != 3 {
		t.Errorf("Sweep: removed %d items, want 3", n)
	}
	if n := s.StoredItems(testCache); n != 1 {
		t.Errorf("after Sweep: %d items stored, want 1", n)
	}
}

func TestIncrement(t *testing.T) {
	clock := newFakeClock()
	_, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now))
	ctx := t.Context()

	for _, step := range []struct {
		amount, want int64
	}{{1, 1}, {41, 42}, {-1042, -1000}, {0, -1000}} {
		got, err := increment(cc, ctx, "n", step.amount, 10*time.Second)
		if err != nil || got != step.want {
			t.Fatalf("Increment(n, %d): got %d, %v; want %d", step.amount, got, err, step.want)
		}
	}
	if v, ok := get(t, cc, "n"); !ok || v != "-1000" {
		t.Errorf("Get(n): got %q, %v; want the decimal string -1000", v, ok)
	}

	if _, err := cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("s"), Value: momento.String("10")}); err != nil {
		t.Fatal(err)
	}
	if got, err := increment(cc, ctx, "s", 5, time.Minute); err != nil || got != 15 {
		t.Errorf("Increment of a Set \"10\": got %d, %v; want 15", got, err)
	}
	if _, err := cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("s"), Value: momento.String("abc")}); err != nil {
		t.Fatal(err)
	}
	_, err := increment(cc, ctx, "s", 1, time.Minute)
	wantErrCode(t, "Increment of \"abc\"", err, momento.FailedPreconditionError)

	if _, err := increment(cc, ctx, "big", 1<<62, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = increment(cc, ctx, "big", 1<<62, time.Minute)
	wantErrCode(t, "Increment past int64", err, momento.FailedPreconditionError)

	push(t, cc, "list", "x", 0, nil)
	_, err = increment(cc, ctx, "list", 1, time.Minute)
	wantErrCode(t, "Increment of a list", err, momento.FailedPreconditionError)
}

// TestIncrementTTL checks both WithIncrementTTL behaviours on an existing
// counter: keep (the default) and refresh.
func TestIncrementTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []momentotest.Option
		// whether the counter, made at 0s with a 10s TTL and incremented at
		// 6s with a 1m TTL, is alive at 12s
		at12 bool
	}{
		{"default keeps", nil, false},
		{"keep", []momentotest.Option{momentotest.WithIncrementTTL(momentotest.IncrementKeepTTL)}, false},
		{"refresh", []momentotest.Option{momentotest.WithIncrementTTL(momentotest.IncrementRefreshTTL)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			_, cc, _ := startWithCache(t, append(tc.opts, momentotest.WithClock(clock.Now))...)
			ctx := t.Context()
			if _, err := increment(cc, ctx, "n", 1, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			clock.Advance(6 * time.Second)
			// A later increment's own TTL is ignored by keep, even if longer.
			if got, err := increment(cc, ctx, "n", 1, time.Minute); err != nil || got != 2 {
				t.Fatalf("second Increment: got %d, %v; want 2", got, err)
			}
			clock.Advance(6 * time.Second) // 12s
			if _, ok := get(t, cc, "n"); ok != tc.at12 {
				t.Errorf("Get(n) at 12s: hit=%v, want %v", ok, tc.at12)
			}
			if !tc.at12 {
				// Expired: the next increment starts a new counter.
				if got, err := increment(cc, ctx, "n", 1, time.Minute); err != nil || got != 1 {
					t.Errorf("Increment of the expired counter: got %d, %v; want 1", got, err)
				}
				return
			}
			clock.Advance(61 * time.Second) // 73s: past 6s + 1m
			if _, ok := get(t, cc, "n"); ok {
				t.Errorf("Get(n) a minute after the refresh: got a hit, want expired")
			}
		})
	}
	if _, err := momentotest.New(momentotest.WithIncrementTTL(7)); err == nil {
		t.Error("New(WithIncrementTTL(7)): got no error")
	}
	for _, s := range []string{"keep", "refresh"} {
		if m, err := momentotest.ParseIncrementTTL(s); err != nil || m.String() != s {
			t.Errorf("ParseIncrementTTL(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := momentotest.ParseIncrementTTL("sometimes"); err == nil {
		t.Error("ParseIncrementTTL(sometimes): got no error")
	}
}

func TestSetIf(t *testing.T) {
	_, cc, _ := startWithCache(t)
	ctx := t.Context()
	key, val := momento.String("k"), func(v string) momento.Value { return momento.String(v) }
	stored := func(what string, resp any, err error, want bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got bool
		switch resp.(type) {
		case *responses.SetIfEqualStored, *responses.SetIfAbsentStored, *responses.SetIfPresentStored, *responses.SetIfNotEqualStored:
			got = true
		}
		if got != want {
			t.Errorf("%s: %T, want stored=%v", what, resp, want)
		}
	}
	r1, err := cc.SetIfPresent(ctx, &momento.SetIfPresentRequest{CacheName: testCache, Key: key, Value: val("x")})
	stored("SetIfPresent on a missing key", r1, err, false)
	r2, err := cc.SetIfAbsent(ctx, &momento.SetIfAbsentRequest{CacheName: testCache, Key: key, Value: val("1")})
	stored("SetIfAbsent on a missing key", r2, err, true)
	r2, err = cc.SetIfAbsent(ctx, &momento.SetIfAbsentRequest{CacheName: testCache, Key: key, Value: val("2")})
	stored("SetIfAbsent on a present key", r2, err, false)
	r3, err := cc.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: key, Value: val("3"), Equal: val("2")})
	stored("SetIfEqual with another value", r3, err, false)
	r3, err = cc.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: key, Value: val("3"), Equal: val("1")})
	stored("SetIfEqual with the value", r3, err, true)
	r4, err := cc.SetIfNotEqual(ctx, &momento.SetIfNotEqualRequest{CacheName: testCache, Key: key, Value: val("4"), NotEqual: val("3")})
	stored("SetIfNotEqual with the value", r4, err, false)
	if v, ok := get(t, cc, "k"); !ok || v != "3" {
		t.Errorf("Get(k) = %q, %v; want 3", v, ok)
	}
	// A counter is a decimal string: SetIfEqual can replace it.
	if _, err := increment(cc, ctx, "n", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	r3, err = cc.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: momento.String("n"), Value: val("100"), Equal: val("1")})
	stored("SetIfEqual on a counter", r3, err, true)
	if got, err := increment(cc, ctx, "n", 1, time.Minute); err != nil || got != 101 {
		t.Errorf("Increment after SetIfEqual = %d, %v; want 101", got, err)
	}
}

func TestUnknownCacheAndMethod(t *testing.T) {
	_, cc, tc := startWithCache(t)
	ctx := t.Context()

	_, err := cc.ListPushBack(ctx, &momento.ListPushBackRequest{CacheName: "nope", ListName: "l", Value: momento.String("v")})
	wantErrCode(t, "ListPushBack", err, momento.NotFoundError)
	_, err = cc.ListFetch(ctx, &momento.ListFetchRequest{CacheName: "nope", ListName: "l"})
	wantErrCode(t, "ListFetch", err, momento.NotFoundError)
	_, err = tc.Publish(ctx, &momento.TopicPublishRequest{CacheName: "nope", TopicName: "t", Value: momento.String("v")})
	wantErrCode(t, "Publish", err, momento.NotFoundError)
	_, err = tc.Subscribe(ctx, &momento.TopicSubscribeRequest{CacheName: "nope", TopicName: "t"})
	wantErrCode(t, "Subscribe", err, momento.NotFoundError)

	// Methods the server does not implement are Unimplemented.
	_, err = cc.ListPushFront(ctx, &momento.ListPushFrontRequest{CacheName: testCache, ListName: "l", Value: momento.String("v")})
	wantErrCode(t, "ListPushFront", err, momento.BadRequestError)
}

func TestLimits(t *testing.T) {
	_, cc, tc := startWithCache(t)
	ctx := t.Context()

	// Collection elements: 128 KiB.
	element := strings.Repeat("x", 128<<10)
	push(t, cc, "elements", element, 0, nil)
	_, err := cc.ListPushBack(ctx, &momento.ListPushBackRequest{CacheName: testCache, ListName: "elements", Value: momento.String(element + "x")})
	wantErrCode(t, "push of 128 KiB + 1", err, momento.LimitExceededError)

	// Items: 5 MiB including the key. 39 full elements + the key fit.
	for range 39 {
		push(t, cc, "big", element, 0, nil)
	}
	_, err = cc.ListPushBack(ctx, &momento.ListPushBackRequest{CacheName: testCache, ListName: "big", Value: momento.String(element)})
	wantErrCode(t, "push past 5 MiB", err, momento.LimitExceededError)
	if n, _ := listLength(t, cc, "big"); n != 39 {
		t.Errorf("after the refused push: length %d, want 39", n)
	}
	// With truncation the same push fits.
	if n := push(t, cc, "big", element, 39, nil); n != 39 {
		t.Errorf("push with truncate 39: length %d, want 39", n)
	}
	// Beyond the SDK's 5,243,000-byte message limit the SDK refuses by itself.
	_, err = cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("huge"), Value: momento.Bytes(make([]byte, 6<<20))})
	wantErrCode(t, "Set of 6 MiB", err, momento.LimitExceededError)

	// Topic messages: 4 KiB.
	publish(t, tc, "t", momento.String(strings.Repeat("y", 4<<10)))
	_, err = tc.Publish(ctx, &momento.TopicPublishRequest{CacheName: testCache, TopicName: "t", Value: momento.Bytes(make([]byte, 4<<10+1))})
	wantErrCode(t, "Publish of 4 KiB + 1", err, momento.LimitExceededError)

	// TTL: 24 hours.
	_, err = cc.ListPushBack(ctx, &momento.ListPushBackRequest{
		CacheName: testCache, ListName: "l", Value: momento.String("v"), Ttl: &utils.CollectionTtl{Ttl: 25 * time.Hour},
	})
	wantErrCode(t, "push with a 25h TTL", err, momento.InvalidArgumentError)
}

func TestSubscriptionLimit(t *testing.T) {
	_, _, tc := startWithCache(t, momentotest.WithLimits(momentotest.Limits{MaxSubscriptions: 2}))
	subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "a"})
	subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "b"})
	_, err := tc.Subscribe(t.Context(), &momento.TopicSubscribeRequest{CacheName: testCache, TopicName: "c"})
	wantErrCode(t, "third Subscribe", err, momento.LimitExceededError)
}

func TestCredentials(t *testing.T) {
	const key = "opaque-api-key"
	s := momentotest.Start(t, momentotest.WithAuthToken(key))
	v1 := base64.StdEncoding.EncodeToString([]byte(`{"endpoint":"cell-1.example.com","api_key":"` + key + `"}`))

	for _, tc := range []struct {
		name, key string
		wantCode  string // "" = success
	}{
		{"opaque key", key, ""},
		{"v1 key carrying the key", v1, ""},
		{"wrong key", "other-key", momento.AuthenticationError},
		{"no key", "", momento.AuthenticationError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := chatmomento.Credentials(tc.key, s.Addr())
			if err != nil {
				t.Fatalf("Credentials: %v", err)
			}
			cc := cacheClient(t, creds)
			_, err = cc.CreateCache(t.Context(), &momento.CreateCacheRequest{CacheName: "c"})
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("CreateCache: %v", err)
				}
				return
			}
			wantErrCode(t, "CreateCache", err, tc.wantCode)
			_, err = cc.Ping(t.Context())
			wantErrCode(t, "Ping", err, tc.wantCode)
		})
	}
	if _, err := chatmomento.Credentials("", "no-port"); err == nil {
		t.Errorf("Credentials(no-port): got no error")
	}
}

// TestWire checks what the SDK hides: headers, trailers and status codes.
func TestWire(t *testing.T) {
	s := momentotest.Start(t)
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	invoke := func(path string, md metadata.MD, fill func(protoreflect.Message)) (metadata.MD, error) {
		t.Helper()
		name := protoreflect.FullName(strings.Replace(path[1:], "/", ".", 1))
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		if err != nil {
			t.Fatalf("descriptor %s: %v", name, err)
		}
		m := d.(protoreflect.MethodDescriptor)
		req, resp := dynamicpb.NewMessage(m.Input()), dynamicpb.NewMessage(m.Output())
		if fill != nil {
			fill(req)
		}
		var trailer metadata.MD
		ctx := metadata.NewOutgoingContext(t.Context(), md)
		err = conn.Invoke(ctx, path, req, resp, grpc.Trailer(&trailer))
		return trailer, err
	}
	setString := func(field, v string) func(protoreflect.Message) {
		return func(m protoreflect.Message) {
			m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(field)), protoreflect.ValueOfString(v))
		}
	}

	for _, tc := range []struct {
		name       string
		path       string
		md         metadata.MD
		fill       func(protoreflect.Message)
		code       codes.Code
		errTrailer string
	}{
		{"create", "/control_client.ScsControl/CreateCache", nil, setString("cache_name", "c"), codes.OK, ""},
		{"create again", "/control_client.ScsControl/CreateCache", nil, setString("cache_name", "c"), codes.AlreadyExists, "cache_already_exists"},
		{"no cache header", "/cache_client.Scs/ListLength", nil, nil, codes.InvalidArgument, ""},
		{"unknown cache", "/cache_client.Scs/ListLength", metadata.Pairs("cache", "nope"), nil, codes.NotFound, "cache_not_found"},
		{"cache header", "/cache_client.Scs/ListLength", metadata.Pairs("cache", "c"), nil, codes.OK, ""},
		{"no authorization header at all", "/cache_client.Ping/Ping", nil, nil, codes.OK, ""},
		{"unimplemented", "/cache_client.Scs/SetFetch", metadata.Pairs("cache", "c"), nil, codes.Unimplemented, ""},
	} {
		trailer, err := invoke(tc.path, tc.md, tc.fill)
		if got := status.Code(err); got != tc.code {
			t.Errorf("%s: got %v (%v), want %v", tc.name, got, err, tc.code)
		}
		if got := strings.Join(trailer.Get("err"), ","); got != tc.errTrailer {
			t.Errorf("%s: err trailer %q, want %q", tc.name, got, tc.errTrailer)
		}
	}
}

// Topics.

func TestPublishSubscribe(t *testing.T) {
	s, _, tc := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond))
	sub1 := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	sub2 := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	if n := s.Subscribers(testCache, "room"); n != 2 {
		t.Errorf("Subscribers: got %d, want 2", n)
	}

	publish(t, tc, "room", momento.String("hello"))
	publish(t, tc, "room", momento.Bytes{1, 2, 3})
	publish(t, tc, "other", momento.String("elsewhere"))

	for i, sub := range []momento.TopicSubscription{sub1, sub2} {
		first, second := nextItem(t, sub), nextItem(t, sub)
		if got := first.GetValue(); got != momento.String("hello") || first.GetTopicSequenceNumber() != 1 {
			t.Errorf("sub%d first item: got %v#%d, want hello#1", i+1, got, first.GetTopicSequenceNumber())
		}
		if got, ok := second.GetValue().(momento.Bytes); !ok || !slices.Equal(got, []byte{1, 2, 3}) || second.GetTopicSequenceNumber() != 2 {
			t.Errorf("sub%d second item: got %v#%d, want bytes 1,2,3 #2", i+1, second.GetValue(), second.GetTopicSequenceNumber())
		}
		if first.GetTopicSequencePage() == 0 || first.GetTopicSequencePage() != second.GetTopicSequencePage() {
			t.Errorf("sub%d pages: %d, %d; want equal and non-zero", i+1, first.GetTopicSequencePage(), second.GetTopicSequencePage())
		}
	}

	// Item skips heartbeats.
	publish(t, tc, "room", momento.String("third"))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if v, err := sub1.Item(ctx); err != nil || v != momento.String("third") {
		t.Errorf("Item: got %v, %v; want third", v, err)
	}

	sub2.Close()
	waitFor(t, "one subscriber left", func() bool { return s.Subscribers(testCache, "room") == 1 })
	if n := s.SubscribeCalls(); n != 2 {
		t.Errorf("SubscribeCalls: got %d, want 2", n)
	}
}

// TestFreshSubscribe checks what a subscription without a resume point
// gets: a heartbeat (the SDK's Subscribe consumes it, and fails without
// it), a discontinuity giving the page, then the latest retained item, then
// what is published.
func TestFreshSubscribe(t *testing.T) {
	// No periodic heartbeats, so that the events below are all there is.
	_, _, tc := startWithCache(t, momentotest.WithHeartbeat(time.Minute))
	for _, m := range []string{"m1", "m2", "m3"} {
		publish(t, tc, "room", momento.String(m))
	}
	sub := subscribeRaw(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	d := nextDiscontinuity(t, sub)
	if d.GetLastKnownSequenceNumber() != 0 || d.GetNewSequenceNumber() != 2 || d.GetNewSequencePage() == 0 {
		t.Fatalf("first event: discontinuity %+v, want last 0, new 2 (items resume after it) and a page", d)
	}
	if page := wantItems(t, sub, "m3#3"); page != d.GetNewSequencePage() {
		t.Errorf("latest item on page %d, want the discontinuity's %d", page, d.GetNewSequencePage())
	}
	publish(t, tc, "room", momento.String("m4"))
	wantItems(t, sub, "m4#4")

	// An empty topic: the discontinuity, then the next publish.
	empty := subscribeRaw(t, tc, momento.TopicSubscribeRequest{TopicName: "empty"})
	if d := nextDiscontinuity(t, empty); d.GetLastKnownSequenceNumber() != 0 || d.GetNewSequenceNumber() != 0 || d.GetNewSequencePage() == 0 {
		t.Fatalf("empty topic: discontinuity %+v, want last 0, new 0 and a page", d)
	}
	publish(t, tc, "empty", momento.String("e1"))
	wantItems(t, empty, "e1#1")

	// Resuming is inclusive, and sends no discontinuity when nothing is
	// missing: at the last number seen that item comes again.
	again := subscribeRaw(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 4, SequencePage: d.GetNewSequencePage()})
	wantItems(t, again, "m4#4")
}

// TestSequencePages checks that pages are small enough for JavaScript
// numbers (< 2^53; the Node SDK would round nanoseconds) and are seconds,
// like Momento's 1748358253, growing with each topic reset.
func TestSequencePages(t *testing.T) {
	start := time.Now().Unix()
	s, _, tc := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond))
	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	publish(t, tc, "room", momento.String("m1"))
	page := wantItems(t, sub, "m1#1")
	var pages []uint64
	for range 3 {
		s.ResetTopic(testCache, "room")
		pages = append(pages, nextDiscontinuity(t, sub).GetNewSequencePage())
	}
	// Topics started in one second get the next numbers.
	end := uint64(time.Now().Unix()) + 4
	all := append([]uint64{page}, pages...)
	for i, p := range all {
		if p >= 1<<53 || p < uint64(start) || p > end {
			t.Errorf("page %d: %d, want Unix seconds in [%d, %d], below 2^53", i, p, start, end)
		}
		if i > 0 && p <= all[i-1] {
			t.Errorf("page %d: %d, want more than the one before (%d)", i, p, all[i-1])
		}
	}
}

func TestHeartbeats(t *testing.T) {
	_, _, tc := startWithCache(t, momentotest.WithHeartbeat(20*time.Millisecond))
	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "quiet"})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for i := range 3 {
		ev, err := sub.Event(ctx)
		if err != nil {
			t.Fatalf("Event: %v", err)
		}
		if _, ok := ev.(momento.TopicHeartbeat); !ok {
			t.Fatalf("event %d on a quiet topic: got %T, want a heartbeat", i, ev)
		}
	}
	// Heartbeats take no sequence numbers.
	publish(t, tc, "quiet", momento.String("m"))
	wantItems(t, sub, "m#1")
}

func TestResumeAfterRestart(t *testing.T) {
	s, _, tc := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond))
	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	publish(t, tc, "room", momento.String("m1"))
	page := wantItems(t, sub, "m1#1")

	s.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := sub.Event(ctx); err == nil {
		t.Fatal("Event during the outage: got no error")
	}
	if n := s.Subscribers(testCache, "room"); n != 0 {
		t.Errorf("Subscribers after Stop: got %d, want 0", n)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	// A fresh client: the old one's channels have to notice the outage first.
	pub := topicClient(t, s.Credential())
	publish(t, pub, "room", momento.String("m2"))
	publish(t, pub, "room", momento.String("m3"))

	// Resuming is inclusive: from last+1 gets exactly what was missed...
	sub = subscribe(t, pub, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 2, SequencePage: page})
	wantItems(t, sub, "m2#2", "m3#3")
	// ...and from the last seen number (what the SDK itself sends) repeats it.
	sub = subscribe(t, pub, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 1, SequencePage: page})
	wantItems(t, sub, "m1#1", "m2#2", "m3#3")
	publish(t, pub, "room", momento.String("m4"))
	wantItems(t, sub, "m4#4")
}

// TestSDKReconnect shows the SDK's own reconnect (legacy retry strategy):
// it resumes at the last number it received, so that item comes twice.
func TestSDKReconnect(t *testing.T) {
	s, _, _ := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond))
	retryMs := 50
	quiet := logger.NewNoopMomentoLoggerFactory()
	cfg := config.TopicsDefaultWithLogger(quiet).WithRetryStrategy(
		retry.NewLegacyTopicSubscriptionRetryStrategy(retry.LegacyTopicSubscriptionRetryStrategyProps{LoggerFactory: quiet, RetryMs: &retryMs}))
	tc, err := momento.NewTopicClient(cfg, s.Credential())
	if err != nil {
		t.Fatal(err)
	}
	// Not closed: see topicClient.

	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	publish(t, tc, "room", momento.String("m1"))
	wantItems(t, sub, "m1#1")

	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	publish(t, topicClient(t, s.Credential()), "room", momento.String("m2"))

	// The SDK opens the new stream with the ctx given to the Event call that
	// noticed the break, so the reconnected subscription dies with that ctx:
	// read with one long-lived ctx, not one per call as nextEvent does.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var got []string
	for len(got) < 2 {
		ev, err := sub.Event(ctx)
		if err != nil {
			t.Fatalf("Event after %q: %v", got, err)
		}
		if it, ok := ev.(momento.TopicItem); ok {
			got = append(got, fmt.Sprintf("%v#%d", it.GetValue(), it.GetTopicSequenceNumber()))
		}
	}
	if want := []string{"m1#1", "m2#2"}; !slices.Equal(got, want) {
		t.Errorf("items after the SDK reconnected: got %q, want %q", got, want)
	}
	if n := s.SubscribeCalls(); n < 2 {
		t.Errorf("SubscribeCalls: got %d, want at least 2", n)
	}
}

func TestDiscontinuity(t *testing.T) {
	s, _, tc := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond), momentotest.WithRetention(2))
	live := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	// Read each item before the next is published: with a retention of 2,
	// a live subscriber more than 2 behind gets a discontinuity instead.
	var page uint64
	for i := 1; i <= 5; i++ {
		publish(t, tc, "room", momento.String(fmt.Sprintf("m%d", i)))
		page = wantItems(t, live, fmt.Sprintf("m%d#%d", i, i))
	}

	wantDisc := func(t *testing.T, sub momento.TopicSubscription, last, next, page uint64) {
		t.Helper()
		d := nextDiscontinuity(t, sub)
		if d.GetLastKnownSequenceNumber() != last || d.GetNewSequenceNumber() != next || d.GetNewSequencePage() != page {
			t.Fatalf("got discontinuity last=%d new=%d page=%d, want last=%d new=%d page=%d",
				d.GetLastKnownSequenceNumber(), d.GetNewSequenceNumber(), d.GetNewSequencePage(), last, next, page)
		}
	}

	t.Run("retained", func(t *testing.T) {
		sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 4, SequencePage: page})
		wantItems(t, sub, "m4#4", "m5#5")
	})
	t.Run("no longer retained", func(t *testing.T) {
		sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 1, SequencePage: page})
		wantDisc(t, sub, 0, 3, page)
		wantItems(t, sub, "m4#4", "m5#5")
	})
	t.Run("other page", func(t *testing.T) {
		sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 2, SequencePage: page - 1})
		wantDisc(t, sub, 1, 3, page)
		wantItems(t, sub, "m4#4", "m5#5")
	})
	t.Run("beyond the newest", func(t *testing.T) {
		sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 9, SequencePage: page})
		wantDisc(t, sub, 8, 5, page)
		publish(t, tc, "room", momento.String("m6"))
		wantItems(t, sub, "m6#6")
	})
	wantItems(t, live, "m6#6")

	t.Run("topic reset", func(t *testing.T) {
		s.ResetTopic(testCache, "room")
		d := nextDiscontinuity(t, live)
		if d.GetLastKnownSequenceNumber() != 6 || d.GetNewSequenceNumber() != 0 || d.GetNewSequencePage() <= page {
			t.Fatalf("got discontinuity last=%d new=%d page=%d, want last=6 new=0 and a page after %d",
				d.GetLastKnownSequenceNumber(), d.GetNewSequenceNumber(), d.GetNewSequencePage(), page)
		}
		publish(t, tc, "room", momento.String("r1"))
		if newPage := wantItems(t, live, "r1#1"); newPage != d.GetNewSequencePage() {
			t.Errorf("item after reset: page %d, want %d", newPage, d.GetNewSequencePage())
		}
	})
}

// Faults.

func TestDropSubscriptions(t *testing.T) {
	s, _, tc := startWithCache(t)
	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	s.DropSubscriptions()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := sub.Item(ctx)
	wantErrCode(t, "Item after DropSubscriptions", err, momento.ServerUnavailableError)
	waitFor(t, "no subscribers", func() bool { return s.Subscribers(testCache, "room") == 0 })
}

func TestSetUnavailable(t *testing.T) {
	s, cc, tc := startWithCache(t)
	ctx := t.Context()
	s.SetUnavailable(true)
	_, err := cc.ListPushBack(ctx, &momento.ListPushBackRequest{CacheName: testCache, ListName: "l", Value: momento.String("v")})
	wantErrCode(t, "ListPushBack", err, momento.ServerUnavailableError)
	_, err = cc.ListFetch(ctx, &momento.ListFetchRequest{CacheName: testCache, ListName: "l"})
	wantErrCode(t, "ListFetch (retried)", err, momento.ServerUnavailableError)
	_, err = tc.Publish(ctx, &momento.TopicPublishRequest{CacheName: testCache, TopicName: "t", Value: momento.String("v")})
	wantErrCode(t, "Publish", err, momento.ServerUnavailableError)
	_, err = tc.Subscribe(ctx, &momento.TopicSubscribeRequest{CacheName: testCache, TopicName: "t"})
	wantErrCode(t, "Subscribe", err, momento.ServerUnavailableError)
	_, err = cc.Ping(ctx)
	wantErrCode(t, "Ping", err, momento.ServerUnavailableError)

	s.SetUnavailable(false)
	push(t, cc, "l", "v", 0, nil)
}

func TestFailNext(t *testing.T) {
	s, cc, tc := startWithCache(t)
	ctx := t.Context()

	for _, tc := range []struct {
		code codes.Code
		want string
	}{
		{codes.Internal, momento.InternalServerError},
		{codes.Unavailable, momento.ServerUnavailableError},
		{codes.DeadlineExceeded, momento.TimeoutError},
		{codes.ResourceExhausted, momento.LimitExceededError},
		{codes.Unauthenticated, momento.AuthenticationError},
		{codes.PermissionDenied, momento.PermissionError},
	} {
		s.FailNext("ListPushBack", 1, tc.code)
		_, err := cc.ListPushBack(ctx, &momento.ListPushBackRequest{CacheName: testCache, ListName: "l", Value: momento.String("v")})
		wantErrCode(t, "ListPushBack after FailNext "+tc.code.String(), err, tc.want)
	}
	if n := push(t, cc, "l", "v", 0, nil); n != 1 {
		t.Errorf("push after the faults: length %d, want 1", n)
	}

	// ListFetch is idempotent: the SDK retries (3 times) and hides one failure...
	s.FailNext("/cache_client.Scs/ListFetch", 1, codes.Unavailable)
	if got := fetch(t, cc, "l", nil, nil); !slices.Equal(got, []string{"v"}) {
		t.Errorf("ListFetch after one injected failure: got %q", got)
	}
	// ...but not four.
	s.FailNext("ListFetch", 4, codes.Unavailable)
	_, err := cc.ListFetch(ctx, &momento.ListFetchRequest{CacheName: testCache, ListName: "l"})
	wantErrCode(t, "ListFetch after four injected failures", err, momento.ServerUnavailableError)

	s.FailNext("Subscribe", 1, codes.ResourceExhausted)
	_, err = tc.Subscribe(ctx, &momento.TopicSubscribeRequest{CacheName: testCache, TopicName: "t"})
	wantErrCode(t, "Subscribe", err, momento.LimitExceededError)
	subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "t"})
	if n := s.SubscribeCalls(); n != 2 {
		t.Errorf("SubscribeCalls: got %d, want 2", n)
	}

	s.FailNext("Publish", 5, codes.Internal)
	s.FailNext("Publish", 0, codes.Internal) // cleared
	publish(t, tc, "t", momento.String("v"))
}

// TestSubscribeBudget documents SDK bug S1: a v1.38.0 TopicClient counts
// every Subscribe against its stream capacity (4 channels x 100 by
// default) and never gives the slot back, even after Close.
func TestSubscribeBudget(t *testing.T) {
	s, _, tc := startWithCache(t, momentotest.WithLimits(momentotest.Limits{MaxSubscriptions: -1}))
	for i := 1; i <= 400; i++ {
		sub, err := tc.Subscribe(t.Context(), &momento.TopicSubscribeRequest{CacheName: testCache, TopicName: "t"})
		if err != nil {
			t.Fatalf("Subscribe #%d: %v", i, err)
		}
		sub.Close()
	}
	_, err := tc.Subscribe(t.Context(), &momento.TopicSubscribeRequest{CacheName: testCache, TopicName: "t"})
	wantErrCode(t, "Subscribe #401", err, momento.ClientResourceExhaustedError)
	if n := s.SubscribeCalls(); n != 400 {
		t.Errorf("SubscribeCalls: got %d, want 400 (#401 never left the client)", n)
	}
}

func TestLifecycle(t *testing.T) {
	s, err := momentotest.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart before Listen: got no error")
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Listen("127.0.0.1:0"); err == nil {
		t.Error("second Listen: got no error")
	}
	s.Stop()
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Errorf("Addr after Restart: got %s, want %s", s.Addr(), addr)
	}
	s.Close()
	s.Close()
	if err := s.Restart(); !errors.Is(err, momentotest.ErrClosed) {
		t.Errorf("Restart after Close: got %v, want ErrClosed", err)
	}
	if _, err := momentotest.New(momentotest.WithHeartbeat(0)); err == nil {
		t.Error("New(WithHeartbeat(0)): got no error")
	}
}
