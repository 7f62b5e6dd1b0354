package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/auth"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestTokenCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-name", " alice ", "-read", "lobby, game-42,support-*", "-write", "game-42", "-ttl", "30m", "-sub", "user-7"}
	if err := runToken(args, env(map[string]string{"CHAT_AUTH_SECRET": testSecret}), &out, &errOut); err != nil {
		t.Fatalf("chat token %s: %v (%s)", strings.Join(args, " "), err, errOut.String())
	}
	tok := strings.TrimSuffix(out.String(), "\n")
	c, err := auth.Verify([]byte(testSecret), tok)
	if err != nil {
		t.Fatalf("Verify(%q): %v", tok, err)
	}
	if c.Name != "alice" || c.Subject != "user-7" {
		t.Errorf("name %q, sub %q; want alice, user-7", c.Name, c.Subject)
	}
	if diff := cmp.Diff(auth.Rooms{Read: []string{"lobby", "game-42", "support-*"}, Write: []string{"game-42"}}, c.Rooms); diff != "" {
		t.Errorf("rooms (-want +got):\n%s", diff)
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != 30*time.Minute {
		t.Errorf("exp - iat = %s, want 30m", ttl)
	}
	if time.Until(c.ExpiresAt.Time) > 30*time.Minute {
		t.Errorf("expires at %s, more than 30m from now", c.ExpiresAt)
	}

	// -host alone makes a host token.
	out.Reset()
	if err := runToken([]string{"-name", "mod", "-host", "game-*"}, env(map[string]string{"CHAT_AUTH_SECRET": testSecret}), &out, &errOut); err != nil {
		t.Fatalf("chat token -host: %v", err)
	}
	if c, err := auth.Verify([]byte(testSecret), strings.TrimSpace(out.String())); err != nil || !c.CanHost("game-1") || c.CanHost("lobby") || c.CanRead("game-1") {
		t.Errorf("host game-* token: %+v, %v", c, err)
	}

	// -secret instead of the environment.
	out.Reset()
	if err := runToken([]string{"-secret", testSecret, "-name", "bob", "-write", "*"}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("chat token -secret: %v", err)
	}
	if c, err := auth.Verify([]byte(testSecret), strings.TrimSpace(out.String())); err != nil || !c.CanWrite("anything") || c.CanRead("anything") {
		t.Errorf("write * token: %+v, %v", c, err)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	secret := map[string]string{"CHAT_AUTH_SECRET": testSecret}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no secret", []string{"-name", "a", "-read", "lobby"}, nil, "CHAT_AUTH_SECRET"},
		{"short secret", []string{"-name", "a", "-read", "lobby"}, map[string]string{"CHAT_AUTH_SECRET": "short"}, "CHAT_AUTH_SECRET: must be at least 32 bytes"},
		{"no name", []string{"-read", "lobby"}, secret, "-name"},
		{"long name", []string{"-name", strings.Repeat("a", 33), "-read", "lobby"}, secret, "-name"},
		{"no rooms", []string{"-name", "a"}, secret, "-read, -write or -host"},
		{"bad room", []string{"-name", "a", "-read", "lobby,no spaces"}, secret, `-read: "no spaces"`},
		{"star inside", []string{"-name", "a", "-write", "g*me"}, secret, `-write: "g*me"`},
		{"zero ttl", []string{"-name", "a", "-read", "lobby", "-ttl", "0s"}, secret, "-ttl"},
		{"unknown flag", []string{"-nom", "a"}, secret, "-nom"},
		{"stray argument", []string{"-name", "a", "-read", "lobby", "extra"}, secret, `"extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runToken(tt.args, env(tt.env), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("chat token %s: error %v, want one saying %q", strings.Join(tt.args, " "), err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on error", out.String())
			}
		})
	}
}

func TestLoadConfigAuthSecret(t *testing.T) {
	t.Setenv("CHAT_AUTH_SECRET", "too short")
	_, err := loadConfig()
	if err == nil || !strings.Contains(err.Error(), "CHAT_AUTH_SECRET") || strings.Contains(err.Error(), "too short") {
		t.Errorf("short CHAT_AUTH_SECRET: error %v, want one naming the variable, not the value", err)
	}
	t.Setenv("CHAT_AUTH_SECRET", testSecret)
	c, err := loadConfig()
	if err != nil || c.AuthSecret != testSecret {
		t.Errorf("loadConfig: %v, secret set %v", err, c.AuthSecret == testSecret)
	}
}
