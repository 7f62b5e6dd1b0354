package chat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Rooms with a lifetime and a host. A room made by its first post lives
// as it always has (its history expires CHAT_HISTORY_TTL after its last
// post). A started room (Service.Start) has a state the store keeps where
// every instance sees it: a title, an end time, a lock. At its end every
// stream of the room gets an ended event; its history stays readable for
// the grace period and then vanishes with its state. Its host, who holds
// the room's host key (a capability the service derives from its secret,
// so no session is kept anywhere), may delete messages, lock and unlock
// posting, extend the room or end it at once.

// Limits and defaults of rooms.
const (
	MaxTitleChars = 100
	// DefaultGrace is ServiceOptions.Grace when 0: how long an ended
	// room's history stays readable.
	DefaultGrace = 10 * time.Minute
	// DefaultMaxLifetime is ServiceOptions.MaxLifetime when 0.
	DefaultMaxLifetime = 24 * time.Hour
	// HostKeyLen is the length of a host key: base64url of a SHA-256 HMAC.
	HostKeyLen = 43
)

// More errors, safe to show to a person.
var (
	// ErrEnded: the room's end has passed (or its host ended it). Posts,
	// new streams and host actions are refused; the history is readable
	// for the grace period.
	ErrEnded = errors.New("this room has ended")
	// ErrLocked: the host has locked posting.
	ErrLocked = errors.New("the host has locked this room")
	// ErrExists: Start was asked for a name that has a history or a state.
	ErrExists = errors.New("a room of that name already exists")
	// ErrNotHost: the host key (or token) is not the room's.
	ErrNotHost = errors.New("that host key is not valid for this room")
	// ErrNotFound: no message of that id is in the room's history.
	ErrNotFound = errors.New("no such message in this room")
	// ErrNoRooms: the store keeps no room state (it is not a RoomStore),
	// so rooms cannot be started or hosted.
	ErrNoRooms = errors.New("this chat's store cannot keep rooms with a lifetime")
)

// RoomState is what a started room carries besides its messages. A room
// made by its first post has the zero Title and Ends (no end) and is not
// locked, unless a host (by token claim: it has no host key holder who
// started it) locks it.
type RoomState struct {
	Room  Room   `json:"room"`
	Title string `json:"title,omitempty"`
	// Ends is when the room ends; zero: no set end (it lives
	// CHAT_HISTORY_TTL after its last post).
	Ends   time.Time `json:"ends,omitzero"`
	Locked bool      `json:"locked"`
	// Ended reports that Ends has passed or the host ended the room (then
	// Ends is when). Service.State computes it at the time of asking.
	Ended bool `json:"ended"`
}

// Started reports whether the room has a set end.
func (st RoomState) Started() bool { return !st.Ends.IsZero() }

// endedAt reports whether st is ended at now.
func (st RoomState) endedAt(now time.Time) bool {
	return st.Ended || st.Started() && !now.Before(st.Ends)
}

// ParseTitle checks a room title and returns it without surrounding white
// space: at most 100 characters, valid UTF-8, no control characters. An
// empty title is allowed (the room shows its name).
func ParseTitle(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: title is not valid UTF-8", ErrInvalid)
	}
	s = strings.TrimSpace(s)
	switch {
	case utf8.RuneCountInString(s) > MaxTitleChars:
		return "", fmt.Errorf("%w: title is longer than %d characters", ErrInvalid, MaxTitleChars)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", fmt.Errorf("%w: title contains control characters", ErrInvalid)
	}
	return s, nil
}

// ParseLifetime turns exactly one of lifetime and ends into an end time
// after now and at most max later. lifetime is a Go duration of whole
// seconds or more ("30m", "1h30m", "90s") or a bare number of minutes
// ("90"); ends is an RFC 3339 time. Anything else is ErrInvalid.
func ParseLifetime(lifetime, ends string, now time.Time, max time.Duration) (time.Time, error) {
	lifetime, ends = strings.TrimSpace(lifetime), strings.TrimSpace(ends)
	var end time.Time
	switch {
	case lifetime != "" && ends != "":
		return time.Time{}, fmt.Errorf("%w: give a lifetime or an end time, not both", ErrInvalid)
	case lifetime != "":
		d, err := ParseDuration(lifetime)
		if err != nil {
			return time.Time{}, err
		}
		end = now.Add(d)
	case ends != "":
		t, err := time.Parse(time.RFC3339, ends)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: end time is not an RFC 3339 time such as 2026-11-26T15:00:00Z", ErrInvalid)
		}
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("%w: end time has passed", ErrInvalid)
		}
		end = t
	default:
		return time.Time{}, fmt.Errorf("%w: give a lifetime (such as 30m) or an end time", ErrInvalid)
	}
	if max > 0 && end.Sub(now) > max {
		return time.Time{}, fmt.Errorf("%w: a room may last at most %s", ErrInvalid, fmtDuration(max))
	}
	return end.UTC().Truncate(time.Second), nil
}

// ParseDuration parses a lifetime or an extension: a Go duration ("30m",
// "1h30m") or a bare number of minutes ("90"), positive, at least a
// second and at most ten years.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		d = time.Duration(n) * time.Minute
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%w: lifetime %q is not a duration such as 30m, 1h30m or 90 (minutes)", ErrInvalid, s)
	}
	if d < time.Second || d > 10*365*24*time.Hour {
		return 0, fmt.Errorf("%w: lifetime must be positive (at least 1s)", ErrInvalid)
	}
	return d, nil
}

// fmtDuration writes d as people do: "24h", "1h30m", "45m".
func fmtDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

// StartOptions describe a room to start.
type StartOptions struct {
	Room  Room      // "" = a generated name
	Title string    // checked with ParseTitle
	Ends  time.Time // required, after now, at most MaxLifetime later
}

// hostKey is the room's capability: base64url (no padding) of
// HMAC-SHA256(secret, "host:"+room).
func hostKey(secret []byte, room Room) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("host:"))
	m.Write([]byte(room))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Words of generated room names: readable, lower case, distinct.
var (
	nameAdjectives = [...]string{
		"amber", "azure", "bold", "brave", "bright", "brisk", "calm", "clever",
		"coral", "crisp", "dapper", "eager", "fair", "fancy", "fleet", "fond",
		"gentle", "glad", "golden", "grand", "happy", "hazel", "honest", "jolly",
		"keen", "kind", "lively", "lucky", "mellow", "merry", "mighty", "misty",
		"noble", "olive", "plucky", "polite", "proud", "quick", "quiet", "rapid",
		"rosy", "royal", "rustic", "sage", "shiny", "silver", "sleek", "smart",
		"snowy", "sunny", "swift", "tidy", "topaz", "true", "velvet", "vivid",
		"warm", "wavy", "wild", "windy", "wise", "witty", "young", "zesty",
	}
	nameAnimals = [...]string{
		"badger", "bear", "beaver", "bison", "bobcat", "camel", "cobra", "condor",
		"crane", "cricket", "dingo", "dolphin", "eagle", "egret", "falcon", "ferret",
		"finch", "fox", "gecko", "gibbon", "heron", "hippo", "ibis", "jackal",
		"jaguar", "koala", "lemur", "leopard", "lynx", "marten", "mole", "moose",
		"newt", "ocelot", "orca", "osprey", "otter", "owl", "panda", "parrot",
		"pelican", "puffin", "quail", "rabbit", "raven", "robin", "salmon", "seal",
		"shrew", "sloth", "sparrow", "stoat", "swan", "tapir", "tiger", "toucan",
		"trout", "turtle", "viper", "walrus", "weasel", "wombat", "wren", "yak",
	}
)

// generateName returns a readable, hard to guess room name such as
// "amber-otter-k7q3zp": two words and six base32 characters, 42 random
// bits in all, enough that an unlisted room is not found by trying.
func generateName() Room {
	var b [8]byte
	rand.Read(b[:])
	const digits = "abcdefghijklmnopqrstuvwxyz234567"
	name := make([]byte, 0, 32)
	name = append(name, nameAdjectives[int(b[0])%len(nameAdjectives)]...)
	name = append(name, '-')
	name = append(name, nameAnimals[int(b[1])%len(nameAnimals)]...)
	name = append(name, '-')
	for _, c := range b[2:] {
		name = append(name, digits[c&31])
	}
	return Room(name)
}

// Kind is what an Event is. The zero Kind is a message.
type Kind string

// Event kinds besides messages. They are passed to every stream of the
// room unordered (after what is already queued) and carry no message id.
const (
	KindMessage Kind = ""
	KindRoom    Kind = "room"    // State changed (or is what a stream starts with)
	KindDeleted Kind = "deleted" // Message.Room and Message.ID name the deleted message
	KindEnded   Kind = "ended"   // State, ended; the stream ends after it
)

// Deleted is the data of a deleted event.
type Deleted struct {
	Room Room `json:"room"`
	ID   ID   `json:"id"`
}

// NewRoomEvent encodes st as an event of kind (KindRoom or KindEnded).
func NewRoomEvent(kind Kind, st RoomState) *Event {
	b, _ := json.Marshal(st) // a RoomState always encodes
	return &Event{Kind: kind, Message: Message{Room: st.Room}, State: st, JSON: b}
}

// NewDeletedEvent is the event that message id of room was deleted.
func NewDeletedEvent(room Room, id ID) *Event {
	b, _ := json.Marshal(Deleted{Room: room, ID: id})
	return &Event{Kind: KindDeleted, Message: Message{Room: room, ID: id}, JSON: b}
}

// DecodeEvent is the inverse of an event's (Kind, JSON), for a relay that
// carries events as those two: it checks the room name (and the id of a
// message or deleted event).
func DecodeEvent(kind Kind, data []byte) (*Event, error) {
	switch kind {
	case KindMessage:
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%w: message event: %w", ErrInvalid, err)
		}
		if _, err := ParseRoom(string(m.Room)); err != nil || m.ID.IsZero() {
			return nil, fmt.Errorf("%w: message event without a valid room or id", ErrInvalid)
		}
		return &Event{Message: m, JSON: data}, nil
	case KindRoom, KindEnded:
		var st RoomState
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("%w: %s event: %w", ErrInvalid, kind, err)
		}
		if _, err := ParseRoom(string(st.Room)); err != nil {
			return nil, fmt.Errorf("%w: %s event without a valid room", ErrInvalid, kind)
		}
		return &Event{Kind: kind, Message: Message{Room: st.Room}, State: st, JSON: data}, nil
	case KindDeleted:
		var d Deleted
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%w: deleted event: %w", ErrInvalid, err)
		}
		if _, err := ParseRoom(string(d.Room)); err != nil || d.ID.IsZero() {
			return nil, fmt.Errorf("%w: deleted event without a valid room or id", ErrInvalid)
		}
		return &Event{Kind: kind, Message: Message{Room: d.Room, ID: d.ID}, JSON: data}, nil
	}
	if kind == KindPresence || kind == KindTyping || kind == KindHere {
		return decodePresence(kind, data)
	}
	return nil, fmt.Errorf("%w: unknown event kind %q", ErrInvalid, kind)
}
