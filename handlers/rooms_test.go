package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
	"github.com/sessionchat/sessionchat/chat/chattest"
	"github.com/sessionchat/sessionchat/handlers"
	"github.com/sessionchat/sessionchat/handlers/handlerstest"
)

// Rooms with a lifetime and a host, over HTTP: the whole chat in-process
// with a clock the tests move by hand, shared by the service (which ends
// rooms by it) and the memory store (which expires them by it).

// t0 is when every rooms test starts.
var t0 = time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)

type roomsApp struct {
	*app
	clock *chattest.Clock
	svc   *chat.Service
}

func newRoomsApp(t *testing.T, o handlers.Options) *roomsApp {
	t.Helper()
	clock := chattest.NewClock(t0)
	a := handlerstest.New(t, handlerstest.Config{
		Handlers: o,
		Service:  chat.ServiceOptions{Clock: clock, Grace: 10 * time.Minute, MaxLifetime: 24 * time.Hour},
	})
	return &roomsApp{app: &app{Server: a.Server, hub: a.Hub, store: a.Store}, clock: clock, svc: a.Service}
}

// startResponse is the answer to POST /api/rooms.
type startResponse struct {
	Room     chat.RoomState `json:"room"`
	ShareURL string         `json:"share_url"`
	HostURL  string         `json:"host_url"`
	HostKey  string         `json:"host_key"`
}

// start starts a room with the JSON body and expects 201.
func (a *roomsApp) start(t *testing.T, body string, header ...string) startResponse {
	t.Helper()
	resp, got := a.do(t, "POST", "/api/rooms", "application/json", body, header...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/rooms %s: status %d, body %s", body, resp.StatusCode, got)
	}
	var s startResponse
	if err := json.Unmarshal([]byte(got), &s); err != nil {
		t.Fatalf("POST /api/rooms: decoding %s: %v", got, err)
	}
	return s
}

// state reads GET /api/rooms/{room}.
func (a *roomsApp) state(t *testing.T, room string) chat.RoomState {
	t.Helper()
	resp, body := a.do(t, "GET", "/api/rooms/"+room, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/rooms/%s: status %d, body %s", room, resp.StatusCode, body)
	}
	var st chat.RoomState
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /api/rooms/%s: decoding %s: %v", room, body, err)
	}
	return st
}

// host runs a host action with the key in X-Host-Key and returns the
// response and its body.
func (a *roomsApp) host(t *testing.T, room, action, key, body string) (*http.Response, string) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return a.do(t, "POST", "/api/rooms/"+room+"/host/"+action, ctype, body, "X-Host-Key", key)
}

// wantError checks an API error: its status and that its JSON error says
// what it should.
func wantError(t *testing.T, what string, resp *http.Response, body string, status int, says string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d; body %s", what, resp.StatusCode, status, body)
		return
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Errorf("%s: body %q is not a JSON error", what, body)
		return
	}
	if !strings.Contains(e.Error, says) {
		t.Errorf("%s: error %q, want it to say %q", what, e.Error, says)
	}
}

// roomEvent reads the stream's next event, skipping comments and hints,
// and checks that it is of kind (room, deleted, ended) and carries no id.
func (s *stream) roomEvent(t *testing.T, kind string) string {
	t.Helper()
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("reading the stream for a %s event: %v", kind, err)
		}
		if ev.Event == "" || ev.Event != kind && (ev.Event == "presence" || ev.Event == "typing") {
			continue
		}
		if ev.Event != kind {
			t.Fatalf("stream sent a %s event (%s), want %s", ev.Event, ev.Data, kind)
		}
		if ev.ID != "" {
			t.Errorf("%s event has id %q: only messages carry one", kind, ev.ID)
		}
		return ev.Data
	}
}

func decodeState(t *testing.T, data string) chat.RoomState {
	t.Helper()
	var st chat.RoomState
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		t.Fatalf("room state %q: %v", data, err)
	}
	return st
}

func TestStartRoom(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})

	t.Run("named", func(t *testing.T) {
		s := a.start(t, `{"name":"game-night","title":"Game night 🎲","lifetime":"30m"}`)
		want := chat.RoomState{Room: "game-night", Title: "Game night 🎲", Ends: t0.Add(30 * time.Minute)}
		if !s.Room.Ends.Equal(want.Ends) || s.Room.Room != want.Room || s.Room.Title != want.Title || s.Room.Locked || s.Room.Ended {
			t.Errorf("started %+v, want %+v", s.Room, want)
		}
		if s.ShareURL != a.URL+"/rooms/game-night" {
			t.Errorf("share_url %q, want %q", s.ShareURL, a.URL+"/rooms/game-night")
		}
		if len(s.HostKey) != chat.HostKeyLen || s.HostURL != a.URL+"/rooms/game-night?host="+s.HostKey {
			t.Errorf("host_key %q, host_url %q", s.HostKey, s.HostURL)
		}
		if got := a.state(t, "game-night"); got.Title != want.Title || !got.Ends.Equal(want.Ends) {
			t.Errorf("GET state %+v, want %+v", got, want)
		}
	})

	t.Run("generated names", func(t *testing.T) {
		readable := regexp.MustCompile(`^[a-z]+-[a-z]+-[a-z2-7]{6}$`)
		seen := map[chat.Room]bool{}
		for range 20 {
			s := a.start(t, `{"lifetime":"5m"}`)
			if !readable.MatchString(string(s.Room.Room)) {
				t.Errorf("generated name %q is not word-word-xxxxxx", s.Room.Room)
			}
			if _, err := chat.ParseRoom(string(s.Room.Room)); err != nil {
				t.Errorf("generated name %q: %v", s.Room.Room, err)
			}
			if seen[s.Room.Room] {
				t.Errorf("name %q generated twice", s.Room.Room)
			}
			seen[s.Room.Room] = true
		}
	})

	t.Run("lifetimes", func(t *testing.T) {
		for _, tt := range []struct {
			body string
			want time.Duration
		}{
			{`{"lifetime":"45m"}`, 45 * time.Minute},
			{`{"lifetime":"1h30m"}`, 90 * time.Minute},
			{`{"lifetime":"90"}`, 90 * time.Minute},
			{`{"lifetime":"24h"}`, 24 * time.Hour},
			{`{"ends":"2026-11-26T15:00:00Z"}`, 2 * time.Hour},
			{`{"ends":"2026-11-26T15:00:00+01:00"}`, time.Hour},
		} {
			s := a.start(t, tt.body)
			if got := s.Room.Ends.Sub(t0); got != tt.want {
				t.Errorf("%s: ends %s after now, want %s", tt.body, got, tt.want)
			}
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		long := strings.Repeat("t", chat.MaxTitleChars+1)
		for _, tt := range []struct {
			body, says string
		}{
			{`{"name":"bad-1","lifetime":"soon"}`, "not a duration"},
			{`{"name":"bad-1","lifetime":"-5m"}`, "positive"},
			{`{"name":"bad-1","lifetime":"0"}`, "positive"},
			{`{"name":"bad-1","lifetime":"25h"}`, "at most 24h"},
			{`{"name":"bad-1","ends":"2026-11-28T13:00:00Z"}`, "at most 24h"},
			{`{"name":"bad-1","ends":"2026-11-26T12:00:00Z"}`, "passed"},
			{`{"name":"bad-1","ends":"tomorrow"}`, "RFC 3339"},
			{`{"name":"bad-1","lifetime":"30m","ends":"2026-11-26T14:00:00Z"}`, "not both"},
			{`{"name":"bad-1"}`, "give a lifetime"},
			{`{"name":"bad-1","lifetime":"30m","title":"bell\u0007"}`, "control characters"},
			{`{"name":"bad-1","lifetime":"30m","title":"line\nbreak"}`, "control characters"},
			{`{"name":"bad-1","lifetime":"30m","title":"` + long + `"}`, "longer than 100"},
			{`{"name":"bad room!","lifetime":"30m"}`, "room name"},
			{`{"name":"bad-1","lifetime":"30m"} {}`, "after the JSON"},
			{`{"name":"bad-1","lifetime":30}`, "malformed JSON"},
		} {
			resp, body := a.do(t, "POST", "/api/rooms", "application/json", tt.body)
			wantError(t, tt.body, resp, body, http.StatusBadRequest, tt.says)
		}
		if st := a.state(t, "bad-1"); st.Started() || st.Title != "" {
			t.Errorf("after refused starts, bad-1 has state %+v", st)
		}
		if got := history(t, a.app, "bad-1", nil); len(got) != 0 {
			t.Errorf("after refused starts, bad-1 has messages %v", got)
		}
		resp, body := a.do(t, "POST", "/api/rooms", "text/plain", `{"lifetime":"30m"}`)
		wantError(t, "text/plain body", resp, body, http.StatusUnsupportedMediaType, "JSON")
	})

	t.Run("existing rooms", func(t *testing.T) {
		a.start(t, `{"name":"taken","title":"first","lifetime":"30m"}`)
		resp, body := a.do(t, "POST", "/api/rooms", "application/json", `{"name":"taken","title":"second","lifetime":"2h"}`)
		wantError(t, "starting a started room", resp, body, http.StatusConflict, "already exists")
		if st := a.state(t, "taken"); st.Title != "first" || !st.Ends.Equal(t0.Add(30*time.Minute)) {
			t.Errorf("the refused start changed the room: %+v", st)
		}
		// A room made by its first post exists too.
		a.post(t, "chatty", "alice", "hi")
		resp, body = a.do(t, "POST", "/api/rooms", "application/json", `{"name":"chatty","lifetime":"30m"}`)
		wantError(t, "starting a room that has messages", resp, body, http.StatusConflict, "already exists")
		if st := a.state(t, "chatty"); st.Started() {
			t.Errorf("the refused start gave chatty a state: %+v", st)
		}
	})
}

// A room ends by the clock: every stream gets an ended event and ends with
// a long retry hint; posts and new streams get 410; the history stays for
// the grace period and then goes.
func TestRoomEndsByTime(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	a.start(t, `{"name":"match","title":"Final","lifetime":"30m"}`)
	s1 := a.openStream(t, "/api/rooms/match/events")
	s2 := a.openStream(t, "/api/rooms/match/events")
	for _, s := range []*stream{s1, s2} {
		if st := decodeState(t, s.roomEvent(t, "room")); st.Title != "Final" || !st.Ends.Equal(t0.Add(30*time.Minute)) || st.Ended {
			t.Errorf("first event: state %+v", st)
		}
	}
	m := a.post(t, "match", "alice", "gg")
	for _, s := range []*stream{s1, s2} {
		if got := s.nextMessage(t); got.ID != m.ID {
			t.Errorf("stream got %v, want %v", got, m)
		}
	}

	a.clock.Advance(29*time.Minute + 59*time.Second)
	a.post(t, "match", "bob", "last word")
	a.clock.Advance(time.Second)
	for i, s := range []*stream{s1, s2} {
		if got := s.nextMessage(t).Text; got != "last word" {
			t.Errorf("stream %d: %q before the end, want %q", i, got, "last word")
		}
		st := decodeState(t, s.roomEvent(t, "ended"))
		if !st.Ended || st.Room != "match" {
			t.Errorf("stream %d: ended event %+v", i, st)
		}
		ev, err := s.next()
		if err != nil || ev.Retry != "3600000" {
			t.Errorf("stream %d: after ended, %+v (%v), want retry: 3600000", i, ev, err)
		}
		if ev, err := s.next(); err != io.EOF {
			t.Errorf("stream %d: after the retry hint, %+v (%v), want the end of the stream", i, ev, err)
		}
	}
	waitFor(t, func() bool { return a.hub.Stats().Subscribers == 0 })

	resp, body := a.do(t, "POST", "/api/rooms/match/messages", "application/json", `{"username":"carol","message":"too late"}`)
	wantError(t, "post after the end", resp, body, http.StatusGone, "ended")
	// (openStream's deadline keeps a stream wrongly opened from hanging.)
	gone := a.openStream(t, "/api/rooms/match/events")
	b, _ := io.ReadAll(gone.resp.Body)
	wantError(t, "stream after the end", gone.resp, string(b), http.StatusGone, "ended")
	if st := a.state(t, "match"); !st.Ended {
		t.Errorf("state after the end: %+v", st)
	}
	if got := history(t, a.app, "match", nil); len(got) != 2 {
		t.Errorf("history during the grace period: %d messages, want 2", len(got))
	}

	a.clock.Advance(10*time.Minute + time.Second)
	if got := history(t, a.app, "match", nil); len(got) != 0 {
		t.Errorf("history after the grace period: %d messages, want none", len(got))
	}
	if resp, _ := a.do(t, "GET", "/rooms/match/transcript", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("transcript after the grace period: status %d, want 404", resp.StatusCode)
	}
	// The name is free again: a room made by its first post.
	a.post(t, "match", "dave", "rematch?")
}

func TestHostActions(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	s := a.start(t, `{"name":"class","title":"Maths","lifetime":"1h"}`)
	key := s.HostKey
	other := a.start(t, `{"name":"other","lifetime":"1h"}`).HostKey
	st := a.openStream(t, "/api/rooms/class/events")
	st.roomEvent(t, "room")
	m1 := a.post(t, "class", "alice", "question")
	m2 := a.post(t, "class", "troll", "spam")
	st.nextMessage(t)
	st.nextMessage(t)

	t.Run("wrong keys change nothing", func(t *testing.T) {
		for _, k := range []string{"", "nope", other, strings.Repeat("A", chat.HostKeyLen), key[:42] + "x"} {
			for _, action := range []string{"lock", "end"} {
				resp, body := a.host(t, "class", action, k, "")
				wantError(t, action+" with key "+k, resp, body, http.StatusForbidden, "host key is not valid")
			}
			resp, body := a.host(t, "class", "extend", k, `{"lifetime":"15m"}`)
			wantError(t, "extend with key "+k, resp, body, http.StatusForbidden, "host key is not valid")
			resp, body = a.do(t, "DELETE", "/api/rooms/class/messages/"+m2.ID.String(), "", "", "X-Host-Key", k)
			wantError(t, "delete with key "+k, resp, body, http.StatusForbidden, "host key is not valid")
		}
		if got := a.state(t, "class"); got.Locked || got.Ended || !got.Ends.Equal(t0.Add(time.Hour)) {
			t.Errorf("after refused actions: %+v", got)
		}
		if got := history(t, a.app, "class", nil); len(got) != 2 {
			t.Errorf("after refused deletes: %d messages, want 2", len(got))
		}
	})

	t.Run("lock and unlock", func(t *testing.T) {
		resp, body := a.host(t, "class", "lock", key, "")
		if resp.StatusCode != http.StatusOK || !decodeState(t, body).Locked {
			t.Fatalf("lock: %d %s", resp.StatusCode, body)
		}
		if got := decodeState(t, st.roomEvent(t, "room")); !got.Locked || got.Title != "Maths" {
			t.Errorf("room event after lock: %+v", got)
		}
		resp, body = a.do(t, "POST", "/api/rooms/class/messages", "application/json", `{"username":"alice","message":"may I?"}`)
		wantError(t, "post while locked", resp, body, http.StatusForbidden, "the host has locked this room")
		resp, body = a.do(t, "POST", "/rooms/class/messages", "application/x-www-form-urlencoded", "username=alice&message=may+I")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "the host has locked this room") {
			t.Errorf("form post while locked: %d, want 403 with a readable page", resp.StatusCode)
		}
		if got := history(t, a.app, "class", nil); len(got) != 2 {
			t.Errorf("posts while locked stored: %d messages, want 2", len(got))
		}
		resp, body = a.host(t, "class", "unlock", key, "")
		if resp.StatusCode != http.StatusOK || decodeState(t, body).Locked {
			t.Fatalf("unlock: %d %s", resp.StatusCode, body)
		}
		if got := decodeState(t, st.roomEvent(t, "room")); got.Locked {
			t.Errorf("room event after unlock: %+v", got)
		}
		a.post(t, "class", "alice", "thanks")
		st.nextMessage(t)
	})

	t.Run("delete", func(t *testing.T) {
		resp, body := a.do(t, "DELETE", "/api/rooms/class/messages/"+m2.ID.String()+"?host="+key, "", "")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
		var d struct {
			Room chat.Room `json:"room"`
			ID   chat.ID   `json:"id"`
		}
		if err := json.Unmarshal([]byte(st.roomEvent(t, "deleted")), &d); err != nil || d.Room != "class" || d.ID != m2.ID {
			t.Errorf("deleted event: %+v (%v), want room class, id %s", d, err, m2.ID)
		}
		for _, m := range history(t, a.app, "class", nil) {
			if m.ID == m2.ID {
				t.Errorf("deleted message %s still in the history", m2.ID)
			}
		}
		if got := history(t, a.app, "class", nil); len(got) != 2 || got[0].ID != m1.ID {
			t.Errorf("history after delete: %v", got)
		}
		resp, body = a.do(t, "DELETE", "/api/rooms/class/messages/"+m2.ID.String(), "", "", "X-Host-Key", key)
		wantError(t, "delete twice", resp, body, http.StatusNotFound, "no such message")
		resp, body = a.do(t, "DELETE", "/api/rooms/class/messages/not-an-id", "", "", "X-Host-Key", key)
		wantError(t, "delete of a malformed id", resp, body, http.StatusNotFound, "no such message")
		// A reconnect after the delete does not bring it back.
		re := a.openStream(t, "/api/rooms/class/events")
		re.roomEvent(t, "room")
		if got := re.messages(t, 2); got[0] != "question" || got[1] != "thanks" {
			t.Errorf("history on a new stream: %q", got)
		}
	})

	t.Run("extend", func(t *testing.T) {
		resp, body := a.host(t, "class", "extend", key, `{"lifetime":"15m"}`)
		if resp.StatusCode != http.StatusOK || !decodeState(t, body).Ends.Equal(t0.Add(75*time.Minute)) {
			t.Fatalf("extend by 15m: %d %s", resp.StatusCode, body)
		}
		if got := decodeState(t, st.roomEvent(t, "room")); !got.Ends.Equal(t0.Add(75 * time.Minute)) {
			t.Errorf("room event after extend: %+v", got)
		}
		resp, body = a.host(t, "class", "extend", key, `{"ends":"2026-11-26T15:00:00Z"}`)
		if resp.StatusCode != http.StatusOK || !decodeState(t, body).Ends.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("extend to 15:00: %d %s", resp.StatusCode, body)
		}
		st.roomEvent(t, "room")
		for _, tt := range []struct{ body, says string }{
			{`{"ends":"2026-11-26T14:00:00Z"}`, "later end"},
			{`{"lifetime":"24h"}`, "at most 24h"},
			{`{"lifetime":"later"}`, "not a duration"},
			{`{}`, "give a lifetime"},
			{``, "JSON"},
		} {
			resp, body := a.host(t, "class", "extend", key, tt.body)
			status := http.StatusBadRequest
			if tt.body == "" {
				status = http.StatusUnsupportedMediaType
			}
			wantError(t, "extend "+tt.body, resp, body, status, tt.says)
		}
		if got := a.state(t, "class"); !got.Ends.Equal(t0.Add(2 * time.Hour)) {
			t.Errorf("refused extensions changed the end: %+v", got)
		}
		// The old end passes without ending the room.
		a.clock.Advance(time.Hour + 30*time.Minute)
		a.post(t, "class", "alice", "still here")
		if got := st.nextMessage(t).Text; got != "still here" {
			t.Errorf("after the old end the stream got %q", got)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		resp, body := a.host(t, "class", "explode", key, "")
		wantError(t, "unknown action", resp, body, http.StatusNotFound, "nothing here")
	})

	t.Run("end now", func(t *testing.T) {
		resp, body := a.host(t, "class", "end", key, "")
		if resp.StatusCode != http.StatusOK || !decodeState(t, body).Ended {
			t.Fatalf("end: %d %s", resp.StatusCode, body)
		}
		if got := decodeState(t, st.roomEvent(t, "ended")); !got.Ended {
			t.Errorf("ended event %+v", got)
		}
		if ev, err := st.next(); err != nil || ev.Retry != "3600000" {
			t.Errorf("after ended: %+v, %v", ev, err)
		}
		if _, err := st.next(); err != io.EOF {
			t.Errorf("the stream goes on after ended: %v", err)
		}
		for _, action := range []string{"lock", "unlock", "end"} {
			resp, body := a.host(t, "class", action, key, "")
			wantError(t, action+" after the end", resp, body, http.StatusGone, "ended")
		}
		resp, body = a.host(t, "class", "extend", key, `{"lifetime":"15m"}`)
		wantError(t, "extend after the end", resp, body, http.StatusGone, "ended")
		resp, body = a.do(t, "DELETE", "/api/rooms/class/messages/"+m1.ID.String(), "", "", "X-Host-Key", key)
		wantError(t, "delete after the end", resp, body, http.StatusGone, "ended")
		resp, body = a.do(t, "POST", "/api/rooms/class/messages", "application/json", `{"username":"alice","message":"bye"}`)
		wantError(t, "post after the end", resp, body, http.StatusGone, "ended")
		if got := history(t, a.app, "class", nil); len(got) != 3 {
			t.Errorf("history after the end: %d messages, want 3", len(got))
		}
	})
}

// Messages arrive exactly once across reconnects with Last-Event-ID, and
// every connection starts with the room's state.
func TestRoomEventsAndResume(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	key := a.start(t, `{"name":"resume","lifetime":"1h"}`).HostKey
	a.post(t, "resume", "a", "one")
	s := a.openStream(t, "/api/rooms/resume/events")
	s.roomEvent(t, "room")
	m := s.nextMessage(t)
	a.host(t, "resume", "lock", key, "")
	if !decodeState(t, s.roomEvent(t, "room")).Locked {
		t.Error("no locked state on the stream")
	}
	a.host(t, "resume", "unlock", key, "")
	s.roomEvent(t, "room")
	a.post(t, "resume", "a", "two")
	last := s.nextMessage(t)
	s.close()

	a.post(t, "resume", "a", "three")
	a.post(t, "resume", "a", "four")
	re := a.openStream(t, "/api/rooms/resume/events", "Last-Event-ID", last.ID.String())
	if got := decodeState(t, re.roomEvent(t, "room")); got.Locked || got.Room != "resume" {
		t.Errorf("state on reconnect: %+v", got)
	}
	if got := re.messages(t, 2); got[0] != "three" || got[1] != "four" {
		t.Errorf("after Last-Event-ID %s: %q, want three, four", last.ID, got)
	}
	a.post(t, "resume", "a", "five")
	if got := re.nextMessage(t).Text; got != "five" {
		t.Errorf("live after resume: %q", got)
	}
	// A cursor naming the first message still works across room events.
	re2 := a.openStream(t, "/api/rooms/resume/events?after="+m.ID.String())
	re2.roomEvent(t, "room")
	if got := re2.messages(t, 4); strings.Join(got, ",") != "two,three,four,five" {
		t.Errorf("after=%s: %q", m.ID, got)
	}
	// A room made by its first post has a plain state on its stream.
	a.post(t, "plain", "a", "hi")
	p := a.openStream(t, "/api/rooms/plain/events")
	if got := p.roomEvent(t, "room"); got != `{"room":"plain","locked":false,"ended":false}` {
		t.Errorf("plain room's state %s", got)
	}
}

func TestTranscript(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{})
	a.start(t, `{"name":"talk","title":"Q&A *live*","lifetime":"1h"}`)
	a.post(t, "talk", "alice", "hello **world**")
	a.post(t, "talk", "bob", "two\nlines <b>")

	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		resp, body := a.do(t, "GET", path, "", "", header...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return resp, body
	}
	for _, tt := range []struct {
		path, accept, ctype, file string
	}{
		{"/rooms/talk/transcript", "", "text/plain", "talk-transcript.txt"},
		{"/rooms/talk/transcript.txt", "application/json", "text/plain", "talk-transcript.txt"},
		{"/rooms/talk/transcript.json", "", "application/json", "talk-transcript.json"},
		{"/rooms/talk/transcript.md", "", "text/markdown", "talk-transcript.md"},
		{"/rooms/talk/transcript", "application/json", "application/json", "talk-transcript.json"},
		{"/rooms/talk/transcript", "text/markdown, text/plain;q=0.5", "text/markdown", "talk-transcript.md"},
		{"/rooms/talk/transcript", "text/plain;q=0.1, application/json;q=0.9", "application/json", "talk-transcript.json"},
		{"/rooms/talk/transcript", "text/html,*/*", "text/plain", "talk-transcript.txt"},
	} {
		resp, _ := get(tt.path, "Accept", tt.accept)
		if got := resp.Header.Get("Content-Type"); got != tt.ctype+"; charset=utf-8" {
			t.Errorf("%s (Accept %q): Content-Type %q, want %s", tt.path, tt.accept, got, tt.ctype)
		}
		if got := resp.Header.Get("Content-Disposition"); got != `attachment; filename=`+tt.file {
			t.Errorf("%s: Content-Disposition %q, want attachment of %s", tt.path, got, tt.file)
		}
	}

	_, text := get("/rooms/talk/transcript.txt")
	for _, want := range []string{"Q&A *live*\n", "room: talk\n", "ends 2026-11-26T14:00:00Z", "2 messages",
		"[2026-11-26 13:00:00Z] alice: hello **world**\n", "bob: two\n    lines <b>\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text transcript lacks %q:\n%s", want, text)
		}
	}
	_, md := get("/rooms/talk/transcript.md")
	for _, want := range []string{"# Q\\&A \\*live\\*\n", "Room `talk`", "- **alice** (2026-11-26 13:00:00Z): hello \\*\\*world\\*\\*\n",
		"- **bob** (2026-11-26 13:00:00Z): two\\\n  lines \\<b\\>\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown transcript lacks %q:\n%s", want, md)
		}
	}
	_, js := get("/rooms/talk/transcript.json")
	var tr struct {
		Room     chat.RoomState `json:"room"`
		Messages []chat.Message `json:"messages"`
	}
	if err := json.Unmarshal([]byte(js), &tr); err != nil {
		t.Fatalf("JSON transcript: %v\n%s", err, js)
	}
	if tr.Room.Title != "Q&A *live*" || len(tr.Messages) != 2 || tr.Messages[1].Text != "two\nlines <b>" {
		t.Errorf("JSON transcript %+v", tr)
	}
	if resp, _ := a.do(t, "HEAD", "/rooms/talk/transcript.md", "", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.Itoa(len(md)) {
		t.Errorf("HEAD transcript: %d, length %q, want 200 and %d", resp.StatusCode, resp.Header.Get("Content-Length"), len(md))
	}
	if resp, _ := a.do(t, "GET", "/rooms/nobody/transcript", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("transcript of an unknown room: %d, want 404", resp.StatusCode)
	}
	// It stays while the history does: through an ended room's grace.
	a.clock.Advance(time.Hour + 5*time.Minute)
	if _, text := get("/rooms/talk/transcript.txt"); !strings.Contains(text, "ended 2026-11-26T14:00:00Z") || !strings.Contains(text, "hello") {
		t.Errorf("transcript during the grace period:\n%s", text)
	}
}

// With private rooms, the transcript has the room's read permission, the
// host API takes a token host claim in place of a key, and starting a
// room takes a host claim for it.
func TestPrivateRooms(t *testing.T) {
	a := newRoomsApp(t, handlers.Options{AuthSecret: authSecret})
	hostTok := bearer(token(t, "host", time.Hour, auth.Rooms{Read: []string{"priv"}, Write: []string{"priv"}, Host: []string{"priv"}}))
	reader := bearer(token(t, "reader", time.Hour, auth.Rooms{Read: []string{"priv"}, Write: []string{"priv"}}))
	writeOnly := bearer(token(t, "writer", time.Hour, auth.Rooms{Write: []string{"priv"}}))
	anyHost := bearer(token(t, "boss", time.Hour, auth.Rooms{Host: []string{"*"}}))

	resp, body := a.do(t, "POST", "/api/rooms", "application/json", `{"name":"priv","lifetime":"1h"}`)
	wantError(t, "start without a token", resp, body, http.StatusUnauthorized, "token")
	resp, body = a.do(t, "POST", "/api/rooms", "application/json", `{"name":"priv","lifetime":"1h"}`, reader...)
	wantError(t, "start without a host claim", resp, body, http.StatusForbidden, "host")
	resp, body = a.do(t, "POST", "/api/rooms", "application/json", `{"lifetime":"1h"}`, hostTok...)
	wantError(t, "a generated name with a host claim for one room", resp, body, http.StatusForbidden, "host")
	a.start(t, `{"name":"priv","title":"secret title","lifetime":"1h"}`, hostTok...)
	a.start(t, `{"lifetime":"1h"}`, anyHost...)

	resp, body = a.do(t, "POST", "/api/rooms/priv/messages", "application/json", `{"message":"the secret text"}`, reader...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	for _, h := range [][]string{nil, writeOnly} {
		for _, p := range []string{"/rooms/priv/transcript", "/rooms/priv/transcript.json", "/rooms/priv/transcript.md", "/api/rooms/priv"} {
			resp, body := a.do(t, "GET", p, "", "", h...)
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s with %v: %d, want 401 or 403", p, h, resp.StatusCode)
			}
			if strings.Contains(body, "secret text") || strings.Contains(body, "secret title") {
				t.Errorf("GET %s with %v reveals the room: %s", p, h, body)
			}
		}
	}
	if resp, body := a.do(t, "GET", "/rooms/priv/transcript.txt", "", "", reader...); resp.StatusCode != http.StatusOK || !strings.Contains(body, "the secret text") {
		t.Errorf("transcript for a reader: %d %s", resp.StatusCode, body)
	}

	resp, body = a.do(t, "POST", "/api/rooms/priv/host/lock", "", "", reader...)
	wantError(t, "lock by a reader", resp, body, http.StatusForbidden, "host key is not valid")
	resp, body = a.do(t, "POST", "/api/rooms/priv/host/lock", "", "", hostTok...)
	if resp.StatusCode != http.StatusOK || !decodeState(t, body).Locked {
		t.Errorf("lock by a host token: %d %s", resp.StatusCode, body)
	}
	// The key alone makes a host too.
	resp, body = a.do(t, "POST", "/api/rooms/priv/host/unlock", "", "", "X-Host-Key", a.svc.HostKey("priv"))
	if resp.StatusCode != http.StatusOK || decodeState(t, body).Locked {
		t.Errorf("unlock by key: %d %s", resp.StatusCode, body)
	}
	resp, body = a.do(t, "POST", "/api/rooms/priv/host/lock", "", "", "Authorization", "Bearer not-a-token")
	wantError(t, "lock with a bad token", resp, body, http.StatusUnauthorized, "token")
}
