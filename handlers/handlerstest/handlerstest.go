// Package handlerstest serves the whole chat in-process for tests: the
// memory store (behind a chattest.FlakyStore, so a test can take it down),
// a hub, the service and the handlers, wired as cmd/chat wires them, on a
// real HTTP server on 127.0.0.1. It is to the chat what net/http/httptest
// is to a handler: for tests only.
package handlerstest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/memory"
)

// Config shapes a chat. The zero value is a chat on a fresh port with a
// one-hour history of 500 messages a room and default handlers.
type Config struct {
	Memory   memory.Options   // TTL and Limit default to 1h and 500
	Hub      chat.HubOptions  // Store is the chat's
	Handlers handlers.Options // HistoryTTL defaults to 1h; Streams to the App's
	// Service configures rooms (host secret, grace, lifetime cap, clock);
	// its Store and Hub are the chat's. With a Clock and no Memory.Now,
	// the memory store keeps the service's time.
	Service chat.ServiceOptions
	Log     *slog.Logger // default: discarded

	// Wrap, if set, wraps the chat's handler (to observe requests).
	Wrap func(http.Handler) http.Handler

	// For New only: Listener serves the app (default 127.0.0.1 on a free
	// port); Configure may set up the server before it starts, and with
	// EnableHTTP2 set it starts with TLS.
	Listener  net.Listener
	Configure func(*httptest.Server)
}

// Chat is the chat's parts.
type Chat struct {
	Memory  *memory.Store
	Store   *chattest.FlakyStore // Memory behind a switch that takes it down
	Hub     *chat.Hub
	Service *chat.Service
	Handler http.Handler
}

// Wire builds the chat c describes without serving it, for tests that
// drive the handler directly (benchmarks, synctest bubbles); t.Cleanup
// releases it.
func Wire(t testing.TB, c Config) *Chat {
	t.Helper()
	ch := wire(c)
	t.Cleanup(ch.close)
	return ch
}

func wire(c Config) *Chat {
	if c.Memory.TTL == 0 {
		c.Memory.TTL = time.Hour
	}
	if c.Memory.Limit == 0 {
		c.Memory.Limit = 500
	}
	if c.Handlers.HistoryTTL == 0 {
		c.Handlers.HistoryTTL = time.Hour
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Service.Clock != nil && c.Memory.Now == nil {
		c.Memory.Now = c.Service.Clock.Now
	}
	ch := &Chat{Memory: memory.New(c.Memory)}
	ch.Store = &chattest.FlakyStore{Store: ch.Memory}
	c.Hub.Store = ch.Store
	ch.Hub = chat.NewHub(c.Hub)
	so := c.Service
	so.Store, so.Hub, so.Relay = ch.Store, ch.Hub, nil
	ch.Service = chat.NewServiceWith(so)
	ch.Handler = handlers.New(c.Log, ch.Service, ch.Hub, c.Handlers)
	if c.Wrap != nil {
		ch.Handler = c.Wrap(ch.Handler)
	}
	return ch
}

func (ch *Chat) close() {
	ch.Hub.Close()
	ch.Memory.Close()
}

// App is a chat served by a real HTTP server.
type App struct {
	*Chat
	*httptest.Server

	endStreams context.CancelFunc
}

// New serves the chat c describes; t.Cleanup stops it.
func New(t testing.TB, c Config) *App {
	t.Helper()
	// Ending the streams' context ends the event streams, as cmd/chat
	// does at shutdown; otherwise Close would wait on streams that
	// clients still hold open.
	streams, end := context.WithCancel(context.Background())
	if c.Handlers.Streams == nil {
		c.Handlers.Streams = streams
	}
	a := &App{Chat: wire(c), endStreams: end}
	if c.Listener != nil {
		a.Server = &httptest.Server{Listener: c.Listener, Config: &http.Server{Handler: a.Handler}}
	} else {
		a.Server = httptest.NewUnstartedServer(a.Handler)
	}
	a.Config.BaseContext = func(net.Listener) context.Context { return streams }
	if c.Log != nil {
		a.Config.ErrorLog = slog.NewLogLogger(c.Log.Handler(), slog.LevelWarn)
	}
	if c.Configure != nil {
		c.Configure(a.Server)
	}
	if a.EnableHTTP2 {
		a.StartTLS()
	} else {
		a.Start()
	}
	t.Cleanup(a.Stop)
	return a
}

// Stop ends the streams, closes the server and releases the chat. Safe to
// call more than once.
func (a *App) Stop() {
	a.endStreams()
	a.Close()
	a.Chat.close()
}
