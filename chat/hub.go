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

// DefaultQueue is HubOptions.Queue when 0.
const DefaultQueue = 256

// HubOptions configure a Hub.
type HubOptions struct {
	// Queue is how many events a stream may have waiting before the hub
	// gives up on it; DefaultQueue when 0.
	Queue int
	// GapWait is how long an event that arrived before the ones preceding
	// it waits for them before the hub reads history (see order.go);
	// DefaultGapWait when 0.
	GapWait time.Duration
	// Store fills gaps that GapWait did not close. Without one the hub
	// skips what is missing.
	Store Store
	// MaxPerRoom caps a room's streams on this instance; 0 = no cap.
	MaxPerRoom int
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
// The hub keeps state only for rooms with streams. Close it when done.
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

	delivered atomic.Uint64 // events queued for streams
	dropped   atomic.Uint64 // streams dropped for falling behind
}

var _ Inbox = (*Hub)(nil)

type hubRoom struct {
	name Room

	mu    sync.Mutex
	subs  map[*Stream]struct{} // nil once the room is unlinked
	based bool                 // a stream has read history: last is set
	last  ID                   // the last event delivered, or the baseline
	order                      // events waiting for a gap to close
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
		h.disarm(r)
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	h.fills.Wait()
}

// HubStats is a snapshot of a hub's activity, for metrics.
type HubStats struct {
	Rooms       int    // rooms with streams
	Subscribers int    // streams open
	Delivered   uint64 // events queued for streams, since start
	Dropped     uint64 // streams dropped for falling behind (or Drop)
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

// subscribe registers a stream of room; the first step of Service.Join.
// It fails with ErrRoomFull when the room has MaxPerRoom streams.
func (h *Hub) subscribe(room Room) (*Stream, error) {
	st := &Stream{hub: h, room: room, ready: make(chan struct{}, 1)}
	for {
		h.mu.Lock()
		r := h.rooms[room]
		if r == nil {
			r = &hubRoom{name: room, subs: make(map[*Stream]struct{})}
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
			r.subs[st] = struct{}{}
			r.mu.Unlock()
			return st, nil
		}
		r.mu.Unlock()
	}
}

// baseline tells the hub the last message of room's history as read by a
// stream that has just subscribed; the second step of Service.Join. The
// first call for a room starts its deliveries after last (events received
// meanwhile wait for it); later calls change nothing.
func (h *Hub) baseline(room Room, last ID) {
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

// Receive delivers e to the streams of its room, in ID order, once. The
// service calls it with each message it stores, in order; a Relay with
// what other instances store, in whatever order it comes.
func (h *Hub) Receive(e *Event) {
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
		h.drain(r) // what waited for e
	default:
		h.hold(r, e)
	}
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

// remove unsubscribes st; a room left without streams is forgotten.
func (h *Hub) remove(st *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[st.room]; r != nil {
		r.mu.Lock()
		delete(r.subs, st)
		if len(r.subs) == 0 {
			r.subs = nil
			h.disarm(r)
			r.pending = nil
			delete(h.rooms, st.room)
		}
		r.mu.Unlock()
	}
	st.end()
}

// deliver queues e for every stream of r and records it as the last.
// r.mu is held.
func (h *Hub) deliver(r *hubRoom, e *Event) {
	r.last = e.Message.ID
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
