// Package chat is the domain of the chat server: rooms, messages, the
// store and broker seams, the post service and the hub that fans new
// messages out to this instance's subscribers.
//
// It imports only the standard library: no HTTP, no templates, no backend.
// Backends (memory, momento) implement Store; handlers drive Service and Hub.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a person may post. Characters are Unicode code points;
// the byte limits keep the stored item and the published event small
// whatever the script (a message of emoji is four bytes a character).
const (
	MaxRoomLen     = 64
	MaxNameChars   = 32
	MaxNameBytes   = 128
	MaxTextChars   = 2000
	MaxTextBytes   = 8 << 10
	maxCursorBytes = 64
)

// Room is a validated room name: 1 to 64 characters from a–z, A–Z, 0–9,
// '-' and '_'. Names are case-sensitive. Get one from ParseRoom.
type Room string

// ParseRoom is the one home of the room-name rule.
func ParseRoom(s string) (Room, error) {
	if s == "" {
		return "", fmt.Errorf("%w: room name is empty", ErrInvalid)
	}
	if len(s) > MaxRoomLen {
		return "", fmt.Errorf("%w: room name is longer than %d characters", ErrInvalid, MaxRoomLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", fmt.Errorf("%w: room name may contain only letters a-z, digits, '-' and '_'", ErrInvalid)
		}
	}
	return Room(s), nil
}

// ParseName checks a display name and returns it without surrounding
// white space: 1 to 32 characters, valid UTF-8, no control characters.
func ParseName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: name is not valid UTF-8", ErrInvalid)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: name is empty", ErrInvalid)
	case utf8.RuneCountInString(s) > MaxNameChars || len(s) > MaxNameBytes:
		return "", fmt.Errorf("%w: name is longer than %d characters", ErrInvalid, MaxNameChars)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", fmt.Errorf("%w: name contains control characters", ErrInvalid)
	}
	return s, nil
}

// ParseText checks a message text. The text is kept byte-exact; it must be
// valid UTF-8, not blank, and at most 2000 characters (8 KiB).
func ParseText(s string) (string, error) {
	switch {
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: message is not valid UTF-8", ErrInvalid)
	case strings.TrimSpace(s) == "":
		return "", fmt.Errorf("%w: message is empty", ErrInvalid)
	case len(s) > MaxTextBytes || utf8.RuneCountInString(s) > MaxTextChars:
		return "", fmt.Errorf("%w: message is longer than %d characters", ErrInvalid, MaxTextChars)
	}
	return s, nil
}

// ID identifies a message: the incarnation (epoch) of its room and its
// position (sequence) in that incarnation. Within an epoch a larger Seq is
// a later message. A room that expires and is created again gets a new
// epoch, so an old cursor is never taken for a position in the new room.
//
// Clients see an ID only as an opaque string.
type ID struct {
	Epoch uint64
	Seq   uint64
}

// IsZero reports whether id is unset (items written by the original app
// have no id).
func (id ID) IsZero() bool { return id == ID{} }

// String formats id as "<epoch base 36>-<seq>".
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return string(id.AppendText(nil))
}

// AppendText appends the String form of id to b.
func (id ID) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, id.Epoch, 36)
	b = append(b, '-')
	return strconv.AppendUint(b, id.Seq, 10)
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return id.AppendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler. An empty text is the
// zero ID.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	p, ok := ParseID(string(b))
	if !ok {
		return fmt.Errorf("%w: malformed message id", ErrInvalid)
	}
	*id = p
	return nil
}

// ParseID parses the String form of an ID; ok is false for anything else,
// which callers treat as an unknown cursor.
func ParseID(s string) (id ID, ok bool) {
	if len(s) > maxCursorBytes {
		return ID{}, false
	}
	e, q, found := strings.Cut(s, "-")
	if !found {
		return ID{}, false
	}
	epoch, err1 := strconv.ParseUint(e, 36, 64)
	seq, err2 := strconv.ParseUint(q, 10, 64)
	if err1 != nil || err2 != nil || epoch == 0 || seq == 0 {
		return ID{}, false
	}
	id = ID{Epoch: epoch, Seq: seq}
	// Only the form the server writes: one spelling per id.
	if id.String() != s {
		return ID{}, false
	}
	return id, true
}

// Message is one chat message as stored, streamed and returned by the API.
type Message struct {
	ID       ID     `json:"id,omitzero"`
	Room     Room   `json:"room,omitempty"`
	Username string `json:"username"`
	// Author is the opaque tag of who posted it in this room (see
	// Service.AuthorTag); empty for anonymous clients and old items.
	Author string    `json:"author,omitempty"`
	Text   string    `json:"message"`
	Time   time.Time `json:"time,omitzero"`
}

// Event is what a stream delivers, with its JSON encoding (the data of
// the SSE event), made once when it is published and shared, read-only,
// by every subscriber. Most are stored messages (Kind zero); the others
// (see Kind) are about the room: its state changed (State), a message was
// deleted (Message.Room and Message.ID), it ended (State). Message.Room
// is the event's room whatever its kind.
type Event struct {
	Kind    Kind
	Message Message
	State   RoomState // of KindRoom and KindEnded
	JSON    []byte
}

// NewEvent encodes m for delivery.
func NewEvent(m Message) (*Event, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &Event{Message: m, JSON: b}, nil
}

// RoomInfo describes a room that has subscribers on this instance.
type RoomInfo struct {
	Room        Room
	Subscribers int // streams on this instance
	People      int // people present, every instance (Service.Rooms)
	Watchers    int // present without a name, every instance (Service.Rooms)
}

// Errors. Their text is safe to show to a person; wrap them with %w to
// add detail.
var (
	// ErrInvalid marks bad input: the wrapping error says what was wrong.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable means the store did not answer; nothing was stored.
	ErrUnavailable = errors.New("the message store is unavailable, try again shortly")
	// ErrRoomFull means a room has as many streams as this instance allows.
	ErrRoomFull = errors.New("this room is full, try again later")
)

// After reports whether id comes later than o: a later epoch, or the same
// epoch and a larger sequence.
func (id ID) After(o ID) bool {
	if id.Epoch != o.Epoch {
		return id.Epoch > o.Epoch
	}
	return id.Seq > o.Seq
}
