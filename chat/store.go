package chat

import "context"

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

// Relay carries the messages this instance stores to the other instances
// that serve their rooms, for a backend that many instances share. The
// service hands it each message once it is stored and this instance's hub
// has it, with the room's post lock held, so that it sees each room's
// messages in history order; it deals with (logs, retries) its own
// failures to reach the others, whose hubs fill in from history what they
// miss. Implementations are safe for concurrent use.
//
// What the other instances store comes back through the Inbox the relay
// is handed (see momento.Broker.Run): a relay never holds a Hub.
type Relay interface {
	Publish(e *Event)
}

// Inbox takes the events a Relay receives from other instances: the hub
// of this instance implements it. Events may arrive out of order, twice or
// never; the inbox delivers each once, in ID order, and reads history for
// what stays missing. Safe for concurrent use.
type Inbox interface {
	// Receive delivers e to this instance's subscribers of its room.
	Receive(e *Event)
	// Resync reads every room from history at once: for a relay that knows
	// it may have missed events (a broken or discontinuous subscription).
	Resync()
}
