package momento_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/momento/momentotest"
)

func peopleNames(p chat.Presence) string {
	var s []string
	for _, pe := range p.People {
		s = append(s, pe.Name)
	}
	return strings.Join(s, ",")
}

// Two instances count everyone on both: a join on one is seen on the
// other, a leave drops out, a summary not renewed (its instance died)
// lapses within PresenceTTL, and a live instance's beats keep its people
// counted. The Momento cost of a join, a leave and a minute of presence
// is measured with the test server's meter (run with -v for the table).
func TestPresenceAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of beats, settled one by one: about 10s")
	}
	clock := roomClock()
	srv := momentotest.Start(t, momentotest.WithClock(clock.Now))
	insts := []*instance{newRoomInstance(t, srv, clock), newRoomInstance(t, srv, clock)}
	a, b := insts[0], insts[1]
	ctx := t.Context()
	settled := func(before momentotest.Usage) momentotest.Usage {
		t.Helper()
		waitFor(t, "the publishers and deliveries", func() bool {
			for _, in := range insts {
				if in.broker.Stats().PendingEvents > 0 {
					return false
				}
			}
			u := srv.Meter().Since(before)
			return u.Deliveries == int64(len(insts))*u.Calls["Publish"]
		})
		return srv.Meter().Since(before)
	}
	sees := func(in *instance, want string) {
		t.Helper()
		waitFor(t, "presence "+want, func() bool { return peopleNames(in.svc.Presence("p")) == want })
	}
	joinAs := func(in *instance, name, key string) *chat.Stream {
		t.Helper()
		st, err := in.svc.JoinAs(ctx, "p", "", chat.Visitor{Name: name, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	var rows []string
	row := func(what string, u momentotest.Usage) {
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %s |", what, u.CacheOps, u.TopicOps, opsList(u)))
	}

	before := srv.Meter()
	ra := newReader(joinAs(a, "alice", "ka"))
	waitFor(t, "A's summary", func() bool { return srv.Meter().Since(before).Calls["Publish"] > 0 })
	row("first person joins a room (instance A)", settled(before))

	before = srv.Meter()
	sb := joinAs(b, "bob", "kb")
	sees(a, "alice,bob")
	clock.Advance(chat.PresenceEvery) // A's coalescing window, and its answer to B
	sees(b, "alice,bob")
	row("second person joins, on instance B (B announces, A answers)", settled(before))
	if e, _ := ra.until(t, "presence with bob", func(e *chat.Event) bool {
		return e.Kind == chat.KindPresence && strings.Contains(string(e.JSON), `"bob"`)
	}); !strings.Contains(string(e.JSON), `"alice"`) {
		t.Errorf("A's stream: %s, want alice and bob", e.JSON)
	}

	// A minute with one person on each instance: the beats keep both.
	before = srv.Meter()
	for range 60 {
		clock.Advance(time.Second)
		settled(before)
	}
	row("a minute, one person on each of 2 instances", srv.Meter().Since(before))
	if got := peopleNames(a.svc.Presence("p")); got != "alice,bob" {
		t.Fatalf("after a minute A sees %q, want alice,bob", got)
	}

	before = srv.Meter()
	sb.Close()
	clock.Advance(chat.PresenceEvery)
	sees(a, "alice")
	row("a person leaves (closes the tab)", settled(before))

	// An instance that dies says nothing more: its summary lapses.
	a.hub.Receive(&chat.Event{Kind: chat.KindHere, Message: chat.Message{Room: "p"},
		JSON: []byte(`{"room":"p","from":"gone","people":[{"name":"carol","tag":"cccccccccccc"}]}`)})
	if got := peopleNames(a.svc.Presence("p")); got != "alice,carol" {
		t.Fatalf("with a third instance's summary A sees %q", got)
	}
	var waited time.Duration
	for peopleNames(a.svc.Presence("p")) != "alice" {
		clock.Advance(time.Second)
		waited += time.Second
		if waited > 2*chat.PresenceTTL {
			t.Fatal("a dead instance's people never dropped out")
		}
	}
	if waited > chat.PresenceTTL+time.Second {
		t.Errorf("a dead instance's people dropped out after %s, want within PresenceTTL (%s)", waited, chat.PresenceTTL)
	}
	clock.Advance(chat.PresenceEvery)
	ra.until(t, "presence without carol", func(e *chat.Event) bool {
		return e.Kind == chat.KindPresence && !strings.Contains(string(e.JSON), "carol")
	})

	t.Logf("Momento cost of presence, 2 instances:\n| what | cache ops | topic ops | calls |\n|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}
