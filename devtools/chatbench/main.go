// Command chatbench is the project's load tool. It opens N Server-Sent
// Events streams to one room of a running server, posts messages at a
// rate (or as fast as they are accepted) over keep-alive connections,
// stamps each, and reports per-delivery latency, deliveries/s, posts/s and
// correctness: messages lost, duplicated or out of order on any stream,
// streams dropped and resumed. Given the server's pid it reads its RSS and
// CPU from /proc. It drives sessionchat and Centrifugo v6 alike, and with
// -compare starts each in turn and prints a table of medians; the target
// base, a second chat binary, measures a change to the chat.
//
//	go build -o /tmp/chat ./cmd/chat
//	/tmp/chat & pid=$!
//	go run ./devtools/chatbench -url http://127.0.0.1:8080 -streams 1000 -rate 100 -duration 10s -pid $pid
//	go run ./devtools/chatbench -compare -scenario all -centrifugo-bin /tmp/cfbin/centrifugo
//	go run ./devtools/chatbench -compare -targets chat,base -base-bin /tmp/chat-base -scenario 10k,cpu
//	go run ./devtools/chatbench -compare -targets chat -scenario 100k,storm,momento,rolling
//
// It drives loopback servers only and always stops by itself: every phase
// is bounded, and a hard deadline ends the process.
//
// It imports the standard library only, and no package of the chat.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     Config
		asJSON  = fs.Bool("json", false, "print the result as JSON")
		profile = fs.String("pprof", "", "write the tool's own CPU profile to this file")
		timeout = fs.Duration("timeout", 0, "hard deadline for the whole invocation (default: from the plan)")

		doCompare = fs.Bool("compare", false, "start each server in turn and compare them on the scenarios")
		scenList  = fs.String("scenario", "all", "with -compare: all (10k, 5k, max, cpu), or a comma-separated list of 10k, 5k, max, cpu, 100k, storm, momento, rolling")
		targets   = fs.String("targets", "chat,centrifugo", "with -compare: the servers to run: chat, base (-base-bin), centrifugo")
		runs      = fs.Int("runs", 3, "with -compare: runs per scenario and server (medians are reported)")
		quick     = fs.Bool("quick", false, "with -compare: one run per scenario, posting for at most 5s")
		chatBin   = fs.String("chat-bin", "", "with -compare: the chat binary (default: go build ./cmd/chat)")
		baseBin   = fs.String("base-bin", "", "with -compare: the chat binary of the target base, to compare the chat against (say, main's before a change)")
		cfBin     = fs.String("centrifugo-bin", "", "with -compare: the Centrifugo v6.9.1 binary (default: from PATH or $GOPATH/bin)")
		out       = fs.String("out", "", "with -compare: also write the markdown table to this file")
		maxOther  = fs.Float64("max-other", 25, "with -compare: redo a run (twice at most) in which other processes used more than this % of a core; 0 = never")
		mtBin     = fs.String("momentotest-bin", "", "with -compare: the devtools/momentotest binary for the momento and rolling scenarios (default: go build)")
		topicRate = fs.Float64("momento-topic-rate", 1000, "with -compare: CHAT_MOMENTO_TOPIC_RATE of the chats on momentotest (a raised quota, so that pacing is not what is measured)")
		perfDir   = fs.String("perf", "", "with -compare: profile each run's server with `perf record -g -p PID` during the posting, into this directory (perf report summaries beside)")
		streamURL = fs.String("stream-urls", "", "comma-separated servers to spread the streams over (posts still go to -url); deliveries on the others count as cross-instance")
		pids      = fs.String("pids", "", "comma-separated pids of more server processes whose RSS and CPU add to -pid's")
		proxyOnly = fs.String("proxy-serve", "", "internal: run as a proxy process to these comma-separated upstreams (SIGUSR1 cuts every connection)")
		capStr    = fs.Int("max-streams", 0, "with -compare: run every scenario with at most this many streams (for a machine whose open-file limit is lower than a scenario needs)")
	)
	fs.BoolVar(&cfg.Proxy, "proxy", false, "send the streams through a TCP proxy inside the tool (to the -stream-urls in turn, or -url)")
	fs.BoolVar(&cfg.ProxyProcs, "proxy-procs", false, "with -proxy: run the proxy as processes of its own, 8,000 streams each (for more streams than the open-file limit allows in one process)")
	fs.BoolVar(&cfg.RetryHint, "retry-hint", false, "a dropped stream waits for the server's SSE retry hint before reconnecting, as EventSource does (default: 20 ms)")
	fs.DurationVar(&cfg.DisruptAt, "cut-at", 0, "this long into the posting, every stream is cut at once (by the -proxy, or by the tool), for a reconnection storm")
	fs.StringVar(&cfg.Target, "target", targetChat, "server kind: chat or centrifugo")
	fs.StringVar(&cfg.URL, "url", "", "server base URL (default http://127.0.0.1:8080, or :8000 for centrifugo)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "Centrifugo HTTP API key")
	fs.StringVar(&cfg.Namespace, "namespace", "bench", "Centrifugo channel namespace (the channel is NAMESPACE:ROOM)")
	fs.StringVar(&cfg.Room, "room", "", "room to use (default: a fresh one)")
	fs.IntVar(&cfg.Streams, "streams", 100, "SSE streams to open")
	fs.Float64Var(&cfg.Rate, "rate", 10, "posts per second; 0 = as fast as the server accepts")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to post")
	fs.IntVar(&cfg.Posts, "posts", 0, "cap on the number of posts (0 = rate × duration)")
	fs.IntVar(&cfg.Posters, "posters", 0, "keep-alive posting connections (default: at a rate, up to 10 s of posts in flight, 8 to 1024; at max rate, 8)")
	fs.IntVar(&cfg.Size, "size", 64, "message text length in bytes (32 to 2000)")
	fs.IntVar(&cfg.PID, "pid", 0, "server process id, to read its RSS and CPU from /proc")
	fs.IntVar(&cfg.SrcIPs, "src-ips", 0, "spread streams over this many source addresses 127.0.0.2… (0 = automatic)")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "idle time once all streams are up, before reading RSS")
	fs.StringVar(&cfg.IO, "io", "", "how streams are read: epoll (Linux, default), goroutine, or h2 (HTTP/2 in cleartext, many streams to a connection)")
	fs.IntVar(&cfg.DialWindow, "dial-window", 0, "streams connecting at once, kept under the server's listen backlog (net.core.somaxconn) (default 256; the storm scenarios 2048)")
	fs.IntVar(&cfg.Pollers, "pollers", 1, "epoll pollers, each a thread reading its share of the streams")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "give up on deliveries after they stall this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, `chatbench drives SSE streams and posts against a loopback chat server (or Centrifugo)
and reports latency, throughput and correctness; -compare runs both servers on the
issue's scenarios (docs/benchmarks.md).

  chatbench -url http://127.0.0.1:8080 -streams 1000 -rate 100 -duration 10s -pid PID
  chatbench -compare -scenario all -centrifugo-bin /path/to/centrifugo
  chatbench -compare -targets chat,base -base-bin /tmp/chat-base -scenario 10k,cpu
  chatbench -compare -targets chat -scenario 100k,storm,momento,rolling [-perf /tmp/prof]
  chatbench -url http://127.0.0.1:8080 -pid PID -streams 10000 -proxy -retry-hint -cut-at 5s

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	if *proxyOnly != "" {
		cut := make(chan os.Signal, 1)
		signal.Notify(cut, syscall.SIGUSR1)
		pctx, end := context.WithCancel(ctx)
		defer end()
		go func() {
			io.Copy(io.Discard, os.Stdin) // the tool's end of the pipe closes with it
			end()
		}()
		return serveProxy(strings.Split(*proxyOnly, ","), stdout, cut, pctx.Done())
	}
	if *streamURL != "" {
		cfg.StreamURLs = strings.Split(*streamURL, ",")
	}
	if *pids != "" {
		for p := range strings.SplitSeq(*pids, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return fmt.Errorf("-pids %q: %w", *pids, err)
			}
			cfg.PIDs = append(cfg.PIDs, n)
		}
	}
	var cc compareConfig
	hard := *timeout
	if *doCompare {
		sc, err := pickScenarios(*scenList)
		if err != nil {
			return err
		}
		cc = compareConfig{
			Scenarios:  sc,
			Targets:    strings.Split(strings.ReplaceAll(*targets, " ", ""), ","),
			Runs:       max(*runs, 1),
			Quick:      *quick,
			ChatBin:    *chatBin,
			BaseBin:    *baseBin,
			CfBin:      *cfBin,
			Posters:    cfg.Posters,
			Size:       cfg.Size,
			IO:         cfg.IO,
			Pollers:    cfg.Pollers,
			DialWindow: cfg.DialWindow,
			MaxOther:   *maxOther,
			Out:        *out,
			MomentoBin: *mtBin,
			TopicRate:  *topicRate,
			Perf:       *perfDir,
			MaxStreams: *capStr,
			Progress:   stderr,
		}
		if cc.Quick {
			cc.Runs = 1
		}
		if hard == 0 {
			hard = compareBudget(cc)
		}
	} else if hard == 0 {
		hard = runBudget(cfg) + 15*time.Second
	}
	// However a run goes, the process ends: the context first, then, if
	// something still hangs, an exit (the servers it started die with it).
	ctx, cancel := context.WithTimeoutCause(ctx, hard, fmt.Errorf("hard deadline of %s reached", hard))
	defer cancel()
	watchdog := time.AfterFunc(hard+15*time.Second, func() {
		fmt.Fprintf(stderr, "chatbench: hard deadline of %s passed; exiting\n", hard)
		os.Exit(2)
	})
	defer watchdog.Stop()

	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if *doCompare {
		return compare(ctx, cc, stdout)
	}
	cfg.Progress = stderr
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.writeReport(stdout)
	return nil
}
