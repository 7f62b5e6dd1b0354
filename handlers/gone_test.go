package handlers_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
)

// patientStore is a store that answers a call only once its caller's
// context has ended, as a remote store does when the client gives up
// first: every call it gets meets a client that has gone.
type patientStore struct{ chat.Store }

func (s patientStore) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	<-ctx.Done()
	return s.Store.Append(ctx, m)
}

func (s patientStore) History(ctx context.Context, r chat.Room) ([]chat.Message, error) {
	<-ctx.Done()
	return s.Store.History(ctx, r)
}

func (s patientStore) Ping(ctx context.Context) error {
	<-ctx.Done()
	return s.Store.Ping(ctx)
}

// A request whose client has gone is its own outcome: not a store error,
// not a 503, no ERROR line. Hundreds of HTTP/2 requests on a real h2c
// server are each reset by the client right after it sent them, as a
// browser does when a page is left.
//
// This depends on chat.Service returning the context's error, uncounted,
// for a call whose caller's context has ended (chat_store_errors_total).
func TestClientGoneIsNotAFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm of requests")
	}
	const storm = 400
	for _, tt := range []struct {
		name    string
		patient bool // every request meets its client gone in the store
	}{
		{"memory store", false},
		{"memory store slower than the clients", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			mem := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
			t.Cleanup(mem.Close)
			var store chat.Store = mem
			if tt.patient {
				store = patientStore{mem}
			}
			hub := chat.NewHub(chat.HubOptions{Store: mem})
			t.Cleanup(hub.Close)
			h := handlers.New(log, chat.NewService(store, hub, nil), hub, handlers.Options{HistoryTTL: time.Hour})

			// done hears of each request of the storm once it is answered
			// and logged (observe, inside h, logs as it returns).
			done := make(chan struct{}, storm)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Storm") != "" {
					defer func() { done <- struct{}{} }()
				}
				h.ServeHTTP(w, r)
			}))
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetHTTP1(true)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			// Room for the whole storm at once, so none waits for a slot.
			srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 2 * storm}
			srv.Start()
			t.Cleanup(srv.Close)

			tr := &http.Transport{Protocols: new(http.Protocols)}
			tr.Protocols.SetUnencryptedHTTP2(true)
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

			kinds := []struct{ method, path, ctype, body string }{
				{"POST", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"hi"}`},
				{"GET", "/api/rooms/r/messages", "", ""},
				{"GET", "/api/rooms/r/events", "", ""},
				{"POST", "/rooms/r/messages", "application/x-www-form-urlencoded", "username=a&message=hi"},
				{"GET", "/rooms/r", "", ""},
				{"GET", "/readyz", "", ""},
			}
			var wg sync.WaitGroup
			for i := range storm {
				k := kinds[i%len(kinds)]
				wg.Go(func() {
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					// Reset the request as soon as it has gone out.
					ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cancel() }})
					req, err := http.NewRequestWithContext(ctx, k.method, srv.URL+k.path, strings.NewReader(k.body))
					if err != nil {
						t.Error(err)
						return
					}
					req.Header.Set("X-Storm", "1")
					if k.ctype != "" {
						req.Header.Set("Content-Type", k.ctype)
					}
					if resp, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			// Every request went out (each was reset only then), so the
			// server runs a handler for each.
			deadline := time.After(30 * time.Second)
			for range storm {
				select {
				case <-done:
				case <-deadline:
					t.Fatalf("the server did not answer the storm within 30s; log:\n%.3000s", logs.String())
				}
			}

			resp, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			var requests, gone int
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				line := sc.Text()
				if strings.Contains(line, "level=ERROR") {
					t.Errorf("an ERROR line: %s", line)
				}
				if strings.Contains(line, "status=503") || strings.Contains(line, "store_unavailable") {
					t.Errorf("a store failure logged: %s", line)
				}
				if strings.Contains(line, "msg=request") && !strings.Contains(line, "/metrics") {
					requests++
					if strings.Contains(line, "status=499") && strings.Contains(line, "reason=client_gone") {
						gone++
					}
				}
			}
			for _, line := range strings.Split(string(metrics), "\n") {
				if strings.HasPrefix(line, "chat_store_errors_total ") && line != "chat_store_errors_total 0" {
					t.Errorf("metrics: %s, want 0", line)
				}
				if strings.Contains(line, `reason="store_unavailable"`) {
					t.Errorf("metrics: %s, want none", line)
				}
			}
			if requests != storm {
				t.Errorf("%d requests logged, want %d", requests, storm)
			}
			if tt.patient && gone != storm {
				t.Errorf("%d of %d requests logged as status=499 reason=client_gone, want all", gone, storm)
			}
			t.Logf("%d of %d requests found their client gone", gone, storm)
		})
	}
}

// A private room's token that expires while its request waits on the store
// is an expired token (401), not a client gone: the client is still there
// to be told.
func TestTokenExpiringMidRequestIs401(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
		defer mem.Close()
		hub := chat.NewHub(chat.HubOptions{Store: mem})
		defer hub.Close()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		h := handlers.New(log, chat.NewService(patientStore{mem}, hub, nil), hub, handlers.Options{AuthSecret: authSecret})

		req := httptest.NewRequestWithContext(t.Context(), "GET", "/api/rooms/lobby/messages", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, "alice", 10*time.Minute, auth.Rooms{Read: []string{"lobby"}}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "expired") {
			t.Errorf("status %d, body %s; want 401 saying the token expired", rec.Code, rec.Body)
		}
	})
}
