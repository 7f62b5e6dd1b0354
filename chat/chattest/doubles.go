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

// Clock is a clock tests move by hand. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
