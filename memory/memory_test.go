package memory_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/memory"
)

func TestConformance(t *testing.T) {
	chattest.TestStore(t, func(t *testing.T, ttl time.Duration, limit int) chattest.Harness {
		clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
		s := memory.New(memory.Options{TTL: ttl, Limit: limit, Now: clock.Now})
		t.Cleanup(s.Close)
		return chattest.Harness{Store: s, Advance: clock.Advance}
	})
}

// The sweep frees expired rooms that nobody reads or posts to again, so
// memory does not grow with dead rooms.
func TestSweepReclaimsExpiredRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New(memory.Options{TTL: time.Minute, Limit: 10})
		defer s.Close()
		for i := range 1000 {
			m := chat.Message{Room: chat.Room(fmt.Sprint("room-", i)), Username: "a", Text: "hi"}
			if _, err := s.Append(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(30 * time.Second)
		if _, err := s.Append(t.Context(), chat.Message{Room: "alive", Username: "a", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		if got := s.Len(); got != 1001 {
			t.Fatalf("30s in, %d rooms held, want 1001", got)
		}
		// Past the TTL plus one sweep interval (TTL/4).
		time.Sleep(45 * time.Second)
		synctest.Wait()
		if got := s.Len(); got != 1 {
			t.Errorf("75s in, %d rooms held, want 1 (only the room posted to at 30s)", got)
		}
	})
}

func TestCloseTwice(t *testing.T) {
	s := memory.New(memory.Options{TTL: time.Minute, Limit: 1})
	s.Close()
	s.Close()
	if _, err := s.Append(t.Context(), chat.Message{Room: "r", Username: "a", Text: "b"}); err != nil {
		t.Errorf("Append after Close: %v", err)
	}
}

func TestRoomConformance(t *testing.T) {
	chattest.TestRoomStore(t, func(t *testing.T, ttl time.Duration, limit int) chattest.Harness {
		clock := chattest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
		s := memory.New(memory.Options{TTL: ttl, Limit: limit, Now: clock.Now})
		t.Cleanup(s.Close)
		return chattest.Harness{Store: s, Advance: clock.Advance, Now: clock.Now}
	})
}
