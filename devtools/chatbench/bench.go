package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run: streams opened to one room of one running server,
// posts sent to it, deliveries checked.
type Config struct {
	Target    string  // targetChat or targetCentrifugo
	URL       string  // the server, http://127.0.0.1:PORT (loopback only)
	APIKey    string  // Centrifugo's HTTP API key
	Namespace string  // Centrifugo channel namespace; the channel is Namespace:Room
	Room      string  // a fresh room; generated when empty
	Streams   int     // SSE streams to open
	Rate      float64 // posts per second; 0 = as fast as the server accepts them
	// Duration is how long posts are sent; with a rate, Rate×Duration
	// posts are scheduled.
	Duration time.Duration
	Posts    int // at most this many posts; 0 = no cap beyond Rate×Duration (and memory)
	// Posters is the number of keep-alive posting connections: at max
	// rate, how many post at once (default 8); at a rate, the most that
	// may wait on answers at once (default 10 s of posts, from 8 to 1024).
	Posters int
	Size    int // bytes of message text, stamp included
	PID     int // the server's process, for RSS and CPU from /proc; 0 = not measured
	// SrcIPs spreads the streams over this many source addresses,
	// 127.0.0.2 and up, for when one address's ephemeral ports are not
	// enough; 0 = automatic: none up to 20,000 connections, else one
	// address per 20,000.
	SrcIPs         int
	Settle         time.Duration // idle wait once every stream is up, before RSS is read
	ConnectTimeout time.Duration // for every stream to be up
	// Drain is how long deliveries may stall before the run gives up on
	// them; whatever happens, it gives up max(30 s, 2×Duration) after
	// the last post.
	Drain time.Duration
	// IO is how streams are read: "epoll" (Linux; pollers, each a thread
	// reading its share of the streams, one read per readiness) or
	// "goroutine" (a goroutine per stream blocked in net.Conn.Read);
	// default epoll where supported.
	IO string
	// Pollers is the number of epoll pollers, default 1: one thread
	// reading every stream batches best and leaves the most CPU to the
	// server (on 2 cores, 2 pollers cost about a quarter more per delivery).
	Pollers int
	// DialWindow is how many streams may be connecting at once (dialled,
	// response head not yet read); default 256, well under a listen
	// backlog of 4,096 (net.core.somaxconn).
	DialWindow int

	// StreamURLs spreads the streams over several servers, stream i to
	// StreamURLs[i % len]; posts still go to URL. Default: URL alone.
	// Deliveries on streams of a server other than URL's are also
	// counted apart, as cross-instance latency.
	StreamURLs []string
	// PIDs are more server processes (another instance, say) whose RSS
	// and CPU add to PID's.
	PIDs []int
	// Proxy sends the streams through a TCP proxy inside the tool, in
	// front of StreamURLs (or URL), a new connection going to the next
	// upstream in turn that accepts it.
	Proxy bool
	// ProxyProcs runs the proxy as processes of their own (this binary
	// with -proxy-serve), 8,000 streams each, so that its descriptors
	// do not count against the tool's limit.
	ProxyProcs bool
	// RetryHint makes a dropped stream wait for the server's SSE retry
	// hint before it reconnects, as EventSource does, rather than 20 ms.
	RetryHint bool
	// DisruptAt, when positive, is when, that long into the posting,
	// Disrupt is called once: with Proxy and no Disrupt, the proxy cuts
	// every connection at once; without either, the tool closes every
	// stream's connection itself. Disrupt returns how many streams it cut
	// (or -1 if it cannot tell). The run then measures how the streams
	// resume and what the storm costs the server.
	DisruptAt time.Duration
	Disrupt   func() (int, error)
	// OnLoad is called as posting begins, and the stop it returns once
	// the drain is over (a profiler, say).
	OnLoad func() (stop func())

	Progress io.Writer // progress lines; nil = silent
}

func (c *Config) setDefaults() error {
	if c.Target == "" {
		c.Target = targetChat
	}
	if c.Target != targetChat && c.Target != targetCentrifugo {
		return fmt.Errorf("-target %q: want %s or %s", c.Target, targetChat, targetCentrifugo)
	}
	if c.URL == "" {
		c.URL = "http://127.0.0.1:8080"
		if c.Target == targetCentrifugo {
			c.URL = "http://127.0.0.1:8000"
		}
	}
	if c.Namespace == "" {
		c.Namespace = "bench"
	}
	if c.Room == "" {
		c.Room = "bench-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + strconv.FormatUint(rand.Uint64()%1e6, 36)
	}
	if c.Streams < 0 || c.Rate < 0 || c.Posts < 0 || c.Posters < 0 {
		return errors.New("-streams, -rate, -posts and -posters must not be negative")
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Posters == 0 {
		c.Posters = min(max(8, int(math.Ceil(10*c.Rate))), 1024)
	}
	if c.Size == 0 {
		c.Size = 64
	}
	c.Size = min(max(c.Size, 32), 2000)
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30*time.Second + time.Duration(c.Streams)*time.Millisecond
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	switch c.IO {
	case "":
		c.IO = "goroutine"
		if epollSupported {
			c.IO = "epoll"
		}
	case "goroutine", "h2":
	case "epoll":
		if !epollSupported {
			return errors.New("-io epoll: Linux only")
		}
	default:
		return fmt.Errorf("-io %q: want epoll, goroutine or h2", c.IO)
	}
	if c.Pollers <= 0 {
		c.Pollers = 1
	}
	return nil
}

// Result is what one run measured.
type Result struct {
	Target  string
	Room    string
	Streams int
	Rate    float64

	ConnectTime time.Duration // until every stream was up

	Attempted   int64   // posts sent
	Accepted    int64   // posts the server acknowledged
	PostErrors  int64   // posts failed or refused
	PostsPerSec float64 // accepted, from the first send to the last acknowledgement
	PostP50     time.Duration
	PostP99     time.Duration

	Deliveries       int64         // distinct messages received, summed over streams
	Expected         int64         // Accepted × Streams
	Window           time.Duration // from the first post to the last delivery
	DeliveriesPerSec float64       // Deliveries / Window
	// Latency from the post sent to the event's arrival in the stream's
	// socket (the kernel's receive timestamp; with -io goroutine, when it
	// was read), and to when the tool read it, which adds the tool's own
	// queueing on a busy machine.
	P50, P90, P99    time.Duration
	Max              time.Duration
	ReadP50, ReadP99 time.Duration
	ReadMax          time.Duration
	Stalled          bool // deliveries stopped short of Expected

	Lost              int64 // accepted posts a stream never received, summed
	IncompleteStreams int   // streams that lost any
	Duplicated        int64
	OutOfOrder        int64
	Foreign           int64 // events without this run's stamp
	Dropped           int64 // connections the server ended during the run
	Resumed           int64 // reconnections after a drop
	Unrecovered       int64 // Centrifugo: resumes it reported as not recovered

	ServerCPU        time.Duration // during the window (with the drain)
	CPUPerDelivery   time.Duration
	ServerCPUPercent float64 // of one core
	RSSBefore        int64   // before any stream
	RSSIdle          int64   // every stream up and idle
	RSSAfter         int64   // at the end of the window
	RSSPerIdleStream float64 // (RSSIdle − RSSBefore) / Streams, bytes
	ToolCPU          time.Duration
	ToolCPUPercent   float64
	// OtherCPUPercent is what the rest of the machine used meanwhile
	// (all CPU time less the server's and the tool's): a busy neighbour
	// makes the numbers of that run unreliable.
	OtherCPUPercent   float64
	FirstErrors       []string // a few of the errors seen, for the report
	RaisedFileLimitTo uint64
	ServerFileLimit   uint64 // the server's soft RLIMIT_NOFILE, from /proc/PID/limits
	PeakRSS           int64  // the most the server held, sampled every 200 ms from idle to the end

	// With StreamURLs: the deliveries on streams of another server than
	// the one posted to, and their latency.
	CrossDeliveries    int64
	CrossP50, CrossP99 time.Duration
	CrossMax           time.Duration

	// With DisruptAt: what the disruption did and how the streams came
	// back. Resume times run from the disruption to the moment a
	// stream's new connection was established (the server had its
	// Last-Event-ID and would send from there).
	Disrupted     bool
	Cut           int // connections the disruption cut, as it reported
	StormStreams  int // streams dropped after the disruption
	StormResumed  int // of those, the ones that resumed
	ResumeP50     time.Duration
	ResumeP99     time.Duration
	ResumeMax     time.Duration
	ResumedOver5s int // dropped streams that took longer than 5 s, or never resumed
	// The server's CPU (% of one core) over the 3 s before the
	// disruption and the 5 s after it, and its RSS at the disruption
	// and at most in those 5 s.
	SteadyCPUPercent float64
	StormCPUPercent  float64
	StormRSSBefore   int64
	StormRSSPeak     int64

	// Baseline is a second run the scenario compares this one with (the
	// memory store beside Momento), nil otherwise.
	Baseline *Result `json:",omitempty"`
}

// bench is the state shared by a run's streams and posters.
type bench struct {
	cfg      Config
	target   string
	host     string // host:port
	room     string
	channel  string // Centrifugo channel
	base     time.Time
	baseWall int64 // base in nanoseconds since the Unix epoch, for kernel timestamps
	maxPosts int
	words    int // uint64 words of a per-stream bitset of posts
	posters  int
	srcIPs   int
	dialSem  chan struct{}
	streams  []*stream
	stopping atomic.Bool
	fatal    func(error)

	readyStreams atomic.Int64
	deliveries   atomic.Int64
	lastRecv     atomic.Int64          // b.now() of the latest delivery
	lat          [histShards]histogram // post sent → event arrived in the socket
	readLat      [histShards]histogram // post sent → event read by the tool

	// With StreamURLs: each stream's server (host:port), by index
	// modulo their number, and whether it is another than host.
	streamHosts []string
	cross       []bool
	crossLat    [histShards]histogram
	disruptAt   atomic.Int64 // b.now() of the disruption; 0 = none yet
	helpers     []int        // the tool's own helper processes (proxies): their CPU is the tool's
	cutStreams  func()       // ends every stream's connection at once (they reconnect)

	nextPost  atomic.Int64
	attempted atomic.Int64
	accepts   atomic.Int64
	failures  atomic.Int64
	lastAck   atomic.Int64
	acked     []atomic.Uint64
	postLat   histogram

	errMu  sync.Mutex
	errors []string
}

func (b *bench) now() int64 { return int64(time.Since(b.base)) }

func (b *bench) delivered(n int64) {
	b.deliveries.Add(n)
	storeMax(&b.lastRecv, b.now())
}

func storeMax(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}

func (b *bench) postAccepted(n int, sent int64) {
	now := b.now()
	b.acked[n>>6].Or(1 << (n & 63))
	b.accepts.Add(1)
	storeMax(&b.lastAck, now)
	b.postLat.record(time.Duration(now - sent))
}

func (b *bench) postFailed(err error) {
	b.failures.Add(1)
	b.noteError(err)
}

// noteError keeps the first few errors for the report.
func (b *bench) noteError(err error) {
	if err == nil || b.stopping.Load() {
		return
	}
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if len(b.errors) < 5 {
		b.errors = append(b.errors, err.Error())
	}
}

func (b *bench) dial(ctx context.Context, idx int) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
	if b.srcIPs > 0 {
		d.LocalAddr = &net.TCPAddr{IP: srcIP(idx, b.srcIPs)}
	}
	return d.DialContext(ctx, "tcp", b.streamHost(idx))
}

// srcIP is stream idx's source address among n: 127.0.0.2 and up, so
// that every address has its own ephemeral ports (about 28,000 each with
// Linux's default ip_local_port_range).
func srcIP(idx, n int) net.IP {
	k := 2 + idx%n
	return net.IPv4(127, byte(k>>16), byte(k>>8), byte(k))
}

// streamHost is the host:port stream idx connects to.
func (b *bench) streamHost(idx int) string {
	if len(b.streamHosts) == 0 {
		return b.host
	}
	return b.streamHosts[idx%len(b.streamHosts)]
}

// isCross tells whether stream idx reads another server than the one
// posted to.
func (b *bench) isCross(idx int) bool {
	return len(b.cross) > 0 && b.cross[idx%len(b.cross)]
}

func (b *bench) dialPost(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", b.host)
}

func (b *bench) progress(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// Run opens cfg.Streams streams, waits until all are up and idle, posts,
// waits for the deliveries, and reports. It returns within runBudget
// (sooner when ctx ends).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	b, err := newBench(cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Target: cfg.Target, Room: cfg.Room, Streams: cfg.Streams, Rate: cfg.Rate}
	need := uint64(cfg.Streams+cfg.Posters) + 1024
	if lim, err := raiseNoFile(need); err == nil {
		res.RaisedFileLimitTo = lim
	} else {
		b.progress("could not raise the open-file limit: %v", err)
	}
	b.checkServerLimits(res)
	if cfg.Proxy {
		ups := b.streamHosts
		if len(ups) == 0 {
			ups = []string{b.host}
		}
		// The streams go to the proxy; the cross-instance split no
		// longer applies, since the proxy chooses their server. A proxy
		// holds two descriptors per stream: past a few thousand streams
		// it runs in processes of its own, each under its own limit.
		b.cross = nil
		if cfg.ProxyProcs {
			pp, err := startProxyProcs(ctx, cfg.Streams, ups)
			if err != nil {
				return nil, err
			}
			defer pp.stop()
			b.streamHosts = pp.addrs
			for _, c := range pp.cmds {
				b.helpers = append(b.helpers, c.Process.Pid)
			}
			if cfg.DisruptAt > 0 && cfg.Disrupt == nil {
				b.cfg.Disrupt = func() (int, error) { pp.cut(); return -1, nil }
			}
		} else {
			px, err := startProxy(ups)
			if err != nil {
				return nil, err
			}
			defer px.close()
			b.streamHosts = []string{px.addr()}
			if cfg.DisruptAt > 0 && cfg.Disrupt == nil {
				b.cfg.Disrupt = func() (int, error) { return px.cut(), nil }
			}
		}
	}

	// A stream or poster that meets an error the run cannot survive ends
	// the run through b.fatal, with that error as the cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var fatalOnce sync.Once
	b.fatal = func(err error) { fatalOnce.Do(func() { cancel(err) }) }
	if cfg.DisruptAt > 0 && !cfg.Proxy && cfg.Disrupt == nil {
		// Without a proxy the tool cuts its own connections, all at
		// once: what the server sees of a proxy in front of it
		// restarting, without a proxy's cost on the same cores.
		b.cfg.Disrupt = func() (int, error) {
			n := int(b.readyStreams.Load())
			b.cutStreams()
			return n, nil
		}
	}

	before := b.sample()
	stopStreams, err := b.connect(ctx, res)
	if err != nil {
		return nil, err
	}
	defer stopStreams()
	idle, err := b.settle(ctx)
	if err != nil {
		return nil, err
	}
	w := b.load(ctx)
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	// The streams' counters are read only once their readers have stopped.
	stopStreams()
	b.tally(res, w)
	b.cost(res, before, idle, w)
	return res, nil
}

// newBench checks that cfg (defaults applied) drives a loopback server
// and sizes the run's bookkeeping: the posts to expect, and a bitset of
// them per stream, refusing a run whose bitsets would pass 1 GB.
func newBench(cfg Config) (*bench, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want http://127.0.0.1:PORT", cfg.URL)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-url %q: the tool drives loopback servers only", cfg.URL)
	}
	b := &bench{
		cfg:     cfg,
		target:  cfg.Target,
		host:    u.Host,
		room:    cfg.Room,
		channel: cfg.Namespace + ":" + cfg.Room,
		base:    time.Now(),
		posters: cfg.Posters,
		dialSem: make(chan struct{}, cmp.Or(cfg.DialWindow, 256)),
	}
	switch {
	case cfg.Rate > 0:
		b.maxPosts = int(math.Round(cfg.Rate * cfg.Duration.Seconds()))
	default:
		// Bound the per-stream bitsets to about 256 MB in all.
		b.maxPosts = min(1_000_000, (256<<23)/max(cfg.Streams, 1))
	}
	if cfg.Posts > 0 {
		b.maxPosts = min(b.maxPosts, cfg.Posts)
	}
	b.maxPosts = max(b.maxPosts, 1)
	b.words = (b.maxPosts + 63) / 64
	if (int64(b.words)*8+int64(b.posters)*4)*int64(cfg.Streams) > 1<<30 {
		return nil, fmt.Errorf("%d streams × (%d posts, %d posters) need over 1 GB of bookkeeping: lower -posts or -posters", cfg.Streams, b.maxPosts, b.posters)
	}
	for _, su := range cfg.StreamURLs {
		u, err := url.Parse(su)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("stream URL %q: want http://127.0.0.1:PORT", su)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("stream URL %q: the tool drives loopback servers only", su)
		}
		b.streamHosts = append(b.streamHosts, u.Host)
		b.cross = append(b.cross, u.Host != b.host)
	}
	b.baseWall = b.base.UnixNano()
	b.acked = make([]atomic.Uint64, b.words)
	b.srcIPs = cfg.SrcIPs
	if b.srcIPs == 0 && cfg.Streams+cfg.Posters > 20_000 {
		b.srcIPs = (cfg.Streams + cfg.Posters + 19_999) / 20_000
	}
	return b, nil
}

// sample reads the server's RSS and CPU, or nothing without a pid; an
// error is noted for the report and gives a zero sample.
func (b *bench) sample() procSample {
	if b.cfg.PID == 0 {
		return procSample{}
	}
	var sum procSample
	for _, pid := range append([]int{b.cfg.PID}, b.cfg.PIDs...) {
		s, err := readProc(pid)
		if err != nil {
			b.noteError(fmt.Errorf("reading /proc/%d: %w", pid, err))
		}
		sum.RSS += s.RSS
		sum.CPU += s.CPU
	}
	return sum
}

// checkServerLimits reads the server's open-file limit and warns when it
// cannot hold every stream: the server then refuses connections (accept
// fails with EMFILE) and the run stalls while connecting.
func (b *bench) checkServerLimits(res *Result) {
	if b.cfg.PID == 0 {
		return
	}
	lim, err := procFileLimit(b.cfg.PID)
	if err != nil {
		return
	}
	res.ServerFileLimit = lim
	if perServer := uint64(b.cfg.Streams/(1+len(b.cfg.PIDs))) + 64; lim < perServer {
		b.progress("the server (pid %d) may open %d files, fewer than its %d streams need: raise its `ulimit -n` (docs/benchmarks.md, Settings)", b.cfg.PID, lim, perServer)
	}
}

// connect opens every stream, with epoll pollers or a goroutine each,
// and waits until all are up, setting res.ConnectTime. The returned stop
// (idempotent) ends the streams and returns once their readers have
// stopped; on an error connect has stopped them itself.
func (b *bench) connect(ctx context.Context, res *Result) (stop func(), err error) {
	streams := make([]*stream, b.cfg.Streams)
	for i := range streams {
		streams[i] = newStream(b, i)
	}
	b.streams = streams
	// The streams' context ends when they are stopped, so that nothing
	// of theirs waits on.
	sctx, endStreams := context.WithCancel(ctx)
	start := time.Now()
	var stopIO func()
	if b.cfg.IO == "epoll" {
		if stopIO, err = runPollers(sctx, b, b.cfg.Pollers); err != nil {
			endStreams()
			return nil, err
		}
	} else if b.cfg.IO == "h2" {
		client := b.h2Client()
		var wg sync.WaitGroup
		for _, s := range streams {
			wg.Go(func() { s.runH2(sctx, client, b.streamHost(s.idx)) })
		}
		b.cutStreams = func() {
			for _, s := range streams {
				s.cutH2()
			}
		}
		stopIO = func() {
			for _, s := range streams {
				s.cutH2()
			}
			wg.Wait()
			client.CloseIdleConnections()
		}
	} else {
		var wg sync.WaitGroup
		for _, s := range streams {
			wg.Go(func() { s.run(sctx) })
		}
		b.cutStreams = func() {
			for _, s := range streams {
				s.closeConn()
			}
		}
		stopIO = func() {
			for _, s := range streams {
				s.closeConn()
			}
			wg.Wait()
		}
	}
	stop = sync.OnceFunc(func() {
		b.stopping.Store(true)
		endStreams()
		stopIO()
	})
	if err := b.waitReady(ctx, start); err != nil {
		stop()
		return nil, err
	}
	res.ConnectTime = time.Since(start)
	b.progress("%s: %d streams up in %.1fs", b.cfg.Target, b.cfg.Streams, res.ConnectTime.Seconds())
	return stop, nil
}

// settle leaves the streams idle for cfg.Settle and then samples the
// server, for its RSS with every stream up and idle.
func (b *bench) settle(ctx context.Context) (procSample, error) {
	if b.cfg.Settle > 0 {
		if err := sleepCtx(ctx, b.cfg.Settle); err != nil {
			return procSample{}, context.Cause(ctx)
		}
	}
	return b.sample(), nil
}

// window is what the load phase saw. Times are b.now() values.
type window struct {
	t0        int64 // the first post
	postEnd   int64 // the last post answered (or given up)
	end       int64 // the drain over
	stalled   bool  // deliveries stopped short of every accepted post on every stream
	after     procSample
	toolCPU   time.Duration // the tool's own CPU during the window
	busy      time.Duration // all the machine's busy CPU during the window
	samples   []timedSample // the server every 200 ms
	cut       int           // connections the disruption cut
	disrupted bool
}

// load posts, then drains the deliveries, and samples the server, the
// tool and the machine around both.
func (b *bench) load(ctx context.Context) window {
	if b.cfg.OnLoad != nil {
		stop := b.cfg.OnLoad()
		defer stop()
	}
	toolBefore, busyBefore := b.toolCPU(), machineBusy()
	w := window{t0: b.now()}
	b.lastRecv.Store(w.t0)
	sctx, stopSampling := context.WithCancel(ctx)
	samples := make(chan []timedSample, 1)
	go func() { samples <- b.sampleEvery(sctx, 200*time.Millisecond) }()
	var disrupted sync.WaitGroup
	if b.cfg.DisruptAt > 0 && b.cfg.Disrupt != nil {
		disrupted.Go(func() { b.disrupt(ctx, w.t0, &w) })
	}
	b.post(ctx, w.t0)
	w.postEnd = b.now()
	disrupted.Wait()
	w.stalled = !b.drain(ctx)
	w.end = b.now()
	w.after = b.sample()
	w.toolCPU = b.toolCPU() - toolBefore
	w.busy = machineBusy() - busyBefore
	stopSampling()
	w.samples = <-samples
	return w
}

// toolCPU is the CPU time of the tool and its helper processes.
func (b *bench) toolCPU() time.Duration {
	t := selfCPU()
	for _, pid := range b.helpers {
		if s, err := readProc(pid); err == nil {
			t += s.CPU
		}
	}
	return t
}

// timedSample is the server's procSample at b.now() t.
type timedSample struct {
	t int64
	procSample
}

// sampleEvery samples the server every d until ctx ends.
func (b *bench) sampleEvery(ctx context.Context, d time.Duration) []timedSample {
	if b.cfg.PID == 0 {
		return nil
	}
	var out []timedSample
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		out = append(out, timedSample{b.now(), b.sample()})
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

// disrupt calls cfg.Disrupt at cfg.DisruptAt into the posting.
func (b *bench) disrupt(ctx context.Context, t0 int64, w *window) {
	if d := time.Duration(t0 + int64(b.cfg.DisruptAt) - b.now()); d > 0 && sleepCtx(ctx, d) != nil {
		return
	}
	// Streams that drop from now on count as the storm's.
	b.disruptAt.Store(b.now())
	n, err := b.cfg.Disrupt()
	if err != nil {
		b.noteError(fmt.Errorf("disruption: %w", err))
	}
	w.cut, w.disrupted = n, true
	b.progress("%s: disruption at %.1fs: %d connections cut", b.cfg.Target, time.Duration(b.disruptAt.Load()-t0).Seconds(), n)
}

// tally fills res with the posts, deliveries, latencies, each stream's
// correctness and the errors seen. The streams must have stopped.
func (b *bench) tally(res *Result, w window) {
	res.Stalled = w.stalled
	res.Attempted = b.attempted.Load()
	res.Accepted = b.accepts.Load()
	res.PostErrors = b.failures.Load()
	if last := b.lastAck.Load(); res.Accepted > 0 && last > w.t0 {
		res.PostsPerSec = float64(res.Accepted) / time.Duration(last-w.t0).Seconds()
	}
	res.PostP50, res.PostP99 = b.postLat.quantile(0.5), b.postLat.quantile(0.99)
	res.Deliveries = b.deliveries.Load()
	res.Expected = res.Accepted * int64(b.cfg.Streams)
	res.Window = time.Duration(max(b.lastRecv.Load(), w.postEnd) - w.t0)
	if res.Window > 0 {
		res.DeliveriesPerSec = float64(res.Deliveries) / res.Window.Seconds()
	}
	lat := mergeShards(&b.lat)
	res.P50, res.P90, res.P99 = lat.quantile(0.50), lat.quantile(0.90), lat.quantile(0.99)
	res.Max = time.Duration(lat.max.Load())
	readLat := mergeShards(&b.readLat)
	res.ReadP50, res.ReadP99 = readLat.quantile(0.50), readLat.quantile(0.99)
	res.ReadMax = time.Duration(readLat.max.Load())
	if len(b.cross) > 0 {
		cross := mergeShards(&b.crossLat)
		res.CrossP50, res.CrossP99 = cross.quantile(0.50), cross.quantile(0.99)
		res.CrossMax = time.Duration(cross.max.Load())
	}
	var resume histogram
	d := b.disruptAt.Load()
	res.Disrupted, res.Cut = w.disrupted, w.cut
	acked := make([]uint64, b.words)
	for i := range acked {
		acked[i] = b.acked[i].Load()
	}
	for _, s := range b.streams {
		lost := s.lost(acked)
		res.Lost += lost
		if lost > 0 {
			res.IncompleteStreams++
		}
		res.Duplicated += s.dup
		res.OutOfOrder += s.ooo
		res.Foreign += s.foreign
		res.Dropped += s.drops
		res.Resumed += s.resumes
		res.Unrecovered += s.unrecovered
		res.CrossDeliveries += s.crossGot
		if s.stormDrop {
			res.StormStreams++
			if s.resumeAt > 0 {
				res.StormResumed++
				resume.record(time.Duration(s.resumeAt - d))
			}
			if s.resumeAt == 0 || time.Duration(s.resumeAt-d) > 5*time.Second {
				res.ResumedOver5s++
			}
		}
	}
	if res.StormResumed > 0 {
		res.ResumeP50, res.ResumeP99 = resume.quantile(0.5), resume.quantile(0.99)
		res.ResumeMax = time.Duration(resume.max.Load())
	}
	b.errMu.Lock()
	res.FirstErrors = append(res.FirstErrors, b.errors...)
	b.errMu.Unlock()
}

// mergeShards is one histogram of all the shards' counts.
func mergeShards(shards *[histShards]histogram) *histogram {
	h := new(histogram)
	for i := range shards {
		h.merge(&shards[i])
	}
	return h
}

// cost fills res with what the run cost: the server's RSS before any
// stream, with every stream idle, and at the end; its CPU over the
// window (from idle, so the connecting is left out) per delivery; and
// the tool's and the other processes' share of the CPU meanwhile. The
// server's figures need cfg.PID; tally must have run.
func (b *bench) cost(res *Result, before, idle procSample, w window) {
	res.RSSBefore = before.RSS
	res.RSSIdle = idle.RSS
	if b.cfg.Streams > 0 && idle.RSS > 0 {
		res.RSSPerIdleStream = float64(idle.RSS-before.RSS) / float64(b.cfg.Streams)
	}
	res.ToolCPU = w.toolCPU
	if b.cfg.PID != 0 {
		res.RSSAfter = w.after.RSS
		res.ServerCPU = w.after.CPU - idle.CPU
		if res.Deliveries > 0 {
			res.CPUPerDelivery = res.ServerCPU / time.Duration(res.Deliveries)
		}
	}
	for _, x := range w.samples {
		res.PeakRSS = max(res.PeakRSS, x.RSS)
	}
	res.PeakRSS = max(res.PeakRSS, idle.RSS, w.after.RSS)
	if d := b.disruptAt.Load(); d > 0 {
		res.SteadyCPUPercent, _, _ = cpuBetween(w.samples, d-int64(3*time.Second), d)
		res.StormCPUPercent, res.StormRSSBefore, res.StormRSSPeak = cpuBetween(w.samples, d, d+int64(5*time.Second))
	}
	wall := time.Duration(w.end - w.t0).Seconds()
	if wall > 0 {
		res.ServerCPUPercent = 100 * res.ServerCPU.Seconds() / wall
		res.ToolCPUPercent = 100 * res.ToolCPU.Seconds() / wall
		if b.cfg.PID != 0 && w.busy > 0 {
			res.OtherCPUPercent = max(0, 100*(w.busy-res.ServerCPU-res.ToolCPU).Seconds()/wall)
		}
	}
}

// cpuBetween is, from the samples taken between b.now() times from and
// to, the server's CPU in % of one core, its RSS at the first of them,
// and the most it held.
func cpuBetween(samples []timedSample, from, to int64) (pct float64, rssFirst, rssPeak int64) {
	var first, last *timedSample
	for i := range samples {
		x := &samples[i]
		if x.t < from || x.t > to {
			continue
		}
		if first == nil {
			first = x
		}
		last = x
		rssPeak = max(rssPeak, x.RSS)
	}
	if first == nil || last.t <= first.t {
		return 0, 0, rssPeak
	}
	return 100 * (last.CPU - first.CPU).Seconds() / time.Duration(last.t-first.t).Seconds(), first.RSS, rssPeak
}

// runBudget bounds how long Run takes with cfg (defaults applied): every
// stream up, the settle time, the posts and the slowest answer to one,
// and the longest drain.
func runBudget(cfg Config) time.Duration {
	connect := cfg.ConnectTimeout
	if connect <= 0 {
		connect = 30*time.Second + time.Duration(cfg.Streams)*time.Millisecond
	}
	return connect + cfg.Settle + cfg.Duration + postTimeout + max(30*time.Second, 2*cfg.Duration) + 5*time.Second
}

// waitReady waits until every stream is up.
func (b *bench) waitReady(ctx context.Context, start time.Time) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastReport := start
	for int(b.readyStreams.Load()) < b.cfg.Streams {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case now := <-tick.C:
			if now.Sub(start) > b.cfg.ConnectTimeout {
				return fmt.Errorf("only %d of %d streams up after %s (first errors: %q)",
					b.readyStreams.Load(), b.cfg.Streams, b.cfg.ConnectTimeout, b.firstErrors())
			}
			if now.Sub(lastReport) >= 5*time.Second {
				lastReport = now
				b.progress("%s: %d of %d streams up", b.cfg.Target, b.readyStreams.Load(), b.cfg.Streams)
			}
		}
	}
	return nil
}

func (b *bench) firstErrors() []string {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return append([]string(nil), b.errors...)
}

// post sends the run's posts. At a rate the load is open: each post goes
// out on schedule on an idle connection, and a new connection joins the
// pool (up to b.posters) when none is idle, so that a server slow to
// answer does not slow the posts down. At max rate, b.posters
// connections each send their next post as soon as the last is answered,
// for cfg.Duration.
func (b *bench) post(ctx context.Context, t0 int64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if b.cfg.Rate <= 0 {
		end := t0 + int64(b.cfg.Duration)
		for i := range b.posters {
			p := &poster{b: b, idx: i}
			wg.Go(func() {
				defer p.close()
				for ctx.Err() == nil && b.now() < end {
					n := int(b.nextPost.Add(1) - 1)
					if n >= b.maxPosts {
						return
					}
					p.post(ctx, n)
				}
			})
		}
		return
	}
	jobs := make(chan int) // a send succeeds when a poster is idle
	defer close(jobs)
	started := 0
	start := func() {
		p := &poster{b: b, idx: started}
		started++
		wg.Go(func() {
			defer p.close()
			for n := range jobs {
				p.post(ctx, n)
			}
		})
	}
	for range min(8, b.posters) {
		start()
	}
	interval := float64(time.Second) / b.cfg.Rate
	for n := range b.maxPosts {
		at := t0 + int64(float64(n)*interval)
		if d := time.Duration(at - b.now()); d > 0 {
			if sleepCtx(ctx, d) != nil {
				return
			}
		}
		select {
		case jobs <- n:
			continue
		default:
		}
		if started < b.posters {
			start()
		}
		select {
		case jobs <- n:
		case <-ctx.Done():
			return
		}
	}
}

// drain waits until every accepted post has reached every stream, or
// deliveries stall for cfg.Drain; it reports whether all arrived.
func (b *bench) drain(ctx context.Context) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	want := b.accepts.Load() * int64(b.cfg.Streams)
	last, lastAt := int64(-1), time.Now()
	deadline := time.Now().Add(max(30*time.Second, 2*b.cfg.Duration))
	var doneAt time.Time
	for {
		got := b.deliveries.Load()
		if got >= want {
			// A failed post may still have been stored and delivered:
			// give such strays a moment to land before calling it done.
			if b.failures.Load() == 0 {
				return true
			}
			if doneAt.IsZero() {
				doneAt = time.Now()
			} else if time.Since(doneAt) > 500*time.Millisecond {
				return true
			}
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > b.cfg.Drain {
			return false
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
