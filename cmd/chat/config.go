package main

import (
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
	if c.AuthSecret != "" && len(c.AuthSecret) < auth.MinSecretLen {
		// Never echo the secret.
		errs = append(errs, fmt.Errorf("CHAT_AUTH_SECRET: must be at least %d bytes, got %d", auth.MinSecretLen, len(c.AuthSecret)))
	}
	return errors.Join(errs...)
}
