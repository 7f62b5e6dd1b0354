package momentotest

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// DefaultConsistentFactor is what a cache call with read concern
// Consistent costs relative to Balanced: 2 in Momento's billing page
// (docs/cache/manage/operations.mdx, January 2025). Its older read-concern
// page (docs/cache/learn/how-it-works/read-concern.md, March 2024) says 6;
// see [WithConsistentFactor].
const DefaultConsistentFactor = 2

// WithConsistentFactor sets the multiplier for cache calls that carry the
// header `read-concern: consistent` (default [DefaultConsistentFactor]).
func WithConsistentFactor(f int64) Option {
	return func(o *options) { o.consistentFactor = f }
}

// Usage is what the server has metered: operations as Momento bills them,
// and calls. Maps are keyed by gRPC method name ("ListFetch", "Publish").
// The zero Usage is empty; [Server.Meter] returns a copy that the caller
// owns.
//
// Billing rules (docs/cache/manage/operations.mdx, docs/topics/limits.mdx):
//   - A cache call costs its complexity factor (2 for SetIf, the SDK's
//     SetIfEqual, SetIfAbsent, ...; 1 otherwise) times the number of
//     1024-byte chunks, rounded up, in each item or collection element the
//     request carries plus each the response carries, times the
//     consistent-read factor for `read-concern: consistent`, and at least
//     1. So a ListPushBack or ListRemoveValue of a 250-byte element costs
//     1, a ListFetch of n such elements 1 + n (the request's list name
//     counts as one item), a SetIfEqual 2, an Increment or UpdateTtl 1.
//   - A request without items or elements (Get, Delete, Increment,
//     UpdateTtl, ItemGetTtl, ListFetch, ListLength) counts its encoded size
//     as one item; a response without any (Set, SetIf, Increment,
//     UpdateTtl, ListPushBack, ListRemoveValue, a miss) adds nothing: it
//     carries no user data.
//   - An admitted call that fails (unknown cache, size limits, bad
//     arguments) costs 1 operation.
//   - A topic publish costs its message's 1024-byte chunks, at least 1;
//     each item sent to a subscriber costs the same again (live delivery
//     and replay on resume alike). Heartbeats and discontinuities are free.
//   - Not billed: control calls (CreateCache, ...), Ping, Subscribe itself,
//     refused calls (quota, injected faults, authentication).
type Usage struct {
	// Start is when metering started: New or the last ResetMeter, by the
	// WithClock clock.
	Start time.Time `json:"start"`
	// CacheOps and TopicOps are the billed operations.
	CacheOps int64 `json:"cache_ops"`
	TopicOps int64 `json:"topic_ops"`
	// Deliveries counts topic items sent to subscribers.
	Deliveries int64 `json:"deliveries"`
	// Throttled counts calls refused by a quota.
	Throttled int64 `json:"throttled"`
	// Calls counts calls that reached the server, refused ones included.
	Calls map[string]int64 `json:"calls"`
	// Ops is the billed operations per method; deliveries are billed to
	// "Subscribe".
	Ops map[string]int64 `json:"ops"`
	// ThrottledCalls is Throttled per method.
	ThrottledCalls map[string]int64 `json:"throttled_calls"`
}

func newUsage(now time.Time) Usage {
	return Usage{
		Start:          now,
		Calls:          make(map[string]int64),
		Ops:            make(map[string]int64),
		ThrottledCalls: make(map[string]int64),
	}
}

func (u Usage) clone() Usage {
	u.Calls = maps.Clone(u.Calls)
	u.Ops = maps.Clone(u.Ops)
	u.ThrottledCalls = maps.Clone(u.ThrottledCalls)
	return u
}

// Since returns what was metered after before, a snapshot taken earlier
// from the same server without a ResetMeter in between. Methods whose
// counts did not change are left out of the maps.
func (u Usage) Since(before Usage) Usage {
	diff := func(now, then map[string]int64) map[string]int64 {
		out := make(map[string]int64)
		for k, v := range now {
			if d := v - then[k]; d != 0 {
				out[k] = d
			}
		}
		return out
	}
	return Usage{
		Start:          before.Start,
		CacheOps:       u.CacheOps - before.CacheOps,
		TopicOps:       u.TopicOps - before.TopicOps,
		Deliveries:     u.Deliveries - before.Deliveries,
		Throttled:      u.Throttled - before.Throttled,
		Calls:          diff(u.Calls, before.Calls),
		Ops:            diff(u.Ops, before.Ops),
		ThrottledCalls: diff(u.ThrottledCalls, before.ThrottledCalls),
	}
}

// Meter returns a snapshot of what the server has metered.
func (s *Server) Meter() Usage {
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	return s.usage.clone()
}

// ResetMeter starts metering afresh and returns what was metered before.
// Quota buckets are not refilled.
func (s *Server) ResetMeter() Usage {
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	old := s.usage
	s.usage = newUsage(s.opts.now())
	return old
}

// quotaKind says which quota and bill a method belongs to.
type quotaKind int

const (
	unmetered quotaKind = iota
	cacheOp
	topicOp
)

func kindOf(path string) quotaKind {
	switch {
	case strings.HasPrefix(path, "/cache_client.Scs/"):
		return cacheOp
	case path == "/cache_client.pubsub.Pubsub/Publish":
		return topicOp
	}
	return unmetered
}

func (s *Server) bucketFor(k quotaKind) *bucket {
	switch k {
	case cacheOp:
		return s.cacheBucket
	case topicOp:
		return s.topicBucket
	}
	return nil
}

// countCall records that a call of method reached the server.
func (s *Server) countCall(method string) {
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	s.usage.Calls[method]++
}

// admitRate takes one operation from the call's quota, or counts the call
// as throttled and returns the error to answer.
func (s *Server) admitRate(k quotaKind, method string) error {
	b := s.bucketFor(k)
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	if b.admit(s.opts.now()) {
		return nil
	}
	s.usage.Throttled++
	s.usage.ThrottledCalls[method]++
	return b.errThrottled()
}

// bill records an admitted call's operations and charges them, less the
// one admitRate took, to its quota.
func (s *Server) bill(k quotaKind, c *call, resp *dynamicpb.Message, err error) {
	var ops int64
	switch k {
	case cacheOp:
		ops = s.cacheOps(c, resp, err)
	case topicOp:
		ops = 1
		if err == nil {
			ops = topicOps(topicValueSize(c.req.Get(field(c.req, "value")).Message()))
		}
	default:
		return
	}
	method := string(c.method.Name())
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	if k == cacheOp {
		s.usage.CacheOps += ops
	} else {
		s.usage.TopicOps += ops
	}
	s.usage.Ops[method] += ops
	s.bucketFor(k).charge(s.opts.now(), ops-1)
}

// billDelivery records one topic item of size bytes sent to a subscriber
// and charges it to the topic quota.
func (s *Server) billDelivery(size int) {
	ops := topicOps(size)
	s.meterMu.Lock()
	defer s.meterMu.Unlock()
	s.usage.TopicOps += ops
	s.usage.Deliveries++
	s.usage.Ops["Subscribe"] += ops
	s.topicBucket.charge(s.opts.now(), ops)
}

// chunks is the number of 1024-byte chunks in n bytes, rounded up.
func chunks(n int) int64 { return int64((n + 1023) / 1024) }

func topicOps(size int) int64 { return max(1, chunks(size)) }

func topicValueSize(v protoreflect.Message) int {
	switch whichOneof(v, "kind") {
	case "text":
		return len(getString(v, "text"))
	case "binary":
		return len(v.Get(field(v, "binary")).Bytes())
	}
	return 0
}

// cacheOps is what a cache call costs; see Usage.
func (s *Server) cacheOps(c *call, resp *dynamicpb.Message, err error) int64 {
	if err != nil {
		return 1
	}
	req := c.req
	factor := int64(1)
	var base int64
	switch c.method.Name() {
	case "Set", "SetIf":
		// One item, key and value (an item's size includes its key,
		// docs/cache/manage/limits.mdx). SetIf's comparand is a condition,
		// not an item.
		base = chunks(len(req.Get(field(req, "cache_key")).Bytes()) + len(req.Get(field(req, "cache_body")).Bytes()))
		if c.method.Name() == "SetIf" {
			factor = 2
		}
	case "ListPushBack":
		base = chunks(len(req.Get(field(req, "value")).Bytes()))
	case "ListRemove":
		// The value is the request's one element; the answer (a length)
		// carries no user data, as ListPushBack's.
		base = chunks(len(req.Get(field(req, "all_elements_with_value")).Bytes()))
	case "Get":
		base = chunks(proto.Size(req))
		if resp.Has(field(resp, "cache_body")) {
			base += chunks(len(resp.Get(field(resp, "cache_body")).Bytes()))
		}
	case "ListFetch":
		base = chunks(proto.Size(req))
		if whichOneof(resp, "list") == "found" {
			values := resp.Get(field(resp, "found")).Message()
			list := values.Get(field(values, "values")).List()
			for i := range list.Len() {
				base += chunks(len(list.Get(i).Bytes()))
			}
		}
	default: // Delete, Increment, ListLength, UpdateTtl, ItemGetTtl
		base = chunks(proto.Size(req))
	}
	ops := max(1, base*factor)
	if strings.EqualFold(c.header("read-concern"), "consistent") {
		ops *= s.opts.consistentFactor
	}
	return ops
}

// stats is the JSON StatsHandler serves.
type stats struct {
	Usage
	Seconds           float64 `json:"seconds"`
	CacheOpsPerSecond float64 `json:"cache_ops_per_second"`
	TopicOpsPerSecond float64 `json:"topic_ops_per_second"`
	Quotas            Quotas  `json:"quotas"`
}

// StatsHandler serves the meter as JSON: a GET returns [Usage] plus the
// seconds since metering started, the average billed operations per second
// and the configured quotas (0 = unlimited); a POST resets the meter and
// returns what it held. devtools/momentotest serves it with -stats.
func (s *Server) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u Usage
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			u = s.Meter()
		case http.MethodPost:
			u = s.ResetMeter()
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		st := stats{Usage: u, Quotas: s.opts.quotas}
		if secs := s.opts.now().Sub(u.Start).Seconds(); secs > 0 {
			st.Seconds = secs
			st.CacheOpsPerSecond = float64(u.CacheOps) / secs
			st.TopicOpsPerSecond = float64(u.TopicOps) / secs
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st) // a failed write has no one to go to
	})
}
