package handlers

import (
	"sync"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// ticksPerBeat is how many times the pulse ticks per heartbeat interval.
const ticksPerBeat = 4

// pulse ticks the hub ticksPerBeat times per heartbeat interval while
// streams exist: one ticker for all of them, and no timer per stream. At
// a tick, a stream whose latest write began at least due() ago sends a
// heartbeat.
//
// The bound: with interval I and tick period P = I/ticksPerBeat, a stream
// last written at t0 is, at the first tick at or after t0 + I − P, silent
// for less than I, since ticks are P apart. The heartbeat then goes out
// as soon as the tick has reached the stream's goroutine: the slack above
// I is the time the hub takes to fan the tick out and the scheduler to
// run the writer, microseconds to a few milliseconds, not a whole
// interval. No stream is silent longer than I plus that slack, and none
// sends a heartbeat after less than I − P of silence.
type pulse struct {
	every time.Duration
	hub   *chat.Hub

	mu    sync.Mutex
	users int
	stop  chan struct{}
}

func newPulse(every time.Duration, hub *chat.Hub) *pulse {
	return &pulse{every: every, hub: hub}
}

// period is the time between ticks.
func (p *pulse) period() time.Duration { return max(p.every/ticksPerBeat, time.Millisecond) }

// due is how long a stream must have been silent at a tick to send a
// heartbeat.
func (p *pulse) due() time.Duration { return p.every - p.period() }

// join counts a stream in; the first starts the clock.
func (p *pulse) join() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users++; p.users == 1 {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
}

// leave counts a stream out; the last one stops the clock.
func (p *pulse) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users--; p.users == 0 {
		close(p.stop)
	}
}

func (p *pulse) run(stop chan struct{}) {
	t := time.NewTicker(p.period())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.hub.Tick()
		}
	}
}
