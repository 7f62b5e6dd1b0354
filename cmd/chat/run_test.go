package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The real server: it serves the chat, and on shutdown it ends open
// streams and returns well within 10 seconds.
func TestRunServesAndShutsDownWithOpenStreams(t *testing.T) {
	cfg := Config{
		Addr: "127.0.0.1:0", Store: "memory", HistoryTTL: time.Hour, HistoryLimit: 10,
		Heartbeat: time.Hour,
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, io.Discard, func(addr string) { addrs <- addr }) }()
	base := "http://" + <-addrs

	resp, err := http.Post(base+"/api/rooms/lobby/messages", "application/json", strings.NewReader(`{"username":"a","message":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d, want 201", resp.StatusCode)
	}
	stream, err := http.Get(base + "/api/rooms/lobby/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	// The room's state comes first, then the history.
	for lines.Scan() && !(strings.HasPrefix(lines.Text(), "data: ") && strings.Contains(lines.Text(), `"message"`)) {
	}
	if !strings.Contains(lines.Text(), `"message":"hello"`) {
		t.Fatalf("stream replayed %q, want the posted message", lines.Text())
	}

	start := time.Now()
	cancel()
	var last string
	for lines.Scan() { // the server ends the stream
		if lines.Text() != "" {
			last = lines.Text()
		}
	}
	// Its last words ask the client to reconnect soon.
	if !strings.HasPrefix(last, "retry: ") {
		t.Errorf("the stream ended with %q, want a retry: hint", last)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of the shutdown signal")
	}
	t.Logf("shut down in %v with a stream open", time.Since(start))
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answers after run returned")
	}
}

func TestRunFailsOnABusyAddress(t *testing.T) {
	cfg := baseConfig()
	cfg.Addr = serve(t, cfg)
	if err := run(t.Context(), cfg, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "CHAT_ADDR") {
		t.Errorf("run on a busy address: %v, want an error naming CHAT_ADDR", err)
	}
}

// An operator of CHAT_MEMORY_LIMIT sees what the memory store holds.
func TestMetricsShowTheMemoryStore(t *testing.T) {
	base := "http://" + serve(t, Config{Store: "memory", HistoryTTL: time.Hour, HistoryLimit: 500,
		MemoryLimit: 1 << 20, Heartbeat: time.Hour, ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	resp, err := http.Post(base+"/api/rooms/lobby/messages", "application/json", strings.NewReader(`{"username":"a","message":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"chat_memory_store_rooms 1\n", "chat_memory_store_evictions_total 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^chat_memory_store_bytes [1-9]`).Match(body) {
		t.Errorf("/metrics shows no bytes held after a post")
	}
}
