package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// scenario is one group of rows of the comparison: the targets.
type scenario struct {
	Name     string
	Title    string
	Streams  int
	Rate     float64 // 0 = max rate
	Duration time.Duration
	Settle   time.Duration
	// Kind is how the scenario runs: "" one chat, every stream on it;
	// kindStorm the same, the tool cutting every stream at once;
	// kindStormProxy through the tool's proxy, which cuts them; kindMomento two chats on momentotest, the streams
	// split between them, beside one chat on the memory store with all
	// the streams; kindRolling two chats on momentotest behind the
	// proxy, one of them restarted.
	Kind string
	// DisruptAt is when, into the posting, the storm's cut or the
	// rolling restart happens.
	DisruptAt time.Duration
	// DialWindow is how many streams may be connecting at once, unless
	// -dial-window says; 0 = the tool's 256. A storm's clients each
	// reconnect on their own: with 256 at a time the tool itself, not
	// the server, held the resumes back (p99 6.2 s against 4.4 s at
	// 2,048, the server at 75% of a core).
	DialWindow int
	// IO is how the streams are read, unless -io says: "h2" puts them on
	// HTTP/2 connections (h2c), 250 to a connection.
	IO string
}

const (
	kindStorm      = "storm"
	kindStormProxy = "storm-proxy"
	kindMomento    = "momento"
	kindRolling    = "rolling"
)

// scenarios are the targets; all runs the first four, and the
// larger ones (100k and after) are run by name.
var scenarios = []scenario{
	{Name: "10k", Title: "10,000 streams, 10 posts/s", Streams: 10_000, Rate: 10, Duration: 15 * time.Second, Settle: 2 * time.Second},
	{Name: "5k", Title: "5,000 streams, 100 posts/s", Streams: 5_000, Rate: 100, Duration: 15 * time.Second, Settle: time.Second},
	{Name: "max", Title: "100 streams, posts at max rate", Streams: 100, Duration: 10 * time.Second, Settle: 500 * time.Millisecond},
	{Name: "cpu", Title: "1,000 streams, 100 posts/s", Streams: 1_000, Rate: 100, Duration: 15 * time.Second, Settle: time.Second},
	{Name: "100k", Title: "100,000 streams, 1 post/s", Streams: 100_000, Rate: 1, Duration: 20 * time.Second, Settle: 3 * time.Second},
	{Name: "100k-h2", Title: "100,000 streams over HTTP/2 (h2c), 1 post/s", Streams: 100_000, Rate: 1, Duration: 20 * time.Second, Settle: 3 * time.Second, IO: "h2"},
	{Name: "storm", Title: "10,000 streams cut at once, 10 posts/s", Streams: 10_000, Rate: 10, Duration: 15 * time.Second, Settle: 2 * time.Second, Kind: kindStorm, DisruptAt: 5 * time.Second, DialWindow: 2048},
	{Name: "storm-proxy", Title: "10,000 streams through a proxy that cuts them at once, 10 posts/s", Streams: 10_000, Rate: 10, Duration: 15 * time.Second, Settle: 2 * time.Second, Kind: kindStormProxy, DisruptAt: 5 * time.Second, DialWindow: 2048},
	{Name: "momento", Title: "2 instances on momentotest × 5,000 streams, 10 posts/s", Streams: 10_000, Rate: 10, Duration: 15 * time.Second, Settle: 2 * time.Second, Kind: kindMomento},
	{Name: "rolling", Title: "2 instances on momentotest behind a proxy, 10,000 streams, one restarted, 10 posts/s", Streams: 10_000, Rate: 10, Duration: 15 * time.Second, Settle: 2 * time.Second, Kind: kindRolling, DisruptAt: 5 * time.Second, DialWindow: 2048},
}

// classic is how many of scenarios "all" runs.
const classic = 4

// targetBase is a -compare target: a second chat binary (-base-bin),
// typically main's before a change, run exactly like targetChat (same
// environment, same scenarios, its runs interleaved with the chat's) so
// that one invocation measures the change.
const targetBase = "base"

// serverKind is the kind of server a -compare target is: the chat for
// targetBase, else the target itself.
func serverKind(target string) string {
	if target == targetBase {
		return targetChat
	}
	return target
}

// compareConfig is a -compare invocation.
type compareConfig struct {
	Scenarios  []scenario
	Targets    []string // targetChat, targetBase, targetCentrifugo
	Runs       int
	Quick      bool
	ChatBin    string
	BaseBin    string // the chat binary of targetBase
	CfBin      string
	Posters    int
	Size       int
	IO         string
	Pollers    int
	DialWindow int
	// MaxOther is how much CPU, in % of one core, other processes may
	// use during a run before it is redone (at most twice); 0 = no check.
	MaxOther float64
	Out      string // markdown file to write besides stdout
	// MomentoBin is devtools/momentotest built (default: go build);
	// TopicRate the chats' CHAT_MOMENTO_TOPIC_RATE in the Momento
	// scenarios.
	MomentoBin string
	TopicRate  float64
	// Perf, when set, is a directory where each run's server is
	// profiled with perf record during the posting, and perf report's
	// summary written beside it.
	Perf string
	// MaxStreams, when positive, caps every scenario's streams (a
	// machine whose open-file limit is below what a scenario needs).
	MaxStreams int
	Progress   io.Writer
}

func pickScenarios(list string) ([]scenario, error) {
	if list == "all" || list == "" {
		return scenarios[:classic], nil
	}
	var out []scenario
	for name := range strings.SplitSeq(list, ",") {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.Name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("-scenario %q: want all or a list of %s", name, scenarioNames())
		}
		out = append(out, scenarios[i])
	}
	return out, nil
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// compareBudget bounds how long a comparison may take, for the hard
// deadline: every run at its longest, started and stopped, and redone
// twice after a minute's wait for quiet.
func compareBudget(c compareConfig) time.Duration {
	var d time.Duration
	for _, s := range c.Scenarios {
		run := runBudget(Config{Streams: s.Streams, Settle: s.Settle, Duration: s.Duration}) + time.Minute
		if s.Kind == kindMomento {
			run *= 2 // and the memory store beside it
		}
		if c.MaxOther > 0 {
			run = 3 * (run + time.Minute)
		}
		d += run
	}
	return time.Duration(c.Runs*len(c.Targets))*d + 2*time.Minute
}

// waitQuiet waits, up to limit, until the machine's busy CPU over a
// second is below pct % of one core.
func waitQuiet(ctx context.Context, pct float64, limit time.Duration, progress io.Writer) {
	deadline := time.Now().Add(limit)
	for said := false; time.Now().Before(deadline); {
		before, at := machineBusy(), time.Now()
		if sleepCtx(ctx, time.Second) != nil {
			return
		}
		busy := 100 * (machineBusy() - before).Seconds() / time.Since(at).Seconds()
		if busy <= pct {
			return
		}
		if !said {
			fmt.Fprintf(progress, "waiting for the machine to quieten (busy %.0f%% of a core)\n", busy)
			said = true
		}
	}
}

// compare runs every scenario Runs times against a fresh process of
// every target, interleaving the targets so that all see the same
// machine (in turn, the order reversed every other run so that none
// always goes first), and prints a markdown table of medians.
func compare(ctx context.Context, c compareConfig, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "chatbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins := map[string]string{}
	for _, t := range c.Targets {
		if _, dup := bins[t]; dup {
			return fmt.Errorf("-targets: %q twice", t)
		}
		switch t {
		case targetChat:
			if bins[t], err = chatBinary(ctx, c.ChatBin, dir, c.Progress); err != nil {
				return err
			}
		case targetBase:
			if c.BaseBin == "" {
				return errors.New("-targets base needs -base-bin PATH, the chat binary to compare against")
			}
			if !isFile(c.BaseBin) {
				return fmt.Errorf("-base-bin %q: not a file", c.BaseBin)
			}
			bins[t] = c.BaseBin
		case targetCentrifugo:
			if bins[t], err = centrifugoBinary(c.CfBin); err != nil {
				return err
			}
		default:
			return fmt.Errorf("-targets: unknown %q", t)
		}
	}
	if c.MaxStreams > 0 {
		// The table says what ran.
		c.Scenarios = slices.Clone(c.Scenarios)
		for i, sc := range c.Scenarios {
			if sc.Streams > c.MaxStreams {
				c.Scenarios[i].Title = fmt.Sprintf("%s, capped at %d streams", sc.Title, c.MaxStreams)
			}
		}
	}
	for _, sc := range c.Scenarios {
		if (sc.Kind == kindMomento || sc.Kind == kindRolling) && c.MomentoBin == "" {
			if c.MomentoBin, err = goBuild(ctx, "./devtools/momentotest", filepath.Join(dir, "momentotest"), c.Progress); err != nil {
				return err
			}
		}
	}
	// Enough descriptors for the largest scenario, for the tool (each
	// stream, and through the proxy two more) and, by inheritance of
	// the hard limit, the servers (Go raises its soft limit to it).
	want := uint64(65536)
	for _, sc := range c.Scenarios {
		want = max(want, 3*uint64(sc.Streams)+8192)
	}
	if lim, err := raiseNoFile(want); err != nil {
		fmt.Fprintf(c.Progress, "could not raise the open-file limit to %d: %v\n", want, err)
	} else if lim < want {
		fmt.Fprintf(c.Progress, "open-file limit %d, below the %d wanted: run as root or raise `ulimit -Hn`\n", lim, want)
	}
	fmt.Fprintf(c.Progress, "machine: %s\n", machine())

	results := map[string]map[string][]*Result{} // scenario → target → runs
	var runLines []string
	for _, sc := range c.Scenarios {
		results[sc.Name] = map[string][]*Result{}
		for run := 1; run <= c.Runs; run++ {
			order := slices.Clone(c.Targets)
			if run%2 == 0 {
				slices.Reverse(order)
			}
			for _, t := range order {
				var best *Result
				for try := 0; try < 3; try++ {
					// Let the closed connections and the last server settle,
					// and wait (a while) for a busy neighbour to finish.
					if err := sleepCtx(ctx, time.Second); err != nil {
						return err
					}
					if c.MaxOther > 0 {
						waitQuiet(ctx, c.MaxOther/2, time.Minute, c.Progress)
					}
					res, err := compareRun(ctx, c, sc, t, bins[t], dir, run)
					if err != nil {
						return fmt.Errorf("%s run %d, %s: %w", sc.Name, run, t, err)
					}
					if best == nil || res.OtherCPUPercent < best.OtherCPUPercent {
						best = res
					}
					if c.MaxOther <= 0 || res.OtherCPUPercent <= c.MaxOther {
						break
					}
					fmt.Fprintf(c.Progress, "%s run %d %s: other processes used %.0f%% of a core; running it again\n", sc.Name, run, t, res.OtherCPUPercent)
				}
				results[sc.Name][t] = append(results[sc.Name][t], best)
				line := fmt.Sprintf("%s run %d %-10s %s", sc.Name, run, t, best.summary())
				if best.Baseline != nil {
					line += fmt.Sprintf("\n%s run %d %-10s memory store, one instance: %s", sc.Name, run, t, best.Baseline.summary())
				}
				runLines = append(runLines, line)
				fmt.Fprintln(c.Progress, line)
				for _, e := range best.FirstErrors {
					fmt.Fprintf(c.Progress, "  error: %s\n", e)
				}
			}
		}
	}

	var md bytes.Buffer
	writeTable(&md, c, results)
	fmt.Fprintf(&md, "\n<details><summary>Every run</summary>\n\n```\n%s\n```\n</details>\n", strings.Join(runLines, "\n"))
	stdout.Write(md.Bytes())
	if c.Out != "" {
		return os.WriteFile(c.Out, md.Bytes(), 0o644)
	}
	return nil
}

func compareRun(ctx context.Context, c compareConfig, sc scenario, target, bin, dir string, run int) (*Result, error) {
	dur := sc.Duration
	if c.Quick {
		dur = min(dur, 5*time.Second)
	}
	cfg := Config{
		Target:     serverKind(target),
		Streams:    sc.Streams,
		Rate:       sc.Rate,
		Duration:   dur,
		Posters:    c.Posters,
		Size:       c.Size,
		IO:         cmp.Or(c.IO, sc.IO),
		Pollers:    c.Pollers,
		DialWindow: cmp.Or(c.DialWindow, sc.DialWindow),
		Settle:     sc.Settle,
		DisruptAt:  sc.DisruptAt,
		Progress:   c.Progress,
	}
	if c.MaxStreams > 0 && cfg.Streams > c.MaxStreams {
		cfg.Streams = c.MaxStreams
	}
	if sc.Kind == kindMomento || sc.Kind == kindRolling {
		return momentoRun(ctx, c, sc, cfg, target, bin, dir, run)
	}
	srv, err := startServer(ctx, target, bin, dir, 0, nil)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	cfg.URL, cfg.APIKey, cfg.PID = srv.url, srv.apiKey, srv.cmd.Process.Pid
	switch sc.Kind {
	case kindStorm:
		cfg.RetryHint = true
	case kindStormProxy:
		cfg.Proxy, cfg.ProxyProcs, cfg.RetryHint = true, true, true
	}
	cfg.OnLoad = c.profiler(sc, target, run, cfg.PID)
	res, err := Run(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (server log: %s)", err, srv.logTail())
	}
	return res, nil
}

// momentoRun runs a Momento scenario: momentotest, and two chats on it.
// kindMomento splits the streams between the two and posts to the first,
// then runs the memory store's chat with every stream as the baseline;
// kindRolling puts the two behind the tool's proxy and, at DisruptAt,
// restarts the second, whose streams must land on the first.
func momentoRun(ctx context.Context, c compareConfig, sc scenario, cfg Config, target, bin, dir string, run int) (*Result, error) {
	if serverKind(target) != targetChat {
		return nil, fmt.Errorf("scenario %s: the chat only", sc.Name)
	}
	var base *Result
	memCfg := cfg // before the Momento run's servers are filled in
	baseline := func() error {
		srv, err := startServer(ctx, target, bin, dir, 0, nil)
		if err != nil {
			return err
		}
		defer srv.stop()
		bc := memCfg
		bc.URL, bc.PID = srv.url, srv.cmd.Process.Pid
		if base, err = Run(ctx, bc); err != nil {
			return fmt.Errorf("memory store: %w (server log: %s)", err, srv.logTail())
		}
		return nil
	}
	// The baseline goes first in odd runs and last in even ones, so that
	// neither always meets a fresher machine.
	if sc.Kind == kindMomento && run%2 == 1 {
		if err := baseline(); err != nil {
			return nil, err
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	mt, err := startMomentotest(ctx, c.MomentoBin, dir)
	if err != nil {
		return nil, err
	}
	defer mt.stop()
	env := momentoEnv(mt.addr, c.TopicRate)
	a, err := startServer(ctx, target, bin, dir, 0, env)
	if err != nil {
		return nil, err
	}
	defer a.stop()
	bPort, err := freePort()
	if err != nil {
		return nil, err
	}
	b, err := startServer(ctx, target, bin, dir, bPort, env)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex // b is replaced by the restart
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		b.stop()
	}()
	cfg.URL, cfg.PID = a.url, a.cmd.Process.Pid
	cfg.StreamURLs = []string{a.url, b.url}
	cfg.OnLoad = c.profiler(sc, target, run, cfg.PID)
	if sc.Kind == kindMomento {
		cfg.PIDs = []int{b.cmd.Process.Pid}
	} else {
		// The survivor's CPU and memory are measured; the restarted one
		// changes its pid.
		cfg.Proxy, cfg.ProxyProcs, cfg.RetryHint = true, true, true
		cfg.Disrupt = func() (int, error) {
			mu.Lock()
			old := b
			mu.Unlock()
			old.cmd.Process.Signal(syscall.SIGTERM)
			go func() {
				// Back on its port once the old process has gone, as a
				// rolling restart does; the moved streams stay put.
				select {
				case <-old.done:
				case <-ctx.Done():
					return
				}
				nb, err := startServer(ctx, target, bin, dir, bPort, env)
				if err != nil {
					fmt.Fprintf(c.Progress, "restarting the second instance: %v\n", err)
					return
				}
				mu.Lock()
				b = nb
				mu.Unlock()
			}()
			return -1, nil
		}
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (first instance's log: %s)", err, a.logTail())
	}
	if sc.Kind == kindMomento && run%2 == 0 {
		a.stop()
		mu.Lock()
		b.stop()
		mu.Unlock()
		mt.stop()
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, err
		}
		if err := baseline(); err != nil {
			return nil, err
		}
	}
	res.Baseline = base
	return res, nil
}

// momentoEnv is the chats' environment on momentotest at addr: the
// Momento store, its topic quota raised to topicRate (momentotest has no
// quota), so that the measure is the path's speed, not the pacing of the
// default quota of 10 operations/s.
func momentoEnv(addr string, topicRate float64) []string {
	if topicRate <= 0 {
		topicRate = 1000
	}
	return []string{
		"CHAT_STORE=momento",
		"CHAT_MOMENTO_ENDPOINT=" + addr,
		"CHAT_MOMENTO_CACHE=chat",
		"CHAT_MOMENTO_TOPIC_RATE=" + strconv.FormatFloat(topicRate, 'g', -1, 64),
	}
}

// profiler is the OnLoad of a run under -perf: perf record on the
// server's pid during the posting, and perf report's summary beside it.
// Nil without -perf.
func (c compareConfig) profiler(sc scenario, target string, run, pid int) func() func() {
	if c.Perf == "" {
		return nil
	}
	return func() func() {
		base := filepath.Join(c.Perf, fmt.Sprintf("%s-%s-%d", sc.Name, target, run))
		cmd := exec.Command("perf", "record", "-F", "199", "-g", "-p", strconv.Itoa(pid), "-o", base+".data")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(c.Progress, "profile not available: perf record: %v (apt-get install -y linux-perf)\n", err)
			return func() {}
		}
		return func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
			var out bytes.Buffer
			for _, sort := range []string{"dso", "dso,sym"} {
				rep := exec.Command("perf", "report", "-i", base+".data", "--stdio", "--no-children",
					"--sort", sort, "--percent-limit", "1", "-g", "none")
				rep.Stdout, rep.Stderr = &out, io.Discard
				if err := rep.Run(); err != nil {
					fmt.Fprintf(&out, "perf report --sort %s: %v\n", sort, err)
				}
			}
			if err := os.WriteFile(base+".txt", out.Bytes(), 0o644); err != nil {
				fmt.Fprintf(c.Progress, "profile: %v\n", err)
				return
			}
			fmt.Fprintf(c.Progress, "profile: %s.txt\n", base)
		}
	}
}

// momentotest is the Momento test server the tool started.
type momentotest struct {
	*server
	addr string
}

func startMomentotest(ctx context.Context, bin, dir string) (*momentotest, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &server{done: make(chan struct{}), logPath: filepath.Join(dir, fmt.Sprintf("momentotest-%d.log", port))}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-addr", addr, "-cache", "chat")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = childAttr()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return &momentotest{s, addr}, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("momentotest exited at start: %s", s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("momentotest not listening after 20s")
		}
	}
}

// server is a server process the tool started.
type server struct {
	cmd     *exec.Cmd
	url     string
	apiKey  string
	logPath string
	done    chan struct{}
}

// startServer starts target's bin on a free loopback port and waits
// until it answers its health check.
func startServer(ctx context.Context, target, bin, dir string, port int, extraEnv []string) (*server, error) {
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &server{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	s.logPath = filepath.Join(dir, fmt.Sprintf("%s-%d.log", target, port))
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	var health string
	switch serverKind(target) {
	case targetChat:
		s.cmd = exec.Command(bin)
		s.cmd.Env = append(os.Environ(), chatEnv(port, extraEnv)...)
		health = "/healthz"
	case targetCentrifugo:
		key := make([]byte, 16)
		rand.Read(key)
		s.apiKey = hex.EncodeToString(key)
		conf := filepath.Join(dir, fmt.Sprintf("centrifugo-%d.json", port))
		if err := os.WriteFile(conf, centrifugoConfig(port, s.apiKey), 0o600); err != nil {
			logf.Close()
			return nil, err
		}
		s.cmd = exec.Command(bin, "--config", conf)
		health = "/health"
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = childAttr()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(s.url + health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited at start: %s", target, s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not healthy after 20s: %s", target, s.logTail())
		}
	}
}

// chatEnv is the chat's environment in every scenario, extra last (the
// last of a variable wins): no post rate limit, and no cap on streams per
// client or per room, since every stream comes from loopback and is in
// one room.
func chatEnv(port int, extra []string) []string {
	return append([]string{
		fmt.Sprintf("CHAT_ADDR=127.0.0.1:%d", port),
		"CHAT_STORE=memory",
		"CHAT_POST_RATE=0",
		"CHAT_MAX_STREAMS_PER_CLIENT=0",
		"CHAT_MAX_STREAMS_PER_ROOM=0",
		"CHAT_HISTORY_LIMIT=500",
		"CHAT_HISTORY_TTL=1h",
	}, extra...)
}

// stop ends the server with SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return strings.TrimSpace(string(b))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// centrifugoConfig is a Centrifugo v6 configuration for the comparison:
// memory engine, uni SSE on, the HTTP API behind a key, anonymous
// connections, and a namespace whose channels anyone may subscribe to,
// keeping 500 messages for an hour (like the chat's history) and
// recovering them for a resuming subscriber. No presence, no join/leave.
func centrifugoConfig(port int, apiKey string) []byte {
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
		"http_api":    map[string]any{"key": apiKey},
		"uni_sse":     map[string]any{"enabled": true},
		"client":      map[string]any{"allow_anonymous_connect_without_token": true},
		"channel": map[string]any{
			"namespaces": []any{map[string]any{
				"name":                          "bench",
				"history_size":                  500,
				"history_ttl":                   "1h",
				"force_recovery":                true,
				"allow_subscribe_for_client":    true,
				"allow_subscribe_for_anonymous": true,
				"presence":                      false,
				"join_leave":                    false,
			}},
		},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return b
}

// chatBinary is bin, or the chat built from ./cmd/chat into dir.
func chatBinary(ctx context.Context, bin, dir string, progress io.Writer) (string, error) {
	if bin != "" {
		return bin, nil
	}
	return goBuild(ctx, "./cmd/chat", filepath.Join(dir, "chat"), progress)
}

// goBuild builds pkg (a path from the module root) into out.
func goBuild(ctx context.Context, pkg, out string, progress io.Writer) (string, error) {
	fmt.Fprintln(progress, "building", pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (run from the module root): %w", pkg, err)
	}
	return out, nil
}

// centrifugoBinary is bin, or centrifugo from PATH or Go's bin directory.
func centrifugoBinary(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if p, err := exec.LookPath("centrifugo"); err == nil {
		return p, nil
	}
	for _, d := range []string{os.Getenv("GOBIN"), filepath.Join(goPath(), "bin")} {
		if p := filepath.Join(d, "centrifugo"); d != "" && isFile(p) {
			return p, nil
		}
	}
	return "", errors.New("no centrifugo binary: build it outside the repository with " +
		"`GOBIN=/tmp/cfbin go install github.com/centrifugal/centrifugo/v6@v6.9.1` " +
		"and pass -centrifugo-bin /tmp/cfbin/centrifugo (or -targets chat)")
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.SplitList(p)[0]
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go")
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// machine describes the machine for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n") // MemTotal: 24684096 kB
		if f := strings.Fields(line); len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.1f GiB RAM", kb/(1<<20))
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%d CPUs (%s)%s, Linux %s, %s, load average %s",
		runtime.NumCPU(), model, mem, strings.TrimSpace(string(kernel)), runtime.Version(),
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
}
