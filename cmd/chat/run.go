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
)

// shutdownGrace bounds a clean shutdown: streams end at once, other
// requests get this long to finish.
const shutdownGrace = 8 * time.Second

// run wires the chat from cfg and serves until ctx ends, then shuts down.
// onListen, if not nil, is told the address once the server accepts
// connections (tests listen on port 0).
func run(ctx context.Context, cfg Config, logOut io.Writer, onListen func(addr string)) error {
	log := slog.New(slog.NewTextHandler(logOut, nil))

	store := memory.New(memory.Options{TTL: cfg.HistoryTTL, Limit: cfg.HistoryLimit})
	defer store.Close()
	hub := chat.NewHub(chat.HubOptions{Store: store})
	defer hub.Close()
	svc := chat.NewService(store, hub, hub)
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
