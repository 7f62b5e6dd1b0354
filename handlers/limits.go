package handlers

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientKey identifies the client of r: its remote IP address.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// postLimiter limits each client's posts with a token bucket.
type postLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	clients   map[string]*rate.Limiter
	nextSweep time.Time
}

// newPostLimiter allows perSecond posts per client with burst on top; a
// nil limiter (perSecond 0) allows everything.
func newPostLimiter(perSecond float64, burst int) *postLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &postLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), clients: make(map[string]*rate.Limiter)}
}

// allow takes a token for r's client, or says how long until one is due.
func (p *postLimiter) allow(r *http.Request) (ok bool, retryAfter time.Duration) {
	if p == nil {
		return true, 0
	}
	now := time.Now()
	key := clientKey(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep(now)
	l := p.clients[key]
	if l == nil {
		l = rate.NewLimiter(p.limit, p.burst)
		p.clients[key] = l
	}
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets, about once a minute, the clients whose buckets are full
// again: they are indistinguishable from new ones. p.mu is held.
func (p *postLimiter) sweep(now time.Time) {
	if now.Before(p.nextSweep) {
		return
	}
	p.nextSweep = now.Add(time.Minute)
	for key, l := range p.clients {
		if l.TokensAt(now) >= float64(p.burst) {
			delete(p.clients, key)
		}
	}
}

// retryAfterSeconds is the Retry-After value for d: whole seconds, at
// least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// streamLimiter caps each client's concurrent streams.
type streamLimiter struct {
	max int

	mu   sync.Mutex
	open map[string]int
}

// newStreamLimiter allows max streams per client; a nil limiter (max 0)
// allows any number.
func newStreamLimiter(max int) *streamLimiter {
	if max <= 0 {
		return nil
	}
	return &streamLimiter{max: max, open: make(map[string]int)}
}

// acquire takes a stream slot for r's client; call the returned release
// when the stream ends. ok is false when the client has none left.
func (s *streamLimiter) acquire(r *http.Request) (release func(), ok bool) {
	if s == nil {
		return func() {}, true
	}
	key := clientKey(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key] >= s.max {
		return nil, false
	}
	s.open[key]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.open[key]--; s.open[key] == 0 {
			delete(s.open, key)
		}
	}, true
}
