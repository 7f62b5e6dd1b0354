package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are counted in microseconds in log-linear buckets: exact below
// 64 µs, then 32 buckets per power of two (at most 1/32 ≈ 3% wide).
const (
	histSub     = 5 // log2 of the buckets per power of two
	histBuckets = (64 - histSub) << histSub
	histShards  = 8 // streams spread their counts over shards to avoid contention
)

// histogram counts latencies; record is safe for concurrent use.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64 // ns
}

func histBucket(us uint64) int {
	if us < 2<<histSub {
		return int(us)
	}
	e := bits.Len64(us) - histSub - 1
	i := e<<histSub + int(us>>e)
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i, in microseconds.
func histValue(i int) float64 {
	if i < 2<<histSub {
		return float64(i)
	}
	e := i>>histSub - 1
	m := uint64(i&(1<<histSub-1) + 1<<histSub)
	return float64(m<<e) + float64(uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d/time.Microsecond))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// merge adds o's counts into h; not safe while o records.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// quantile returns the latency below which a fraction q of the samples
// fall, to the bucket's precision; the maximum is exact.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			d := time.Duration(histValue(i) * float64(time.Microsecond))
			return min(d, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}
