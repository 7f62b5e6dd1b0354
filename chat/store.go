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
