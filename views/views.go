// Package views holds the templ components of the chat pages and the view
// models they render. One component, MessageItem, renders a message
// everywhere: the room page, the embed page and the template the browser
// script clones for live messages.
//
// Views import the domain (chat) and the asset paths; never handlers or a
// backend.
package views

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// Form field names shared by the pages and the handlers that read them.
const (
	FieldName    = "username"
	FieldMessage = "message"
	FieldRoom    = "room"
)

// LobbyView is the lobby: choose a name and a room.
type LobbyView struct {
	Name  string          // remembered display name, may be empty
	Room  string          // room typed before an error, may be empty
	Rooms []chat.RoomInfo // rooms with live subscribers on this instance
	Error string          // what was wrong with the last submission

	Private bool // rooms need a token: no form, no room list
}

// RoomView is a room page, full size or embedded.
type RoomView struct {
	Room     chat.Room
	Name     string         // the reader's display name, may be empty
	Messages []chat.Message // stored history, oldest first
	TTL      time.Duration  // how long history lives after the last post
	Draft    string         // text to put back into the form after an error
	Error    string         // what was wrong with the last submission
	Embed    bool           // the compact page for iframes
	Private  bool           // the room needs a token, whose name Name is
}

// LastID is the id of the last rendered message: the stream starts after it.
func (v RoomView) LastID() string {
	for i := len(v.Messages) - 1; i >= 0; i-- {
		if !v.Messages[i].ID.IsZero() {
			return v.Messages[i].ID.String()
		}
	}
	return ""
}

// ExpiresAt is when the history vanishes unless someone posts; zero for an
// empty room or one whose last message has no time.
func (v RoomView) ExpiresAt() time.Time {
	if len(v.Messages) == 0 || v.Messages[len(v.Messages)-1].Time.IsZero() {
		return time.Time{}
	}
	return v.Messages[len(v.Messages)-1].Time.Add(v.TTL)
}

// The paths of a room, built here only: the pages link and post to them
// and the handlers redirect to them. Room names are already restricted to
// URL-safe characters; escaping keeps that an invariant of the paths too.

// RoomPath is the page of room r, full size or embedded.
func RoomPath(r chat.Room, embed bool) string {
	if embed {
		return "/embed/" + url.PathEscape(string(r))
	}
	return "/rooms/" + url.PathEscape(string(r))
}

// APIPath is the API resource of room r: "/messages" or "/events" follow.
func APIPath(r chat.Room) string { return "/api/rooms/" + url.PathEscape(string(r)) }

// formAction is where the page's form posts without JavaScript; the
// answer redirects back to the same page, embedded or not.
func formAction(v RoomView) string { return RoomPath(v.Room, v.Embed) + "/messages" }

func apiMessagesPath(r chat.Room) string { return APIPath(r) + "/messages" }

// eventsURL is the stream of room v, starting after its last rendered
// message so the page never shows a message twice.
func eventsURL(v RoomView) string {
	u := APIPath(v.Room) + "/events"
	if id := v.LastID(); id != "" {
		u += "?after=" + url.QueryEscape(id)
	}
	return u
}

// isoUTC is the machine-readable time of a <time datetime>; clockUTC its
// text until the script shows the reader's local time.
func isoUTC(t time.Time) string   { return t.UTC().Format(time.RFC3339) }
func clockUTC(t time.Time) string { return t.UTC().Format("15:04") }

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// humanDuration writes d for a person: "1 hour", "30 minutes",
// "90 seconds", "1 hour 30 minutes". Under two minutes an uneven duration
// is said in seconds; otherwise each non-zero unit is named.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "less than a second"
	}
	if d < 2*time.Minute && d%time.Minute != 0 {
		return plural(int(d/time.Second), "second", "seconds")
	}
	units := []struct {
		size        time.Duration
		one, others string
	}{
		{24 * time.Hour, "day", "days"},
		{time.Hour, "hour", "hours"},
		{time.Minute, "minute", "minutes"},
		{time.Second, "second", "seconds"},
	}
	var parts []string
	for _, u := range units {
		if n := int(d / u.size); n > 0 {
			parts = append(parts, plural(n, u.one, u.others))
			d -= time.Duration(n) * u.size
		}
	}
	return strings.Join(parts, " ")
}

func plural(n int, one, others string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + others
}

// listeners says how many streams a room has on this instance.
func listeners(n int) string { return plural(n, "listener", "listeners") }

// statusTitle names an HTTP status for a person.
func statusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Something went wrong"
}

// roomPattern is chat.ParseRoom's rule for the browser's pattern
// attribute. The '-' is escaped because browsers compile pattern with the
// RegExp v flag, which rejects a bare '-' in a class and would silently
// turn the check off.
const roomPattern = `[A-Za-z0-9_\-]{1,64}`
