package chat_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/memory"
)

// BenchmarkHubPublish measures one event fanned out to n subscribers, each
// drained by its own goroutine as a stream's writer would.
func BenchmarkHubPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprint(n, "subs"), func(b *testing.B) {
			h := chat.NewHub(chat.HubOptions{})
			defer h.Close()
			var wg sync.WaitGroup
			subs := make([]*chat.Stream, n)
			for i := range subs {
				subs[i] = subscribe(b, h, "r")
				wg.Go(func() {
					var buf []*chat.Event
					for range subs[i].Ready() {
						var ok bool
						if buf, _, ok = subs[i].Take(buf[:0]); !ok {
							return
						}
					}
				})
			}
			h.Baseline("r", chat.ID{})
			e := &chat.Event{Message: chat.Message{Room: "r"}}
			b.ReportAllocs()
			seq := uint64(0)
			for b.Loop() {
				seq++
				// Events are read-only once published; a fresh one per
				// publish would measure the allocator, not the hub.
				ev := *e
				ev.Message.ID = chat.ID{Epoch: 1, Seq: seq}
				h.Receive(&ev)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			for _, s := range subs {
				s.Close()
			}
			wg.Wait()
		})
	}
}

func BenchmarkNewEvent(b *testing.B) {
	m := chat.Message{ID: chat.ID{Epoch: 1764161171, Seq: 42}, Room: "lobby", Username: "alice",
		Text: "hello there, how is the game going? 👋", Time: time.Now().UTC()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chat.NewEvent(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPost(b *testing.B) {
	store := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
	defer store.Close()
	hub := chat.NewHub(chat.HubOptions{Store: store})
	defer hub.Close()
	svc := chat.NewService(store, hub, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Post(b.Context(), "r", "alice", "hello there"); err != nil {
			b.Fatal(err)
		}
	}
}
