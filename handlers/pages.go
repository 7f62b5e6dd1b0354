package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// nameCookie remembers the display name between pages. It is not HttpOnly:
// the page script sets it too.
const nameCookie = "chat_name"

func readName(r *http.Request) string {
	c, err := r.Cookie(nameCookie)
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	name, err := chat.ParseName(v)
	if err != nil {
		return ""
	}
	return name
}

func rememberName(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name:     nameCookie,
		Value:    url.QueryEscape(name),
		Path:     "/",
		MaxAge:   365 * 24 * 3600,
		SameSite: http.SameSiteLaxMode,
	})
}

// render writes a component as a page; it renders to a buffer first so a
// failure becomes a clean 500. Rendering stops when the request's context
// ends: that is a client gone, not a failure.
func render(log *slog.Logger, w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		if code, _ := failure(log, r, fmt.Errorf("render page: %w", err)); code == statusClientGone {
			w.WriteHeader(code)
			return
		}
		http.Error(w, errInternal.Error(), http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// parseForm reads a url-encoded or multipart form of bounded size.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge
		}
		return fmt.Errorf("%w: malformed form: %w", chat.ErrInvalid, err)
	}
	return nil
}

func handleLobby(log *slog.Logger, svc *chat.Service, hub *chat.Hub, private bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if private { // strangers learn no room names
			render(log, w, r, http.StatusOK, views.LobbyPage(views.LobbyView{Private: true}))
			return
		}
		render(log, w, r, http.StatusOK, views.LobbyPage(views.LobbyView{
			Name: readName(r), Rooms: svc.Rooms(), Start: views.StartForm{MaxMinutes: maxMinutes(svc)},
		}))
	}
}

// handleJoin remembers the name chosen in the lobby and goes to the room.
// An invalid form shows the lobby again with the error; with private rooms
// that is the private lobby, which names no room.
func handleJoin(log *slog.Logger, svc *chat.Service, hub *chat.Hub, private bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r); err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		v := views.LobbyView{Name: r.PostForm.Get(views.FieldName), Room: r.PostForm.Get(views.FieldRoom)}
		name, err := chat.ParseName(v.Name)
		if err == nil {
			var room chat.Room
			if room, err = chat.ParseRoom(v.Room); err == nil {
				rememberName(w, name)
				http.Redirect(w, r, views.RoomPath(room, false), http.StatusSeeOther)
				return
			}
		}
		code, msg := failure(log, r, err)
		switch {
		case code == statusClientGone:
			w.WriteHeader(code)
		case private: // strangers learn no room names
			render(log, w, r, code, views.LobbyPage(views.LobbyView{Private: true}))
		default:
			v.Rooms = svc.Rooms()
			v.Error = msg
			v.Start = views.StartForm{MaxMinutes: maxMinutes(svc)}
			render(log, w, r, code, views.LobbyPage(v))
		}
	}
}

// handleRoom renders a room with its state and history. ?name= sets the
// display name, as in the original app. ?host= with the room's host key
// (or a token whose host claim names the room) is the host view, full
// size only; a wrong key gets an error page.
func handleRoom(log *slog.Logger, svc *chat.Service, ids clients, ttl time.Duration, embed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		name := readName(r)
		if q := r.URL.Query().Get("name"); q != "" {
			if n, err := chat.ParseName(q); err == nil {
				name = n
				rememberName(w, name)
			}
		}
		v := views.RoomView{Room: room, Name: name, TTL: ttl, Embed: embed}
		if c, ok := tokenClaims(r); ok {
			v.Name, v.Private = c.Name, true
		}
		v.Me = svc.AuthorTag(room, ensureAuthor(w, r))
		key := r.URL.Query().Get(views.FieldHostKey)
		if c, ok := tokenClaims(r); !embed && (key != "" || ok && c.CanHost(string(room))) {
			if !isHost(r, svc, room, key) {
				writeErrorPage(log, w, r, chat.ErrNotHost)
				return
			}
			v.Host = hostView(r, svc, ids, room)
		}
		renderRoom(log, w, r, http.StatusOK, v, svc)
	}
}

// renderRoom fills v with the room's state and history and renders it.
func renderRoom(log *slog.Logger, w http.ResponseWriter, r *http.Request, code int, v views.RoomView, svc *chat.Service) {
	st, err := svc.State(r.Context(), v.Room)
	if err != nil {
		writeErrorPage(log, w, r, err)
		return
	}
	v.Title, v.Ends, v.Locked, v.Ended = st.Title, st.Ends, st.Locked, st.Ended
	v.Grace, v.Now = svc.Grace(), svc.Now()
	msgs, err := svc.History(r.Context(), v.Room)
	if err != nil {
		writeErrorPage(log, w, r, err)
		return
	}
	v.Messages = msgs
	v.Present = svc.Presence(v.Room)
	page := views.RoomPage(v)
	if v.Embed {
		page = views.EmbedPage(v)
	}
	render(log, w, r, code, page)
}

// handleFormPost posts a message from the page's form, for browsers
// without JavaScript: 303 back to the room at the message sent (#m-<id>),
// or the room again with the error and the draft kept.
func handleFormPost(log *slog.Logger, svc *chat.Service, posts *postLimiter, ttl time.Duration, embed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room, err := roomParam(r)
		if err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		if err := parseForm(w, r); err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		v := views.RoomView{
			Room:  room,
			Name:  r.PostForm.Get(views.FieldName),
			Draft: r.PostForm.Get(views.FieldMessage),
			TTL:   ttl,
			Embed: embed,
		}
		if c, ok := tokenClaims(r); ok {
			v.Name, v.Private = c.Name, true // the token's name wins
		}
		// A third-party frame may not keep the author cookie either: an
		// embed's post without a key goes untagged, "mine" by name, rather
		// than under a key made for it and lost at once.
		a := author(w, r, !embed)
		v.Me = svc.AuthorTag(room, a.Key)
		err = limitPost(w, r, posts)
		if err == nil {
			var m chat.Message
			if m, err = svc.PostAs(r.Context(), room, a, v.Name, v.Draft); err == nil {
				rememberName(w, m.Username)
				to := views.RoomPath(room, embed)
				if embed {
					// A third-party frame may not keep the name cookie
					// (SameSite=Lax): carry the name in the URL.
					to += "?name=" + url.QueryEscape(m.Username)
				}
				// Land on the message just sent, the newest, not at the
				// top of a long room.
				to += "#m-" + m.ID.String()
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
		}
		if taken, ok := errors.AsType[*chat.NameTakenError](err); ok {
			// The choice: the form comes back with the numbered name in
			// place, the draft kept; or the person types another name.
			v.Name = taken.Suggestion
			v.Error = fmt.Sprintf("Someone else already posts as “%s” in this room. Send again to post as “%s”, or choose another name.", taken.Name, taken.Suggestion)
			renderRoom(log, w, r, http.StatusConflict, v, svc)
			return
		}
		code, msg := failure(log, r, err)
		if c, ok := tokenClaims(r); code == statusClientGone || ok && !c.CanRead(string(room)) {
			// A token that may post but not read learns nothing of the
			// room: the error alone, as its GET of the room would get.
			writePage(log, w, r, code, msg)
			return
		}
		v.Error = msg
		renderRoom(log, w, r, code, v, svc)
	}
}
