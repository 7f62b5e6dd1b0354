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
	posts := newPostLimiter(o.PostRate, o.PostBurst)
	streams := newStreamLimiter(o.MaxStreamsPerClient)
	embed := embedHeaders(o.EmbedOrigins)

	r := chi.NewRouter()
	r.Use(recoverer(log), logRequests(log), commonHeaders, crossOriginProtection(log))
	r.NotFound(handleNotFound(log))
	r.MethodNotAllowed(handleMethodNotAllowed(log))

	r.Get("/healthz", handleHealthz)
	r.Get("/readyz", handleReadyz(log, svc))
	r.Handle("/assets/*", http.StripPrefix("/assets/", handleAssets(assets.FS)))

	r.Get("/", handleLobby(log, hub))
	r.Post("/join", handleJoin(log, hub))
	r.Get("/rooms/{room}", handleRoom(log, svc, o.HistoryTTL, false))
	r.Post("/rooms/{room}/messages", handleFormPost(log, svc, posts, o.HistoryTTL, false))
	r.With(embed).Get("/embed/{room}", handleRoom(log, svc, o.HistoryTTL, true))
	r.With(embed).Post("/embed/{room}/messages", handleFormPost(log, svc, posts, o.HistoryTTL, true))

	r.Route("/api/rooms/{room}", func(r chi.Router) {
		r.Get("/messages", handleListMessages(log, svc))
		r.Post("/messages", handlePostMessage(log, svc, posts))
		r.Get("/events", handleEvents(log, svc, streams, o.Heartbeat, o.Retry))
	})
	return r
}
