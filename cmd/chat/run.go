package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
	"github.com/sessionchat/sessionchat/momento"
)

// shutdownGrace bounds a clean shutdown: streams end at once, other
// requests get this long to finish.
const shutdownGrace = 8 * time.Second

// run wires the chat from cfg and serves until ctx ends, then shuts down.
// onListen, if not nil, is told the address once the server accepts
// connections (tests listen on port 0).
func run(ctx context.Context, cfg Config, logOut io.Writer, onListen func(addr string)) error {
	log := slog.New(slog.NewTextHandler(logOut, nil))

	be, err := openBackend(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer be.close()
	ho := be.hub
	ho.Store, ho.MaxPerRoom = be.store, cfg.MaxStreamsPerRoom
	hub := chat.NewHub(ho)
	defer hub.Close()
	secret, from := cfg.hostSecret(be.hostSecret)
	switch from {
	case "random":
		log.Info("host links are signed with a random secret: they last as long as this process (set CHAT_HOST_SECRET to keep them)")
	case "unkeyed":
		log.Warn("host links are signed with a secret derived from the Momento endpoint alone, which others can guess: set CHAT_HOST_SECRET")
	}
	svc := chat.NewServiceWith(chat.ServiceOptions{
		Store: be.store, Hub: hub, Relay: be.relay,
		HostSecret: secret, Grace: cfg.RoomGrace, MaxLifetime: cfg.maxRoomLifetime(),
	})
	if be.run != nil {
		relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
		relayDone := make(chan struct{})
		go func() {
			defer close(relayDone)
			be.run(relayCtx, hub)
		}()
		defer func() { stopRelay(); <-relayDone }()
	}
	// Cancelling streams at shutdown ends the event streams (every request
	// context derives from it too), so Shutdown never waits on them.
	streams, endStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer endStreams()
	h := handlers.New(log, svc, hub, handlers.Options{
		Metrics:             be.metrics,
		Streams:             streams,
		HistoryTTL:          cfg.HistoryTTL,
		Heartbeat:           cfg.Heartbeat,
		StallTimeout:        cfg.StallTimeout,
		EmbedOrigins:        cfg.EmbedOrigins,
		PostRate:            cfg.PostRate,
		PostBurst:           cfg.PostBurst,
		MaxStreamsPerClient: cfg.MaxStreamsPerClient,
		AuthSecret:          cfg.AuthSecret,
		CORSOrigins:         cfg.CORSOrigins,
		TrustedProxies:      cfg.TrustedProxies,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on CHAT_ADDR=%q: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(cfg.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       cmp.Or(cfg.ReadTimeout, 15*time.Second),
		WriteTimeout:      cmp.Or(cfg.WriteTimeout, 30*time.Second), // the event stream lifts its own
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return streams },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// HTTP/2 comes with TLS; in cleartext too (h2c, with prior knowledge)
	// for a reverse proxy that speaks it. Either way one client can hold
	// many streams over one connection.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("CHAT_TLS_CERT, CHAT_TLS_KEY: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	serveErr := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // adds h2 to the protocols offered
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	log.Info("chat listening", "addr", ln.Addr().String(), "store", cfg.Store, "tls", cfg.TLSCert != "", "private", cfg.AuthSecret != "")
	if onListen != nil {
		onListen(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	endStreams()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		log.Warn("shutdown: requests still running at the deadline were cut")
	}
	return nil
}

// backend is the store cfg names and, for a store that many instances
// share, the relay between them.
type backend struct {
	store   chat.Store
	relay   chat.Relay                        // nil on a single instance
	run     func(context.Context, chat.Inbox) // with relay: hands in what others store, until ctx ends
	metrics []prometheus.Collector            // the store's own, for /metrics
	hub     chat.HubOptions                   // what the store needs of the hub (Momento: a tail, its gap timing)
	close   func()                            // after run has returned
	// hostSecret, when not nil, is the store's secret for host links,
	// the same on every instance that shares it (see Config.hostSecret).
	hostSecret func() ([]byte, bool)
}

// openBackend opens the store cfg names.
func openBackend(ctx context.Context, cfg Config, log *slog.Logger) (backend, error) {
	if cfg.Store != "momento" {
		mem := memory.New(memory.Options{TTL: cfg.HistoryTTL, Limit: cfg.HistoryLimit, MaxBytes: cfg.MemoryLimit, Log: log})
		return backend{store: mem, metrics: []prometheus.Collector{memoryCollector{mem}}, close: mem.Close}, nil
	}
	mb, err := openMomento(ctx, cfg, log)
	if err != nil {
		return backend{}, err
	}
	b, err := mb.NewBroker()
	if err != nil {
		mb.Close()
		return backend{}, fmt.Errorf("CHAT_STORE=momento: %w", err)
	}
	return backend{store: mb.Store(), relay: b, run: b.Run, hub: mb.HubOptions(), hostSecret: mb.HostSecret, close: func() { b.Close(); mb.Close() }}, nil
}

// openMomento connects to Momento, retrying with backoff for
// cfg.StartupTimeout while it cannot be reached: instances and a local
// Momento server may start together.
func openMomento(ctx context.Context, cfg Config, log *slog.Logger) (*momento.Backend, error) {
	where := "CHAT_MOMENTO_ENDPOINT=" + cfg.MomentoEndpoint
	if cfg.MomentoEndpoint == "" {
		where = "the endpoints of MOMENTO_API_KEY"
	}
	deadline := time.Now().Add(cfg.StartupTimeout)
	wait := 100 * time.Millisecond
	for {
		mb, err := momento.Open(ctx, momento.Config{
			APIKey:    cfg.MomentoAPIKey,
			Endpoint:  cfg.MomentoEndpoint,
			Cache:     cfg.MomentoCache,
			TTL:       cfg.HistoryTTL,
			Limit:     cfg.HistoryLimit,
			TopicRate: cfg.MomentoTopicRate,
		}, log)
		if err == nil {
			return mb, nil
		}
		if !unreachable(err) {
			return nil, fmt.Errorf("CHAT_STORE=momento: %w", err)
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("CHAT_STORE=momento: %s did not answer within CHAT_STARTUP_TIMEOUT=%s: %w", where, cfg.StartupTimeout, err)
		}
		log.Warn("momento: not reachable yet; retrying", "endpoint", cmp.Or(cfg.MomentoEndpoint, "from MOMENTO_API_KEY"), "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CHAT_STORE=momento: %s: %w", where, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// unreachable reports whether err says Momento could not be reached (as
// opposed to refusing the request: a bad key, a bad setting).
func unreachable(err error) bool {
	var me sdk.MomentoError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Code() {
	case sdk.ConnectionError, sdk.ServerUnavailableError, sdk.TimeoutError:
		return true
	}
	return false
}
