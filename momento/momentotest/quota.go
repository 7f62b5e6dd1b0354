package momentotest

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"
)

// Quotas are the account's rate limits: Momento's default soft limits per
// region are 100 cache operations/s and 10 topic operations/s
// (docs/cache/manage/limits.mdx, docs/topics/limits.mdx); one Server is one
// account in one region. The server enforces them with a token bucket per
// kind, counting billed operations (see [Usage]), not calls.
//
// A call is admitted while its bucket holds at least one operation; it
// takes one at once and the rest of its bill when it ends, so a big call
// (a ListFetch of 500 elements) passes a full bucket and leaves the
// account in debt, refusing the calls after it until the refill pays the
// debt off. Topic deliveries are charged to the topic bucket as they are
// sent, never refused, so that subscribers' deliveries use up the quota
// the next publish needs. Refused calls answer ResourceExhausted with the
// `err` trailer operations_rate_limit_exceeded (the SDK's
// LimitExceededError), are not billed and are counted in
// [Usage.Throttled]. The buckets refill by the [WithClock] clock: tests
// move it by hand.
type Quotas struct {
	// CacheRate bounds billed cache operations (cache_client.Scs calls)
	// per second. 0 means unlimited.
	CacheRate float64 `json:"cache_rate"`
	// TopicRate bounds billed topic operations (publishes and deliveries)
	// per second. 0 means unlimited.
	TopicRate float64 `json:"topic_rate"`
	// CacheBurst and TopicBurst are the bucket sizes: how many operations
	// an idle account may spend at once. 0 means one second's worth of
	// the rate, at least 1.
	CacheBurst float64 `json:"cache_burst"`
	TopicBurst float64 `json:"topic_burst"`
}

// DefaultQuotas returns Momento's default soft limits for an on-demand
// account: 100 cache and 10 topic operations per second.
func DefaultQuotas() Quotas {
	return Quotas{CacheRate: 100, TopicRate: 10}
}

// WithQuotas enforces per-account rate limits. Without it the server has
// none, so tests that are not about quotas need not pace themselves.
func WithQuotas(q Quotas) Option {
	return func(o *options) { o.quotas = q }
}

// bucket is a token bucket of operations that may go into debt.
type bucket struct {
	kind   string // "cache" or "topic", for messages
	rate   float64
	burst  float64
	tokens float64
	last   time.Time // of the last refill; zero before the first use
}

// newBucket returns a bucket refilling at rate per second, nil (no limit)
// for rate 0.
func newBucket(kind string, rate, burst float64) (*bucket, error) {
	switch {
	case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
		return nil, fmt.Errorf("momentotest: %s rate %v must be a non-negative number", kind, rate)
	case burst < 0 || math.IsNaN(burst) || math.IsInf(burst, 0):
		return nil, fmt.Errorf("momentotest: %s burst %v must be a non-negative number", kind, burst)
	case rate == 0:
		return nil, nil
	case burst == 0:
		burst = max(rate, 1)
	}
	return &bucket{kind: kind, rate: rate, burst: max(burst, 1), tokens: max(burst, 1)}, nil
}

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// admit takes one operation if the bucket holds one and says whether it
// did. A nil bucket admits everything.
func (b *bucket) admit(now time.Time) bool {
	if b == nil {
		return true
	}
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// charge takes n operations, going into debt if need be.
func (b *bucket) charge(now time.Time, n int64) {
	if b == nil || n == 0 {
		return
	}
	b.refill(now)
	b.tokens -= float64(n)
}

func (b *bucket) errThrottled() error {
	return errorf(codes.ResourceExhausted, "operations_rate_limit_exceeded",
		"Operations rate limit exceeded: more than %g %s operations per second (momentotest quota)", b.rate, b.kind)
}
