package chat

import "sync"

// Stream is a subscriber's view of a room, made by Service.Join: the
// stored messages it has not seen yet (Backlog), then live events from
// Take, each once, in ID order.
//
// Its queue is a slice, not a channel: an idle stream holds no buffer, and
// a writer takes everything waiting in one go. The hub fills the queue;
// one reader goroutine calls Take.
type Stream struct {
	// Backlog holds the stored messages after the cursor, oldest first.
	// The writer may release it (set it to nil) as it writes it.
	Backlog []Message
	// State is the room's state when the stream joined, for the writer
	// to send first; its changes come as room events.
	State RoomState
	// Presence, for a stream of JoinAs, is the room's presence event as
	// it joined, for the writer to send after State.
	Presence *Event

	who     *Person // of JoinAs: counted in the room's presence
	onLeave func()  // tells the presence it left; once
	hub     *Hub
	room    Room
	ready   chan struct{} // holds a signal while events wait or after the end
	last    ID            // the last message sent, backlog included; Take's only

	mu     sync.Mutex
	queue  []*Event
	ticked bool
	ended  bool
	onDrop func()
}

// Ready is signalled when live events wait, the hub ticked, or the stream
// has ended; then call Take. It is the only channel a writer needs to wait
// on.
func (st *Stream) Ready() <-chan struct{} { return st.ready }

// Take appends to dst the waiting live events that follow what the stream
// has sent (backlog included), and records them as sent; room events
// (Kind not zero) are never filtered, in the place they were queued, and
// an ended event is the stream's last. tick reports a
// hub tick (Hub.Tick) since the last Take. ok is false once the stream has
// ended: the hub dropped it for falling behind, or Close; no event follows.
func (st *Stream) Take(dst []*Event) (events []*Event, tick, ok bool) {
	st.mu.Lock()
	for _, e := range st.queue {
		if e.Kind != KindMessage {
			dst = append(dst, e)
			continue
		}
		// A message published while Join read history is in both.
		if e.Message.ID.After(st.last) {
			st.last = e.Message.ID
			dst = append(dst, e)
		}
	}
	clear(st.queue)
	st.queue = st.queue[:0]
	tick, st.ticked = st.ticked, false
	ok = !st.ended
	st.mu.Unlock()
	return dst, tick, ok
}

// OnDrop arranges for f to run, once, when the hub drops the stream (it
// fell behind, or Hub.Drop): a writer blocked on a stalled client can then
// close its connection. f runs with the room locked and must be quick.
func (st *Stream) OnDrop(f func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.onDrop = f
}

// Close unsubscribes; the stream then ends. Safe to call more than once,
// from any goroutine, concurrently with the hub's deliveries.
func (st *Stream) Close() { st.hub.remove(st) }

// offer queues e; it reports false when the queue already holds limit.
func (st *Stream) offer(e *Event, limit int) bool {
	st.mu.Lock()
	if len(st.queue) >= limit {
		st.mu.Unlock()
		return false
	}
	st.queue = append(st.queue, e)
	st.mu.Unlock()
	st.signal()
	return true
}

// tick records a hub tick and wakes the reader.
func (st *Stream) tick() {
	st.mu.Lock()
	st.ticked = true
	st.mu.Unlock()
	st.signal()
}

// end marks st ended, wakes its reader and returns the OnDrop function,
// which it will not return again.
func (st *Stream) end() func() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended, st.queue = true, nil
	f := st.onDrop
	st.onDrop = nil
	st.signal()
	if leave := st.onLeave; leave != nil {
		st.onLeave = nil
		// Only the presence lock: safe under the room's.
		leave()
	}
	return f
}

func (st *Stream) signal() {
	select {
	case st.ready <- struct{}{}:
	default:
	}
}
