package chat

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
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

	posts       atomic.Uint64
	storeErrors atomic.Uint64
}

// ServiceStats counts what the service has done since start, for metrics.
type ServiceStats struct {
	Posts       uint64 // messages stored and published
	StoreErrors uint64 // store calls that failed
}

// Stats returns the service's counts.
func (s *Service) Stats() ServiceStats {
	return ServiceStats{Posts: s.posts.Load(), StoreErrors: s.storeErrors.Load()}
}

// unavailable counts a store failure and wraps it as ErrUnavailable.
func (s *Service) unavailable(what string, room Room, err error) error {
	s.storeErrors.Add(1)
	if room == "" {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("%w: %s %q: %w", ErrUnavailable, what, room, err)
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
		return Message{}, s.unavailable("append to", room, err)
	}
	e, err := NewEvent(stored)
	if err != nil {
		return Message{}, fmt.Errorf("encode message %s: %w", stored.ID, err)
	}
	s.broker.Publish(e)
	s.posts.Add(1)
	return stored, nil
}

// History returns room's stored messages, oldest first, never nil.
func (s *Service) History(ctx context.Context, room Room) ([]Message, error) {
	msgs, err := s.store.History(ctx, room)
	if err != nil {
		return nil, s.unavailable("history of", room, err)
	}
	if msgs == nil {
		msgs = []Message{}
	}
	return msgs, nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return s.unavailable("ping", "", err)
	}
	return nil
}

// Stream is a subscriber's view of a room: the stored messages it has not
// seen yet (Backlog), then live events from Take, each once.
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
// It fails with ErrRoomFull when the room has all the streams the hub
// allows, and ErrUnavailable when the store does not answer; then nothing
// is left subscribed. Close the stream when done.
func (s *Service) Join(ctx context.Context, room Room, cursor string) (*Stream, error) {
	sub, err := s.hub.Subscribe(room)
	if err != nil {
		return nil, err
	}
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

// Ready is signalled when live events wait, the hub ticked, or the stream
// has ended; then call Take.
func (st *Stream) Ready() <-chan struct{} { return st.sub.Ready() }

// Take appends to dst the waiting live events that follow what the stream
// has sent (backlog included), and records them as sent. tick reports a
// hub tick since the last Take. ok is false once the stream has ended:
// the hub dropped it for falling behind, or Close.
func (st *Stream) Take(dst []*Event) (events []*Event, tick, ok bool) {
	n := len(dst)
	dst, tick, ok = st.sub.Take(dst)
	kept := dst[:n]
	for _, e := range dst[n:] {
		if e.Message.ID.After(st.last) {
			st.last = e.Message.ID
			kept = append(kept, e)
		}
	}
	clear(dst[len(kept):])
	return kept, tick, ok
}

// OnDrop arranges for f to run, once, if the hub drops the stream; see
// Subscription.OnDrop.
func (st *Stream) OnDrop(f func()) { st.sub.OnDrop(f) }

// Close unsubscribes; the stream then ends. Safe to call more than once,
// from any goroutine.
func (st *Stream) Close() { st.sub.Close() }
