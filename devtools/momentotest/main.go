// Command momentotest runs the in-memory Momento test server
// (package momento/momentotest) as a process, so that several chat server
// instances can share one "Momento" on a laptop:
//
//	go run ./devtools/momentotest -addr 127.0.0.1:9090 -cache chat
//	CHAT_STORE=momento CHAT_MOMENTO_ENDPOINT=127.0.0.1:9090 CHAT_ADDR=:8081 go run ./cmd/chat   # and again on :8082
//
// It speaks plaintext gRPC and accepts any API key (or none) unless
// -api-key is set. State lives in memory and is gone when it stops (SIGINT,
// SIGTERM).
//
// To see what traffic would cost on Momento and how it fares under
// Momento's default quotas (100 cache and 10 topic operations per second):
//
//	go run ./devtools/momentotest -cache chat -cache-rate 100 -topic-rate 10 -stats 127.0.0.1:9091
//	curl -s 127.0.0.1:9091            # billed operations, calls and throttled calls, as JSON
//	curl -s -X POST 127.0.0.1:9091    # the same, and start counting afresh
//
// Billing and quota rules are those of package momento/momentotest (see
// its Usage and Quotas types).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionchat/sessionchat/momento/momentotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "momentotest:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("momentotest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "listen `address` (host:port)")
	caches := fs.String("cache", "", "comma-separated `names` of caches to create at start")
	apiKey := fs.String("api-key", "", "require this auth token (the api_key part of a v1 key); empty accepts any")
	heartbeat := fs.Duration("heartbeat", time.Second, "topic heartbeat `interval`")
	cacheRate := fs.Float64("cache-rate", 0, "cache quota in billed `operations` per second (Momento's default: 100); 0 = unlimited")
	topicRate := fs.Float64("topic-rate", 0, "topic quota in billed `operations` per second, publishes and deliveries (Momento's default: 10); 0 = unlimited")
	incrementTTL := fs.String("increment-ttl", momentotest.IncrementKeepTTL.String(), "what Increment does to an existing item's TTL: `keep` or refresh")
	consistent := fs.Int64("consistent-factor", momentotest.DefaultConsistentFactor, "billing `multiplier` for calls with read concern Consistent")
	statsAddr := fs.String("stats", "", "serve the billing meter as JSON on this `address` (host:port); empty = off")
	verbose := fs.Bool("v", false, "log every call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	incMode, err := momentotest.ParseIncrementTTL(*incrementTTL)
	if err != nil {
		return err
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	s, err := momentotest.New(
		momentotest.WithHeartbeat(*heartbeat),
		momentotest.WithAuthToken(*apiKey),
		momentotest.WithLogger(log),
		momentotest.WithQuotas(momentotest.Quotas{CacheRate: *cacheRate, TopicRate: *topicRate}),
		momentotest.WithIncrementTTL(incMode),
		momentotest.WithConsistentFactor(*consistent),
	)
	if err != nil {
		return err
	}
	for name := range strings.SplitSeq(*caches, ",") {
		if name = strings.TrimSpace(name); name != "" {
			s.CreateCache(name)
		}
	}
	var stats *http.Server
	if *statsAddr != "" {
		lis, err := net.Listen("tcp", *statsAddr)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		stats = &http.Server{Handler: s.StatsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = stats.Serve(lis) }() // ends with Close below
		log.Info("momento test server stats", "stats", lis.Addr().String())
	}
	if err := s.Listen(*addr); err != nil {
		if stats != nil {
			stats.Close()
		}
		return err
	}
	log.Info("momento test server listening", "addr", s.Addr(), "hint", "CHAT_MOMENTO_ENDPOINT="+s.Addr(),
		"cache_rate", *cacheRate, "topic_rate", *topicRate, "increment_ttl", incMode.String())

	<-ctx.Done()
	s.Close()
	if stats != nil {
		stats.Close()
	}
	log.Info("momento test server stopped")
	return nil
}
