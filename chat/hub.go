package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for HubOptions.
const (
	DefaultQueue   = 256
	DefaultGapWait = 250 * time.Millisecond
	fillTimeout    = 5 * time.Second
	// fillTries is how many history reads a gap gets, each after twice
	// the wait of the one before, before the hub skips it: a missing
	// number may be a post still on its way to the store, or one whose
	// append failed.
	fillTries = 4
)

// Broker carries each stored message to the hub of every instance that
// serves its room. Publish is called once the message is stored, with the
// room's post lock held: it must hand the event to this instance's hub at
// once, and deal with (log, retry) its own failures to reach the others,
// whose hubs fill in from history what they miss. Implementations are
// safe for concurrent use.
type Broker interface {
	Publish(e *Event)
}

// HubOptions configure a Hub.
type HubOptions struct {
	// Queue is how many events a subscriber may have waiting before the
	// hub gives up on it; DefaultQueue when 0.
	Queue int
	// GapWait is how long an event that arrived before the ones preceding
	// it waits for them before the hub reads history; DefaultGapWait when
	// 0. Later reads wait twice as long each.
	GapWait time.Duration
	// Store fills gaps that GapWait did not close. Without one the hub
	// skips what is missing.
	Store Store
	// MaxPerRoom caps a room's subscribers on this instance; 0 = no cap.
	MaxPerRoom int
}

// Hub fans new messages out to this instance's subscribers, room by room,
// in ID order and each once.
//
// Events may reach Publish out of order, twice, or never, when several
// instances post to a room through a broker. An event that does not follow
// the last one delivered waits GapWait for those before it; then the
// room's history fills in what is missing. A number still missing is read
// for again, waiting twice as long each time (it may belong to a post still
// on its way to the store), and after fillTries reads it is skipped (its
// append failed: 4 reads, 15×GapWait in all). Until a room's
// first stream has read its history and called Baseline, events wait, so
// that none published in between is lost to it.
//
// Publish never waits on a subscriber: each has a bounded queue, and one
// whose queue is full is dropped (its subscription ends) so that it
// reconnects and resumes from its last event id instead of holding up the
// room.
//
// The hub keeps state only for rooms with subscribers. Close it when done.
type Hub struct {
	queue      int
	gapWait    time.Duration
	store      Store
	maxPerRoom int

	ctx    context.Context // ends fills on Close
	cancel context.CancelFunc
	fills  sync.WaitGroup

	mu    sync.RWMutex
	rooms map[Room]*hubRoom

	delivered atomic.Uint64 // events queued for subscribers
	dropped   atomic.Uint64 // subscribers dropped for falling behind
}

// HubStats is a snapshot of a hub's activity, for metrics.
type HubStats struct {
	Rooms       int    // rooms with subscribers
	Subscribers int    // streams open
	Delivered   uint64 // events queued for subscribers, since start
	Dropped     uint64 // subscribers dropped for falling behind (or Drop)
}

// Stats returns a snapshot of the hub's activity.
func (h *Hub) Stats() HubStats {
	st := HubStats{Delivered: h.delivered.Load(), Dropped: h.dropped.Load()}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rooms {
		r.mu.Lock()
		if n := len(r.subs); n > 0 {
			st.Rooms++
			st.Subscribers += n
		}
		r.mu.Unlock()
	}
	return st
}

type hubRoom struct {
	name Room

	mu      sync.Mutex
	subs    map[*Subscription]struct{} // nil once the room is unlinked
	based   bool                       // Baseline was called
	last    ID                         // the last event delivered, or the baseline
	pending []*Event                   // after last, in ID order, waiting for a gap to close
	gap     *time.Timer                // armed while pending waits
	tries   int                        // history reads of the current gap
}

// NewHub returns a hub.
func NewHub(o HubOptions) *Hub {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.GapWait <= 0 {
		o.GapWait = DefaultGapWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		queue: o.Queue, gapWait: o.GapWait, store: o.Store, maxPerRoom: o.MaxPerRoom,
		ctx: ctx, cancel: cancel, rooms: make(map[Room]*hubRoom),
	}
}

// Close stops pending gap fills and waits for those under way.
func (h *Hub) Close() {
	h.cancel()
	h.mu.RLock()
	for _, r := range h.rooms {
		r.mu.Lock()
		if r.gap != nil && r.gap.Stop() {
			h.fills.Done()
		}
		r.gap = nil
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	h.fills.Wait()
}

// Subscription receives the events published to one room after it was
// made. Close it when done.
//
// Its queue is a slice, not a channel: an idle subscriber holds no buffer,
// and a writer takes everything waiting in one go.
type Subscription struct {
	hub   *Hub
	room  Room
	ready chan struct{} // holds a signal while events wait or after the end

	mu     sync.Mutex
	queue  []*Event
	ticked bool
	ended  bool
	onDrop func()
}

// Ready is signalled when events are waiting, the hub ticked, or the
// subscription has ended; then call Take. It is the only channel a
// subscriber needs to wait on.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take appends the waiting events, in ID order, to dst and returns it.
// tick reports whether the hub ticked (Hub.Tick) since the last Take. ok
// is false once the subscription has ended (the hub dropped it, or Close):
// no event follows.
func (s *Subscription) Take(dst []*Event) (events []*Event, tick, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.queue...)
	clear(s.queue)
	s.queue = s.queue[:0]
	tick, s.ticked = s.ticked, false
	return dst, tick, !s.ended
}

// OnDrop arranges for f to run, once, when the hub drops the subscriber
// (it fell behind, or Drop): a writer blocked on a stalled client can then
// close its connection. f runs with the room locked and must be quick.
func (s *Subscription) OnDrop(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDrop = f
}

// Close unsubscribes; it is safe to call more than once and concurrently
// with Publish.
func (s *Subscription) Close() { s.hub.remove(s) }

// offer queues e; it reports false when the queue is full.
func (s *Subscription) offer(e *Event, limit int) bool {
	s.mu.Lock()
	if len(s.queue) >= limit {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	s.signal()
	return true
}

// end marks s ended, wakes its reader and returns the OnDrop function,
// which it will not return again.
func (s *Subscription) end() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended, s.queue = true, nil
	f := s.onDrop
	s.onDrop = nil
	s.signal()
	return f
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Subscribe registers a subscriber to room. It fails with ErrRoomFull when
// the room has MaxPerRoom subscribers.
func (h *Hub) Subscribe(room Room) (*Subscription, error) {
	s := &Subscription{hub: h, room: room, ready: make(chan struct{}, 1)}
	for {
		h.mu.Lock()
		r := h.rooms[room]
		if r == nil {
			r = &hubRoom{name: room, subs: make(map[*Subscription]struct{})}
			h.rooms[room] = r
		}
		h.mu.Unlock()

		r.mu.Lock()
		// A room emptied by remove is unlinked from h.rooms under both
		// locks and marked with a nil map: take a fresh one.
		if r.subs != nil {
			if h.maxPerRoom > 0 && len(r.subs) >= h.maxPerRoom {
				r.mu.Unlock()
				return nil, fmt.Errorf("%w (%d streams)", ErrRoomFull, h.maxPerRoom)
			}
			r.subs[s] = struct{}{}
			r.mu.Unlock()
			return s, nil
		}
		r.mu.Unlock()
	}
}

// Baseline tells the hub the last message of room's history as read by a
// stream that has just subscribed. The first call for a room starts its
// deliveries after last; later calls change nothing.
func (h *Hub) Baseline(room Room, last ID) {
	r := h.room(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.based {
		return
	}
	r.based, r.last = true, last
	h.drain(r)
}

// Publish delivers e to the subscribers of its room, in order. It
// implements Broker for a single instance.
func (h *Hub) Publish(e *Event) {
	r := h.room(e.Message.Room)
	if r == nil {
		return // nobody here listens to that room
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.based && !e.Message.ID.After(r.last):
		// delivered already
	case r.based && follows(r.last, e.Message.ID):
		h.deliver(r, e)
		h.drain(r)
	default:
		r.wait(e)
		if r.based {
			h.armGap(r, h.gapWait)
		}
	}
}

// Resync fills every room from history at once, for a broker that knows
// it may have missed events (a broken or discontinuous subscription).
func (h *Hub) Resync() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rooms {
		r.mu.Lock()
		if r.based {
			h.armGap(r, 0)
		}
		r.mu.Unlock()
	}
}

// Tick wakes every subscriber with a tick (see Subscription.Take): the
// one clock by which writers send heartbeats, so that no subscriber waits
// on a timer or a shared channel of its own.
func (h *Hub) Tick() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rooms {
		r.mu.Lock()
		for s := range r.subs {
			s.mu.Lock()
			s.ticked = true
			s.mu.Unlock()
			s.signal()
		}
		r.mu.Unlock()
	}
}

// Drop disconnects every subscriber of room, as if each had fallen behind.
// Their streams end and their clients resume from their last event id.
func (h *Hub) Drop(room Room) {
	r := h.room(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		r.drop(s)
		h.dropped.Add(1)
	}
}

// Rooms lists the rooms that have subscribers on this instance, busiest
// first, then by name.
func (h *Hub) Rooms() []RoomInfo {
	h.mu.RLock()
	infos := make([]RoomInfo, 0, len(h.rooms))
	for name, r := range h.rooms {
		r.mu.Lock()
		n := len(r.subs)
		r.mu.Unlock()
		if n > 0 {
			infos = append(infos, RoomInfo{Room: name, Subscribers: n})
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(infos, func(a, b RoomInfo) int {
		if a.Subscribers != b.Subscribers {
			return b.Subscribers - a.Subscribers
		}
		return strings.Compare(string(a.Room), string(b.Room))
	})
	return infos
}

func (h *Hub) room(name Room) *hubRoom {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[name]
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[s.room]; r != nil {
		r.mu.Lock()
		delete(r.subs, s)
		if len(r.subs) == 0 {
			r.subs = nil
			if r.gap != nil && r.gap.Stop() {
				h.fills.Done()
			}
			r.gap, r.pending = nil, nil
			delete(h.rooms, s.room)
		}
		r.mu.Unlock()
	}
	s.end()
}

// follows reports whether id is the message right after last: the next
// sequence of the same epoch, or the first of a later one.
func follows(last, id ID) bool {
	if id.Epoch == last.Epoch {
		return id.Seq == last.Seq+1
	}
	return id.Epoch > last.Epoch && id.Seq == 1
}

// deliver queues e for every subscriber of r and records it as the last.
// r.mu is held.
func (h *Hub) deliver(r *hubRoom, e *Event) {
	r.last = e.Message.ID
	n := 0
	for s := range r.subs {
		if s.offer(e, h.queue) {
			n++
		} else {
			r.drop(s)
			h.dropped.Add(1)
		}
	}
	h.delivered.Add(uint64(n))
}

// drain delivers the waiting events that now follow in order, forgets
// those already delivered, and keeps the gap timer armed while any still
// wait. r.mu is held.
func (h *Hub) drain(r *hubRoom) {
	i := 0
	for ; i < len(r.pending); i++ {
		e := r.pending[i]
		if !e.Message.ID.After(r.last) {
			continue
		}
		if !follows(r.last, e.Message.ID) {
			break
		}
		h.deliver(r, e)
	}
	r.pending = slices.Delete(r.pending, 0, i)
	if len(r.pending) == 0 {
		r.tries = 0
		return
	}
	h.armGap(r, h.gapWait<<r.tries)
}

// armGap schedules a fill of r after d unless one is scheduled. r.mu is
// held.
func (h *Hub) armGap(r *hubRoom, d time.Duration) {
	if r.gap != nil || h.ctx.Err() != nil {
		return
	}
	h.fills.Add(1)
	r.gap = time.AfterFunc(d, func() {
		defer h.fills.Done()
		h.fill(r)
	})
}

// fill adds to the events waiting what the room's history holds after the
// last event delivered, and delivers what now follows in order. A gap that
// remains is read for again later, up to fillTries times; then it is
// skipped.
func (h *Hub) fill(r *hubRoom) {
	var history []Message
	if h.store != nil {
		ctx, cancel := context.WithTimeout(h.ctx, fillTimeout)
		// A failed read leaves only the waiting events to deliver.
		history, _ = h.store.History(ctx, r.name)
		cancel()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gap = nil
	if r.subs == nil || h.ctx.Err() != nil {
		return
	}
	for _, m := range history {
		if m.ID.After(r.last) {
			if e, err := NewEvent(m); err == nil {
				r.wait(e)
			}
		}
	}
	if r.tries++; r.tries >= fillTries {
		for _, e := range r.pending {
			if e.Message.ID.After(r.last) {
				h.deliver(r, e)
			}
		}
		r.pending, r.tries = nil, 0
		return
	}
	h.drain(r)
}

// wait adds e to the events waiting, in ID order, once. r.mu is held.
func (r *hubRoom) wait(e *Event) {
	i, found := slices.BinarySearchFunc(r.pending, e.Message.ID, func(p *Event, id ID) int {
		switch {
		case p.Message.ID == id:
			return 0
		case id.After(p.Message.ID):
			return -1
		}
		return 1
	})
	if !found {
		r.pending = slices.Insert(r.pending, i, e)
	}
}

// drop ends s and removes it from r; r.mu is held.
func (r *hubRoom) drop(s *Subscription) {
	delete(r.subs, s)
	if f := s.end(); f != nil {
		f()
	}
}
