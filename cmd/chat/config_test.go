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
		"MOMENTO_API_KEY":  {"CHAT_STORE": "momento"},
		"CHAT_HISTORY_TTL": {"CHAT_STORE": "momento", "MOMENTO_API_KEY": "k", "CHAT_HISTORY_TTL": "25h"},
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
