package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/momentohq/client-sdk-go/config"
	"github.com/momentohq/client-sdk-go/config/logger"
	"github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"

	chatmomento "github.com/sessionchat/sessionchat/momento"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-cache", "chat, other", "-api-key", "k"}, logW)
		logW.Close()
	}()

	addr := ""
	lines := bufio.NewScanner(logR)
	for addr == "" && lines.Scan() {
		if m := regexp.MustCompile(` addr=(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no address logged; run returned %v", <-done)
	}
	go io.Copy(io.Discard, logR) // keep run from blocking on its log

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
