package chat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"time"
)

// The service's side of rooms with a lifetime and a host: starting them,
// the host's actions, the state every post and join checks, and the one
// timer per room by which this instance ends its streams at the room's
// end.
//
// The state of a room is kept in memory (states), so that a post costs
// the store nothing for it: learnt from the store when first needed, then
// kept right by this instance's own changes and, from other instances,
// by the room events the relay carries (the hub hands them to learn
// before its streams see them). A state read from the store is trusted
// for StateTTL at most, and not at all after the relay says it may have
// missed events (Resync).

// Clock tells the time and runs a function later: the service's view of
// time, which tests replace with a clock they move by hand.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a function scheduled by a Clock.
type Timer interface {
	// Stop keeps the function from running; false if it has run or been
	// stopped.
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// DefaultStateTTL is ServiceOptions.StateTTL when 0.
const DefaultStateTTL = time.Minute

// maxStates bounds the rooms whose state the service keeps in memory.
const maxStates = 1 << 14

// ServiceOptions configure a Service; see NewServiceWith.
type ServiceOptions struct {
	Store Store // a RoomStore for rooms with a lifetime and a host
	Hub   *Hub
	Relay Relay // nil on a single instance

	// HostSecret signs host keys (HMAC-SHA256); every instance that
	// serves the same rooms must have the same one. Random when empty:
	// host keys then die with the process.
	HostSecret []byte
	// Grace is how long an ended room's history stays readable;
	// DefaultGrace when 0.
	Grace time.Duration
	// MaxLifetime caps a room's lifetime (from now to its end, at start
	// and extension); DefaultMaxLifetime when 0.
	MaxLifetime time.Duration
	// StateTTL is how long a room's state read from the store is taken
	// as true without a word from the relay; DefaultStateTTL when 0.
	StateTTL time.Duration
	// Clock is the service's time; the system clock when nil.
	Clock Clock
}

// roomEntry is what the service knows of a room's state.
type roomEntry struct {
	st    RoomState // Room set; the zero rest for a room without a state
	read  time.Time // when st was read from the store or learnt
	gen   uint64    // counts what was learnt, so a slower read loses
	timer Timer     // this instance's end of the room's streams
	at    time.Time // when timer fires
}

// NewServiceWith returns a service configured by o; see NewService.
func NewServiceWith(o ServiceOptions) *Service {
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxLifetime
	}
	if o.StateTTL <= 0 {
		o.StateTTL = DefaultStateTTL
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if len(o.HostSecret) == 0 {
		o.HostSecret = make([]byte, 32)
		rand.Read(o.HostSecret)
	}
	s := &Service{
		store: o.Store, hub: o.Hub, relay: o.Relay,
		secret: o.HostSecret, grace: o.Grace, maxLifetime: o.MaxLifetime, stateTTL: o.StateTTL, clock: o.Clock,
		states: make(map[Room]*roomEntry), seed: maphash.MakeSeed(), pres: newPresenceState(),
	}
	s.rooms, _ = o.Store.(RoomStore)
	o.Hub.watch(s)
	return s
}

// Grace is how long an ended room's history stays readable.
func (s *Service) Grace() time.Duration { return s.grace }

// MaxLifetime is the longest a room may last.
func (s *Service) MaxLifetime() time.Duration { return s.maxLifetime }

// Now is the service's time, by which rooms end.
func (s *Service) Now() time.Time { return s.clock.Now() }

// HostKey is room's host key: the capability that makes its holder the
// room's host, 43 characters of base64url, the same on every instance
// with the same host secret, and valid as long as the room lives.
func (s *Service) HostKey(room Room) string { return hostKey(s.secret, room) }

// IsHost reports whether key is room's host key, in constant time.
func (s *Service) IsHost(room Room, key string) bool {
	if len(key) != HostKeyLen {
		return false
	}
	return hmac.Equal([]byte(key), []byte(s.HostKey(room)))
}

// Start starts a room that ends at o.Ends: a room of the given name, or of
// a generated one when o.Room is empty. It fails with ErrInvalid for a
// bad title or end (past, or over MaxLifetime away), ErrExists when the
// name has a history or a state, ErrNoRooms when the store cannot keep
// rooms, and ErrUnavailable when it does not answer; then nothing is
// stored.
func (s *Service) Start(ctx context.Context, o StartOptions) (RoomState, error) {
	if s.rooms == nil {
		return RoomState{}, ErrNoRooms
	}
	title, err := ParseTitle(o.Title)
	if err != nil {
		return RoomState{}, err
	}
	now := s.clock.Now()
	switch {
	case o.Ends.IsZero():
		return RoomState{}, fmt.Errorf("%w: a room needs an end", ErrInvalid)
	case !o.Ends.After(now):
		return RoomState{}, fmt.Errorf("%w: end time has passed", ErrInvalid)
	case o.Ends.Sub(now) > s.maxLifetime:
		return RoomState{}, fmt.Errorf("%w: a room may last at most %s", ErrInvalid, fmtDuration(s.maxLifetime))
	}
	st := RoomState{Title: title, Ends: o.Ends.UTC()}
	for try := 0; ; try++ {
		st.Room = o.Room
		if st.Room == "" {
			st.Room = generateName()
		}
		err = s.rooms.StartRoom(ctx, st, st.Ends.Add(s.grace))
		if errors.Is(err, ErrExists) && o.Room == "" && try < 3 {
			continue // a generated name taken: unlikely, and again less so
		}
		break
	}
	switch {
	case errors.Is(err, ErrExists):
		return RoomState{}, fmt.Errorf("%w: %s", ErrExists, st.Room)
	case err != nil:
		return RoomState{}, s.unavailable(ctx, "start", st.Room, err)
	}
	// Streams may be waiting in a room that had no messages yet.
	s.announce(NewRoomEvent(KindRoom, st))
	return st, nil
}

// State returns room's state as of now: the zero state (but Room) for a
// room made by its first post, Ended computed from its end. It fails only
// with ErrUnavailable.
func (s *Service) State(ctx context.Context, room Room) (RoomState, error) {
	st, err := s.state(ctx, room)
	if err != nil {
		return RoomState{}, err
	}
	st.Ended = st.endedAt(s.clock.Now())
	return st, nil
}

// DeleteMessage removes message id from room's history, on every
// instance's streams (a deleted event) and in the store: a host action.
// It fails with ErrEnded for a room that has ended, ErrNotFound for an id
// not in the history.
func (s *Service) DeleteMessage(ctx context.Context, room Room, id ID) error {
	if _, err := s.forHost(ctx, room); err != nil {
		return err
	}
	if err := s.rooms.Delete(ctx, room, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return s.unavailable(ctx, "delete from", room, err)
	}
	s.announce(NewDeletedEvent(room, id))
	return nil
}

// SetLocked locks or unlocks posting to room: a host action. Posts to a
// locked room fail with ErrLocked. It fails with ErrEnded for a room that
// has ended.
func (s *Service) SetLocked(ctx context.Context, room Room, locked bool) error {
	st, err := s.forHost(ctx, room)
	if err != nil {
		return err
	}
	st.Locked = locked
	return s.save(ctx, st, KindRoom)
}

// Extend moves room's end to ends: a host action. ends must be later than
// the room's end and at most MaxLifetime from now (ErrInvalid); a room
// without a set end cannot be extended (ErrInvalid), one that has ended
// neither (ErrEnded).
func (s *Service) Extend(ctx context.Context, room Room, ends time.Time) error {
	st, err := s.forHost(ctx, room)
	if err != nil {
		return err
	}
	switch {
	case !st.Started():
		return fmt.Errorf("%w: this room has no end to extend", ErrInvalid)
	case !ends.After(st.Ends):
		return fmt.Errorf("%w: a room can only be extended to a later end", ErrInvalid)
	case ends.Sub(s.clock.Now()) > s.maxLifetime:
		return fmt.Errorf("%w: a room may last at most %s", ErrInvalid, fmtDuration(s.maxLifetime))
	}
	st.Ends = ends.UTC()
	return s.save(ctx, st, KindRoom)
}

// End ends room now: a host action. Its streams, here and on the other
// instances, get an ended event; its history stays readable for the
// grace period. It fails with ErrEnded for a room that has ended.
func (s *Service) End(ctx context.Context, room Room) error {
	st, err := s.forHost(ctx, room)
	if err != nil {
		return err
	}
	st.Ended, st.Ends = true, s.clock.Now().UTC().Truncate(time.Second)
	return s.save(ctx, st, KindEnded)
}

// forHost reads room's state from the store for a host action: fresh,
// since another instance may have changed it. It fails with ErrNoRooms,
// ErrUnavailable, or ErrEnded.
func (s *Service) forHost(ctx context.Context, room Room) (RoomState, error) {
	if s.rooms == nil {
		return RoomState{}, ErrNoRooms
	}
	st, err := s.readState(ctx, room)
	if err != nil {
		return RoomState{}, err
	}
	if st.endedAt(s.clock.Now()) {
		return RoomState{}, ErrEnded
	}
	return st, nil
}

// save stores st and tells the streams (an event of kind).
func (s *Service) save(ctx context.Context, st RoomState, kind Kind) error {
	var keep time.Time
	if st.Started() {
		keep = st.Ends.Add(s.grace)
	}
	if err := s.rooms.SaveRoom(ctx, st, keep); err != nil {
		return s.unavailable(ctx, "save", st.Room, err)
	}
	s.announce(NewRoomEvent(kind, st))
	return nil
}

// announce hands a room event to this instance's hub (which has the
// service learn it first) and to the relay.
func (s *Service) announce(e *Event) {
	s.hub.Receive(e)
	if s.relay != nil {
		s.relay.Publish(e)
	}
}

// readState reads room's state from the store and keeps it, unless a
// newer one was learnt while it read.
func (s *Service) readState(ctx context.Context, room Room) (RoomState, error) {
	s.statesMu.Lock()
	var gen uint64
	if en := s.states[room]; en != nil {
		gen = en.gen
	}
	s.statesMu.Unlock()

	st, ok, err := s.rooms.RoomState(ctx, room)
	if err != nil {
		return RoomState{}, s.unavailable(ctx, "state of", room, err)
	}
	if !ok {
		st = RoomState{}
	}
	st.Room = room

	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	en := s.entry(room)
	if en.gen != gen {
		return en.st, nil // learnt from an event meanwhile: newer
	}
	s.keep(en, st)
	return st, nil
}

// state is room's state, from memory when it is known and fresh.
func (s *Service) state(ctx context.Context, room Room) (RoomState, error) {
	if s.rooms == nil {
		return RoomState{Room: room}, nil
	}
	now := s.clock.Now()
	s.statesMu.Lock()
	// A room past its end and grace is gone from the store: read again
	// rather than refuse posts to the name.
	if en := s.states[room]; en != nil && now.Sub(en.read) < s.stateTTL && !en.read.IsZero() &&
		!(en.st.Started() && !now.Before(en.st.Ends.Add(s.grace))) {
		st := en.st
		s.statesMu.Unlock()
		return st, nil
	}
	s.statesMu.Unlock()
	return s.readState(ctx, room)
}

// entry returns room's entry, making room for it. s.statesMu is held.
func (s *Service) entry(room Room) *roomEntry {
	en := s.states[room]
	if en != nil {
		return en
	}
	if len(s.states) >= maxStates {
		// Forget rooms without a timer first (plain rooms: one read each
		// to learn again); then any.
		for name, old := range s.states {
			if old.timer == nil {
				delete(s.states, name)
			}
		}
		for name, old := range s.states {
			if len(s.states) < maxStates/2 {
				break
			}
			old.stop()
			delete(s.states, name)
		}
	}
	en = &roomEntry{st: RoomState{Room: room}}
	s.states[room] = en
	return en
}

// keep makes st en's state and arms or stops its end timer. s.statesMu
// is held.
func (s *Service) keep(en *roomEntry, st RoomState) {
	en.st, en.read = st, s.clock.Now()
	switch {
	case !st.Started() || st.Ended:
		en.stop()
	case en.at.Equal(st.Ends):
		// armed for this end already, or it has fired
	default:
		en.stop()
		en.at = st.Ends
		room, at := st.Room, st.Ends
		en.timer = s.clock.AfterFunc(max(at.Sub(en.read), 0), func() { s.ended(room, at) })
	}
}

func (en *roomEntry) stop() {
	if en.timer != nil {
		en.timer.Stop()
		en.timer = nil
	}
}

// ended is room's end timer: this instance's streams of the room get an
// ended event (each instance ends its own at a room's set end).
func (s *Service) ended(room Room, at time.Time) {
	s.statesMu.Lock()
	en := s.states[room]
	if en == nil || en.timer == nil || !en.at.Equal(at) {
		s.statesMu.Unlock()
		return // extended, ended early or forgotten meanwhile
	}
	en.timer = nil
	st := en.st
	s.statesMu.Unlock()
	st.Ended = true
	s.hub.Receive(NewRoomEvent(KindEnded, st))
}

// learn takes a room event that the hub is about to deliver: this
// instance's or, through the relay, another's. It implements watcher.
func (s *Service) learn(e *Event) {
	if e.Kind != KindRoom && e.Kind != KindEnded {
		return
	}
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	en := s.entry(e.State.Room)
	en.gen++
	s.keep(en, e.State)
}

// forget distrusts every state read from the store, for a relay that may
// have missed events. It implements watcher.
func (s *Service) forget() {
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	for _, en := range s.states {
		en.read = time.Time{}
	}
}

// postable checks that room takes posts: not ended, not locked.
func (s *Service) postable(ctx context.Context, room Room) error {
	st, err := s.state(ctx, room)
	if err != nil {
		return err
	}
	switch {
	case st.endedAt(s.clock.Now()):
		return ErrEnded
	case st.Locked:
		return ErrLocked
	}
	return nil
}
