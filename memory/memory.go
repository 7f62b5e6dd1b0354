// Package memory is the embedded chat.Store: room histories in this
// process's memory, for a single instance with nothing to set up.
//
// It imports only the domain (chat) and the standard library.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// Store keeps each room's last Limit messages until TTL has passed since
// the room's last post. A background sweep frees expired rooms; Close
// stops it. Safe for concurrent use.
type Store struct {
	ttl   time.Duration
	limit int
	now   func() time.Time

	mu        sync.Mutex
	rooms     map[chat.Room]*room
	lastEpoch uint64

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type room struct {
	epoch   uint64
	seq     uint64
	msgs    []chat.Message // the last limit messages are the history
	expires time.Time
}

// Options configure a Store.
type Options struct {
	TTL   time.Duration    // how long a room lives after its last post
	Limit int              // messages kept per room (at least 1)
	Now   func() time.Time // the clock; time.Now when nil
}

// New returns a store and starts its sweep of expired rooms.
func New(o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{
		ttl:   o.TTL,
		limit: max(o.Limit, 1),
		now:   o.Now,
		rooms: make(map[chat.Room]*room),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go s.sweep(min(max(o.TTL/4, time.Second), time.Minute))
	return s
}

// Close stops the sweep. The store still answers afterwards.
func (s *Store) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Append implements chat.Store.
func (s *Store) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return chat.Message{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(m.Room, now)
	if r == nil {
		// Epochs grow with the clock and never repeat in this process,
		// so a cursor from a room's earlier life is never mistaken for
		// a position in this one.
		s.lastEpoch = max(uint64(now.UnixMilli()), s.lastEpoch+1)
		r = &room{epoch: s.lastEpoch}
		s.rooms[m.Room] = r
	}
	r.seq++
	m.ID = chat.ID{Epoch: r.epoch, Seq: r.seq}
	r.expires = now.Add(s.ttl)
	// Trim by sliding a window over a buffer of up to twice the limit, so
	// each append copies amortised O(1) messages.
	if len(r.msgs) == 2*s.limit {
		n := copy(r.msgs, r.msgs[s.limit:])
		clear(r.msgs[n:])
		r.msgs = r.msgs[:n]
	}
	r.msgs = append(r.msgs, m)
	return m, nil
}

// History implements chat.Store.
func (s *Store) History(ctx context.Context, name chat.Room) ([]chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(name, s.now())
	if r == nil {
		return nil, nil
	}
	return append([]chat.Message(nil), r.msgs[max(len(r.msgs)-s.limit, 0):]...), nil
}

// Ping implements chat.Store; the embedded store always answers.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Len reports how many rooms are held, expired or not.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// live returns the unexpired room called name, deleting it if it has
// expired. s.mu is held.
func (s *Store) live(name chat.Room, now time.Time) *room {
	r := s.rooms[name]
	if r != nil && !now.Before(r.expires) {
		delete(s.rooms, name)
		return nil
	}
	return r
}

func (s *Store) sweep(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.now()
			s.mu.Lock()
			for name, r := range s.rooms {
				if !now.Before(r.expires) {
					delete(s.rooms, name)
				}
			}
			s.mu.Unlock()
		}
	}
}
