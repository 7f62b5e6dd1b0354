package chat

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// Service is the one path by which messages enter the chat (validate →
// store → publish) and by which streams join a room.
type Service struct {
	store  Store
	broker Broker
	hub    *Hub

	// Posts to one room hold its lock from append to publish, so this
	// instance publishes each room's messages in history order. Rooms
	// share locks by hash: a collision costs a little concurrency, never
	// correctness.
	seed  maphash.Seed
	locks [64]sync.Mutex
}

// NewService returns a service that stores in store, publishes through
// broker and subscribes streams to hub. A single instance passes its hub
// as the broker.
func NewService(store Store, broker Broker, hub *Hub) *Service {
	return &Service{store: store, broker: broker, hub: hub, seed: maphash.MakeSeed()}
}

// Post validates a message from username to room, stores it and publishes
// it to the room's subscribers. It returns the stored message. Bad input is
// ErrInvalid and never reaches the store; a store failure is
// ErrUnavailable and nothing is published.
func (s *Service) Post(ctx context.Context, room Room, username, text string) (Message, error) {
	name, err := ParseName(username)
	if err != nil {
		return Message{}, err
	}
	if text, err = ParseText(text); err != nil {
		return Message{}, err
	}

	mu := &s.locks[maphash.String(s.seed, string(room))%uint64(len(s.locks))]
	mu.Lock()
	defer mu.Unlock()
	m := Message{Room: room, Username: name, Text: text, Time: time.Now().UTC().Truncate(time.Millisecond)}
	stored, err := s.store.Append(ctx, m)
	if err != nil {
		return Message{}, fmt.Errorf("%w: append to %q: %w", ErrUnavailable, room, err)
	}
	e, err := NewEvent(stored)
	if err != nil {
		return Message{}, fmt.Errorf("encode message %s: %w", stored.ID, err)
	}
	s.broker.Publish(e)
	return stored, nil
}

// History returns room's stored messages, oldest first, never nil.
func (s *Service) History(ctx context.Context, room Room) ([]Message, error) {
	msgs, err := s.store.History(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("%w: history of %q: %w", ErrUnavailable, room, err)
	}
	if msgs == nil {
		msgs = []Message{}
	}
	return msgs, nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Stream is a subscriber's view of a room: the stored messages it has not
// seen yet (Backlog), then live events that Fresh filters so that nothing
// is sent twice.
type Stream struct {
	// Backlog holds the stored messages after the cursor, oldest first.
	Backlog []Message

	sub  *Subscription
	last ID
}

// Join subscribes to room and reads its history, in that order, so that a
// message posted meanwhile is in the history, the live events or both,
// never neither. cursor is the id of the last message the client has; an
// empty, malformed or unknown cursor (expired, from another incarnation of
// the room) yields the whole stored history.
//
// On error nothing is left subscribed. Close the stream when done.
func (s *Service) Join(ctx context.Context, room Room, cursor string) (*Stream, error) {
	sub := s.hub.Subscribe(room)
	history, err := s.History(ctx, room)
	if err != nil {
		sub.Close()
		return nil, err
	}
	var last ID
	if n := len(history); n > 0 {
		last = history[n-1].ID
	}
	s.hub.Baseline(room, last)
	st := &Stream{sub: sub}
	st.Backlog, st.last = after(history, cursor)
	return st, nil
}

// after cuts history at cursor and returns what follows it and the id
// from which live events count as new.
func after(history []Message, cursor string) ([]Message, ID) {
	var last ID
	if n := len(history); n > 0 {
		last = history[n-1].ID
	}
	cur, ok := ParseID(cursor)
	if !ok {
		return history, last
	}
	if !slices.ContainsFunc(history, func(m Message) bool { return m.ID.Epoch == cur.Epoch }) {
		return history, last
	}
	if i := slices.IndexFunc(history, func(m Message) bool { return m.ID.After(cur) }); i >= 0 {
		return history[i:], last
	}
	// The client has everything stored, possibly more (a message it saw
	// live that this history read predates): start after the later.
	if cur.After(last) {
		last = cur
	}
	return nil, last
}

// Events delivers live events; it is closed when the hub dropped the
// subscriber for falling behind. Pass each event through Fresh.
func (st *Stream) Events() <-chan *Event { return st.sub.Events() }

// Fresh reports whether e follows everything the stream has sent so far,
// and if so records it as sent.
func (st *Stream) Fresh(e *Event) bool {
	if !e.Message.ID.After(st.last) {
		return false
	}
	st.last = e.Message.ID
	return true
}

// Close unsubscribes.
func (st *Stream) Close() { st.sub.Close() }
