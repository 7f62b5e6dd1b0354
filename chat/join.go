package chat

import (
	"fmt"
	"slices"
	"time"
)

// Joining a room, and the room's history kept in memory. A join registers
// its stream, then reads the room's history (from the hub's tail when it
// has one, else from the store, one read shared by joins that find the
// room cold together), then sets the room's baseline; see Service.Join.
// With HubOptions.Tail, a room's last messages stay in memory while it
// has streams and for Linger after the last one leaves, so that a
// multi-instance backend serves warm joins and page views without a
// store call.

// enter runs f on room's state, locked, creating it if need be.
func (h *Hub) enter(room Room, f func(r *hubRoom) error) error {
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
			err := f(r)
			r.mu.Unlock()
			return err
		}
		r.mu.Unlock()
	}
}

// entry is how a stream that has just subscribed gets its history: from
// the hub's tail (warm), by reading the store (read), or after another
// join's read of the store ends (wait; then ask again with rejoin).
type entry struct {
	since ID // the last event the hub had delivered, for baseline
	warm  bool
	read  bool
	wait  <-chan struct{}
}

// subscribe registers a stream of room; the first step of Service.Join.
// It fails with ErrRoomFull when the room has MaxPerRoom streams. When
// the hub holds the room's tail (warm), it is the stream's Backlog and
// its last: there is no history to read. With a tail, of the joins that
// find the room cold at once only the first reads the store; the others
// wait for its read.
func (h *Hub) subscribe(room Room, who *Person) (st *Stream, en entry, err error) {
	st = &Stream{hub: h, room: room, ready: make(chan struct{}, 1), who: who}
	if who != nil {
		h.mu.RLock()
		if w := h.watcher; w != nil {
			st.onLeave = func() { w.present(room) }
		}
		h.mu.RUnlock()
	}
	err = h.enter(room, func(r *hubRoom) error {
		if h.maxPerRoom > 0 && len(r.subs) >= h.maxPerRoom {
			return fmt.Errorf("%w (%d streams)", ErrRoomFull, h.maxPerRoom)
		}
		r.subs[st] = struct{}{}
		r.stopLinger()
		en = h.entry(r, st)
		return nil
	})
	if err != nil {
		return nil, entry{}, err
	}
	return st, en, nil
}

// rejoin is subscribe's answer again, for a stream whose wait ended.
func (h *Hub) rejoin(st *Stream) entry {
	var en entry
	_ = h.enter(st.room, func(r *hubRoom) error {
		en = h.entry(r, st)
		return nil
	})
	return en
}

// entry decides how st gets its history. r.mu is held.
func (h *Hub) entry(r *hubRoom, st *Stream) entry {
	en := entry{since: r.last}
	switch {
	case h.warm(r):
		st.Backlog, st.last, en.warm = r.view(h.tail), r.last, true
	case h.tail == 0:
		en.read = true
	case r.reading != nil:
		en.wait = r.reading
	default:
		r.reading = make(chan struct{})
		en.read = true
	}
	return en
}

// readFailed ends a join's read of room's history that failed: the joins
// waiting for it try for themselves.
func (h *Hub) readFailed(room Room) {
	r := h.room(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endReading()
}

// endReading wakes the joins waiting for a read of r. r.mu is held.
func (r *hubRoom) endReading() {
	if r.reading != nil {
		close(r.reading)
		r.reading = nil
	}
}

// warm reports whether r's tail may stand in for its stored history.
// r.mu is held.
func (h *Hub) warm(r *hubRoom) bool {
	return h.tail > 0 && r.based && (h.ttl <= 0 || time.Since(r.fresh) < h.ttl)
}

// history returns room's tail as its history, when the hub holds it and
// no event waits for a gap (the tail then has every message this
// instance has posted to the room).
func (h *Hub) history(room Room) ([]Message, bool) {
	r := h.room(room)
	if r == nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !h.warm(r) || len(r.pending) > 0 {
		return nil, false
	}
	return r.view(h.tail), true
}

// hold keeps room while the service reads its history for a History
// call, so that the read becomes the room's tail and events received
// meanwhile wait for it; the caller calls release when done. Without a
// tail it does nothing.
func (h *Hub) hold(room Room) (since ID, release func()) {
	if h.tail == 0 {
		return ID{}, func() {}
	}
	var held *hubRoom
	_ = h.enter(room, func(r *hubRoom) error {
		r.holds++
		r.stopLinger()
		held, since = r, r.last
		return nil
	})
	return since, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		held.mu.Lock()
		defer held.mu.Unlock()
		held.holds--
		h.idle(held)
	}
}

// baseline gives the hub room's history as read by a stream that has
// just subscribed (or a History call); the second step of Service.Join.
// since is the last event the hub had delivered when the read began
// (from subscribe or hold). The first call for a room starts its
// deliveries after the history's last message (events received meanwhile
// wait for it). A later call changes nothing unless the hub keeps a tail,
// which the read then replaces: what the read has that the hub had not
// delivered is delivered in order, and what the hub delivered after the
// read began stays.
func (h *Hub) baseline(room Room, history []Message, since ID) {
	r := h.room(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endReading()
	last := lastID(history)
	if !r.based {
		r.based, r.last = true, last
		h.setTail(r, history)
		h.drain(r)
		return
	}
	if h.tail == 0 {
		return
	}
	tail := make([]Message, 0, len(history)+1)
	for _, m := range history {
		if !m.ID.After(r.last) {
			tail = append(tail, m)
		} else if e, err := NewEvent(m); err == nil {
			r.wait(slot{id: m.ID, e: e})
		}
	}
	for _, m := range r.tail {
		if m.ID.After(since) && m.ID.After(last) {
			tail = append(tail, m)
		}
	}
	h.setTail(r, tail)
	h.drain(r)
}

// view is what r's tail shows: its last n messages. r.mu is held.
func (r *hubRoom) view(n int) []Message {
	return slices.Clone(r.tail[max(0, len(r.tail)-n):])
}

// setTail makes msgs r's tail. r.mu is held.
func (h *Hub) setTail(r *hubRoom, msgs []Message) {
	if h.tail == 0 {
		return
	}
	r.tail = slices.Clone(msgs[max(0, len(msgs)-h.tail):])
	r.fresh = time.Now()
	for _, m := range slices.Backward(r.tail) {
		if !m.Time.IsZero() {
			if m.Time.Before(r.fresh) {
				r.fresh = m.Time
			}
			break
		}
	}
}

// idle forgets r if nothing keeps it: no stream, no history read and,
// with a tail, no linger. h.mu and r.mu are held.
func (h *Hub) idle(r *hubRoom) {
	if r.subs == nil || len(r.subs) > 0 || r.holds > 0 || r.linger != nil {
		return
	}
	if h.tail > 0 && r.based && h.ctx.Err() == nil {
		r.gen++
		gen := r.gen
		r.linger = time.AfterFunc(h.linger, func() { h.lingered(r, gen) })
		return
	}
	h.unlink(r)
}

// lingered forgets r when its linger ends with still no one in it.
func (h *Hub) lingered(r *hubRoom, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen || r.linger == nil || r.subs == nil {
		return
	}
	r.linger = nil
	if len(r.subs) == 0 && r.holds == 0 {
		h.unlink(r)
	}
}

// stopLinger cancels r's linger. r.mu is held.
func (r *hubRoom) stopLinger() {
	if r.linger != nil {
		r.linger.Stop()
		r.linger = nil
	}
	r.gen++
}
