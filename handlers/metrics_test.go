package handlers_test

import (
	"strings"
	"testing"

	"github.com/sessionchat/sessionchat/handlers"
)

func TestMetrics(t *testing.T) {
	a := newApp(t, handlers.Options{})
	a.openStream(t, "/api/rooms/secret-room/events")
	a.post(t, "secret-room", "alice", "a private thought")
	a.do(t, "POST", "/api/rooms/secret-room/messages", "application/json", `{"username":"alice","message":""}`)
	a.do(t, "POST", "/api/rooms/secret-room/messages", "text/plain", `hi`)
	_, body := a.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{
		"chat_posts_total 1",
		`chat_rejected_requests_total{reason="invalid"} 1`,
		`chat_rejected_requests_total{reason="not_json"} 1`,
		"chat_streams 1",
		"chat_rooms 1",
		"chat_deliveries_total 1",
		"chat_post_duration_seconds_count 1",
		"chat_store_errors_total 0",
		"chat_dropped_streams_total 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, secret := range []string{"secret-room", "alice", "a private thought"} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics contain %q", secret)
		}
	}
}
