package momentotest_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/momentohq/client-sdk-go/config"
	"github.com/momentohq/client-sdk-go/config/logger"
	"github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/utils"

	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// consistentClient is a cache client with read concern Consistent, which
// the SDK sends as the header `read-concern: consistent`.
func consistentClient(t *testing.T, s *momentotest.Server) momento.CacheClient {
	t.Helper()
	cfg := config.LaptopLatestWithLogger(logger.NewNoopMomentoLoggerFactory()).WithReadConcern(config.CONSISTENT)
	cc, err := momento.NewCacheClient(cfg, s.Credential(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Close)
	return cc
}

// billed runs f and returns what the server metered meanwhile.
func billed(s *momentotest.Server, f func()) momentotest.Usage {
	before := s.Meter()
	f()
	return s.Meter().Since(before)
}

// message is a chat message of about 250 bytes.
var message = `{"id":"1.42","room":"lobby","name":"alice","time":"2026-01-01T00:00:00Z","text":"` +
	strings.Repeat("lorem ipsum ", 14) + `"}`

func TestBilling(t *testing.T) {
	if n := len(message); n < 240 || n > 260 {
		t.Fatalf("message is %d bytes, want about 250", n)
	}
	s, cc, tc := startWithCache(t, momentotest.WithHeartbeat(50*time.Millisecond))
	strong := consistentClient(t, s)
	ctx := t.Context()
	const n = 20
	for range n {
		push(t, cc, "room", message, 0, nil)
	}
	big := strings.Repeat("x", 1500) // two chunks

	for _, tc := range []struct {
		name   string
		call   func()
		method string
		ops    int64
	}{
		{"ListPushBack of 250 B", func() { push(t, cc, "other", message, 0, nil) }, "ListPushBack", 1},
		{"ListPushBack of 1500 B", func() { push(t, cc, "other", big, 0, nil) }, "ListPushBack", 2},
		{"ListPushBack of 250 B, Consistent", func() { push(t, strong, "other", message, 0, nil) }, "ListPushBack", 2},
		// The request's list name is one item, each element another.
		{"ListFetch of 20 x 250 B", func() { fetch(t, cc, "room", nil, nil) }, "ListFetch", 1 + n},
		{"ListFetch of 20 x 250 B, Consistent", func() { fetch(t, strong, "room", nil, nil) }, "ListFetch", 2 * (1 + n)},
		{"ListFetch of the last 5", func() { fetch(t, cc, "room", ptr(-5), nil) }, "ListFetch", 1 + 5},
		{"ListFetch miss", func() { fetch(t, cc, "nope", nil, nil) }, "ListFetch", 1},
		{"ListLength", func() { listLength(t, cc, "room") }, "ListLength", 1},
		// The value is the request's one element, as a push's.
		{"ListRemoveValue of 250 B", func() {
			_, err := cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: testCache, ListName: "other", Value: momento.String(message)})
			must[any](t, "ListRemoveValue")(nil, err)
		}, "ListRemove", 1},
		{"ListRemoveValue of 1500 B", func() {
			_, err := cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: testCache, ListName: "other", Value: momento.String(big)})
			must[any](t, "ListRemoveValue")(nil, err)
		}, "ListRemove", 2},
		{"ListRemoveValue of 1024 B: the list name is not billed", func() {
			_, err := cc.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: testCache, ListName: "other", Value: momento.String(strings.Repeat("y", 1024))})
			must[any](t, "ListRemoveValue")(nil, err)
		}, "ListRemove", 1},
		{"ListRemoveValue, Consistent", func() {
			_, err := strong.ListRemoveValue(ctx, &momento.ListRemoveValueRequest{CacheName: testCache, ListName: "nope", Value: momento.String(message)})
			must[any](t, "ListRemoveValue")(nil, err)
		}, "ListRemove", 2},
		{"UpdateTtl", func() {
			_, err := cc.UpdateTtl(ctx, &momento.UpdateTtlRequest{CacheName: testCache, Key: momento.String("room"), Ttl: time.Hour})
			must[any](t, "UpdateTtl")(nil, err)
		}, "UpdateTtl", 1},
		{"ItemGetTtl", func() {
			_, err := cc.ItemGetTtl(ctx, &momento.ItemGetTtlRequest{CacheName: testCache, Key: momento.String("room")})
			must[any](t, "ItemGetTtl")(nil, err)
		}, "ItemGetTtl", 1},
		{"Increment", func() { must[int64](t, "Increment")(increment(cc, ctx, "seq", 1, time.Minute)) }, "Increment", 1},
		{"Increment, Consistent", func() { must[int64](t, "Increment")(increment(strong, ctx, "seq", 1, time.Minute)) }, "Increment", 2},
		{"SetIfEqual stored", func() {
			_, err := cc.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: momento.String("seq"), Value: momento.String("100"), Equal: momento.String("2")})
			must[any](t, "SetIfEqual")(nil, err)
		}, "SetIf", 2},
		{"SetIfEqual not stored", func() {
			_, err := cc.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: momento.String("seq"), Value: momento.String("7"), Equal: momento.String("2")})
			must[any](t, "SetIfEqual")(nil, err)
		}, "SetIf", 2},
		{"SetIfEqual, Consistent", func() {
			_, err := strong.SetIfEqual(ctx, &momento.SetIfEqualRequest{CacheName: testCache, Key: momento.String("seq"), Value: momento.String("7"), Equal: momento.String("100")})
			must[any](t, "SetIfEqual")(nil, err)
		}, "SetIf", 4},
		{"Set of 1500 B", func() {
			_, err := cc.Set(ctx, &momento.SetRequest{CacheName: testCache, Key: momento.String("k"), Value: momento.String(big)})
			must[any](t, "Set")(nil, err)
		}, "Set", 2},
		// The key is the request's item, the value the response's.
		{"Get hit of 1500 B", func() { get(t, cc, "k") }, "Get", 1 + 2},
		{"Get miss", func() { get(t, cc, "nope") }, "Get", 1},
		{"Delete", func() {
			_, err := cc.Delete(ctx, &momento.DeleteRequest{CacheName: testCache, Key: momento.String("k")})
			must[any](t, "Delete")(nil, err)
		}, "Delete", 1},
		{"a failed call", func() {
			_, err := cc.ListFetch(ctx, &momento.ListFetchRequest{CacheName: "nope", ListName: "room"})
			wantErrCode(t, "ListFetch on an unknown cache", err, momento.NotFoundError)
		}, "ListFetch", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := billed(s, tc.call)
			want := momentotest.Usage{CacheOps: tc.ops, Calls: map[string]int64{tc.method: 1}, Ops: map[string]int64{tc.method: tc.ops}}
			if d.CacheOps != want.CacheOps || d.TopicOps != 0 || !maps.Equal(d.Calls, want.Calls) || !maps.Equal(d.Ops, want.Ops) {
				t.Errorf("billed %d cache + %d topic ops, calls %v, ops %v; want %d cache ops for one %s",
					d.CacheOps, d.TopicOps, d.Calls, d.Ops, tc.ops, tc.method)
			}
		})
	}

	// Ping and control calls are free.
	if d := billed(s, func() {
		must[any](t, "Ping")(cc.Ping(ctx))
		must[any](t, "CreateCache")(cc.CreateCache(ctx, &momento.CreateCacheRequest{CacheName: "c2"}))
	}); d.CacheOps != 0 || d.Calls["Ping"] != 1 || d.Calls["CreateCache"] != 1 {
		t.Errorf("Ping + CreateCache: %d ops, calls %v; want 0 ops, both counted", d.CacheOps, d.Calls)
	}

	// A publish costs 1 plus 1 per subscriber it reaches (chunks of 1 KiB each).
	sub1 := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	sub2 := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})
	d := billed(s, func() {
		publish(t, tc, "room", momento.String(message))
		wantItems(t, sub1, message+"#1")
		wantItems(t, sub2, message+"#1")
	})
	if d.TopicOps != 3 || d.Ops["Publish"] != 1 || d.Ops["Subscribe"] != 2 || d.Deliveries != 2 || d.CacheOps != 0 {
		t.Errorf("publish of 250 B to 2 subscribers: %d topic ops %v, %d deliveries; want 1 + 2", d.TopicOps, d.Ops, d.Deliveries)
	}
	d = billed(s, func() {
		publish(t, tc, "room", momento.Bytes(big))
		nextItem(t, sub1)
		nextItem(t, sub2)
	})
	if d.TopicOps != 6 {
		t.Errorf("publish of 1500 B to 2 subscribers: %d topic ops, want 2 + 2 x 2", d.TopicOps)
	}
	// A publish nobody hears is still billed.
	if d := billed(s, func() { publish(t, tc, "empty", momento.String("x")) }); d.TopicOps != 1 {
		t.Errorf("publish without subscribers: %d topic ops, want 1", d.TopicOps)
	}
	// A resumed subscription's replay is delivery too: 2 items.
	d = billed(s, func() {
		sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room", ResumeAtTopicSequenceNumber: 1, SequencePage: 0})
		nextItem(t, sub)
		nextItem(t, sub)
	})
	if d.TopicOps != 1+2 || d.Deliveries != 2 {
		t.Errorf("replay of a 250 B and a 1500 B item: %d topic ops, %d deliveries; want 3, 2", d.TopicOps, d.Deliveries)
	}

	// ResetMeter starts afresh and hands back the old totals.
	old := s.ResetMeter()
	if old.CacheOps == 0 || old.TopicOps == 0 {
		t.Errorf("ResetMeter returned %+v, want the totals so far", old)
	}
	if u := s.Meter(); u.CacheOps != 0 || u.TopicOps != 0 || len(u.Calls) != 0 {
		t.Errorf("Meter after ResetMeter: %+v, want empty", u)
	}
}

func TestConsistentFactor(t *testing.T) {
	s := momentotest.Start(t, momentotest.WithConsistentFactor(6))
	s.CreateCache(testCache)
	strong := consistentClient(t, s)
	if d := billed(s, func() { listLength(t, strong, "l") }); d.CacheOps != 6 {
		t.Errorf("Consistent ListLength with factor 6: %d ops, want 6", d.CacheOps)
	}
	if _, err := momentotest.New(momentotest.WithConsistentFactor(0)); err == nil {
		t.Error("New(WithConsistentFactor(0)): got no error")
	}
}

func TestStatsHandler(t *testing.T) {
	clock := newFakeClock()
	s, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now),
		momentotest.WithQuotas(momentotest.Quotas{CacheRate: 2, TopicRate: 1}))
	hs := httptest.NewServer(s.StatsHandler())
	defer hs.Close()
	push(t, cc, "l", message, 0, &utils.CollectionTtl{Ttl: time.Minute})
	push(t, cc, "l", message, 0, &utils.CollectionTtl{Ttl: time.Minute})
	_, err := cc.ListLength(t.Context(), &momento.ListLengthRequest{CacheName: testCache, ListName: "l"})
	wantThrottled(t, "third call", err)
	clock.Advance(4 * time.Second)

	type stats struct {
		momentotest.Usage
		Seconds           float64            `json:"seconds"`
		CacheOpsPerSecond float64            `json:"cache_ops_per_second"`
		Quotas            momentotest.Quotas `json:"quotas"`
	}
	read := func(method string) stats {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, hs.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/json" {
			t.Fatalf("%s: %s, %q", method, resp.Status, ct)
		}
		var st stats
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := read(http.MethodGet)
	if st.CacheOps != 2 || st.Throttled != 1 || st.Calls["ListPushBack"] != 2 || st.ThrottledCalls["ListLength"] != 1 ||
		st.Seconds != 4 || st.CacheOpsPerSecond != 0.5 || st.Quotas.CacheRate != 2 || st.Quotas.TopicRate != 1 {
		t.Errorf("GET: %+v", st)
	}
	if st := read(http.MethodPost); st.CacheOps != 2 {
		t.Errorf("POST (reset): %+v, want the totals before the reset", st)
	}
	if st := read(http.MethodGet); st.CacheOps != 0 || st.Throttled != 0 {
		t.Errorf("GET after reset: %+v, want empty", st)
	}
	resp, err := http.DefaultClient.Do(must[*http.Request](t, "request")(http.NewRequestWithContext(t.Context(), http.MethodDelete, hs.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %s, want 405", resp.Status)
	}
}
