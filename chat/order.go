package chat

import (
	"context"
	"slices"
	"time"
)

// Cross-instance ordering. Through a Relay, events may reach the hub out
// of order, twice, or never: two instances post to one room at once, a
// topic message is lost. An event that does not follow the last one
// delivered waits GapWait for those before it; then the room's history
// fills in what is missing. A number still missing is read for again,
// waiting twice as long each time (it may belong to a post still on its
// way to the store), and after fillTries reads it is skipped (its append
// failed: 4 reads, 15×GapWait in all). Until a room's first stream has
// read its history (baseline), events wait, so that none received in
// between is lost to it.
//
// On a single instance the service hands the hub each room's messages in
// order, so nothing here runs but the wait for the baseline.

const (
	// DefaultGapWait is HubOptions.GapWait when 0.
	DefaultGapWait = 250 * time.Millisecond
	fillTimeout    = 5 * time.Second
	// fillTries is how many history reads a gap gets before the hub
	// skips it.
	fillTries = 4
)

// order is a room's events waiting for the ones before them.
type order struct {
	pending []*Event    // after last, in ID order
	gap     *time.Timer // armed while pending waits
	tries   int         // history reads of the current gap
}

// follows reports whether id is the message right after last: the next
// sequence of the same epoch, or the first of a later one.
func follows(last, id ID) bool {
	if id.Epoch == last.Epoch {
		return id.Seq == last.Seq+1
	}
	return id.Epoch > last.Epoch && id.Seq == 1
}

// hold keeps e, which does not follow the last event delivered, until the
// gap before it closes. r.mu is held.
func (h *Hub) hold(r *hubRoom, e *Event) {
	r.wait(e)
	if r.based {
		h.armGap(r, h.gapWait)
	}
}

// Resync fills every room from history at once; see Inbox.
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

// disarm cancels r's scheduled fill, if it has not started. r.mu is held.
func (h *Hub) disarm(r *hubRoom) {
	if r.gap != nil && r.gap.Stop() {
		h.fills.Done()
	}
	r.gap = nil
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
