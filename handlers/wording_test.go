package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/handlers"
)

// TestErrorWording: what was wrong reaches people as plain words, on the
// pages and in the API; ErrInvalid's own text ("invalid input") only
// classifies and never shows.
func TestErrorWording(t *testing.T) {
	a := newApp(t, handlers.Options{})
	long := strings.Repeat("x", 2001)
	for _, c := range []struct {
		what, method, path, contentType, body, want string
	}{
		{"a form post without a name", "POST", "/rooms/r/messages", formType, form("username", "", "message", "hi"), "Your message was not sent: name is empty."},
		{"an API post of a long message", "POST", "/api/rooms/r/messages", "application/json", `{"username":"a","message":"` + long + `"}`, `{"error":"message is longer than 2000 characters"}`},
		{"a bad room name", "GET", "/rooms/no%20spaces", "", "", "room name may contain only"},
		{"a lobby join without a room", "POST", "/join", formType, form("username", "a", "room", ""), "room name is empty"},
	} {
		resp, body := a.do(t, c.method, c.path, c.contentType, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) || strings.Contains(body, "invalid input") {
			t.Errorf("%s: %d, body %.300q; want 400 saying %q and never \"invalid input\"", c.what, resp.StatusCode, body, c.want)
		}
	}
}
