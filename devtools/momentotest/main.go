// Command momentotest runs the in-memory Momento test server
// (package momento/momentotest) as a process, so that several chat server
// instances can share one "Momento" on a laptop:
//
//	go run ./devtools/momentotest -addr 127.0.0.1:9090 -cache chat
//	CHAT_MOMENTO_ENDPOINT=127.0.0.1:9090 go run ./cmd/chat   # twice, on two ports
//
// It speaks plaintext gRPC and accepts any API key (or none) unless
// -api-key is set. State lives in memory and is gone when it stops (SIGINT,
// SIGTERM).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	verbose := fs.Bool("v", false, "log every call")
	if err := fs.Parse(args); err != nil {
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
	)
	if err != nil {
		return err
	}
	for name := range strings.SplitSeq(*caches, ",") {
		if name = strings.TrimSpace(name); name != "" {
			s.CreateCache(name)
		}
	}
	if err := s.Listen(*addr); err != nil {
		return err
	}
	log.Info("momento test server listening", "addr", s.Addr(), "hint", "CHAT_MOMENTO_ENDPOINT="+s.Addr())

	<-ctx.Done()
	s.Close()
	log.Info("momento test server stopped")
	return nil
}
