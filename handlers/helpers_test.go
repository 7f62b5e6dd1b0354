package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// app is a chat served by a real HTTP server on 127.0.0.1.
type app struct {
	*httptest.Server
	hub   *chat.Hub
	store *chattest.FlakyStore
}

// newApp serves a chat with options o; configure may set up the server
// before it starts (with EnableHTTP2 set, it starts with TLS).
func newApp(t *testing.T, o handlers.Options, configure ...func(*httptest.Server)) *app {
	t.Helper()
	return newAppHub(t, chat.HubOptions{}, o, configure...)
}

// newAppHub is newApp with a hub made with ho (its store is the app's).
func newAppHub(t *testing.T, ho chat.HubOptions, o handlers.Options, configure ...func(*httptest.Server)) *app {
	t.Helper()
	a := handlerstest.New(t, handlerstest.Config{Hub: ho, Handlers: o, Configure: func(srv *httptest.Server) {
		for _, f := range configure {
			f(srv)
		}
	}})
	return &app{Server: a.Server, hub: a.Hub, store: a.Store}
}

// do sends a request and returns the response with its body read.
func (a *app) do(t *testing.T, method, path, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := *a.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// post sends a message through the JSON API and returns it as stored.
func (a *app) post(t *testing.T, room, name, text string) chat.Message {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": name, "message": text})
	resp, got := a.do(t, "POST", "/api/rooms/"+room+"/messages", "application/json", string(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST to %s: status %d, body %s", room, resp.StatusCode, got)
	}
	var m chat.Message
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("POST to %s: decoding %s: %v", room, got, err)
	}
	return m
}

// sseEvent is one event, or one comment, read off a stream.
type sseEvent struct {
	ID, Event, Data, Comment string
	Retry                    string
}

// stream is a Server-Sent Events client reading a real response body.
type stream struct {
	resp   *http.Response
	lines  *bufio.Reader
	cancel context.CancelFunc
}

// openStream connects to path; header pairs are added to the request.
func (a *app) openStream(t *testing.T, path string, header ...string) *stream {
	t.Helper()
	// A broken stream fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	s := &stream{resp: resp, lines: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next reads the next event or comment; err is io.EOF when the server
// ended the stream.
func (s *stream) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.lines.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if ev != (sseEvent{}) {
				return ev, nil
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.Comment = value
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			ev.Data = value
		case "retry":
			ev.Retry = value
		}
	}
}

// nextMessage skips comments and retry hints and returns the next message.
func (s *stream) nextMessage(t *testing.T) chat.Message {
	t.Helper()
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if ev.Event != "message" {
			continue
		}
		var m chat.Message
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			t.Fatalf("event data %q: %v", ev.Data, err)
		}
		if ev.ID != m.ID.String() {
			t.Errorf("event id %q, message id %q", ev.ID, m.ID)
		}
		return m
	}
}

// messages reads n messages and returns their texts.
func (s *stream) messages(t *testing.T, n int) []string {
	t.Helper()
	var texts []string
	for range n {
		texts = append(texts, s.nextMessage(t).Text)
	}
	return texts
}
