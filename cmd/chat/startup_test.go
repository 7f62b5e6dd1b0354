package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/momento/momentotest"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// retryLog is a log handler that signals each record whose message
// mentions a retry.
type retryLog chan string

func (retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h retryLog) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h retryLog) WithGroup(string) slog.Handler          { return h }

func (h retryLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "retrying") {
		select {
		case h <- r.Message:
		default:
		}
	}
	return nil
}

func momentoConfig(endpoint string, timeout time.Duration) Config {
	return Config{Store: "momento", MomentoEndpoint: endpoint, MomentoCache: "chat",
		HistoryTTL: time.Hour, HistoryLimit: 500, StartupTimeout: timeout}
}

// Instances and a local Momento server may start in any order: start-up
// waits for the server.
func TestStartupWaitsForMomento(t *testing.T) {
	addr := freeAddr(t)
	retries := make(retryLog, 1)
	opened := make(chan error, 1)
	go func() {
		mb, err := openMomento(t.Context(), momentoConfig(addr, time.Minute), slog.New(retries))
		if err == nil {
			mb.Close()
		}
		opened <- err
	}()
	select {
	case <-retries:
	case err := <-opened:
		t.Fatalf("with nothing listening, start-up ended at once: %v", err)
	}
	srv, err := momentotest.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("start-up after Momento came up: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("start-up did not connect within 30s of Momento coming up")
	}
}

// When Momento never comes, start-up gives up after CHAT_STARTUP_TIMEOUT
// with an error that names the setting and the address.
func TestStartupGivesUpNamingTheEndpoint(t *testing.T) {
	addr := freeAddr(t)
	_, err := openMomento(t.Context(), momentoConfig(addr, 300*time.Millisecond), slog.New(make(retryLog)))
	if err == nil {
		t.Fatal("start-up with nothing listening succeeded")
	}
	for _, want := range []string{"CHAT_MOMENTO_ENDPOINT=" + addr, "CHAT_STARTUP_TIMEOUT=300ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
