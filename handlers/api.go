package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/sessionchat/sessionchat/chat"
)

// roomParam parses the {room} of the route.
func roomParam(r *http.Request) (chat.Room, error) {
	return chat.ParseRoom(chi.URLParam(r, "room"))
}

// limitPost applies the client's post rate; when it is exceeded it sets
// Retry-After and returns errRateLimited.
func limitPost(w http.ResponseWriter, r *http.Request, posts *postLimiter) error {
	if ok, wait := posts.allow(r); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		return errRateLimited
	}
	return nil
}

func handleListMessages(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	type response struct {
		Messages []chat.Message `json:"messages"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		msgs, err := svc.History(r.Context(), room)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		encode(w, http.StatusOK, response{Messages: msgs})
	}
}

func handlePostMessage(log *slog.Logger, svc *chat.Service, posts *postLimiter) http.HandlerFunc {
	type request struct {
		Username string `json:"username"`
		Message  string `json:"message"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		if err := limitPost(w, r, posts); err != nil {
			writeError(log, w, r, err)
			return
		}
		req, err := decode[request](w, r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		if c, ok := tokenClaims(r); ok {
			req.Username = c.Name // the token's name wins: no one posts as someone else
		}
		m, err := svc.PostAs(r.Context(), room, author(w, r, false), req.Username, req.Message)
		if taken, ok := errors.AsType[*chat.NameTakenError](err); ok {
			// The choice, for a client to offer: the name with a number,
			// or another.
			encode(w, http.StatusConflict, nameTaken{Error: taken.Error(), Name: taken.Name, Suggestion: taken.Suggestion})
			return
		}
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		encode(w, http.StatusCreated, m)
	}
}

// nameTaken is the body of a 409 for a post under another author's name.
type nameTaken struct {
	Error      string `json:"error"`
	Name       string `json:"name"`
	Suggestion string `json:"suggestion"`
}

// handleTyping takes a typing notice ({"username"}): the room's streams
// on this instance hear who is typing. 204; nothing is stored.
func handleTyping(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	type request struct {
		Username string `json:"username"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		req, err := decode[request](w, r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		if c, ok := tokenClaims(r); ok {
			req.Username = c.Name
		}
		if err := svc.Typing(r.Context(), room, chat.Author{Key: authorKey(r)}, req.Username); err != nil {
			writeError(log, w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleHealthz(w http.ResponseWriter, r *http.Request) {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

func handleReadyz(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Ready(r.Context()); err != nil {
			writeError(log, w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}
