package chat

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueue is HubOptions.Queue when 0.
const DefaultQueue = 256

// DefaultLinger is HubOptions.Linger when 0.
const DefaultLinger = time.Minute

// HubOptions configure a Hub.
type HubOptions struct {
	// Queue is how many events a stream may have waiting before the hub
	// gives up on it; DefaultQueue when 0.
	Queue int
	// GapWait is how long an event that arrived before the ones preceding
	// it waits for them before the hub reads history (see order.go);
	// DefaultGapWait when 0.
	GapWait time.Duration
	// SkipAfter is how long a missing number is waited for before a
	// successful history read that shows it absent may skip it (see
	// order.go); DefaultSkipAfter when 0. It must exceed the longest a
	// store's append can take between numbering a message and storing it.
	SkipAfter time.Duration
	// Store fills gaps that GapWait did not close, reading only the end of
	// a room's history when it is a TailStore. Without one the hub skips
	// what is missing.
	Store Store
	// MaxPerRoom caps a room's streams on this instance; 0 = no cap.
	MaxPerRoom int

	// Tail, when > 0, keeps the last Tail messages of each room this
	// instance serves in memory, exact (history, then every event in
	// order, gaps filled), so that joins, reconnects and history reads of
	// a room with streams cost the store nothing: for a store that bills
	// reads. Give it the store's limit. 0 (the embedded store, whose
	// reads are free) keeps nothing.
	Tail int
	// Linger is how long, with Tail, a room keeps its tail after its last
	// stream leaves, so that a reconnect or a page view followed by its
	// stream finds it; DefaultLinger when 0.
	Linger time.Duration
	// TTL is the store's time to live, with Tail: a tail whose newest
	// message is older than TTL is not served, since the stored history
	// may have expired. 0 = never.
	TTL time.Duration
}

// Hub fans new messages out to this instance's streams, room by room, in
// ID order and each once. The service feeds it each message it stores; a
// Relay feeds it, as an Inbox, what other instances store, which it puts
// in order first (order.go).
//
// Delivery never waits on a stream: each has a bounded queue, and one
// whose queue is full is dropped (it ends) so that its client reconnects
// and resumes from its last event id instead of holding up the room.
//
// The hub keeps state only for rooms with streams (and, with a Tail, for
// Linger after the last leaves). Close it when done.
type Hub struct {
	queue      int
	gapWait    time.Duration
	skipAfter  time.Duration
	store      Store
	maxPerRoom int
	tail       int
	linger     time.Duration
	ttl        time.Duration

	ctx    context.Context // ends fills on Close
	cancel context.CancelFunc
	fills  sync.WaitGroup

	mu    sync.RWMutex
	rooms map[Room]*hubRoom

	watcher watcher // the service, told of room events first

	delivered atomic.Uint64 // events queued for streams
	dropped   atomic.Uint64 // streams dropped for falling behind
	reads     atomic.Uint64 // history reads for gaps
}

var _ Inbox = (*Hub)(nil)

type hubRoom struct {
	name Room

	mu      sync.Mutex
	subs    map[*Stream]struct{} // nil once the room is unlinked
	holds   int                  // history reads (Service.History) under way
	based   bool                 // history has been read: last is set
	last    ID                   // the last event delivered, or the baseline
	tail    []Message            // with Hub.tail: the history up to last
	fresh   time.Time            // when tail was last known to be stored
	linger  *time.Timer          // armed while the room has no streams
	reading chan struct{}        // with a tail: closed when a join's read ends
	gen     uint64               // of linger, so a stale timer does nothing
	order                        // events waiting for a gap to close
}

// NewHub returns a hub.
func NewHub(o HubOptions) *Hub {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.GapWait <= 0 {
		o.GapWait = DefaultGapWait
	}
	if o.SkipAfter <= 0 {
		o.SkipAfter = DefaultSkipAfter
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		queue: o.Queue, gapWait: o.GapWait, skipAfter: o.SkipAfter, store: o.Store, maxPerRoom: o.MaxPerRoom,
		tail: max(o.Tail, 0), linger: o.Linger, ttl: o.TTL,
		ctx: ctx, cancel: cancel, rooms: make(map[Room]*hubRoom),
	}
}

// Close stops pending gap fills and waits for those under way.
func (h *Hub) Close() {
	h.cancel()
	h.mu.RLock()
	for _, r := range h.rooms {
		r.mu.Lock()
		h.disarm(r)
		r.stopLinger()
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	h.fills.Wait()
}

// HubStats is a snapshot of a hub's activity, for metrics.
type HubStats struct {
	Rooms       int    // rooms with streams
	Subscribers int    // streams open
	Delivered   uint64 // events queued for streams, since start (presence and typing aside)
	Dropped     uint64 // streams dropped for falling behind (or Drop)
	GapReads    uint64 // history reads to fill gaps, since start
}

// Stats returns a snapshot of the hub's activity.
func (h *Hub) Stats() HubStats {
	st := HubStats{Delivered: h.delivered.Load(), Dropped: h.dropped.Load(), GapReads: h.reads.Load()}
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

// Receive delivers e to the streams of its room: a message in ID order,
// once; a room event (Kind not zero) at once to every stream, after what
// each has queued. The service calls it with each message it stores, in
// order, and its room events; a Relay with what other instances store
// and their room events, in whatever order they come.
func (h *Hub) Receive(e *Event) {
	if e.Kind == KindHere {
		h.mu.RLock()
		w := h.watcher
		h.mu.RUnlock()
		if w != nil {
			w.hear(e)
		}
		return
	}
	if e.Kind != KindMessage {
		h.announce(e)
		return
	}
	h.accept(e.Message.Room, slot{id: e.Message.ID, e: e})
}

// watcher learns of room events before the streams do, and that the
// relay may have missed some: the service, which keeps rooms' states.
type watcher interface {
	learn(e *Event)
	forget()
	// hear takes another instance's presence (a here event); present
	// says a stream of JoinAs left room (it takes no hub lock).
	hear(e *Event)
	present(room Room)
}

// watch makes w the hub's watcher.
func (h *Hub) watch(w watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watcher = w
}

// announce delivers a room event to every stream of its room. A deleted
// message also leaves the tail, and is passed over if it still waits for
// its turn.
func (h *Hub) announce(e *Event) {
	h.mu.RLock()
	w := h.watcher
	h.mu.RUnlock()
	if w != nil {
		w.learn(e)
	}
	r := h.room(e.Message.Room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Kind == KindDeleted {
		id := e.Message.ID
		r.tail = slices.DeleteFunc(r.tail, func(m Message) bool { return m.ID == id })
		for i, p := range r.pending {
			if p.id == id {
				r.pending[i] = slot{id: id, skip: true, at: p.at}
			}
		}
	}
	n := 0
	for st := range r.subs {
		if e.Kind.social() && st.who == nil {
			continue
		}
		if st.offer(e, h.queue) {
			n++
		} else {
			r.drop(st)
			h.dropped.Add(1)
		}
	}
	if !e.Kind.social() { // Delivered counts what the room said, not who is in it
		h.delivered.Add(uint64(n))
	}
}

// streams counts room's streams on this instance.
func (h *Hub) streams(room Room) int {
	r := h.room(room)
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// visitors lists who the streams of room joined with JoinAs are.
func (h *Hub) visitors(room Room) []Person {
	r := h.room(room)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []Person
	for st := range r.subs {
		if st.who != nil {
			ps = append(ps, *st.who)
		}
	}
	return ps
}

// abandon undoes a subscribe whose join failed before reading history:
// joins waiting for its read try for themselves.
func (h *Hub) abandon(st *Stream, en entry) {
	if en.read {
		h.readFailed(st.room)
	}
	st.Close()
}

// Skip says that id, a number a post to room took, will never be stored:
// the events after it need not wait for it.
func (h *Hub) Skip(room Room, id ID) {
	h.accept(room, slot{id: id, skip: true})
}

// Expect says that the message id of room is stored but its event was not
// carried: the hub reads it from history, as for a gap.
func (h *Hub) Expect(room Room, id ID) {
	h.accept(room, slot{id: id})
}

// Tick wakes every stream with a tick (see Stream.Take): the one clock by
// which writers send heartbeats, so that no stream waits on a timer or a
// shared channel of its own.
func (h *Hub) Tick() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rooms {
		r.mu.Lock()
		for st := range r.subs {
			st.tick()
		}
		r.mu.Unlock()
	}
}

// Drop disconnects every stream of room, as if each had fallen behind.
// Their clients resume from their last event id.
func (h *Hub) Drop(room Room) {
	r := h.room(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for st := range r.subs {
		r.drop(st)
		h.dropped.Add(1)
	}
}

// Rooms lists the rooms that have streams on this instance, busiest
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

// remove unsubscribes st; a room left without streams is forgotten (with
// a tail, after Linger).
func (h *Hub) remove(st *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[st.room]; r != nil {
		r.mu.Lock()
		delete(r.subs, st)
		h.idle(r)
		r.mu.Unlock()
	}
	st.end()
}

// unlink forgets r. h.mu and r.mu are held.
func (h *Hub) unlink(r *hubRoom) {
	r.subs = nil
	h.disarm(r)
	r.stopLinger()
	r.endReading()
	r.pending, r.tail = nil, nil
	if h.rooms[r.name] == r {
		delete(h.rooms, r.name)
	}
}

// deliver queues e for every stream of r, adds it to the tail and
// records it as the last. r.mu is held.
func (h *Hub) deliver(r *hubRoom, e *Event) {
	r.last = e.Message.ID
	if h.tail > 0 {
		if len(r.tail) >= h.tail+h.tail/4+1 {
			r.tail = slices.Delete(r.tail, 0, len(r.tail)-h.tail+1)
		}
		r.tail = append(r.tail, e.Message)
		r.fresh = time.Now()
	}
	n := 0
	for st := range r.subs {
		if st.offer(e, h.queue) {
			n++
		} else {
			r.drop(st)
			h.dropped.Add(1)
		}
	}
	h.delivered.Add(uint64(n))
}

// drop ends st and removes it from r; r.mu is held.
func (r *hubRoom) drop(st *Stream) {
	delete(r.subs, st)
	if f := st.end(); f != nil {
		f()
	}
}
