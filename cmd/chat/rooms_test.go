package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startRoom posts body to /api/rooms and returns the status and the
// answer's host key and error.
func startRoom(t *testing.T, addr, body string) (status int, key, msg string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/api/rooms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct {
		HostKey string `json:"host_key"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST /api/rooms: %s: %v", b, err)
	}
	return resp.StatusCode, v.HostKey, v.Error
}

// With CHAT_HOST_SECRET (or CHAT_AUTH_SECRET) a room's host key is the
// same after a restart and on every instance; without, each process has
// its own.
func TestHostKeysSurviveARestart(t *testing.T) {
	keyOf := func(cfg Config) string {
		t.Helper()
		addr := serve(t, cfg)
		status, key, msg := startRoom(t, addr, `{"name":"standup","lifetime":"15m"}`)
		if status != http.StatusCreated {
			t.Fatalf("start: %d %s", status, msg)
		}
		return key
	}
	withSecret := baseConfig()
	withSecret.HostSecret = "a host secret of at least 32 bytes!"
	if a, b := keyOf(withSecret), keyOf(withSecret); a != b {
		t.Errorf("with CHAT_HOST_SECRET: host keys %q and %q, want the same", a, b)
	}
	withAuth := baseConfig()
	withAuth.AuthSecret = "an auth secret of at least 32 bytes!"
	// Private rooms: starting takes a host token, so compare the derived
	// secrets directly.
	a, _ := withAuth.hostSecret(nil)
	b, _ := withAuth.hostSecret(nil)
	if string(a) != string(b) {
		t.Error("the secret derived from CHAT_AUTH_SECRET differs between runs")
	}
	if x, y := keyOf(baseConfig()), keyOf(baseConfig()); x == y {
		t.Errorf("without a secret two processes share host key %q", x)
	}
}

// CHAT_MAX_ROOM_LIFETIME caps what a start may ask for.
func TestMaxRoomLifetimeIsApplied(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxRoomLifetime = time.Hour
	cfg.RoomGrace = time.Minute
	addr := serve(t, cfg)
	if status, _, msg := startRoom(t, addr, `{"lifetime":"61m"}`); status != http.StatusBadRequest || !strings.Contains(msg, "at most 1h") {
		t.Errorf("61m with a 1h cap: %d %q, want 400 saying at most 1h", status, msg)
	}
	if status, _, msg := startRoom(t, addr, `{"lifetime":"60m"}`); status != http.StatusCreated {
		t.Errorf("60m with a 1h cap: %d %q, want 201", status, msg)
	}
}
