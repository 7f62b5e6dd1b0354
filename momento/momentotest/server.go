package momentotest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"

	// Linking the SDK registers Momento's message and service descriptors in
	// protoregistry.GlobalFiles; the server decodes everything through them.
	_ "github.com/momentohq/client-sdk-go/momento"
)

// maxMsgSize bounds gRPC messages both ways. The SDK sends up to 5,243,000
// bytes, so over-size items reach the server and get Momento's answer.
const maxMsgSize = 8 << 20

// sweepInterval is how often expired items are removed.
const sweepInterval = time.Second

// ErrClosed is returned by Listen and Restart after Close.
var ErrClosed = errors.New("momentotest: server closed")

// Limits are the service limits the server enforces. In [WithLimits] a zero
// field keeps the default and a negative one disables the limit.
type Limits struct {
	// MaxItemSize bounds an item: key bytes plus value bytes (a list's
	// elements summed). Default 5 MiB.
	MaxItemSize int
	// MaxElementSize bounds one list element. Default 128 KiB.
	MaxElementSize int
	// MaxTopicMessageSize bounds a published value. Default 4 KiB.
	MaxTopicMessageSize int
	// MaxTTL bounds ttl_milliseconds. Default 24h.
	MaxTTL time.Duration
	// MaxSubscriptions bounds live Subscribe streams on the server.
	// Default 100.
	MaxSubscriptions int
}

// DefaultLimits returns Momento's documented default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxItemSize:         5 << 20,
		MaxElementSize:      128 << 10,
		MaxTopicMessageSize: 4 << 10,
		MaxTTL:              24 * time.Hour,
		MaxSubscriptions:    100,
	}
}

type options struct {
	now              func() time.Time
	heartbeat        time.Duration
	retention        int
	limits           Limits
	quotas           Quotas
	consistentFactor int64
	incrementTTL     IncrementTTL
	authToken        string
	log              *slog.Logger
}

// Option configures a Server.
type Option func(*options)

// WithClock sets the clock used for TTLs, expiry and the refill of the
// [WithQuotas] token buckets (default time.Now). Heartbeats use real time,
// and sequence pages the wall clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithHeartbeat sets how long a subscription may be silent before the server
// sends a heartbeat (default 1s). The first heartbeat is always immediate.
func WithHeartbeat(d time.Duration) Option {
	return func(o *options) { o.heartbeat = d }
}

// WithRetention sets how many items each topic keeps for resuming
// subscriptions (default 100; 0 keeps none).
func WithRetention(n int) Option {
	return func(o *options) { o.retention = n }
}

// WithLimits overrides service limits; zero fields keep the default,
// negative ones disable the limit.
func WithLimits(l Limits) Option {
	return func(o *options) {
		d := DefaultLimits()
		pick := func(v, def int) int {
			switch {
			case v == 0:
				return def
			case v < 0:
				return 0
			}
			return v
		}
		o.limits.MaxItemSize = pick(l.MaxItemSize, d.MaxItemSize)
		o.limits.MaxElementSize = pick(l.MaxElementSize, d.MaxElementSize)
		o.limits.MaxTopicMessageSize = pick(l.MaxTopicMessageSize, d.MaxTopicMessageSize)
		o.limits.MaxSubscriptions = pick(l.MaxSubscriptions, d.MaxSubscriptions)
		o.limits.MaxTTL = time.Duration(pick(int(l.MaxTTL), int(d.MaxTTL)))
	}
}

// WithAuthToken makes every call require `authorization: token`; others
// fail with Unauthenticated (the SDK's AuthenticationError). By default any
// authorization, empty included, is accepted.
func WithAuthToken(token string) Option {
	return func(o *options) { o.authToken = token }
}

// WithLogger logs every call at debug level and failures at info level.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// Server is an in-memory Momento Cache and Topics service. Its state
// (caches, items, topics) lives as long as the Server and survives
// Stop/Restart. All methods are safe for concurrent use.
type Server struct {
	opts options

	life      sync.Mutex // guards the fields below it
	addr      string
	gs        *grpc.Server
	serveDone chan struct{}
	closed    bool
	sweepStop chan struct{}
	sweepDone chan struct{}

	unavailable    atomic.Bool
	subscribeCalls atomic.Int64

	faultMu sync.Mutex
	faults  map[string]fault // by short method name

	meterMu     sync.Mutex // guards the meter and the quota buckets
	usage       Usage
	cacheBucket *bucket // nil: unlimited
	topicBucket *bucket // nil: unlimited

	mu       sync.Mutex // guards the data below
	caches   map[string]*cache
	subs     map[*subscription]struct{}
	lastPage uint64
}

type fault struct {
	n    int
	code codes.Code
}

// New returns a server that is not listening yet; see [Server.Listen].
func New(opts ...Option) (*Server, error) {
	o := options{
		now:              time.Now,
		heartbeat:        time.Second,
		retention:        100,
		limits:           DefaultLimits(),
		consistentFactor: DefaultConsistentFactor,
		incrementTTL:     IncrementKeepTTL,
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.now == nil:
		return nil, errors.New("momentotest: WithClock(nil)")
	case o.heartbeat <= 0:
		return nil, fmt.Errorf("momentotest: heartbeat %v must be positive", o.heartbeat)
	case o.retention < 0:
		return nil, fmt.Errorf("momentotest: retention %d must not be negative", o.retention)
	case o.consistentFactor < 1:
		return nil, fmt.Errorf("momentotest: consistent read factor %d must be at least 1", o.consistentFactor)
	case o.incrementTTL != IncrementKeepTTL && o.incrementTTL != IncrementRefreshTTL:
		return nil, fmt.Errorf("momentotest: unknown IncrementTTL %d", o.incrementTTL)
	}
	cacheBucket, err := newBucket("cache", o.quotas.CacheRate, o.quotas.CacheBurst)
	if err != nil {
		return nil, err
	}
	topicBucket, err := newBucket("topic", o.quotas.TopicRate, o.quotas.TopicBurst)
	if err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:        o,
		faults:      make(map[string]fault),
		caches:      make(map[string]*cache),
		subs:        make(map[*subscription]struct{}),
		cacheBucket: cacheBucket,
		topicBucket: topicBucket,
	}
	s.usage = newUsage(o.now())
	return s, nil
}

// Start starts a server on 127.0.0.1 with a free port and closes it when
// the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen binds addr (host:port; port 0 picks a free one) and serves in the
// background until Stop or Close. It returns once the address is bound.
func (s *Server) Listen(addr string) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.gs != nil {
		return fmt.Errorf("momentotest: already listening on %s", s.addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("momentotest: %w", err)
	}
	s.addr = lis.Addr().String()
	s.serveLocked(lis)
	if s.sweepStop == nil {
		s.sweepStop = make(chan struct{})
		s.sweepDone = make(chan struct{})
		go s.sweepLoop(s.sweepStop, s.sweepDone)
	}
	return nil
}

func (s *Server) serveLocked(lis net.Listener) {
	gs := grpc.NewServer(
		grpc.UnknownServiceHandler(s.handle),
		// The SDK pings every 5-10s even without calls; grpc-go's default
		// policy would answer GOAWAY too_many_pings and force re-dials.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             time.Second,
			PermitWithoutStream: true,
		}),
		grpc.MaxRecvMsgSize(maxMsgSize),
		grpc.MaxSendMsgSize(maxMsgSize),
		// So that Stop returns only after every handler (subscription) ended.
		grpc.WaitForHandlers(true),
	)
	done := make(chan struct{})
	s.gs, s.serveDone = gs, done
	go func() {
		defer close(done)
		_ = gs.Serve(lis) // ends with Stop; an error here has no one to go to
	}()
}

// Addr returns the address the server listens (or listened) on, as
// "127.0.0.1:PORT"; "" before Listen.
func (s *Server) Addr() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.addr
}

// Stop simulates an outage: it closes the listener and every connection,
// ending all calls and subscriptions. State is kept; see Restart.
func (s *Server) Stop() {
	s.life.Lock()
	gs, done := s.gs, s.serveDone
	s.gs, s.serveDone = nil, nil
	s.life.Unlock()
	if gs != nil {
		gs.Stop()
		<-done
	}
}

// Restart listens again on the same address after Stop. It is a no-op while
// the server is running.
func (s *Server) Restart() error {
	s.life.Lock()
	defer s.life.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.gs != nil:
		return nil
	case s.addr == "":
		return errors.New("momentotest: Restart before Listen")
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("momentotest: relisten: %w", err)
	}
	s.serveLocked(lis)
	return nil
}

// Close stops the server for good. It is safe to call more than once.
func (s *Server) Close() {
	s.Stop()
	s.life.Lock()
	s.closed = true
	stop, done := s.sweepStop, s.sweepDone
	s.sweepStop = nil
	s.life.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// SetUnavailable makes every new call fail with Unavailable (the SDK's
// ServerUnavailableError) while on is true, without closing connections.
// Live subscriptions are not affected; see DropSubscriptions.
func (s *Server) SetUnavailable(on bool) {
	s.unavailable.Store(on)
}

// FailNext makes the next n calls of method fail with code. method is the
// gRPC method name ("ListPushBack", "Subscribe") or its full path. Each SDK
// retry is a call. n <= 0 clears the fault.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	method = method[strings.LastIndex(method, "/")+1:]
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if n <= 0 {
		delete(s.faults, method)
		return
	}
	s.faults[method] = fault{n: n, code: code}
}

// takeFault consumes one injected failure of method, if any.
func (s *Server) takeFault(method string) (codes.Code, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f, ok := s.faults[method]
	if !ok {
		return codes.OK, false
	}
	if f.n--; f.n <= 0 {
		delete(s.faults, method)
	} else {
		s.faults[method] = f
	}
	return f.code, true
}

// SubscribeCalls returns how many Subscribe calls reached the server,
// failed ones included.
func (s *Server) SubscribeCalls() int {
	return int(s.subscribeCalls.Load())
}

// CreateCache creates a cache directly (as the control API would); it is a
// no-op if the cache exists.
func (s *Server) CreateCache(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caches[name] == nil {
		s.caches[name] = newCache()
	}
}

func (s *Server) sweepLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired items and returns how many it removed.
func (s *Server) sweep() int {
	now := s.opts.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.caches {
		for k, it := range c.items {
			if it.expired(now) {
				delete(c.items, k)
				n++
			}
		}
	}
	return n
}
