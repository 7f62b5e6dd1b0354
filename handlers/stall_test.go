package handlers_test

import (
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/handlers"
)

// smallReceiveBuffer makes a client socket that holds little: set before
// connecting, it also keeps the window the client offers small.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}

// Clients that never read, on a room whose history is large, cost the
// server a chunk each, not the history encoded whole; after the
// stalled-writer bound they are dropped and even that is freed.
func TestStalledStreamsHoldNoHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 4 MiB and waits for the stalled-writer bound")
	}
	const (
		streams  = 32
		messages = 500
		stall    = 4 * time.Second
	)
	a := newApp(t, handlers.Options{Heartbeat: time.Hour, StallTimeout: stall})
	text := strings.Repeat("😀", chat.MaxTextChars) // 8,000 bytes
	for range messages {
		a.post(t, "big", "a", text)
	}
	before := liveHeap()

	var clients []*rawStream
	dialed := time.Now()
	for range streams {
		clients = append(clients, dialStream(t, a.Listener.Addr().String(), "/api/rooms/big/events", smallReceiveBuffer))
	}
	waitFor(t, func() bool { return a.hub.Stats().Subscribers == streams })

	// The heap the stalled streams hold is read while all of them are
	// still open and stalled: the last reading before the bound drops the
	// first of them. (Readings while they still encode also count garbage
	// made during the collection.)
	var held uint64
	start := time.Now()
	for a.hub.Stats().Subscribers == streams && time.Since(start) < stall+10*time.Second {
		h := liveHeap()
		if a.hub.Stats().Subscribers == streams {
			held = h
		}
		time.Sleep(10 * time.Millisecond) // a sampling period, not a signal
	}
	if held == 0 {
		t.Fatalf("no reading of the heap while all %d streams were open (%d open %v after they joined, which took %v)",
			streams, a.hub.Stats().Subscribers, time.Since(start), start.Sub(dialed))
	}
	t.Logf("live heap %.1f MiB before, %.1f MiB with %d stalled streams (+%.1f MiB)",
		mib(before), mib(held), streams, mib(held)-mib(before))
	if grown := int64(held) - int64(before); grown > 6<<20 {
		t.Errorf("live heap grew by %.1f MiB with %d stalled streams of a %d-message room, want at most 6 MiB",
			float64(grown)/(1<<20), streams, messages)
	}
	waitFor(t, func() bool { return a.hub.Stats().Subscribers == 0 })
	after := liveHeap()
	t.Logf("dropped %v after they joined, with a bound of %v; live heap then %.1f MiB",
		time.Since(start).Round(time.Millisecond), stall, mib(after))
	if grown := int64(after) - int64(before); grown > 1<<20 {
		t.Errorf("live heap %.1f MiB above where it was once the stalled streams were dropped, want their memory freed",
			float64(grown)/(1<<20))
	}

	// Each client had taken part of the history when the server cut it.
	whole := messages * len(text)
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil && !isReset(err) {
			t.Errorf("stream %d: reading what the server sent before it hung up: %v", i, err)
		}
		if n >= int64(whole) {
			t.Errorf("stream %d received %d bytes, the whole history (%d): it was never stalled", i, n, whole)
		}
	}
}

// liveHeap is the heap in use right after a collection. Two: what other
// goroutines allocate during the first counts as live in it.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}
