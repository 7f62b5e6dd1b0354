package main

import (
	"bytes"
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
}

var scenarios = []scenario{
	{"10k", "10,000 streams, 10 posts/s", 10_000, 10, 15 * time.Second, 2 * time.Second},
	{"5k", "5,000 streams, 100 posts/s", 5_000, 100, 15 * time.Second, time.Second},
	{"max", "100 streams, posts at max rate", 100, 0, 10 * time.Second, 500 * time.Millisecond},
	{"cpu", "1,000 streams, 100 posts/s", 1_000, 100, 15 * time.Second, time.Second},
}

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
	Scenarios []scenario
	Targets   []string // targetChat, targetBase, targetCentrifugo
	Runs      int
	Quick     bool
	ChatBin   string
	BaseBin   string // the chat binary of targetBase
	CfBin     string
	Posters   int
	Size      int
	IO        string
	Pollers   int
	// MaxOther is how much CPU, in % of one core, other processes may
	// use during a run before it is redone (at most twice); 0 = no check.
	MaxOther float64
	Out      string // markdown file to write besides stdout
	Progress io.Writer
}

func pickScenarios(list string) ([]scenario, error) {
	if list == "all" || list == "" {
		return scenarios, nil
	}
	var out []scenario
	for name := range strings.SplitSeq(list, ",") {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.Name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("-scenario %q: want all or a list of 10k, 5k, max, cpu", name)
		}
		out = append(out, scenarios[i])
	}
	return out, nil
}

// compareBudget bounds how long a comparison may take, for the hard
// deadline: every run at its longest, started and stopped, and redone
// twice after a minute's wait for quiet.
func compareBudget(c compareConfig) time.Duration {
	var d time.Duration
	for _, s := range c.Scenarios {
		run := runBudget(Config{Streams: s.Streams, Settle: s.Settle, Duration: s.Duration}) + time.Minute
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
	// Enough descriptors for the largest scenario, for the tool and, by
	// inheritance of the hard limit, the servers.
	if _, err := raiseNoFile(65536); err != nil {
		fmt.Fprintf(c.Progress, "could not raise the open-file limit: %v\n", err)
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
					res, err := compareRun(ctx, c, sc, t, bins[t], dir)
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

func compareRun(ctx context.Context, c compareConfig, sc scenario, target, bin, dir string) (*Result, error) {
	srv, err := startServer(ctx, target, bin, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	dur := sc.Duration
	if c.Quick {
		dur = min(dur, 5*time.Second)
	}
	res, err := Run(ctx, Config{
		Target:   serverKind(target),
		URL:      srv.url,
		APIKey:   srv.apiKey,
		Streams:  sc.Streams,
		Rate:     sc.Rate,
		Duration: dur,
		Posters:  c.Posters,
		Size:     c.Size,
		IO:       c.IO,
		Pollers:  c.Pollers,
		PID:      srv.cmd.Process.Pid,
		Settle:   sc.Settle,
		Progress: c.Progress,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (server log: %s)", err, srv.logTail())
	}
	return res, nil
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
func startServer(ctx context.Context, target, bin, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
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
		s.cmd.Env = append(os.Environ(),
			fmt.Sprintf("CHAT_ADDR=127.0.0.1:%d", port),
			"CHAT_STORE=memory",
			"CHAT_POST_RATE=0",
			"CHAT_MAX_STREAMS_PER_CLIENT=0",
			"CHAT_MAX_STREAMS_PER_ROOM=0", // the 10k scenario is one room
			"CHAT_HISTORY_LIMIT=500",
			"CHAT_HISTORY_TTL=1h",
		)
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

// stop ends the server with SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() {
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
	out := filepath.Join(dir, "chat")
	fmt.Fprintln(progress, "building ./cmd/chat")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/chat")
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/chat (run from the module root, or pass -chat-bin): %w", err)
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
