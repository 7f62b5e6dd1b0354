package chat

import (
	"context"
	"fmt"
)

// Store keeps each room's history: an ordered list of messages with a
// time to live that every append refreshes. Implementations are safe for
// concurrent use; every method honours ctx and returns an error (which the
// service reports as ErrUnavailable) when the backend does not answer.
type Store interface {
	// Append adds m at the end of m.Room's history, gives it the room's
	// next ID (starting a new epoch when the room does not exist), refreshes
	// the room's time to live, drops the oldest messages beyond the
	// store's limit and returns the message as stored.
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

// Relay carries the messages this instance stores to the other instances
// that serve their rooms, for a backend that many instances share. The
// service hands it each message once it is stored and this instance's hub
// has it, with the room's post lock held, so that it sees each room's
// messages in history order; it must return at once (queue, never wait
// on the network) and deals with (logs, retries) its own failures to
// reach the others, whose hubs fill in from history what they miss.
// Implementations are safe for concurrent use.
//
// What the other instances store comes back through the Inbox the relay
// is handed (see momento.Broker.Run): a relay never holds a Hub.
type Relay interface {
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
	// Receive delivers e to this instance's subscribers of its room.
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
