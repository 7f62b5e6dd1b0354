package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/momento"
)

// Config is the server's configuration, read from the environment with
// the prefix CHAT_ (docs/configuration.md has the table).
type Config struct {
	Addr                string        `envconfig:"ADDR" default:":8080"`
	Store               string        `envconfig:"STORE" default:"memory"`
	HistoryTTL          time.Duration `envconfig:"HISTORY_TTL" default:"1h"`
	HistoryLimit        int           `envconfig:"HISTORY_LIMIT" default:"500"`
	PostRate            float64       `envconfig:"POST_RATE" default:"4"`
	PostBurst           int           `envconfig:"POST_BURST" default:"60"`
	MaxStreamsPerClient int           `envconfig:"MAX_STREAMS_PER_CLIENT" default:"128"`
	MaxStreamsPerRoom   int           `envconfig:"MAX_STREAMS_PER_ROOM" default:"5000"`
	EmbedOrigins        Origins       `envconfig:"EMBED_ORIGINS"`
	CORSOrigins         Origins       `envconfig:"CORS_ORIGINS"`
	TrustedProxies      Prefixes      `envconfig:"TRUSTED_PROXIES"`
	TLSCert             string        `envconfig:"TLS_CERT"`
	TLSKey              string        `envconfig:"TLS_KEY"`
	Heartbeat           time.Duration `envconfig:"HEARTBEAT" default:"15s"`
	StallTimeout        time.Duration `envconfig:"STALL_TIMEOUT" default:"30s"` // the stalled-writer bound of event streams
	MemoryLimit         int64         `envconfig:"MEMORY_LIMIT" default:"268435456"`
	ReadHeaderTimeout   time.Duration `envconfig:"READ_HEADER_TIMEOUT" default:"5s"`
	ReadTimeout         time.Duration `envconfig:"READ_TIMEOUT" default:"15s"`
	WriteTimeout        time.Duration `envconfig:"WRITE_TIMEOUT" default:"30s"`
	AuthSecret          string        `envconfig:"AUTH_SECRET"` // private rooms when set
	// Rooms with a lifetime: how long an ended room's history stays
	// readable, the longest lifetime (unset: 24h, or with Momento 24h
	// less the grace, Momento's longest TTL), and the secret of host
	// links (unset: derived, see hostSecret).
	RoomGrace       time.Duration `envconfig:"ROOM_GRACE" default:"10m"`
	MaxRoomLifetime time.Duration `envconfig:"MAX_ROOM_LIFETIME"`
	HostSecret      string        `envconfig:"HOST_SECRET"`

	// With prefix CHAT, MOMENTO_API_KEY reads CHAT_MOMENTO_API_KEY or,
	// failing that, plain MOMENTO_API_KEY.
	MomentoAPIKey   string `envconfig:"MOMENTO_API_KEY"`
	MomentoCache    string `envconfig:"MOMENTO_CACHE" default:"chat"`
	MomentoEndpoint string `envconfig:"MOMENTO_ENDPOINT"`
	// MomentoTopicRate is the account's Topics quota (operations per
	// second) that the instances share when they publish.
	MomentoTopicRate float64 `envconfig:"MOMENTO_TOPIC_RATE" default:"10"`
	// StartupTimeout is how long start-up retries a store that does not
	// answer yet (Momento starting beside the chat); 0 tries once.
	StartupTimeout time.Duration `envconfig:"STARTUP_TIMEOUT" default:"30s"`
}

// Origins is a space-separated list of web origins, such as
// "https://a.example https://b.example:8443".
type Origins []string

// Decode implements envconfig.Decoder.
func (o *Origins) Decode(s string) error {
	*o = nil
	for _, f := range strings.Fields(s) {
		u, err := url.Parse(f)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%q is not an origin like https://example.com", f)
		}
		*o = append(*o, u.Scheme+"://"+u.Host)
	}
	return nil
}

// Prefixes is a list of IP networks separated by spaces or commas, such
// as "10.0.0.0/8 192.168.1.7"; a bare address is a network of one.
type Prefixes []netip.Prefix

// Decode implements envconfig.Decoder.
func (p *Prefixes) Decode(s string) error {
	*p = nil
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		pre, err := netip.ParsePrefix(f)
		if err != nil {
			addr, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return fmt.Errorf("%q is not an IP network like 10.0.0.0/8", f)
			}
			pre = netip.PrefixFrom(addr, addr.BitLen())
		}
		*p = append(*p, pre.Masked())
	}
	return nil
}

// maxRoomLifetime is the longest a room may last: CHAT_MAX_ROOM_LIFETIME,
// or the most the store allows (Momento keeps an item 24h at most, and a
// room's history lives its lifetime and the grace).
func (c Config) maxRoomLifetime() time.Duration {
	switch {
	case c.MaxRoomLifetime > 0:
		return c.MaxRoomLifetime
	case c.Store == "momento":
		return momento.MaxTTL - c.RoomGrace
	}
	return 24 * time.Hour
}

// hostSecret is the secret that signs host links, and where it came
// from: CHAT_HOST_SECRET; else derived from CHAT_AUTH_SECRET; else from
// the store's own secret (Momento: its API key), which every instance of
// one chat shares; else nil (the service draws a random one: host links
// then die with the process, as the embedded store's rooms do).
func (c Config) hostSecret(store func() ([]byte, bool)) (secret []byte, from string) {
	switch {
	case c.HostSecret != "":
		return []byte(c.HostSecret), "CHAT_HOST_SECRET"
	case c.AuthSecret != "":
		m := hmac.New(sha256.New, []byte(c.AuthSecret))
		m.Write([]byte("sessionchat host secret"))
		return m.Sum(nil), "CHAT_AUTH_SECRET"
	case store != nil:
		if s, keyed := store(); len(s) > 0 {
			if keyed {
				return s, "MOMENTO_API_KEY"
			}
			return s, "unkeyed"
		}
	}
	return nil, "random"
}

// loadConfig reads the environment: the only place that does.
func loadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("chat", &c); err != nil {
		return c, err
	}
	return c, c.validate()
}

// validate checks the rules that span fields or that types cannot say.
func (c Config) validate() error {
	var errs []error
	switch c.Store {
	case "memory":
	case "momento":
		if c.MomentoAPIKey == "" && c.MomentoEndpoint == "" {
			errs = append(errs, errors.New("MOMENTO_API_KEY: required with CHAT_STORE=momento (or set CHAT_MOMENTO_ENDPOINT for a local server)"))
		}
		if c.MomentoTopicRate <= 0 {
			errs = append(errs, fmt.Errorf("CHAT_MOMENTO_TOPIC_RATE=%g: must be positive (Momento's default quota is 10)", c.MomentoTopicRate))
		}
		if c.MomentoCache == "" {
			errs = append(errs, errors.New("CHAT_MOMENTO_CACHE: must not be empty"))
		}
		if c.HistoryTTL < time.Second || c.HistoryTTL > momento.MaxTTL {
			errs = append(errs, fmt.Errorf("CHAT_HISTORY_TTL=%s: Momento keeps items from 1s to %s", c.HistoryTTL, momento.MaxTTL))
		}
	default:
		errs = append(errs, fmt.Errorf("CHAT_STORE=%q: the store must be memory or momento", c.Store))
	}
	if c.HistoryTTL <= 0 {
		errs = append(errs, fmt.Errorf("CHAT_HISTORY_TTL=%s: must be positive", c.HistoryTTL))
	}
	if c.HistoryLimit < 1 {
		errs = append(errs, fmt.Errorf("CHAT_HISTORY_LIMIT=%d: must be at least 1", c.HistoryLimit))
	}
	if c.PostRate < 0 {
		errs = append(errs, fmt.Errorf("CHAT_POST_RATE=%g: must be 0 (unlimited) or more", c.PostRate))
	}
	if c.PostBurst < 0 {
		errs = append(errs, fmt.Errorf("CHAT_POST_BURST=%d: must be 0 or more", c.PostBurst))
	}
	if c.MaxStreamsPerRoom < 0 {
		errs = append(errs, fmt.Errorf("CHAT_MAX_STREAMS_PER_ROOM=%d: must be 0 (unlimited) or more", c.MaxStreamsPerRoom))
	}
	if c.MaxStreamsPerClient < 0 {
		errs = append(errs, fmt.Errorf("CHAT_MAX_STREAMS_PER_CLIENT=%d: must be 0 (unlimited) or more", c.MaxStreamsPerClient))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("CHAT_TLS_CERT and CHAT_TLS_KEY: set both, or neither"))
	}
	if c.Heartbeat <= 0 {
		errs = append(errs, fmt.Errorf("CHAT_HEARTBEAT=%s: must be positive", c.Heartbeat))
	}
	if c.StallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CHAT_STALL_TIMEOUT=%s: must be positive", c.StallTimeout))
	}
	if c.StartupTimeout < 0 {
		errs = append(errs, fmt.Errorf("CHAT_STARTUP_TIMEOUT=%s: must be 0 (try once) or more", c.StartupTimeout))
	}
	if c.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("CHAT_MEMORY_LIMIT=%d: must be 0 (no cap) or more bytes", c.MemoryLimit))
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"CHAT_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout}, {"CHAT_READ_TIMEOUT", c.ReadTimeout}, {"CHAT_WRITE_TIMEOUT", c.WriteTimeout}} {
		if t.d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%s: must be positive", t.name, t.d))
		}
	}
	if c.RoomGrace <= 0 {
		errs = append(errs, fmt.Errorf("CHAT_ROOM_GRACE=%s: must be positive", c.RoomGrace))
	}
	switch {
	case c.MaxRoomLifetime < 0 || c.MaxRoomLifetime > 0 && c.MaxRoomLifetime < time.Minute:
		errs = append(errs, fmt.Errorf("CHAT_MAX_ROOM_LIFETIME=%s: must be a minute or more", c.MaxRoomLifetime))
	case c.Store == "momento" && c.RoomGrace >= momento.MaxTTL:
		errs = append(errs, fmt.Errorf("CHAT_ROOM_GRACE=%s: with Momento the grace and a room's lifetime together are at most %s", c.RoomGrace, momento.MaxTTL))
	case c.Store == "momento" && c.MaxRoomLifetime+c.RoomGrace > momento.MaxTTL:
		errs = append(errs, fmt.Errorf("CHAT_MAX_ROOM_LIFETIME=%s: with Momento a room's lifetime and CHAT_ROOM_GRACE=%s together are at most %s", c.MaxRoomLifetime, c.RoomGrace, momento.MaxTTL))
	}
	if c.HostSecret != "" && len(c.HostSecret) < auth.MinSecretLen {
		errs = append(errs, fmt.Errorf("CHAT_HOST_SECRET: must be at least %d bytes, got %d", auth.MinSecretLen, len(c.HostSecret)))
	}
	if c.AuthSecret != "" && len(c.AuthSecret) < auth.MinSecretLen {
		// Never echo the secret.
		errs = append(errs, fmt.Errorf("CHAT_AUTH_SECRET: must be at least %d bytes, got %d", auth.MinSecretLen, len(c.AuthSecret)))
	}
	return errors.Join(errs...)
}
