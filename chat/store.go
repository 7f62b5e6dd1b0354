package chat

import (
	"context"
	"fmt"
	"time"
)

// Store keeps each room's history: an ordered list of messages with a
// time to live that every append refreshes. Implementations are safe for
// concurrent use; every method honours ctx and returns an error (which the
// service reports as ErrUnavailable) when the backend does not answer.
type Store interface {
	// Append adds m at the end of m.Room's history, gives it the room's
	// next ID (starting a new epoch when the room does not exist), refreshes
	// the room's time to live (unless the room has a keep: see
	// RoomStore), drops the oldest messages beyond the store's limit and
	// returns the message as stored.
	Append(ctx context.Context, m Message) (Message, error)

	// History returns the room's stored messages, oldest first. A room that
	// never existed or has expired has an empty history and no error.
	History(ctx context.Context, room Room) ([]Message, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// TailStore is a Store that can read the end of a room's history alone,
// which a hub uses to fill gaps without reading (and paying for) what it
// has. A hub whose store is not a TailStore reads the whole history.
type TailStore interface {
	Store
	// Tail returns the room's last n stored messages (fewer if the room
	// has fewer), oldest first, in History's order. whole reports that
	// they are the room's entire history. A missing room is empty and
	// whole.
	Tail(ctx context.Context, room Room, n int) (msgs []Message, whole bool, err error)
}

// NotStoredError is the error of an Append that took ID for the message
// and then failed, when the store knows the message is not stored: the ID
// will never appear in the room's history, and the service tells the hub
// and the relay to skip it at once rather than wait for it.
type NotStoredError struct {
	Room Room
	ID   ID
	Err  error
}

func (e *NotStoredError) Error() string {
	return fmt.Sprintf("message %s of %q not stored: %v", e.ID, e.Room, e.Err)
}

func (e *NotStoredError) Unwrap() error { return e.Err }

// Relay carries the messages this instance stores, the room events
// (Event.Kind: room, deleted, ended) of its host actions and its here
// events (its summary of who is in a room: presence.go), to the other instances
// that serve their rooms, for a backend that many instances share. The
// service hands it each message once it is stored and this instance's hub
// has it, with the room's post lock held, so that it sees each room's
// messages in history order; it must return at once (queue, never wait
// on the network) and deals with (logs, retries) its own failures to
// reach the others, whose hubs fill in from history what they miss.
// Implementations are safe for concurrent use.
//
// Room events carry no id and need no order: a relay carries them as
// their Kind and JSON (DecodeEvent makes the event again) and may drop
// one it cannot carry; the others' state of the room is then refreshed
// when they next read it. An ended event is relayed only when a host
// ends a room early: each instance ends its streams at a room's set end
// by its own clock.
//
// What the other instances store comes back through the Inbox the relay
// is handed (see momento.Broker.Run): a relay never holds a Hub.
type Relay interface {
	// Publish carries e, a message or a room event, to the others.
	Publish(e *Event)
	// Skip tells the others that id, taken by a post of room, will never
	// be stored (see NotStoredError), in its place among the messages.
	Skip(room Room, id ID)
}

// Inbox takes the events a Relay receives from other instances: the hub
// of this instance implements it. Events may arrive out of order, twice or
// never; the inbox delivers each once, in ID order, and reads history for
// what stays missing. Safe for concurrent use.
type Inbox interface {
	// Receive delivers e to this instance's subscribers of its room: a
	// message in ID order, once; a room event (Kind not zero) at once,
	// after what they have queued.
	Receive(e *Event)
	// Skip says that id will never be stored: nothing waits for it.
	Skip(room Room, id ID)
	// Expect says that the message id is stored but was not carried (too
	// big for the relay, or one of too many): the inbox reads it from
	// history.
	Expect(room Room, id ID)
	// Resync reads every room from history at once: for a relay that knows
	// it may have missed events (a broken or discontinuous subscription).
	Resync()
}

// RoomStore is a Store that keeps rooms' state (title, end, lock: a
// RoomState) where every instance sees it, and deletes messages. Rooms
// with a lifetime and a host need one; a Service whose store is not one
// answers their calls with ErrNoRooms. Implementations are safe for
// concurrent use.
//
// A room's state and history expire together. keep, where a method takes
// it, is when they do for a room with a set end (its end plus the grace
// period): from then on the room is gone, as if it had never been, and
// its name free. While a room has a keep, Append does not refresh its
// expiry (the history lives until keep, not TTL after its last post). A
// zero keep (a room with no set end, locked by a host) leaves the
// expiry to the posts, and the state lives as long as the history (at
// least TTL from now).
type RoomStore interface {
	Store

	// StartRoom makes st.Room a room with state st, its history empty,
	// both kept until keep. It fails with ErrExists, changing nothing,
	// when the room exists: it has a stored message or a state.
	StartRoom(ctx context.Context, st RoomState, keep time.Time) error

	// RoomState returns the state saved for room. ok is false, with no
	// error, for a room without one: made by its first post and never
	// acted on, expired, or never there.
	RoomState(ctx context.Context, room Room) (st RoomState, ok bool, err error)

	// SaveRoom replaces the state of st.Room with st, creating it if the
	// room has none (a room that has expired, or never existed, is
	// created empty), and moves the expiry of its state and history to
	// keep (see above for a zero keep).
	SaveRoom(ctx context.Context, st RoomState, keep time.Time) error

	// Delete removes the message id from room's history, keeping the
	// others in order and the room's numbering (later messages still get
	// later ids). It fails with ErrNotFound when the history holds no
	// message of that id.
	Delete(ctx context.Context, room Room, id ID) error
}
