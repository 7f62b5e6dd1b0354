package handlers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// recorder is a sink that keeps each write.
type recorder struct{ writes [][]byte }

func (r *recorder) head(b []byte) []byte { return append(b, "HEAD\n"...) }
func (r *recorder) write(b []byte, _ time.Time) (int, error) {
	r.writes = append(r.writes, bytes.Clone(b))
	return len(b), nil
}
func (r *recorder) abort() {}
func (r *recorder) close() {}

// The backlog goes out in chunks of at most chunkSize, which together are
// the stream a single write would have sent, and the stream lets go of
// each message as it encodes it.
func TestBacklogGoesOutInChunks(t *testing.T) {
	text := strings.Repeat("é", 3000)
	st := &chat.Stream{}
	for i := range 100 {
		st.Backlog = append(st.Backlog, chat.Message{ID: chat.ID{Epoch: 1, Seq: uint64(i + 1)}, Room: "r", Username: "a", Text: text})
	}
	want := appendRetry([]byte("HEAD\n"), 2*time.Second)
	want = appendEvent(want, chat.KindRoom, chat.ID{}, chat.NewRoomEvent(chat.KindRoom, st.State).JSON)
	for _, m := range st.Backlog {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		want = appendEvent(want, chat.KindMessage, m.ID, data)
	}

	var rec recorder
	f := framer{out: &rec, stall: time.Second}
	defer f.release()
	if err := f.backlog(st, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) < 2 {
		t.Errorf("%d writes for %d bytes, want chunks", len(rec.writes), len(want))
	}
	for i, w := range rec.writes {
		if len(w) > chunkSize {
			t.Errorf("write %d is %d bytes, want at most %d", i, len(w), chunkSize)
		}
	}
	if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, want) {
		t.Errorf("the chunks differ from the stream in one piece (%d bytes, want %d)", len(got), len(want))
	}
	if st.Backlog != nil {
		t.Errorf("the stream still holds its backlog after writing it")
	}
}
