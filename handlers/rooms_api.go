package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// The JSON API of rooms with a lifetime and a host: start a room, read
// its state, and the host's actions, for curl and for sites that start
// rooms for their events. The host is whoever shows the room's host key
// (header X-Host-Key, or ?host=), or a token whose host claim names the
// room.

// hostKeyHeader carries the host key of an API request.
const hostKeyHeader = "X-Host-Key"

// started is the answer to a room's start: its state, the link to share
// and the host's link, absolute, and the host key alone for the API.
type started struct {
	Room     chat.RoomState `json:"room"`
	ShareURL string         `json:"share_url"`
	HostURL  string         `json:"host_url"`
	HostKey  string         `json:"host_key"`
}

// handleStartRoom starts a room: JSON {"name"?, "title"?, "lifetime"? |
// "ends"?} → 201 with the room, its share link and host link. With
// private rooms it takes a token whose host claim names the room (a
// generated name needs the claim "*").
func handleStartRoom(log *slog.Logger, svc *chat.Service, ids clients, private bool) http.HandlerFunc {
	type request struct {
		Name     string `json:"name"`
		Title    string `json:"title"`
		Lifetime string `json:"lifetime"`
		Ends     string `json:"ends"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		var o chat.StartOptions
		if name := strings.TrimSpace(req.Name); name != "" {
			if o.Room, err = chat.ParseRoom(name); err != nil {
				writeError(log, w, r, err)
				return
			}
		}
		if private {
			c, ok := tokenClaims(r)
			switch {
			case !ok:
				writeError(log, w, r, errNoToken)
				return
			case o.Room == "" && !c.CanHost("*"), o.Room != "" && !c.CanHost(string(o.Room)):
				writeError(log, w, r, errCannotHost)
				return
			}
		}
		if o.Title, err = chat.ParseTitle(req.Title); err != nil {
			writeError(log, w, r, err)
			return
		}
		if o.Ends, err = chat.ParseLifetime(req.Lifetime, req.Ends, svc.Now(), svc.MaxLifetime()); err != nil {
			writeError(log, w, r, err)
			return
		}
		st, err := svc.Start(r.Context(), o)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		origin := requestOrigin(r, ids)
		key := svc.HostKey(st.Room)
		w.Header().Set("Location", views.APIPath(st.Room))
		encode(w, http.StatusCreated, started{
			Room:     st,
			ShareURL: origin + views.RoomPath(st.Room, false),
			HostURL:  origin + views.HostViewPath(st.Room, key),
			HostKey:  key,
		})
	}
}

// handleRoomState answers a room's state: 200 RoomState, for any room
// name (a room made by its first post, or none yet, has the zero state).
func handleRoomState(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		st, err := svc.State(r.Context(), room)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		encode(w, http.StatusOK, st)
	}
}

// handleHostAPI runs a host action on a room: lock, unlock, end, or
// extend (JSON {"lifetime": "15m"} adds to the end, {"ends": RFC 3339}
// sets it) → 200 with the room's new state.
func handleHostAPI(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	type extension struct {
		Lifetime string `json:"lifetime"`
		Ends     string `json:"ends"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room, ok := hostRoom(log, w, r, svc)
		if !ok {
			return
		}
		var err error
		switch chi.URLParam(r, "action") {
		case "lock":
			err = svc.SetLocked(r.Context(), room, true)
		case "unlock":
			err = svc.SetLocked(r.Context(), room, false)
		case "end":
			err = svc.End(r.Context(), room)
		case "extend":
			var x extension
			if x, err = decode[extension](w, r); err == nil {
				err = extend(r, svc, room, x.Lifetime, x.Ends)
			}
		default:
			err = errNotFound
		}
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		st, err := svc.State(r.Context(), room)
		if err != nil {
			writeError(log, w, r, err)
			return
		}
		encode(w, http.StatusOK, st)
	}
}

// extend moves room's end: by lifetime ("15m", "90") past its current
// end, or to ends (RFC 3339); exactly one.
func extend(r *http.Request, svc *chat.Service, room chat.Room, lifetime, ends string) error {
	st, err := svc.State(r.Context(), room)
	if err != nil {
		return err
	}
	if st.Ended {
		return chat.ErrEnded
	}
	// A lifetime counts from the room's end, an end time from now; both
	// are held to the cap from now by Extend.
	from := svc.Now()
	if lifetime != "" && ends == "" {
		from = st.Ends // zero for a room without an end, which Extend refuses
	}
	to, err := chat.ParseLifetime(lifetime, ends, from, 0)
	if err != nil {
		return err
	}
	return svc.Extend(r.Context(), room, to)
}

// handleDeleteMessage deletes a message: a host action → 204.
func handleDeleteMessage(log *slog.Logger, svc *chat.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, ok := hostRoom(log, w, r, svc)
		if !ok {
			return
		}
		id, ok := chat.ParseID(chi.URLParam(r, "id"))
		if !ok {
			writeError(log, w, r, chat.ErrNotFound) // no message has such an id
			return
		}
		if err := svc.DeleteMessage(r.Context(), room, id); err != nil {
			writeError(log, w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// hostRoom parses the route's room and checks that the request is its
// host's; otherwise it answers (400, 403) and ok is false.
func hostRoom(log *slog.Logger, w http.ResponseWriter, r *http.Request, svc *chat.Service) (chat.Room, bool) {
	room, err := roomParam(r)
	if err != nil {
		writeError(log, w, r, err)
		return "", false
	}
	key := r.Header.Get(hostKeyHeader)
	if key == "" {
		key = r.URL.Query().Get(views.FieldHostKey)
	}
	if !isHost(r, svc, room, key) {
		writeError(log, w, r, chat.ErrNotHost)
		return "", false
	}
	return room, true
}

// token verifies the request's token when it has one, so that a host
// claim counts (see isHost), and never requires one: the host key alone
// makes a host. An invalid token is refused, as everywhere.
func (g *gate) token(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := requestToken(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		c, err := g.verify(r, raw)
		if err != nil {
			g.reject(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}
