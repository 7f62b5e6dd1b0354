package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

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

	store, hub, broker, closeBackend, err := openBackend(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeBackend()
	svc := chat.NewService(store, broker, hub)
	h := handlers.New(log, svc, hub, handlers.Options{
		HistoryTTL:          cfg.HistoryTTL,
		Heartbeat:           cfg.Heartbeat,
		EmbedOrigins:        cfg.EmbedOrigins,
		PostRate:            cfg.PostRate,
		PostBurst:           cfg.PostBurst,
		MaxStreamsPerClient: cfg.MaxStreamsPerClient,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on CHAT_ADDR=%q: %w", cfg.Addr, err)
	}
	// Every request context derives from streams: cancelling it at
	// shutdown ends the event streams, so Shutdown never waits on them.
	streams, endStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer endStreams()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // the event stream lifts its own
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return streams },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("chat listening", "addr", ln.Addr().String(), "store", cfg.Store)
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

// openBackend builds the store cfg names, the hub, and the broker that
// feeds it (the hub itself on a single instance). closeBackend stops the
// broker and releases everything.
func openBackend(ctx context.Context, cfg Config, log *slog.Logger) (store chat.Store, hub *chat.Hub, broker chat.Broker, closeBackend func(), err error) {
	if cfg.Store != "momento" {
		mem := memory.New(memory.Options{TTL: cfg.HistoryTTL, Limit: cfg.HistoryLimit})
		hub := chat.NewHub(chat.HubOptions{Store: mem})
		return mem, hub, hub, func() { hub.Close(); mem.Close() }, nil
	}
	mb, err := momento.Open(ctx, momento.Config{
		APIKey:   cfg.MomentoAPIKey,
		Endpoint: cfg.MomentoEndpoint,
		Cache:    cfg.MomentoCache,
		TTL:      cfg.HistoryTTL,
		Limit:    cfg.HistoryLimit,
	}, log)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("CHAT_STORE=momento: %w", err)
	}
	hub = chat.NewHub(chat.HubOptions{Store: mb.Store()})
	b, err := mb.NewBroker(hub)
	if err != nil {
		hub.Close()
		mb.Close()
		return nil, nil, nil, nil, fmt.Errorf("CHAT_STORE=momento: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(runCtx)
	}()
	return mb.Store(), hub, b, func() {
		stop()
		<-done
		b.Close()
		hub.Close()
		mb.Close()
	}, nil
}
