package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/momentohq/client-sdk-go/config"
	"github.com/momentohq/client-sdk-go/config/logger"
	"github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"

	chatmomento "github.com/sessionchat/sessionchat/momento"
)

// start runs the command with args until the test ends and returns the
// addresses it logged: "addr" (gRPC) and, with -stats, "stats". cancel
// stops it; done then yields run's result.
func start(t *testing.T, args ...string) (addrs map[string]string, cancel func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logR, logW := io.Pipe()
	result, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		result <- run(ctx, args, logW)
		logW.Close()
	}()
	t.Cleanup(func() { cancel(); <-finished })

	addrs = make(map[string]string)
	lines := bufio.NewScanner(logR)
	for addrs["addr"] == "" && lines.Scan() {
		for _, m := range regexp.MustCompile(` (addr|stats)=(\S+)`).FindAllStringSubmatch(lines.Text(), -1) {
			addrs[m[1]] = m[2]
		}
	}
	if addrs["addr"] == "" {
		t.Fatalf("no address logged; run returned %v", <-result)
	}
	go io.Copy(io.Discard, logR) // keep run from blocking on its log
	return addrs, cancel, result
}

func TestRun(t *testing.T) {
	addrs, cancel, done := start(t, "-addr", "127.0.0.1:0", "-cache", "chat, other", "-api-key", "k")
	addr := addrs["addr"]

	creds, err := chatmomento.Credentials("k", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := momento.NewCacheClient(config.LaptopLatestWithLogger(logger.NewNoopMomentoLoggerFactory()), creds, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := cc.CreateCache(t.Context(), &momento.CreateCacheRequest{CacheName: "other"})
	if _, ok := resp.(*responses.CreateCacheAlreadyExists); err != nil || !ok {
		t.Errorf("CreateCache(other): got %T, %v; want AlreadyExists (made by -cache)", resp, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestQuotasAndStats runs the server at a cache quota that lets one
// operation through and refills the next in 1000 s, and reads the meter.
func TestQuotasAndStats(t *testing.T) {
	addrs, _, _ := start(t, "-addr", "127.0.0.1:0", "-cache", "chat", "-cache-rate", "0.001", "-topic-rate", "10",
		"-increment-ttl", "refresh", "-stats", "127.0.0.1:0")
	if addrs["stats"] == "" {
		t.Fatal("no stats address logged")
	}
	creds, err := chatmomento.Credentials("", addrs["addr"])
	if err != nil {
		t.Fatal(err)
	}
	cc, err := momento.NewCacheClient(config.LaptopLatestWithLogger(logger.NewNoopMomentoLoggerFactory()), creds, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req := &momento.ListLengthRequest{CacheName: "chat", ListName: "l"}
	if _, err := cc.ListLength(t.Context(), req); err != nil {
		t.Fatalf("first ListLength: %v", err)
	}
	_, err = cc.ListLength(t.Context(), req)
	var me momento.MomentoError
	if !errors.As(err, &me) || me.Code() != momento.LimitExceededError {
		t.Fatalf("second ListLength: got %v, want LimitExceededError", err)
	}

	resp, err := http.Get("http://" + addrs["stats"])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		CacheOps  int64            `json:"cache_ops"`
		Throttled int64            `json:"throttled"`
		Calls     map[string]int64 `json:"calls"`
		Quotas    struct {
			CacheRate float64 `json:"cache_rate"`
			TopicRate float64 `json:"topic_rate"`
		} `json:"quotas"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.CacheOps != 1 || st.Throttled != 1 || st.Calls["ListLength"] != 2 || st.Quotas.CacheRate != 0.001 || st.Quotas.TopicRate != 10 {
		t.Errorf("stats: %+v; want 1 billed op, 1 throttled, 2 ListLength calls, the quotas given", st)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-increment-ttl", "sometimes"},
		{"-cache-rate", "-1"},
		{"-consistent-factor", "0"},
		{"-stats", "not an address"},
		{"extra"},
	} {
		// Cancelled: should a case start the server, it stops at once.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard); err == nil {
			t.Errorf("run %q: got no error", args)
		}
	}
}
