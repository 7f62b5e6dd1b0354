package memory_test

import (
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/memory"
)

func BenchmarkAppend(b *testing.B) {
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
	defer s.Close()
	m := chat.Message{Room: "r", Username: "alice", Text: "hello there", Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHistory500(b *testing.B) {
	s := memory.New(memory.Options{TTL: time.Hour, Limit: 500})
	defer s.Close()
	for range 500 {
		s.Append(b.Context(), chat.Message{Room: "r", Username: "alice", Text: "hello there", Time: time.Now()})
	}
	b.ReportAllocs()
	for b.Loop() {
		if h, err := s.History(b.Context(), "r"); err != nil || len(h) != 500 {
			b.Fatal(len(h), err)
		}
	}
}
