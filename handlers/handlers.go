// Package handlers is the HTTP face of the chat: the chi router, the HTML
// pages, the JSON API and the Server-Sent Events writer. Handlers decode,
// call the domain (chat), encode; nothing else.
//
// It imports the domain, the views, the assets and auth; never a backend.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionchat/sessionchat/chat"
)

// Options tune the handlers. The zero value of each field means its
// default, except where it says 0 disables.
type Options struct {
	HistoryTTL time.Duration // shown on room pages
	Heartbeat  time.Duration // SSE comment interval while idle; default 15s
	Retry      time.Duration // SSE reconnection hint; default 2s
	// StallTimeout is the stalled-writer bound: an event stream whose
	// client has not taken a write (at most 32 KiB) within this long (up
	// to a quarter more) is dropped, and the client resumes from its last
	// event id when it reconnects; default 30s.
	StallTimeout time.Duration
	// Streams is the life of the event streams: they end when it is done
	// (at shutdown). A stream that took over its HTTP/1.1 connection
	// outlives its request's context, so it needs this. Default: forever.
	Streams context.Context

	PostRate            float64 // posts per second per client; 0 = unlimited
	PostBurst           int     // posts allowed at once above the rate
	MaxStreamsPerClient int     // concurrent streams per client; 0 = unlimited
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client; any other peer is the client itself.
	TrustedProxies []netip.Prefix

	EmbedOrigins []string // origins allowed to frame /embed/{room}
	CORSOrigins  []string // origins whose pages may call the API and streams
	AuthSecret   string   // HS256 key of room tokens; "" = public rooms

	// Metrics are more collectors for /metrics: the store's own (the
	// handlers know no backend).
	Metrics []prometheus.Collector
}

// New returns the chat's HTTP handler.
func New(log *slog.Logger, svc *chat.Service, hub *chat.Hub, o Options) http.Handler {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Streams == nil {
		o.Streams = context.Background()
	}
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 30 * time.Second
	}
	return routes(log, svc, hub, o)
}
