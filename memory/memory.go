// Package memory is the embedded chat.Store: room histories in this
// process's memory, for a single instance with nothing to set up.
//
// It imports only the domain (chat) and the standard library.
package memory

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sessionchat/sessionchat/chat"
)

// DefaultMaxBytes is the cap on stored history that cmd/chat uses unless
// CHAT_MEMORY_LIMIT says otherwise.
const DefaultMaxBytes = 256 << 20

// Approximate costs, in bytes, of what the store holds besides the text of
// names and messages: a message slot in a room's buffer, and a room (its
// struct, its map entry and the map's spare capacity).
const (
	messageBytes   = int64(unsafe.Sizeof(chat.Message{}))
	roomBytes      = int64(unsafe.Sizeof(room{})) + 64
	roomStateBytes = int64(unsafe.Sizeof(chat.RoomState{}))
)

// logEvery spaces the log lines about evictions: under steady pressure
// every post evicts, and one line sums up each interval.
const logEvery = 10 * time.Second

// Store keeps each room's last Limit messages until TTL has passed since
// the room's last post, or, for a started room (chat.RoomStore), with its
// state until its keep. A background sweep frees expired rooms; Close
// stops it. Safe for concurrent use.
//
// With MaxBytes set, the store also bounds the approximate memory of all
// rooms together: when a post takes it over the cap, the least recently
// posted-to other rooms are evicted, whole, until it is under again. An
// evicted room is gone as if it had expired; its next post starts a new
// incarnation (epoch). The room being posted to is never evicted, so the
// store exceeds the cap by at most that one room, which Limit bounds.
type Store struct {
	ttl      time.Duration
	limit    int
	maxBytes int64
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	rooms     map[chat.Room]*room
	lru       room // sentinel: lru.next is the room posted to last, lru.prev the least recent
	bytes     int64
	lastEpoch uint64
	evictions uint64
	unlogged  evicted // evictions not logged yet
	lastLog   time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

var _ chat.RoomStore = (*Store)(nil)

type room struct {
	name       chat.Room
	epoch      uint64
	seq        uint64
	msgs       []chat.Message // the last limit messages are the history
	state      *chat.RoomState
	keep       bool // expires is the room's keep: posts do not refresh it
	expires    time.Time
	bytes      int64 // approximate memory held, counted in Store.bytes
	prev, next *room // in the store's list, latest post first, so expiry times fall along next
}

type evicted struct {
	rooms int
	bytes int64
}

// Options configure a Store.
type Options struct {
	TTL   time.Duration    // how long a room lives after its last post
	Limit int              // messages kept per room (at least 1)
	Now   func() time.Time // the clock; time.Now when nil
	// MaxBytes caps the approximate memory of all stored history (names
	// and texts, plus per-message and per-room overhead); 0 means no cap.
	MaxBytes int64
	// Log receives a line summing up evictions, at most every 10 seconds
	// while they happen (counts only, never names or text); nil discards.
	Log *slog.Logger
}

// New returns a store and starts its sweep of expired rooms.
func New(o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		ttl:      o.TTL,
		limit:    max(o.Limit, 1),
		maxBytes: max(o.MaxBytes, 0),
		now:      o.Now,
		log:      o.Log,
		rooms:    make(map[chat.Room]*room),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	go s.sweep(min(max(o.TTL/4, time.Second), time.Minute))
	return s
}

// Close stops the sweep. The store still answers afterwards.
func (s *Store) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Append implements chat.Store. It takes amortised O(1) time: each room is
// evicted at most once per incarnation, and trimming copies amortised O(1)
// messages.
func (s *Store) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return chat.Message{}, err
	}
	now := s.now()
	s.mu.Lock()
	r := s.live(m.Room, now)
	if r == nil {
		r = s.create(m.Room, now)
	} else {
		r.unlink()
	}
	r.linkAfter(&s.lru)
	r.seq++
	m.ID = chat.ID{Epoch: r.epoch, Seq: r.seq}
	m.Room = r.name
	if !r.keep {
		r.expires = now.Add(s.ttl)
	}
	// Trim by sliding a window over a buffer of up to twice the limit, so
	// each append copies amortised O(1) messages.
	if len(r.msgs) == 2*s.limit {
		var freed int64
		for _, old := range r.msgs[:s.limit] {
			freed += textBytes(old)
		}
		n := copy(r.msgs, r.msgs[s.limit:])
		clear(r.msgs[n:])
		r.msgs = r.msgs[:n]
		s.grow(r, -freed)
	}
	c := cap(r.msgs)
	r.msgs = append(r.msgs, m)
	s.grow(r, textBytes(m)+int64(cap(r.msgs)-c)*messageBytes)

	var report evicted
	for s.maxBytes > 0 && s.bytes > s.maxBytes {
		victim := s.lru.prev
		if victim == r {
			break // never the room being posted to
		}
		s.unlogged.rooms++
		s.unlogged.bytes += victim.bytes
		s.evictions++
		s.remove(victim)
	}
	if s.unlogged.rooms > 0 && now.Sub(s.lastLog) >= logEvery {
		report = s.takeUnlogged(now)
	}
	held, total := s.bytes, s.evictions
	s.mu.Unlock()

	s.logEvictions(report, held, total)
	return m, nil
}

// create makes an empty room called name. s.mu is held.
func (s *Store) create(name chat.Room, now time.Time) *room {
	// Epochs grow with the clock and never repeat in this process, so a
	// cursor from a room's earlier life is never mistaken for a position
	// in this one.
	s.lastEpoch = max(uint64(now.UnixMilli()), s.lastEpoch+1)
	// The name is cloned so that the room does not keep alive the
	// request it came from; every message shares it.
	r := &room{name: chat.Room(strings.Clone(string(name))), epoch: s.lastEpoch, expires: now.Add(s.ttl)}
	r.bytes = roomBytes + int64(len(r.name))
	s.bytes += r.bytes
	s.rooms[r.name] = r
	return r
}

// StartRoom implements chat.RoomStore.
func (s *Store) StartRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live(st.Room, now) != nil {
		return chat.ErrExists
	}
	r := s.create(st.Room, now)
	r.linkAfter(&s.lru)
	s.setState(r, st, keep, now)
	return nil
}

// RoomState implements chat.RoomStore.
func (s *Store) RoomState(ctx context.Context, name chat.Room) (chat.RoomState, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.RoomState{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(name, s.now())
	if r == nil || r.state == nil {
		return chat.RoomState{}, false, nil
	}
	return *r.state, true, nil
}

// SaveRoom implements chat.RoomStore.
func (s *Store) SaveRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(st.Room, now)
	if r == nil {
		r = s.create(st.Room, now)
	} else {
		r.unlink()
	}
	r.linkAfter(&s.lru)
	s.setState(r, st, keep, now)
	return nil
}

// setState gives r its state and expiry. s.mu is held.
func (s *Store) setState(r *room, st chat.RoomState, keep, now time.Time) {
	st.Room = r.name
	if r.state == nil {
		s.grow(r, roomStateBytes)
	}
	s.grow(r, int64(len(st.Title)))
	if r.state != nil {
		s.grow(r, -int64(len(r.state.Title)))
	}
	r.state = &st
	if keep.IsZero() {
		r.keep = false
		r.expires = later(r.expires, now.Add(s.ttl))
		return
	}
	r.keep, r.expires = true, keep
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Delete implements chat.RoomStore.
func (s *Store) Delete(ctx context.Context, name chat.Room, id chat.ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(name, s.now())
	if r == nil || id.IsZero() {
		return chat.ErrNotFound
	}
	from := max(len(r.msgs)-s.limit, 0)
	for i := from; i < len(r.msgs); i++ {
		if r.msgs[i].ID == id {
			s.grow(r, -textBytes(r.msgs[i]))
			copy(r.msgs[i:], r.msgs[i+1:])
			r.msgs[len(r.msgs)-1] = chat.Message{}
			r.msgs = r.msgs[:len(r.msgs)-1]
			return nil
		}
	}
	return chat.ErrNotFound
}

// textBytes is what m holds besides its slot: the room name is shared by
// the room's messages and counted once, in the room.
func textBytes(m chat.Message) int64 { return int64(len(m.Username) + len(m.Text)) }

// grow adds n bytes to r and the store. s.mu is held.
func (s *Store) grow(r *room, n int64) {
	r.bytes += n
	s.bytes += n
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

// Bytes reports the approximate memory held by all rooms, the figure
// MaxBytes caps.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Evictions reports how many rooms have been evicted to stay under
// MaxBytes since the store was made.
func (s *Store) Evictions() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evictions
}

// live returns the unexpired room called name, deleting it if it has
// expired. s.mu is held.
func (s *Store) live(name chat.Room, now time.Time) *room {
	r := s.rooms[name]
	if r != nil && !now.Before(r.expires) {
		s.remove(r)
		return nil
	}
	return r
}

// remove forgets r and its bytes. s.mu is held.
func (s *Store) remove(r *room) {
	delete(s.rooms, r.name)
	r.unlink()
	s.bytes -= r.bytes
}

// takeUnlogged returns the evictions not logged yet and starts counting
// afresh. s.mu is held.
func (s *Store) takeUnlogged(now time.Time) evicted {
	e := s.unlogged
	s.unlogged = evicted{}
	s.lastLog = now
	return e
}

// logEvictions logs e, if anything was evicted, without s.mu held.
func (s *Store) logEvictions(e evicted, held int64, total uint64) {
	if e.rooms == 0 {
		return
	}
	s.log.Warn("memory store full: evicted the least recently active rooms",
		"rooms", e.rooms, "bytes_freed", e.bytes, "bytes_held", held,
		"limit", s.maxBytes, "evictions_total", total)
}

func (r *room) linkAfter(at *room) {
	r.prev, r.next = at, at.next
	at.next.prev = r
	at.next = r
}

func (r *room) unlink() {
	r.prev.next, r.next.prev = r.next, r.prev
	r.prev, r.next = nil, nil
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
			// Rooms expire in the order they were last posted to, so
			// the expired ones are at the back of the list; rooms with
			// a keep (started rooms) expire when they do, wherever they
			// are, and are passed over.
			for r := s.lru.prev; r != &s.lru; {
				prev := r.prev
				if !now.Before(r.expires) {
					s.remove(r)
				} else if !r.keep {
					break
				}
				r = prev
			}
			var report evicted
			if s.unlogged.rooms > 0 && now.Sub(s.lastLog) >= logEvery {
				report = s.takeUnlogged(now) // evictions since the last post that logged
			}
			held, total := s.bytes, s.evictions
			s.mu.Unlock()
			s.logEvictions(report, held, total)
		}
	}
}
