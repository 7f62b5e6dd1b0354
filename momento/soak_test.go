package momento_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/momento"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

var soakFor = flag.Duration("soak", 15*time.Second, "how long TestThrottledSoak posts (issue 11 asks for 60s)")

// soakStream is one client's view of a room across its reconnects: what it
// received, in order, backlog and live alike.
type soakStream struct {
	in   *instance
	got  []chat.Message
	when []time.Time // when each of got arrived
	runs int         // joins
}

// TestThrottledSoak runs two instances at Momento's default quotas (100
// cache and 10 topic operations per second) with 8 streams on each, 10
// posts/s spread over both, streams dropping and resuming from their last
// id at random. Every acknowledged message must reach every stream
// exactly once, in the history's order, and the history must hold exactly
// the acknowledged messages; a refused post must be an error. It logs
// what the meter billed and the cross-instance delivery times.
func TestThrottledSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of -soak (15s)")
	}
	const (
		perInstance = 8
		rate        = 10 // posts per second over both instances
		room        = chat.Room("soak")
	)
	srv := momentotest.Start(t, momentotest.WithQuotas(momentotest.Quotas{CacheRate: 100, TopicRate: 10}))
	limit := int(soakFor.Seconds())*rate + 100 // history keeps every post
	opts := options{cfg: func(c *momento.Config) { c.Limit = limit }}
	insts := []*instance{newInstanceWith(t, srv, opts), newInstanceWith(t, srv, opts)}

	ctx, stop := context.WithCancel(t.Context())
	var (
		wg      sync.WaitGroup
		streams []*soakStream
		settle  = make(chan struct{}) // closed: stop dropping, catch up
		last    chat.ID               // the history's last, set before settle closes
	)
	for _, in := range insts {
		for range perInstance {
			ss := &soakStream{in: in}
			streams = append(streams, ss)
			wg.Go(func() { ss.run(t, room, settle, &last) })
		}
	}

	start := srv.Meter()
	var (
		mu      sync.Mutex
		acked   = make(map[chat.ID]time.Time) // when the post was answered
		byID    = make(map[chat.ID]int)       // poster instance
		refused []string
		posting sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / rate)
	deadline := time.Now().Add(*soakFor)
	// Besides the quotas, a refused call every second: a push, an
	// Increment, a publish, in turn.
	faults := []string{"ListPushBack", "Increment", "Publish"}
	for i := 0; time.Now().Before(deadline); i++ {
		<-tick.C // the load: 10 posts/s, not a measurement
		if i%rate == rate/2 {
			srv.FailNext(faults[i/rate%len(faults)], 1, codes.ResourceExhausted)
		}
		from := i % len(insts)
		text := fmt.Sprint("post ", i)
		posting.Go(func() {
			m, err := insts[from].svc.Post(ctx, room, fmt.Sprint("poster", from), text)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, chat.ErrUnavailable) {
					t.Errorf("post %q: %v, want ErrUnavailable", text, err)
				}
				refused = append(refused, text)
				return
			}
			acked[m.ID] = time.Now()
			byID[m.ID] = from
		})
	}
	tick.Stop()
	posting.Wait()
	posted := srv.Meter().Since(start)

	history, err := insts[1].store.History(t.Context(), room)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) > 0 {
		last = history[len(history)-1].ID
	}
	close(settle)
	wg.Wait()
	stop()

	var want []string
	for _, m := range history {
		if _, ok := acked[m.ID]; !ok {
			t.Errorf("history holds %s (%q), which was not acknowledged", m.ID, m.Text)
		}
		if slices.Contains(refused, m.Text) {
			t.Errorf("history holds %q, whose post was refused", m.Text)
		}
		want = append(want, m.ID.String())
	}
	if len(history) != len(acked) {
		t.Errorf("history holds %d messages, %d were acknowledged", len(history), len(acked))
	}
	var late []time.Duration
	for i, ss := range streams {
		if diff := cmp.Diff(want, ids(ss.got)); diff != "" {
			t.Errorf("stream %d (%d joins) (-history +received):\n%s", i, ss.runs, diff)
			continue
		}
		for j, m := range ss.got {
			if insts[byID[m.ID]] != ss.in && ss.when[j].After(acked[m.ID]) {
				late = append(late, ss.when[j].Sub(acked[m.ID]))
			}
		}
	}
	slices.Sort(late)
	joins := 0
	for _, ss := range streams {
		joins += ss.runs
	}
	secs := soakFor.Seconds()
	t.Logf("%d posts acknowledged, %d refused, %d joins; cross-instance delivery p50 %v, p99 %v, max %v",
		len(acked), len(refused), joins, pct(late, 50), pct(late, 99), pct(late, 100))
	t.Logf("while posting: %.1f cache ops/s, %.1f topic ops/s (quotas 100, 10), %d calls throttled %v; ops %v; calls %v",
		float64(posted.CacheOps)/secs, float64(posted.TopicOps)/secs, posted.Throttled, posted.ThrottledCalls, posted.Ops, posted.Calls)
	for i, in := range insts {
		t.Logf("instance %d: broker %+v, hub %+v", i, in.broker.Stats(), in.hub.Stats())
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, len(d)*p/100)]
}

// run joins room, reads, and leaves at random moments, resuming after the
// last message it got, until settle is closed; then it reads until it has
// the message *last names (read once settle is closed, which publishes it).
func (ss *soakStream) run(t *testing.T, room chat.Room, settle <-chan struct{}, last *chat.ID) {
	var (
		target chat.ID
		done   bool
	)
	for !done {
		cursor := ""
		if n := len(ss.got); n > 0 {
			cursor = ss.got[n-1].ID.String()
		}
		st, err := ss.in.svc.Join(context.Background(), room, cursor)
		if err != nil {
			if errors.Is(err, chat.ErrUnavailable) {
				time.Sleep(100 * time.Millisecond) // a client's retry delay
				continue
			}
			t.Errorf("Join: %v", err)
			return
		}
		ss.runs++
		now := time.Now()
		for _, m := range st.Backlog {
			ss.got, ss.when = append(ss.got, m), append(ss.when, now)
		}
		leave := time.After(time.Duration(rand.Int64N(int64(3 * time.Second))))
		var evs []*chat.Event
	read:
		for {
			if !target.IsZero() && len(ss.got) > 0 && !target.After(ss.got[len(ss.got)-1].ID) {
				done = true
				break
			}
			select {
			case <-st.Ready():
				var ok bool
				evs, _, ok = st.Take(evs[:0])
				now := time.Now()
				for _, e := range evs {
					ss.got, ss.when = append(ss.got, e.Message), append(ss.when, now)
				}
				if !ok {
					break read // dropped: resume
				}
			case <-leave:
				if target.IsZero() {
					break read
				}
			case <-settle:
				settle = nil
				if target = *last; target.IsZero() { // nothing was posted
					done = true
					break read
				}
			case <-time.After(20 * time.Second):
				t.Errorf("a stream waited 20s for the last message %s; it has %d", target, len(ss.got))
				done = true
				break read
			}
		}
		st.Close()
		if !done {
			time.Sleep(time.Duration(rand.Int64N(int64(300 * time.Millisecond)))) // the client's reconnect delay
		}
	}
}
