package handlers

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clients tells who a request comes from, for its limits: its remote IP
// address or, when that is a trusted proxy, the address the proxies say
// they forwarded for (X-Forwarded-For, read from the right, skipping
// trusted proxies).
type clients struct {
	trusted []netip.Prefix
}

// ipv6ClientBits is how much of an IPv6 address names one client. A site
// is handed at least a /64 and its hosts pick addresses in it at will
// (privacy addresses change daily, and anyone can take millions), so one
// /128 names nobody: limits count a /64 as one client, as an IPv4
// address behind one NAT is.
const ipv6ClientBits = 64

// of returns the key r's client is counted under: its IPv4 address, or
// the /64 of its IPv6 address.
func (c clients) of(r *http.Request) string {
	addr, ok := c.addr(r)
	if !ok {
		return r.RemoteAddr
	}
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(ipv6ClientBits) // cannot fail: 64 ≤ 128
		return p.String()
	}
	return addr.String()
}

// addr is the address of r's client; ok is false when RemoteAddr is not
// an address (a test's or an unusual listener's).
func (c clients) addr(r *http.Request) (netip.Addr, bool) {
	ip, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr := ip.Addr().Unmap()
	if !c.isTrusted(addr) {
		return addr, true
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		fields := strings.Split(hops[i], ",")
		for j := len(fields) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(fields[j]))
			if err != nil {
				return addr, true // a garbled chain: trust only what we saw
			}
			addr = hop.Unmap()
			if !c.isTrusted(addr) {
				return addr, true
			}
		}
	}
	return addr, true
}

func (c clients) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// postLimiter limits each client's posts with a token bucket.
type postLimiter struct {
	limit   rate.Limit
	burst   int
	clients clients

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	nextSweep time.Time
}

// newPostLimiter allows perSecond posts per client with burst on top; a
// nil limiter (perSecond 0) allows everything.
func newPostLimiter(perSecond float64, burst int, c clients) *postLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &postLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), clients: c, buckets: make(map[string]*rate.Limiter)}
}

// allow takes a token for r's client, or says how long until one is due.
func (p *postLimiter) allow(r *http.Request) (ok bool, retryAfter time.Duration) {
	if p == nil {
		return true, 0
	}
	now := time.Now()
	key := p.clients.of(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep(now)
	l := p.buckets[key]
	if l == nil {
		l = rate.NewLimiter(p.limit, p.burst)
		p.buckets[key] = l
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
	for key, l := range p.buckets {
		if l.TokensAt(now) >= float64(p.burst) {
			delete(p.buckets, key)
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
	max     int
	clients clients

	mu   sync.Mutex
	open map[string]int
}

// newStreamLimiter allows max streams per client; a nil limiter (max 0)
// allows any number.
func newStreamLimiter(max int, c clients) *streamLimiter {
	if max <= 0 {
		return nil
	}
	return &streamLimiter{max: max, clients: c, open: make(map[string]int)}
}

// acquire takes a stream slot for r's client; call the returned release
// when the stream ends. ok is false when the client has none left.
func (s *streamLimiter) acquire(r *http.Request) (release func(), ok bool) {
	if s == nil {
		return func() {}, true
	}
	key := s.clients.of(r)
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
