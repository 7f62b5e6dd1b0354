package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/views"
)

// The pages of rooms with a lifetime and a host, for browsers without
// JavaScript: the lobby's form that starts a room, and the host's forms.
// Each answers with a 303 to the room's host view, or with a readable page
// that says what was wrong (and changes nothing).

// errBadMinutes: the lobby's lifetime field holds something other than a
// whole number of minutes.
var errBadMinutes = fmt.Errorf("%w: give the room's lifetime as a whole number of minutes, such as 30", chat.ErrInvalid)

var wholeMinutes = regexp.MustCompile(`^[0-9]{1,9}$`)

// handleStart starts a room from the lobby's form and goes to its host
// view. An invalid form shows the lobby again with the error and what was
// typed. With private rooms there is no form: strangers start nothing.
func handleStart(log *slog.Logger, svc *chat.Service, hub *chat.Hub, private bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if private {
			writeErrorPage(log, w, r, errNoToken)
			return
		}
		if err := parseForm(w, r); err != nil {
			writeErrorPage(log, w, r, err)
			return
		}
		f := views.StartForm{
			Minutes:    strings.TrimSpace(r.PostForm.Get(views.FieldMinutes)),
			Title:      r.PostForm.Get(views.FieldTitle),
			Room:       strings.TrimSpace(r.PostForm.Get(views.FieldRoom)),
			MaxMinutes: maxMinutes(svc),
		}
		st, err := startRoom(r, svc, f)
		if err == nil {
			http.Redirect(w, r, views.HostViewPath(st.Room, svc.HostKey(st.Room)), http.StatusSeeOther)
			return
		}
		code, msg := failure(log, r, err)
		if code == statusClientGone {
			w.WriteHeader(code)
			return
		}
		f.Error = msg
		render(log, w, r, code, views.LobbyPage(views.LobbyView{Name: readName(r), Rooms: svc.Rooms(), Start: f}))
	}
}

// startRoom starts the room form f describes.
func startRoom(r *http.Request, svc *chat.Service, f views.StartForm) (chat.RoomState, error) {
	if !wholeMinutes.MatchString(f.Minutes) {
		return chat.RoomState{}, errBadMinutes
	}
	ends, err := chat.ParseLifetime(f.Minutes, "", svc.Now(), svc.MaxLifetime())
	if err != nil {
		return chat.RoomState{}, err
	}
	o := chat.StartOptions{Title: f.Title, Ends: ends}
	if f.Room != "" {
		if o.Room, err = chat.ParseRoom(f.Room); err != nil {
			return chat.RoomState{}, err
		}
	}
	return svc.Start(r.Context(), o)
}

// maxMinutes is the longest lifetime the lobby offers, in minutes.
func maxMinutes(svc *chat.Service) int { return int(svc.MaxLifetime().Minutes()) }

// hostActions are the host's forms' actions, by the last segment of
// their path.
var hostActions = map[string]func(r *http.Request, svc *chat.Service, room chat.Room) error{
	"lock": func(r *http.Request, svc *chat.Service, room chat.Room) error {
		return svc.SetLocked(r.Context(), room, true)
	},
	"unlock": func(r *http.Request, svc *chat.Service, room chat.Room) error {
		return svc.SetLocked(r.Context(), room, false)
	},
	"end":    func(r *http.Request, svc *chat.Service, room chat.Room) error { return svc.End(r.Context(), room) },
	"extend": extendRoom,
}

// extendRoom moves the room's end later by the form's lifetime ("15m").
func extendRoom(r *http.Request, svc *chat.Service, room chat.Room) error {
	return extend(r, svc, room, r.PostForm.Get(views.FieldLifetime), "")
}

// handleHostAction runs one of the host's forms (lock, unlock, extend,
// end) and goes back to the host view; a failure shows the host view
// with the error, under its status.
func handleHostAction(log *slog.Logger, svc *chat.Service, ids clients, ttl time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		act, ok := hostActions[chi.URLParam(r, "action")]
		if !ok {
			writeErrorPage(log, w, r, errNotFound)
			return
		}
		hostForm(log, w, r, svc, ids, ttl, func(room chat.Room) error { return act(r, svc, room) })
	}
}

// handleDeleteForm deletes a message from the host view's form on it.
func handleDeleteForm(log *slog.Logger, svc *chat.Service, ids clients, ttl time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hostForm(log, w, r, svc, ids, ttl, func(room chat.Room) error {
			id, ok := chat.ParseID(chi.URLParam(r, "id"))
			if !ok {
				return chat.ErrNotFound // no message has such an id
			}
			return svc.DeleteMessage(r.Context(), room, id)
		})
	}
}

// hostForm checks a host's form post (its room, its host key) and runs
// act: then 303 to the host view, or the host view again with the error.
// A wrong key gets an error page alone: it shows nobody the host view.
func hostForm(log *slog.Logger, w http.ResponseWriter, r *http.Request, svc *chat.Service, ids clients, ttl time.Duration, act func(chat.Room) error) {
	room, err := roomParam(r)
	if err != nil {
		writeErrorPage(log, w, r, err)
		return
	}
	if err := parseForm(w, r); err != nil {
		writeErrorPage(log, w, r, err)
		return
	}
	key := r.PostForm.Get(views.FieldHostKey)
	if !isHost(r, svc, room, key) {
		writeErrorPage(log, w, r, chat.ErrNotHost)
		return
	}
	key = svc.HostKey(room) // a host by token has no key of its own to send
	if err := act(room); err != nil {
		code, msg := failure(log, r, err)
		if code == statusClientGone {
			w.WriteHeader(code)
			return
		}
		v := views.RoomView{Room: room, Name: readName(r), TTL: ttl, Host: hostView(r, svc, ids, room)}
		v.Host.Error = msg
		renderRoom(log, w, r, code, v, svc)
		return
	}
	http.Redirect(w, r, views.HostViewPath(room, key), http.StatusSeeOther)
}

// isHost reports whether the request may act as room's host: it carries
// the room's host key, or a token whose host claim names the room.
func isHost(r *http.Request, svc *chat.Service, room chat.Room, key string) bool {
	if c, ok := tokenClaims(r); ok && c.CanHost(string(room)) {
		return true
	}
	return key != "" && svc.IsHost(room, key)
}

// hostView is what the host view adds to room's page: its links, absolute
// so that they can be copied and sent.
func hostView(r *http.Request, svc *chat.Service, ids clients, room chat.Room) *views.HostView {
	key := svc.HostKey(room)
	origin := requestOrigin(r, ids)
	return &views.HostView{
		Key:      key,
		ShareURL: origin + views.RoomPath(room, false),
		HostURL:  origin + views.HostViewPath(room, key),
	}
}

// requestOrigin is the scheme and host by which the client reached the
// chat, for links it can send on: X-Forwarded-Proto and X-Forwarded-Host
// count only from a trusted proxy.
func requestOrigin(r *http.Request, ids clients) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ids.isTrusted(peer.Addr().Unmap()) {
		if p := firstHop(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstHop(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	return scheme + "://" + host
}

// firstHop is the first of a forwarded header's comma-separated values:
// what the proxy nearest the client saw.
func firstHop(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}
