package chattest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// ErrDown is what a FlakyStore answers while it is down.
var ErrDown = errors.New("chattest: store down")

// FlakyStore is a real store that fails every call while Down is set, as
// a remote store does in an outage, and counts the appends that reach it.
type FlakyStore struct {
	chat.Store
	Down    atomic.Bool
	Appends atomic.Int64
}

// Append implements chat.Store.
func (s *FlakyStore) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	s.Appends.Add(1)
	if s.Down.Load() {
		return chat.Message{}, ErrDown
	}
	return s.Store.Append(ctx, m)
}

// History implements chat.Store.
func (s *FlakyStore) History(ctx context.Context, r chat.Room) ([]chat.Message, error) {
	if s.Down.Load() {
		return nil, ErrDown
	}
	return s.Store.History(ctx, r)
}

// Ping implements chat.Store.
func (s *FlakyStore) Ping(ctx context.Context) error {
	if s.Down.Load() {
		return ErrDown
	}
	return s.Store.Ping(ctx)
}

// StartRoom implements chat.RoomStore when the store is one.
func (s *FlakyStore) StartRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	rs, err := s.roomStore()
	if err != nil {
		return err
	}
	return rs.StartRoom(ctx, st, keep)
}

// RoomState implements chat.RoomStore when the store is one.
func (s *FlakyStore) RoomState(ctx context.Context, room chat.Room) (chat.RoomState, bool, error) {
	rs, err := s.roomStore()
	if err != nil {
		return chat.RoomState{}, false, err
	}
	return rs.RoomState(ctx, room)
}

// SaveRoom implements chat.RoomStore when the store is one.
func (s *FlakyStore) SaveRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	rs, err := s.roomStore()
	if err != nil {
		return err
	}
	return rs.SaveRoom(ctx, st, keep)
}

// Delete implements chat.RoomStore when the store is one.
func (s *FlakyStore) Delete(ctx context.Context, room chat.Room, id chat.ID) error {
	rs, err := s.roomStore()
	if err != nil {
		return err
	}
	return rs.Delete(ctx, room, id)
}

func (s *FlakyStore) roomStore() (chat.RoomStore, error) {
	if s.Down.Load() {
		return nil, ErrDown
	}
	rs, ok := s.Store.(chat.RoomStore)
	if !ok {
		return nil, chat.ErrNoRooms
	}
	return rs, nil
}

// Clock is a clock tests move by hand, with timers that fire (in their
// order, on the goroutine that moves the clock) when Advance reaches
// them. It implements chat.Clock. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*clockTimer
}

type clockTimer struct {
	c  *Clock
	at time.Time
	f  func()
}

// AfterFunc runs f when the clock has moved d on.
func (c *Clock) AfterFunc(d time.Duration, f func()) chat.Timer {
	c.mu.Lock()
	t := &clockTimer{c: c, at: c.now.Add(d), f: f}
	due := d <= 0
	if !due {
		c.timers = append(c.timers, t)
	}
	c.mu.Unlock()
	if due {
		go f() // as time.AfterFunc does, never on the caller's stack
	}
	return t
}

// Stop implements chat.Timer.
func (t *clockTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Timers reports how many timers wait.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and runs, in the order of their
// times, the timers it reaches, before it returns.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		next := -1
		for i, t := range c.timers {
			if !t.at.After(end) && (next < 0 || t.at.Before(c.timers[next].at)) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		t := c.timers[next]
		c.timers = append(c.timers[:next], c.timers[next+1:]...)
		c.now = later(c.now, t.at)
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
