package momentotest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/momentohq/client-sdk-go/momento"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// listLengthErr is a ListLength that returns its error: 1 billed operation.
func listLengthErr(t *testing.T, cc momento.CacheClient) error {
	t.Helper()
	_, err := cc.ListLength(t.Context(), &momento.ListLengthRequest{CacheName: testCache, ListName: "l"})
	return err
}

func wantThrottled(t *testing.T, what string, err error) {
	t.Helper()
	wantErrCode(t, what, err, momento.LimitExceededError)
	var me momento.MomentoError
	_ = errors.As(err, &me)
	if !strings.Contains(me.Message(), "Request rate limit exceeded") {
		t.Errorf("%s: message %q, want the SDK's rate-limit wording", what, me.Message())
	}
}

func TestCacheQuota(t *testing.T) {
	clock := newFakeClock()
	s, cc, _ := startWithCache(t, momentotest.WithClock(clock.Now),
		momentotest.WithQuotas(momentotest.Quotas{CacheRate: 10}))

	// A full bucket holds one second's worth: 10 operations.
	for i := range 10 {
		if err := listLengthErr(t, cc); err != nil {
			t.Fatalf("call %d of 10: %v", i+1, err)
		}
	}
	wantThrottled(t, "call 11 in the same instant", listLengthErr(t, cc))
	// 100ms refills one operation, no more.
	clock.Advance(100 * time.Millisecond)
	if err := listLengthErr(t, cc); err != nil {
		t.Fatalf("call after 100ms: %v", err)
	}
	wantThrottled(t, "the call after that", listLengthErr(t, cc))
	// A quiet second refills the bucket, and no more than the bucket.
	clock.Advance(5 * time.Second)
	for i := range 10 {
		if err := listLengthErr(t, cc); err != nil {
			t.Fatalf("call %d after recovery: %v", i+1, err)
		}
	}
	wantThrottled(t, "call 11 after recovery", listLengthErr(t, cc))

	u := s.Meter()
	if u.Throttled != 3 || u.ThrottledCalls["ListLength"] != 3 {
		t.Errorf("Meter: throttled %d (%v), want 3 ListLength", u.Throttled, u.ThrottledCalls)
	}
	// The SDK does not retry a throttled call: 21 admitted + 3 refused.
	if u.Calls["ListLength"] != 24 || u.CacheOps != 21 {
		t.Errorf("Meter: %d ListLength calls, %d cache ops; want 24 and 21 (refused calls are not billed)", u.Calls["ListLength"], u.CacheOps)
	}

	// A big call passes a bucket with one operation left and leaves the
	// account in debt: 30 one-byte elements pushed, paced to keep the
	// bucket full, then one ListFetch of 31 operations.
	clock.Advance(time.Second)
	for range 30 {
		push(t, cc, "l", "x", 0, nil)
		clock.Advance(100 * time.Millisecond)
	}
	before := s.Meter()
	if got := fetch(t, cc, "l", nil, nil); len(got) != 30 {
		t.Fatalf("ListFetch: %d elements, want 30", len(got))
	}
	if d := s.Meter().Since(before); d.CacheOps != 31 {
		t.Fatalf("ListFetch of 30 elements: %d ops, want 31", d.CacheOps)
	}
	// 10 - 31 = -21: 2.1s pays the debt off, and one more tenth admits one.
	clock.Advance(2100 * time.Millisecond)
	wantThrottled(t, "call while in debt", listLengthErr(t, cc))
	clock.Advance(100 * time.Millisecond)
	if err := listLengthErr(t, cc); err != nil {
		t.Fatalf("call after the debt was paid: %v", err)
	}

	// Ping and control calls have no quota.
	if _, err := cc.Ping(t.Context()); err != nil {
		t.Errorf("Ping with an empty bucket: %v", err)
	}
	if _, err := cc.CreateCache(t.Context(), &momento.CreateCacheRequest{CacheName: "other"}); err != nil {
		t.Errorf("CreateCache with an empty bucket: %v", err)
	}
}

func TestTopicQuota(t *testing.T) {
	clock := newFakeClock()
	s, _, tc := startWithCache(t, momentotest.WithClock(clock.Now), momentotest.WithHeartbeat(50*time.Millisecond),
		momentotest.WithQuotas(momentotest.Quotas{TopicRate: 3}))
	sub := subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "room"})

	// A publish with one subscriber costs 2: the publish and the delivery.
	publish(t, tc, "room", momento.String("m1"))
	wantItems(t, sub, "m1#1") // 3 - 2 = 1 left
	publish(t, tc, "room", momento.String("m2"))
	wantItems(t, sub, "m2#2") // 1 - 2 = -1
	_, err := tc.Publish(t.Context(), &momento.TopicPublishRequest{CacheName: testCache, TopicName: "room", Value: momento.String("refused")})
	wantThrottled(t, "publish in debt", err)
	clock.Advance(time.Second) // -1 + 3 = 2
	publish(t, tc, "room", momento.String("m3"))
	// The refused message was never published: m3 is #3.
	wantItems(t, sub, "m3#3")

	u := s.Meter()
	if u.TopicOps != 6 || u.Ops["Publish"] != 3 || u.Ops["Subscribe"] != 3 || u.Deliveries != 3 {
		t.Errorf("Meter: %d topic ops (%v), %d deliveries; want 6 = 3 publishes + 3 deliveries", u.TopicOps, u.Ops, u.Deliveries)
	}
	if u.ThrottledCalls["Publish"] != 1 || u.CacheOps != 0 {
		t.Errorf("Meter: throttled %v, cache ops %d; want one Publish and none", u.ThrottledCalls, u.CacheOps)
	}
	// Subscribing is not rate limited.
	subscribe(t, tc, momento.TopicSubscribeRequest{TopicName: "other"})
}

// TestQuotaWire checks the refusal on the wire: ResourceExhausted with the
// `err` trailer the SDKs map to a rate-limit error.
func TestQuotaWire(t *testing.T) {
	s := momentotest.Start(t, momentotest.WithClock(newFakeClock().Now),
		momentotest.WithQuotas(momentotest.Quotas{CacheRate: 1, TopicRate: 1}))
	s.CreateCache(testCache)
	for _, path := range []string{"/cache_client.Scs/ListLength", "/cache_client.pubsub.Pubsub/Publish"} {
		fill := func(m protoreflect.Message) {
			if strings.HasSuffix(path, "Publish") {
				m.Set(m.Descriptor().Fields().ByName("cache_name"), protoreflect.ValueOfString(testCache))
				m.Set(m.Descriptor().Fields().ByName("topic"), protoreflect.ValueOfString("t"))
				v := dynamicpb.NewMessage(m.Descriptor().Fields().ByName("value").Message())
				v.Set(v.Descriptor().Fields().ByName("text"), protoreflect.ValueOfString("x"))
				m.Set(m.Descriptor().Fields().ByName("value"), protoreflect.ValueOfMessage(v))
			}
		}
		md := metadata.Pairs("cache", testCache)
		if _, err := rawInvoke(t, s.Addr(), path, md, fill); err != nil {
			t.Fatalf("%s with a full bucket: %v", path, err)
		}
		trailer, err := rawInvoke(t, s.Addr(), path, md, fill)
		if status.Code(err) != codes.ResourceExhausted || strings.Join(trailer.Get("err"), ",") != "operations_rate_limit_exceeded" {
			t.Errorf("%s with an empty bucket: got %v, err trailer %q; want ResourceExhausted, operations_rate_limit_exceeded",
				path, err, trailer.Get("err"))
		}
	}
}

func TestQuotaOptions(t *testing.T) {
	for _, q := range []momentotest.Quotas{{CacheRate: -1}, {TopicRate: -1}, {CacheRate: 1, CacheBurst: -2}} {
		if _, err := momentotest.New(momentotest.WithQuotas(q)); err == nil {
			t.Errorf("New(WithQuotas(%+v)): got no error", q)
		}
	}
	if q := momentotest.DefaultQuotas(); q.CacheRate != 100 || q.TopicRate != 10 {
		t.Errorf("DefaultQuotas() = %+v, want Momento's 100 cache and 10 topic operations/s", q)
	}
}

// rawInvoke calls path over plain gRPC and returns the trailer.
func rawInvoke(t *testing.T, addr, path string, md metadata.MD, fill func(protoreflect.Message)) (metadata.MD, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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
	err = conn.Invoke(metadata.NewOutgoingContext(t.Context(), md), path, req, resp, grpc.Trailer(&trailer))
	return trailer, err
}
