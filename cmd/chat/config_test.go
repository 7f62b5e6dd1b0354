package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig()
	if err != nil {
		t.Fatalf("loadConfig with no environment: %v", err)
	}
	want := Config{
		Addr: ":8080", Store: "memory", HistoryTTL: time.Hour, HistoryLimit: 500,
		PostRate: 4, PostBurst: 60, MaxStreamsPerClient: 128, MaxStreamsPerRoom: 5000, Heartbeat: 15 * time.Second, StallTimeout: 30 * time.Second,
		MemoryLimit: 256 << 20, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second,
		MomentoCache: "chat", MomentoTopicRate: 10, StartupTimeout: 30 * time.Second,
		RoomGrace: 10 * time.Minute,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigFromEnvironment(t *testing.T) {
	t.Setenv("CHAT_ADDR", "127.0.0.1:9999")
	t.Setenv("CHAT_HISTORY_TTL", "30m")
	t.Setenv("CHAT_EMBED_ORIGINS", "https://a.example  http://localhost:3000/")
	t.Setenv("CHAT_POST_RATE", "0")
	t.Setenv("CHAT_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 fd00::/8")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.HistoryTTL != 30*time.Minute || c.PostRate != 0 {
		t.Errorf("got %+v", c)
	}
	if diff := cmp.Diff(Origins{"https://a.example", "http://localhost:3000"}, c.EmbedOrigins); diff != "" {
		t.Errorf("embed origins (-want +got):\n%s", diff)
	}
	wantProxies := Prefixes{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/8")}
	if diff := cmp.Diff(wantProxies, c.TrustedProxies, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("trusted proxies (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	tests := map[string]string{
		"CHAT_HISTORY_TTL":            "soon",
		"CHAT_HISTORY_LIMIT":          "0",
		"CHAT_STORE":                  "redis",
		"CHAT_POST_RATE":              "-1",
		"CHAT_MAX_STREAMS_PER_CLIENT": "many",
		"CHAT_EMBED_ORIGINS":          "example.com",
		"CHAT_HEARTBEAT":              "0s",
		"CHAT_TRUSTED_PROXIES":        "10.0.0.0/33",
		"CHAT_CORS_ORIGINS":           "*",
		"CHAT_TLS_CERT":               "cert.pem",
		"CHAT_MAX_STREAMS_PER_ROOM":   "-1",
		"CHAT_MEMORY_LIMIT":           "-1",
		"CHAT_READ_HEADER_TIMEOUT":    "0s",
		"CHAT_ROOM_GRACE":             "0s",
		"CHAT_MAX_ROOM_LIFETIME":      "30s",
		"CHAT_HOST_SECRET":            "too short",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := loadConfig()
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %v, want one naming %s", name, value, err, name)
			}
		})
	}
}

func TestLoadConfigMomento(t *testing.T) {
	t.Run("plain MOMENTO_API_KEY", func(t *testing.T) {
		t.Setenv("CHAT_STORE", "momento")
		t.Setenv("MOMENTO_API_KEY", "secret")
		c, err := loadConfig()
		if err != nil || c.MomentoAPIKey != "secret" {
			t.Errorf("got key %q, %v; want secret", c.MomentoAPIKey, err)
		}
	})
	t.Run("endpoint without a key", func(t *testing.T) {
		t.Setenv("CHAT_STORE", "momento")
		t.Setenv("CHAT_MOMENTO_ENDPOINT", "127.0.0.1:9090")
		if _, err := loadConfig(); err != nil {
			t.Errorf("loadConfig: %v", err)
		}
	})
	for name, env := range map[string]map[string]string{
		"MOMENTO_API_KEY":        {"CHAT_STORE": "momento"},
		"CHAT_HISTORY_TTL":       {"CHAT_STORE": "momento", "MOMENTO_API_KEY": "k", "CHAT_HISTORY_TTL": "25h"},
		"CHAT_MAX_ROOM_LIFETIME": {"CHAT_STORE": "momento", "MOMENTO_API_KEY": "k", "CHAT_MAX_ROOM_LIFETIME": "24h"},
		"CHAT_ROOM_GRACE":        {"CHAT_STORE": "momento", "MOMENTO_API_KEY": "k", "CHAT_ROOM_GRACE": "24h"},
	} {
		t.Run("missing or bad "+name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("error %v, want one naming %s", err, name)
			}
		})
	}
}

// A room's lifetime is capped at 24h, and with Momento so that its
// history (lifetime and grace) fits in Momento's longest TTL.
func TestMaxRoomLifetime(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want time.Duration
	}{
		{Config{Store: "memory", RoomGrace: 10 * time.Minute}, 24 * time.Hour},
		{Config{Store: "momento", RoomGrace: 10 * time.Minute}, 23*time.Hour + 50*time.Minute},
		{Config{Store: "momento", RoomGrace: time.Hour, MaxRoomLifetime: 2 * time.Hour}, 2 * time.Hour},
		{Config{Store: "memory", MaxRoomLifetime: 72 * time.Hour}, 72 * time.Hour},
	} {
		if got := tt.c.maxRoomLifetime(); got != tt.want {
			t.Errorf("%s, grace %s, CHAT_MAX_ROOM_LIFETIME=%s: %s, want %s", tt.c.Store, tt.c.RoomGrace, tt.c.MaxRoomLifetime, got, tt.want)
		}
	}
}

// The host secret comes from CHAT_HOST_SECRET, else CHAT_AUTH_SECRET
// (derived, never itself), else the store, else nowhere (random).
func TestHostSecret(t *testing.T) {
	const host, authSecret = "a host secret of at least 32 bytes!", "an auth secret of at least 32 bytes!"
	store := func() ([]byte, bool) { return []byte("from the store"), true }
	unkeyed := func() ([]byte, bool) { return []byte("from the endpoint"), false }
	for _, tt := range []struct {
		c          Config
		store      func() ([]byte, bool)
		secret     string // "" = any but the auth secret
		from       string
		wantSecret bool
	}{
		{Config{HostSecret: host, AuthSecret: authSecret}, store, host, "CHAT_HOST_SECRET", true},
		{Config{AuthSecret: authSecret}, store, "", "CHAT_AUTH_SECRET", true},
		{Config{}, store, "from the store", "MOMENTO_API_KEY", true},
		{Config{}, unkeyed, "from the endpoint", "unkeyed", true},
		{Config{}, nil, "", "random", false},
	} {
		secret, from := tt.c.hostSecret(tt.store)
		if from != tt.from || (len(secret) > 0) != tt.wantSecret || tt.secret != "" && string(secret) != tt.secret {
			t.Errorf("%+v: secret %q from %s, want %q from %s", tt.c, secret, from, tt.secret, tt.from)
		}
		if string(secret) == authSecret {
			t.Errorf("%+v: the host secret is the auth secret itself", tt.c)
		}
	}
	a, _ := Config{AuthSecret: authSecret}.hostSecret(nil)
	b, _ := Config{AuthSecret: authSecret}.hostSecret(nil)
	if string(a) != string(b) || len(a) != 32 {
		t.Errorf("derived from CHAT_AUTH_SECRET: %x then %x, want the same 32 bytes", a, b)
	}
}
