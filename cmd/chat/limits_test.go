package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// classSize is the group the default limits are made for: a class or an
// office of 60 people behind one address (docs/limits.md).
const classSize = 60

// With the default settings a class behind one address can all follow one
// room and post at once, while that address still cannot open streams
// without end.
func TestDefaultsLetAClassShareOneAddress(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + serve(t, cfg)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	// open follows the class's room; the stream is closed when the test ends.
	open := func() int {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/rooms/class/events", nil)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("opening a stream: %v", err)
		}
		if resp.StatusCode == http.StatusOK {
			// Live: the first line (the retry hint) has come.
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Errorf("reading the stream: %v", err)
			}
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp.StatusCode
	}
	for i := range classSize {
		if code := open(); code != http.StatusOK {
			t.Fatalf("stream %d of the class: status %d, want 200", i+1, code)
		}
	}

	// Everyone answers the same question at once.
	var wg sync.WaitGroup
	codes := make([]int, classSize)
	for i := range classSize {
		wg.Go(func() {
			body := fmt.Sprintf(`{"username":"pupil-%d","message":"my answer"}`, i)
			resp, err := client.Post(base+"/api/rooms/class/messages", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusCreated {
			t.Errorf("pupil %d's answer: status %d, want 201", i, code)
		}
	}

	// The address may hold the cap, and not one stream more.
	for i := classSize; i < cfg.MaxStreamsPerClient; i++ {
		if code := open(); code != http.StatusOK {
			t.Fatalf("stream %d: status %d, want 200 up to the cap of %d", i+1, code, cfg.MaxStreamsPerClient)
		}
	}
	if code := open(); code != http.StatusTooManyRequests {
		t.Errorf("stream %d, above the cap: status %d, want 429", cfg.MaxStreamsPerClient+1, code)
	}
}

// With the default post rate, a class behind one address posting at a
// lively pace for ten minutes is never refused, while one abuser posting
// as fast as it can gets no more than the burst and the rate.
func TestDefaultPostRateFitsAClassAndHoldsAnAbuser(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		ch := handlerstest.Wire(t, handlerstest.Config{Handlers: handlers.Options{
			PostRate: cfg.PostRate, PostBurst: cfg.PostBurst, MaxStreamsPerClient: cfg.MaxStreamsPerClient,
		}})
		post := func(addr, name string) int {
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/api/rooms/class/messages",
				strings.NewReader(`{"username":"`+name+`","message":"hello"}`))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = addr + ":40000"
			rec := httptest.NewRecorder()
			ch.Handler.ServeHTTP(rec, req)
			return rec.Code
		}

		// The class: everyone at once, then each one message every 20s
		// (3 a minute), spread over the 20s, for ten minutes.
		const (
			class  = "192.0.2.10"
			every  = 20 * time.Second
			rounds = 30
		)
		refused := 0
		for i := range classSize {
			if post(class, fmt.Sprint("pupil-", i)) != http.StatusCreated {
				refused++
			}
		}
		for range rounds {
			for i := range classSize {
				time.Sleep(every / classSize)
				if post(class, fmt.Sprint("pupil-", i)) != http.StatusCreated {
					refused++
				}
			}
		}
		if refused > 0 {
			t.Errorf("the class had %d of %d posts refused at 3 a minute each, want none", refused, classSize*(rounds+1))
		}

		// The abuser: a post every 10ms for a minute.
		const abuser = "198.51.100.66"
		accepted, tries := 0, 0
		for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(10 * time.Millisecond) {
			tries++
			if post(abuser, "spam") == http.StatusCreated {
				accepted++
			}
		}
		if most := cfg.PostBurst + int(cfg.PostRate*60) + 1; accepted > most {
			t.Errorf("the abuser had %d of %d posts accepted in a minute, want at most %d (the burst and the rate)", accepted, tries, most)
		}
		t.Logf("the abuser had %d of %d posts accepted in a minute", accepted, tries)
	})
}
