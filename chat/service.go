package chat

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Service is the one path by which messages enter the chat (validate →
// store → this instance's hub → relay) and by which streams join a room.
type Service struct {
	store Store
	hub   *Hub
	relay Relay // nil on a single instance

	// Posts to one room hold its lock from append to publish, so this
	// instance hands each room's messages to its hub and relay in history
	// order. Rooms share locks by hash: a collision costs a little
	// concurrency, never correctness.
	seed  maphash.Seed
	locks [64]sync.Mutex

	posts       atomic.Uint64
	storeErrors atomic.Uint64

	// Rooms with a lifetime and a host (rooms.go).
	rooms       RoomStore // the store, when it keeps room state; else nil
	secret      []byte
	grace       time.Duration
	maxLifetime time.Duration
	stateTTL    time.Duration
	clock       Clock
	statesMu    sync.Mutex
	states      map[Room]*roomEntry

	// Presence and typing (presence.go).
	presMu sync.Mutex
	pres   presenceState
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

// unavailable wraps a store failure as ErrUnavailable and counts it. When
// the caller's ctx has ended (its client went away) the failure is the
// caller's, not the store's: it wraps ctx's error and is not counted.
func (s *Service) unavailable(ctx context.Context, what string, room Room, err error) error {
	cause := ErrUnavailable
	if ctx.Err() != nil {
		cause = context.Cause(ctx)
	} else {
		s.storeErrors.Add(1)
	}
	if room == "" {
		return fmt.Errorf("%w: %s: %w", cause, what, err)
	}
	return fmt.Errorf("%w: %s %q: %w", cause, what, room, err)
}

// NewService returns a service that stores in store and delivers to hub,
// the streams of this instance. relay, when not nil, carries each stored
// message to the other instances; their messages reach hub through the
// relay's own wiring (it is handed hub as an Inbox). Its rooms have the
// defaults of ServiceOptions and a random host secret; see
// NewServiceWith. A hub serves one service.
func NewService(store Store, hub *Hub, relay Relay) *Service {
	return NewServiceWith(ServiceOptions{Store: store, Hub: hub, Relay: relay})
}

// Post validates a message from username to room, stores it and publishes
// it to the room's streams, here and through the relay. It returns the
// stored message. Bad input is ErrInvalid and never reaches the store; a
// store failure is ErrUnavailable and nothing is published. A room that
// has ended refuses posts with ErrEnded, one its host locked with
// ErrLocked.
func (s *Service) Post(ctx context.Context, room Room, username, text string) (Message, error) {
	return s.post(ctx, room, Author{}, username, text)
}

// post is Post and PostAs.
func (s *Service) post(ctx context.Context, room Room, a Author, username, text string) (Message, error) {
	name, err := ParseName(username)
	if err != nil {
		return Message{}, err
	}
	if text, err = ParseText(text); err != nil {
		return Message{}, err
	}
	if err := s.postable(ctx, room); err != nil {
		return Message{}, err
	}

	mu := &s.locks[maphash.String(s.seed, string(room))%uint64(len(s.locks))]
	mu.Lock()
	defer mu.Unlock()
	tag := s.AuthorTag(room, a.Key)
	if a.Unique && tag != "" {
		if err := s.nameFree(ctx, room, name, tag); err != nil {
			return Message{}, err
		}
	}
	m := Message{Room: room, Username: name, Author: tag, Text: text, Time: s.clock.Now().UTC().Truncate(time.Millisecond)}
	stored, err := s.store.Append(ctx, m)
	if err != nil {
		// A number taken for nothing: say so, so that no one waits for it.
		if lost, ok := errors.AsType[*NotStoredError](err); ok {
			s.hub.Skip(room, lost.ID)
			if s.relay != nil {
				s.relay.Skip(room, lost.ID)
			}
		}
		return Message{}, s.unavailable(ctx, "append to", room, err)
	}
	e, err := NewEvent(stored)
	if err != nil {
		return Message{}, fmt.Errorf("encode message %s: %w", stored.ID, err)
	}
	s.hub.Receive(e)
	if s.relay != nil {
		s.relay.Publish(e)
	}
	s.posts.Add(1)
	return stored, nil
}

// History returns room's stored messages, oldest first, never nil. A room
// this instance serves (it has streams) is answered from the hub's tail
// when the hub keeps one, at no cost to the store.
func (s *Service) History(ctx context.Context, room Room) ([]Message, error) {
	if msgs, ok := s.hub.history(room); ok {
		return msgs, nil
	}
	since, release := s.hub.hold(room)
	defer release()
	msgs, err := s.read(ctx, room)
	if err != nil {
		return nil, err
	}
	s.hub.baseline(room, msgs, since)
	return msgs, nil
}

// read reads room's history from the store, never nil.
func (s *Service) read(ctx context.Context, room Room) ([]Message, error) {
	msgs, err := s.store.History(ctx, room)
	if err != nil {
		return nil, s.unavailable(ctx, "history of", room, err)
	}
	if msgs == nil {
		msgs = []Message{}
	}
	return msgs, nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return s.unavailable(ctx, "ping", "", err)
	}
	return nil
}

// Join is the one way into a room. It subscribes to room and then reads
// its history, in that order, so that a message posted meanwhile is in the
// history, the live events or both, never neither (and the stream sends it
// once); a room whose tail the hub keeps needs no read. cursor is the id
// of the last message the client has; an empty, malformed or unknown
// cursor (expired, from another incarnation of the room) yields the whole
// stored history.
//
// The stream's State is the room's state once it has subscribed; every
// change after that comes as a room event (Kind), and the room's end as an
// ended event, the stream's last.
//
// It fails with ErrRoomFull when the room has all the streams the hub
// allows, ErrEnded when the room has ended, and ErrUnavailable when the
// store does not answer; then nothing is left subscribed. Close the
// stream when done.
func (s *Service) Join(ctx context.Context, room Room, cursor string) (*Stream, error) {
	return s.join(ctx, room, cursor, nil)
}

// join is Join, and JoinAs with who.
func (s *Service) join(ctx context.Context, room Room, cursor string, who *Person) (*Stream, error) {
	st, en, err := s.hub.subscribe(room, who)
	if err != nil {
		return nil, err
	}
	if st.State, err = s.State(ctx, room); err != nil || st.State.Ended {
		if err == nil {
			err = ErrEnded
		}
		s.hub.abandon(st, en)
		return nil, err
	}
	for en.wait != nil {
		select {
		case <-en.wait:
		case <-ctx.Done():
			st.Close()
			return nil, fmt.Errorf("join %q: %w", room, context.Cause(ctx))
		}
		en = s.hub.rejoin(st)
	}
	if en.warm {
		st.Backlog, st.last = after(st.Backlog, st.last, cursor)
		return st, nil
	}
	history, err := s.read(ctx, room)
	if err != nil {
		s.hub.readFailed(room)
		st.Close()
		return nil, err
	}
	s.hub.baseline(room, history, en.since)
	st.Backlog, st.last = after(history, lastID(history), cursor)
	return st, nil
}

// lastID is the ID of the last message of history that has one (items of
// the original app have none).
func lastID(history []Message) ID {
	for _, m := range slices.Backward(history) {
		if !m.ID.IsZero() {
			return m.ID
		}
	}
	return ID{}
}

// after cuts history, whose last message is last, at cursor and returns
// what follows it and the id from which live events count as new. The
// cursor's own message, when history has it, is where the cut is, so the
// items without an ID after it (the original app's) are kept. A cursor
// before the first message of its epoch in history (trimmed, expired, or
// from a list that expired while its counter lived on) gives it all.
func after(history []Message, last ID, cursor string) ([]Message, ID) {
	cur, ok := ParseID(cursor)
	if !ok {
		return history, last
	}
	if i := slices.IndexFunc(history, func(m Message) bool { return m.ID == cur }); i >= 0 {
		if i+1 == len(history) {
			return nil, last
		}
		return history[i+1:], last
	}
	first := slices.IndexFunc(history, func(m Message) bool { return m.ID.Epoch == cur.Epoch })
	if first < 0 || history[first].ID.After(cur) {
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
