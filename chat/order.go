package chat

import (
	"context"
	"slices"
	"time"
)

// Cross-instance ordering. Through a Relay, events may reach the hub out
// of order, twice, late or never: two instances post to one room at once,
// a topic message is delayed or lost. An event that does not follow the
// last one delivered waits GapWait for those before it; then the room's
// history fills in what is missing, reading only the end of the list
// (from the last message delivered on) when the store is a TailStore.
//
// A number still missing is read for again, GapWait×2, ×4... later, until
// a successful read made at least SkipAfter after the event behind the gap
// arrived shows it absent: then it is skipped (its append failed, or its
// poster died between numbering and storing it). A post whose append is
// known to have failed tells the hubs at once (Skip), so that nothing
// waits for it. A read that fails (a refusal, an outage) shows nothing:
// it is tried again with backoff and never leads to a skip. An expected
// message (Expect: stored but not carried) is read for the same way.
//
// Until a room's history has been read (baseline), events wait, so that
// none received in between is lost to it. On a single instance the
// service hands the hub each room's messages in order, so nothing here
// runs but the wait for the baseline.

const (
	// DefaultGapWait is HubOptions.GapWait when 0.
	DefaultGapWait = 250 * time.Millisecond
	// DefaultSkipAfter is HubOptions.SkipAfter when 0: above the Momento
	// SDK's 1.1 s deadline for one append.
	DefaultSkipAfter = 2 * time.Second
	fillTimeout      = 5 * time.Second
	maxFillBackoff   = 5 * time.Second
	// window is how many of a room's last messages a fill reads when it
	// cannot tell how many it misses (a resync); tailSlack is added to
	// what it can tell, for messages posted since.
	window    = 32
	tailSlack = 4
	maxReach  = 1 << 16 // a read this long is taken to reach all there is
)

// slot is an event waiting in a room's order: a message (e), a number that
// will never be stored (skip), or a stored message to read (neither).
type slot struct {
	id   ID
	e    *Event
	skip bool
	at   time.Time // when it began to wait
}

func (s slot) expected() bool { return s.e == nil && !s.skip }

// order is a room's events waiting for the ones before them.
type order struct {
	pending []slot      // after last, in ID order
	gap     *time.Timer // armed while a fill is due
	head    ID          // the first pending id when tries was counted
	tries   int         // successful reads for the gap before head
	fails   int         // failed reads in a row
	reach   int         // the tail the next fill reads; 0 = estimate
	further bool        // the last read did not reach: read again at once
	resync  bool        // a fill is due whatever waits (Resync)
}

// follows reports whether id is the message right after last: the next
// sequence of the same epoch, or the first of a later one.
func follows(last, id ID) bool {
	if id.Epoch == last.Epoch {
		return id.Seq == last.Seq+1
	}
	return id.Epoch > last.Epoch && id.Seq == 1
}

// accept takes s for room: it delivers it if it is next, else keeps it
// until the gap before it closes.
func (h *Hub) accept(room Room, s slot) {
	r := h.room(room)
	if r == nil {
		return // nobody here listens to that room
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.based && !s.id.After(r.last):
		// delivered already
	case r.based && follows(r.last, s.id) && !s.expected():
		h.apply(r, s)
		h.drain(r) // what waited for s
	default:
		r.wait(s)
		if r.based {
			h.schedule(r)
		}
	}
}

// apply delivers s, or passes over its number. r.mu is held.
func (h *Hub) apply(r *hubRoom, s slot) {
	if s.skip {
		r.last = s.id
		return
	}
	h.deliver(r, s.e)
}

// Resync fills every room from history at once; see Inbox.
func (h *Hub) Resync() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.watcher != nil {
		h.watcher.forget() // room events may be lost too
	}
	for _, r := range h.rooms {
		r.mu.Lock()
		if r.based {
			r.resync = true
			h.disarm(r)
			h.armGap(r, 0)
		}
		r.mu.Unlock()
	}
}

// drain delivers the waiting events that now follow in order, forgets
// those already delivered, and keeps a fill scheduled while any still
// wait. r.mu is held.
func (h *Hub) drain(r *hubRoom) {
	i := 0
	for ; i < len(r.pending); i++ {
		s := r.pending[i]
		if !s.id.After(r.last) {
			continue
		}
		if !follows(r.last, s.id) || s.expected() {
			break
		}
		h.apply(r, s)
	}
	r.pending = slices.Delete(r.pending, 0, i)
	if len(r.pending) == 0 && !r.resync {
		h.disarm(r) // the gap closed: no read is due
		r.tries, r.fails, r.reach, r.further = 0, 0, 0, false
		return
	}
	h.schedule(r)
}

// schedule arms r's next fill unless one is armed: after a backoff when
// reads fail, else GapWait×2^tries, but no later than the moment the
// first waiting event has waited SkipAfter. r.mu is held.
func (h *Hub) schedule(r *hubRoom) {
	if r.gap != nil {
		return
	}
	if len(r.pending) > 0 && r.pending[0].id != r.head {
		r.head, r.tries = r.pending[0].id, 0
	}
	var d time.Duration
	switch {
	case r.fails > 0:
		d = min(h.gapWait<<min(r.fails, 16), maxFillBackoff)
	case r.resync || r.further:
		d = 0 // a resync, or a read that must reach further back
	default:
		d = h.gapWait << min(r.tries, 16)
		if len(r.pending) > 0 {
			if until := time.Until(r.pending[0].at.Add(h.skipAfter)); until > 0 && until < d {
				d = until
			}
		}
	}
	h.armGap(r, d)
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

// disarm cancels r's scheduled fill, if it has not started. r.mu is held.
func (h *Hub) disarm(r *hubRoom) {
	if r.gap != nil && r.gap.Stop() {
		h.fills.Done()
	}
	r.gap = nil
}

// reachFor is how many of the room's last messages a fill should read:
// from the last delivered through the last waiting, and a few more.
// r.mu is held.
func (r *hubRoom) reachFor() int {
	if r.reach > 0 {
		return r.reach
	}
	if n := len(r.pending); n > 0 && !r.last.IsZero() {
		if top := r.pending[n-1].id; top.Epoch == r.last.Epoch && top.Seq > r.last.Seq && top.Seq-r.last.Seq < 1<<20 {
			return int(top.Seq-r.last.Seq) + tailSlack
		}
	}
	return window
}

// read reads the end of r's history: its last n messages, or all of it.
func (h *Hub) read(room Room, n int) ([]Message, bool, error) {
	h.reads.Add(1)
	ctx, cancel := context.WithTimeout(h.ctx, fillTimeout)
	defer cancel()
	if ts, ok := h.store.(TailStore); ok {
		return ts.Tail(ctx, room, n)
	}
	msgs, err := h.store.History(ctx, room)
	return msgs, true, err
}

// fill adds to the events waiting what the end of the room's history
// holds after the last event delivered, delivers what now follows in
// order, and skips what a read shows absent long enough.
func (h *Hub) fill(r *hubRoom) {
	r.mu.Lock()
	n := r.reachFor()
	r.gap = nil
	r.mu.Unlock()

	var (
		history []Message
		whole   = true
		err     error
	)
	if h.store != nil {
		history, whole, err = h.read(r.name, n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subs == nil || h.ctx.Err() != nil {
		return
	}
	if err != nil {
		// A refusal or an outage: the read shows nothing. Try again.
		r.fails++
		h.schedule(r)
		return
	}
	r.fails = 0
	for _, m := range history {
		if m.ID.After(r.last) {
			if e, err := NewEvent(m); err == nil {
				r.wait(slot{id: m.ID, e: e})
			}
		}
	}
	// The read reached the last message delivered, or the whole list: it
	// shows all there is after it.
	reached := whole || n >= maxReach || slices.ContainsFunc(history, func(m Message) bool {
		return !m.ID.IsZero() && !m.ID.After(r.last)
	})
	if !reached {
		r.reach, r.further = min(max(2*n, window), maxReach), true
		h.drain(r) // and read further back at once
		return
	}
	// Keep reading this far back (r.reach) while the gap lasts.
	r.resync, r.further = false, false
	r.tries++
	h.drain(r)
	if h.skipAbsent(r) {
		h.drain(r)
	}
}

// skipAbsent passes over the numbers that a read which reached the last
// delivered message shows absent, before each waiting event that has
// waited SkipAfter, and drops expected messages it shows absent. It
// reports whether it skipped anything. r.mu is held.
func (h *Hub) skipAbsent(r *hubRoom) bool {
	now := time.Now()
	skipped := false
	for len(r.pending) > 0 {
		s := r.pending[0]
		if s.id.After(r.last) && now.Before(s.at.Add(h.skipAfter)) {
			break
		}
		r.pending = slices.Delete(r.pending, 0, 1)
		if s.id.After(r.last) && !s.expected() {
			h.apply(r, s)
		}
		skipped = true
	}
	if skipped && r.gap != nil && len(r.pending) == 0 {
		h.disarm(r)
	}
	return skipped
}

// wait adds s to the events waiting, in ID order, once; a message or skip
// takes the place of an expected message. r.mu is held.
func (r *hubRoom) wait(s slot) {
	if s.at.IsZero() {
		s.at = time.Now()
	}
	i, found := slices.BinarySearchFunc(r.pending, s.id, func(p slot, id ID) int {
		switch {
		case p.id == id:
			return 0
		case id.After(p.id):
			return -1
		}
		return 1
	})
	switch {
	case !found:
		r.pending = slices.Insert(r.pending, i, s)
	case r.pending[i].expected() && !s.expected():
		s.at = r.pending[i].at
		r.pending[i] = s
	}
}
