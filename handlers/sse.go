package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionchat/sessionchat/chat"
)

// sseWriter writes Server-Sent Events into a response, remembering the
// first write error so that the stream loop checks only at flush.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	err error
}

func newSSEWriter(w http.ResponseWriter, rc *http.ResponseController) *sseWriter {
	return &sseWriter{w: w, rc: rc, buf: make([]byte, 0, 512)}
}

func (s *sseWriter) write(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

// retry tells the client how long to wait before reconnecting.
func (s *sseWriter) retry(d time.Duration) {
	s.buf = append(s.buf[:0], "retry: "...)
	s.buf = strconv.AppendInt(s.buf, d.Milliseconds(), 10)
	s.buf = append(s.buf, "\n\n"...)
	s.write(s.buf)
}

// data writes one message event from its JSON encoding. A message without
// an id (written by the original app) carries no id line, so the client's
// cursor stays on the last message that had one.
func (s *sseWriter) data(id chat.ID, data []byte) {
	s.buf = s.buf[:0]
	if !id.IsZero() {
		s.buf = append(s.buf, "id: "...)
		s.buf = id.AppendText(s.buf)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, "event: message\ndata: "...)
	s.write(s.buf)
	s.write(data)
	s.write([]byte("\n\n"))
}

// message encodes and writes a stored message.
func (s *sseWriter) message(m chat.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	s.data(m.ID, data)
	return s.err
}

// event writes a live event unless the stream has already sent it.
func (s *sseWriter) event(st *chat.Stream, e *chat.Event) {
	if st.Fresh(e) {
		s.data(e.Message.ID, e.JSON)
	}
}

// heartbeat writes a comment, which keeps proxies and clients from timing
// out an idle stream.
func (s *sseWriter) heartbeat() { s.write([]byte(": heartbeat\n\n")) }

// flush sends what was written and returns the first error so far.
func (s *sseWriter) flush() error {
	if s.err == nil {
		s.err = s.rc.Flush()
	}
	return s.err
}
