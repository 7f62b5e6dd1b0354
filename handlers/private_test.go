package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/handlers"
)

// TestNoRouteRevealsAPrivateRoom asks every route, as a visitor without a
// token, as a token that may post in the room but not read it and as a
// token for another room, and checks that no answer carries the room's
// history, nor its name unless the request named it.
func TestNoRouteRevealsAPrivateRoom(t *testing.T) {
	const (
		room   = "secret-room"
		author = "owner-carol"
		text   = "the launch code is 0000"
	)
	a := newApp(t, handlers.Options{AuthSecret: authSecret})
	owner := bearer(token(t, author, time.Hour, auth.Rooms{Read: []string{room}, Write: []string{room}}))
	if resp, body := a.do(t, "POST", "/api/rooms/"+room+"/messages", "application/json", `{"message":"`+text+`"}`, owner...); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the owner's post: status %d, body %s", resp.StatusCode, body)
	}
	// An open stream makes the room active, so that a listing would name it.
	a.openStream(t, "/api/rooms/"+room+"/events", owner...)

	writeTok := token(t, "writer", time.Hour, auth.Rooms{Write: []string{room}})
	writeOnly := bearer(writeTok)
	otherRoom := bearer(token(t, "dave", time.Hour, auth.Rooms{Read: []string{"other"}, Write: []string{"other"}}))
	const (
		form = "application/x-www-form-urlencoded"
		js   = "application/json"
	)
	tests := []struct {
		name                      string
		method, path, ctype, body string
		header                    []string
		want                      int
		namesRoom                 bool // the request names the room
	}{
		{"lobby", "GET", "/", "", "", nil, http.StatusOK, false},
		{"join, invalid form, no token", "POST", "/join", form, "username=&room=", nil, http.StatusBadRequest, false},
		{"join, invalid room, no token", "POST", "/join", form, "username=eve&room=" + strings.Repeat("x", 100), nil, http.StatusBadRequest, false},
		{"join, invalid form, write-only token", "POST", "/join", form, "username=&room=", writeOnly, http.StatusBadRequest, false},
		{"join, valid form", "POST", "/join", form, "username=eve&room=guess", nil, http.StatusSeeOther, false},

		{"room page, no token", "GET", "/rooms/" + room, "", "", nil, http.StatusUnauthorized, true},
		{"room page, write-only", "GET", "/rooms/" + room, "", "", writeOnly, http.StatusForbidden, true},
		{"room page, other room", "GET", "/rooms/" + room, "", "", otherRoom, http.StatusForbidden, true},
		{"room page, write-only token exchanged", "GET", "/rooms/" + room + "?token=" + writeTok, "", "", nil, http.StatusSeeOther, true},
		{"embed, no token", "GET", "/embed/" + room, "", "", nil, http.StatusUnauthorized, true},
		{"embed, write-only", "GET", "/embed/" + room, "", "", writeOnly, http.StatusForbidden, true},
		{"embed, other room", "GET", "/embed/" + room, "", "", otherRoom, http.StatusForbidden, true},

		{"form post, no token", "POST", "/rooms/" + room + "/messages", form, "message=hi", nil, http.StatusUnauthorized, true},
		{"form post, other room", "POST", "/rooms/" + room + "/messages", form, "message=hi", otherRoom, http.StatusForbidden, true},
		{"form post fails, write-only", "POST", "/rooms/" + room + "/messages", form, "message=", writeOnly, http.StatusBadRequest, true},
		{"form post fails on a bad form, write-only", "POST", "/rooms/" + room + "/messages", form, "message=%zz", writeOnly, http.StatusBadRequest, true},
		{"form post, write-only", "POST", "/rooms/" + room + "/messages", form, "message=hi", writeOnly, http.StatusSeeOther, true},
		{"embed form post fails, write-only", "POST", "/embed/" + room + "/messages", form, "message=", writeOnly, http.StatusBadRequest, true},
		{"embed form post, no token", "POST", "/embed/" + room + "/messages", form, "message=hi", nil, http.StatusUnauthorized, true},

		{"API history, no token", "GET", "/api/rooms/" + room + "/messages", "", "", nil, http.StatusUnauthorized, true},
		{"API history, write-only", "GET", "/api/rooms/" + room + "/messages", "", "", writeOnly, http.StatusForbidden, true},
		{"API history, other room", "GET", "/api/rooms/" + room + "/messages", "", "", otherRoom, http.StatusForbidden, true},
		{"API post fails, write-only", "POST", "/api/rooms/" + room + "/messages", js, `{"message":""}`, writeOnly, http.StatusBadRequest, true},
		{"API post, write-only", "POST", "/api/rooms/" + room + "/messages", js, `{"message":"hi"}`, writeOnly, http.StatusCreated, true},
		{"API post, no token", "POST", "/api/rooms/" + room + "/messages", js, `{"message":"hi"}`, nil, http.StatusUnauthorized, true},
		{"events, no token", "GET", "/api/rooms/" + room + "/events", "", "", nil, http.StatusUnauthorized, true},
		{"events, write-only", "GET", "/api/rooms/" + room + "/events", "", "", writeOnly, http.StatusForbidden, true},
		{"events, other room", "GET", "/api/rooms/" + room + "/events", "", "", otherRoom, http.StatusForbidden, true},

		{"transcript, no token", "GET", "/rooms/" + room + "/transcript", "", "", nil, http.StatusUnauthorized, true},
		{"transcript, write-only", "GET", "/rooms/" + room + "/transcript.txt", "", "", writeOnly, http.StatusForbidden, true},
		{"transcript, other room", "GET", "/rooms/" + room + "/transcript.json", "", "", otherRoom, http.StatusForbidden, true},
		{"transcript, write-only token exchanged", "GET", "/rooms/" + room + "/transcript.md?token=" + writeTok, "", "", nil, http.StatusSeeOther, true},
		{"room state, no token", "GET", "/api/rooms/" + room, "", "", nil, http.StatusUnauthorized, true},
		{"room state, write-only", "GET", "/api/rooms/" + room, "", "", writeOnly, http.StatusForbidden, true},
		{"room state, other room", "GET", "/api/rooms/" + room, "", "", otherRoom, http.StatusForbidden, true},
		{"host action, no key", "POST", "/api/rooms/" + room + "/host/lock", "", "", nil, http.StatusForbidden, true},
		{"host action, other room", "POST", "/api/rooms/" + room + "/host/end", "", "", otherRoom, http.StatusForbidden, true},
		{"host delete, write-only", "DELETE", "/api/rooms/" + room + "/messages/x-1", "", "", writeOnly, http.StatusForbidden, true},
		{"host form, no key", "POST", "/rooms/" + room + "/host/lock", form, "host=nope", nil, http.StatusForbidden, true},
		{"start, no token", "POST", "/api/rooms", js, `{"lifetime":"30m"}`, nil, http.StatusUnauthorized, false},
		{"start, no host claim", "POST", "/api/rooms", js, `{"lifetime":"30m"}`, otherRoom, http.StatusForbidden, false},
		{"lobby start form", "POST", "/rooms", form, "minutes=30", nil, http.StatusUnauthorized, false},

		{"not found under the room", "GET", "/rooms/" + room + "/nothing", "", "", writeOnly, http.StatusNotFound, true},
		{"not found under the API", "GET", "/api/rooms/" + room + "/nothing", "", "", writeOnly, http.StatusNotFound, true},
		{"not found", "GET", "/nothing", "", "", nil, http.StatusNotFound, false},
		{"wrong method on the room", "PUT", "/rooms/" + room, "", "", writeOnly, http.StatusMethodNotAllowed, true},
		{"wrong method on the API", "DELETE", "/api/rooms/" + room + "/messages", "", "", writeOnly, http.StatusMethodNotAllowed, true},
		{"health", "GET", "/healthz", "", "", nil, http.StatusOK, false},
		{"readiness", "GET", "/readyz", "", "", nil, http.StatusOK, false},
		{"metrics", "GET", "/metrics", "", "", nil, http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.do(t, tt.method, tt.path, tt.ctype, tt.body, tt.header...)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s: status %d, want %d; body %.300s", tt.method, tt.path, resp.StatusCode, tt.want, body)
			}
			var header strings.Builder
			_ = resp.Header.Write(&header)
			for _, secret := range []string{text, author} {
				if strings.Contains(body, secret) || strings.Contains(header.String(), secret) {
					t.Errorf("%s %s reveals %q: %.2000s", tt.method, tt.path, secret, body)
				}
			}
			if !tt.namesRoom && (strings.Contains(body, room) || strings.Contains(header.String(), room)) {
				t.Errorf("%s %s names the room: %.2000s", tt.method, tt.path, body)
			}
		})
	}
}
