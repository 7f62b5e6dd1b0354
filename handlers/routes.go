package handlers

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sessionchat/sessionchat/assets"
	"github.com/sessionchat/sessionchat/chat"
)

// routes is every route of the chat on one screen.
func routes(log *slog.Logger, svc *chat.Service, hub *chat.Hub, o Options) http.Handler {
	ids := clients{trusted: o.TrustedProxies}
	posts := newPostLimiter(o.PostRate, o.PostBurst, ids)
	streams := newStreamLimiter(o.MaxStreamsPerClient, ids)
	embed := embedHeaders(o.EmbedOrigins)
	private := newGate(log, o.AuthSecret) // nil: public rooms, no checks

	r := chi.NewRouter()
	m := newMetrics(svc, hub, o.Metrics...)
	r.Use(recoverer(log), observe(log, m), commonHeaders, crossOriginProtection(log, o.CORSOrigins))
	r.NotFound(handleNotFound(log))
	r.MethodNotAllowed(handleMethodNotAllowed(log))

	// get serves GET and HEAD; assets compress themselves, once.
	get(r, "/healthz", http.HandlerFunc(handleHealthz))
	get(r, "/readyz", handleReadyz(log, svc))
	get(r, "/metrics", m.handler())
	get(r, "/assets/*", http.StripPrefix("/assets/", handleAssets(assets.FS)))

	r.Group(func(r chi.Router) {
		r.Use(compress)
		get(r, "/", handleLobby(log, svc, hub, private != nil))
		r.Post("/join", handleJoin(log, svc, hub, private != nil))
		r.Post("/rooms", handleStart(log, svc, hub, private != nil))
		get(r.With(private.exchange, private.canRead), "/rooms/{room}", handleRoom(log, svc, ids, o.HistoryTTL, false))
		r.With(private.canWrite).Post("/rooms/{room}/messages", handleFormPost(log, svc, posts, o.HistoryTTL, false))
		r.With(private.token).Post("/rooms/{room}/host/{action}", handleHostAction(log, svc, ids, o.HistoryTTL))
		r.With(private.token).Post("/rooms/{room}/messages/{id}/delete", handleDeleteForm(log, svc, ids, o.HistoryTTL))
		get(r.With(embed, private.exchange, private.canRead), "/embed/{room}", handleRoom(log, svc, ids, o.HistoryTTL, true))
		r.With(embed, private.canWrite).Post("/embed/{room}/messages", handleFormPost(log, svc, posts, o.HistoryTTL, true))
		get(r.With(private.exchange, private.canRead), "/rooms/{room}/transcript", handleTranscript(log, svc, ""))
		for _, f := range transcriptFormats {
			get(r.With(private.exchange, private.canRead), "/rooms/{room}/transcript"+f.ext, handleTranscript(log, svc, f.ext))
		}
	})

	// A mux of its own, so that CORS answers the preflight of a start.
	r.Route("/api/rooms", func(r chi.Router) {
		r.Use(cors(o.CORSOrigins))
		r.With(private.token).Post("/", handleStartRoom(log, svc, ids, private != nil))
	})

	r.Route("/api/rooms/{room}", func(r chi.Router) {
		r.Use(cors(o.CORSOrigins))
		get(r.With(compress, private.canRead), "/", handleRoomState(log, svc))
		r.With(private.token).Post("/host/{action}", handleHostAPI(log, svc))
		r.With(private.token).Delete("/messages/{id}", handleDeleteMessage(log, svc))
		get(r.With(compress, private.canRead), "/messages", handleListMessages(log, svc))
		r.With(compress, private.canWrite).Post("/messages", handlePostMessage(log, svc, posts))
		r.With(private.canWrite).Post("/typing", handleTyping(log, svc))
		// The stream is never compressed, and HEAD opens none.
		r.With(private.canRead).Head("/events", handleEventsHead(log))
		r.With(private.canRead).Get("/events", handleEvents(log, svc, streams, newStreamer(log, hub, o)))
	})
	return r
}
