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

	// The lobby's form that starts a room, and the host's forms.
	FieldMinutes  = "minutes"  // the lifetime of a room to start, in minutes
	FieldTitle    = "title"    // the title of a room to start; optional
	FieldHostKey  = "host"     // the host key: a hidden field, and ?host= of the host view
	FieldLifetime = "lifetime" // how much longer an extended room lives: "15m"
)

// DefaultMinutes is the lifetime the lobby offers for a new room.
const DefaultMinutes = 30

// LobbyView is the lobby: choose a name and a room.
type LobbyView struct {
	Name  string          // remembered display name, may be empty
	Room  string          // room typed before an error, may be empty
	Rooms []chat.RoomInfo // rooms with live subscribers on this instance
	Error string          // what was wrong with the last submission

	Private bool // rooms need a token: no form, no room list

	Start StartForm // the form that starts a room
}

// StartForm is the lobby's "Start a room for [30] minutes" form: what was
// typed (kept after an error) and what was wrong with it.
type StartForm struct {
	Minutes    string // "" shows DefaultMinutes
	Title      string
	Room       string // "" lets the server choose an unguessable name
	MaxMinutes int    // the longest lifetime allowed; 0: no bound shown
	Error      string
}

// minutes is the value of the lifetime field.
func (f StartForm) minutes() string {
	if f.Minutes == "" {
		return strconv.Itoa(DefaultMinutes)
	}
	return f.Minutes
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
	Me       string         // the reader's author tag in this room ("mine" is this tag)
	Present  chat.Presence  // who is here as the page is rendered

	// What the room's host set. A room made by its first post has no
	// title and no end, and is neither locked nor ended.
	Title  string
	Ends   time.Time     // zero: no set end (see TTL)
	Locked bool          // posts are refused until the host unlocks it
	Ended  bool          // its end has passed: no more posts, history for Grace
	Grace  time.Duration // how long the history stays after the end; 0: unknown
	Now    time.Time     // when the page is rendered: the countdown's start

	Host *HostView // the host's view of the room: its links and controls
}

// HostView is what the holder of a room's host key sees besides the room.
type HostView struct {
	Key      string // the host key, sent back by the host's forms
	ShareURL string // the room's link, for the people invited
	HostURL  string // this view's link, for the host to keep
	Error    string // what was wrong with the host's last action
}

// heading is the room's title, or its name if it has none.
func (v RoomView) heading() string {
	if v.Title != "" {
		return v.Title
	}
	return string(v.Room)
}

// Timed reports whether the room has a set end.
func (v RoomView) Timed() bool { return !v.Ends.IsZero() }

// Vanishes is when an ended room's history goes; zero when unknown.
func (v RoomView) Vanishes() time.Time {
	if v.Ends.IsZero() || v.Grace <= 0 {
		return time.Time{}
	}
	return v.Ends.Add(v.Grace)
}

// ExtendBy are the host's choices for extending a room.
var ExtendBy = []struct {
	Lifetime, Label string
}{
	{"15m", "+15 min"},
	{"30m", "+30 min"},
	{"1h", "+1 hour"},
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

// StartPath is where the lobby's form starts a room.
const StartPath = "/rooms"

// HostViewPath is the host view of room r, the page a host action
// redirects back to.
func HostViewPath(r chat.Room, key string) string {
	return RoomPath(r, false) + "?" + FieldHostKey + "=" + url.QueryEscape(key)
}

// HostActionPath is where the host view's form for action (lock, unlock,
// extend, end) posts.
func HostActionPath(r chat.Room, action string) string {
	return RoomPath(r, false) + "/host/" + action
}

// DeletePath is where the host view's form deletes message id; "" (the
// template for live messages) leaves the id for the script to fill in.
func DeletePath(r chat.Room, id string) string {
	return RoomPath(r, false) + "/messages/" + url.PathEscape(id) + "/delete"
}

// TranscriptPath is the transcript of room r; ext is "", ".txt", ".md"
// or ".json".
func TranscriptPath(r chat.Room, ext string) string {
	return RoomPath(r, false) + "/transcript" + ext
}

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

// endClock is an end time for a person, labelled with its zone: "14:30
// UTC", with the date when it is not on the day of now ("27 Nov 14:30
// UTC"). The script rewrites it in the reader's zone.
func endClock(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if now.IsZero() || t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04") + " UTC"
	}
	return t.Format("2 Jan 15:04") + " UTC"
}

// left is the time between now and the end for a page that will not tick
// (without the script): rounded up to the minute, since a countdown that
// says "1 minute" when 50 seconds are left is less wrong than "0 minutes".
func left(ends, now time.Time) string {
	d := ends.Sub(now)
	switch {
	case d <= 0:
		return "no time"
	case d < time.Minute:
		return "less than a minute"
	}
	return humanDuration((d + time.Minute - 1).Truncate(time.Minute))
}

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

// here says how many are in a room: people, and those who only watch.
func here(r chat.RoomInfo) string {
	s := strconv.Itoa(r.People) + " here"
	if r.Watchers > 0 {
		s += ", " + watching(r.Watchers)
	}
	return s
}

// watching says how many only watch; "" for none.
func watching(n int) string {
	if n == 0 {
		return ""
	}
	return plural(n, "watching", "watching")
}

// isMine reports whether the reader wrote m: its author tag is the
// reader's; an item without a tag (older, or the original app's) is
// theirs by name.
func isMine(v RoomView, m chat.Message) bool {
	if m.Author != "" {
		return v.Me != "" && m.Author == v.Me
	}
	return v.Name != "" && m.Username == v.Name
}

// markClass is one of eight mark styles (app.css), from a tag.
// tagPrefix is the start of an author tag, shown on hover. A stored tag
// may be anything (another app writes the list too), so it is cut, never
// indexed blindly.
func tagPrefix(tag string) string {
	if len(tag) > 4 {
		return tag[:4]
	}
	return tag
}

func markClass(tag string) string {
	var h byte
	for i := 0; i < len(tag); i++ {
		h = h*31 + tag[i]
	}
	return "mark-" + strconv.Itoa(int(h%8))
}

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

// deleteForm is the host's form that deletes one message; the zero value
// is none.
type deleteForm struct {
	key    string // the host key
	action string // where the form posts; "" in the template for live messages
}

// deleteFor is the delete form of message m in view v: only in the host
// view of a room still running, and only for a message with an id (items
// from the original app have none).
func deleteFor(v RoomView, m chat.Message) deleteForm {
	if v.Host == nil || v.Embed || v.Ended || m.ID.IsZero() {
		return deleteForm{}
	}
	return deleteForm{key: v.Host.Key, action: DeletePath(v.Room, m.ID.String())}
}

// templateDelete is the delete form of the template for live messages:
// the script fills in its action.
func templateDelete(v RoomView) deleteForm {
	if v.Host == nil || v.Embed || v.Ended {
		return deleteForm{}
	}
	return deleteForm{key: v.Host.Key}
}
