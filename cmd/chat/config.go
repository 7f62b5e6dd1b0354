package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sessionchat/sessionchat/momento"
)

// Config is the server's configuration, read from the environment with
// the prefix CHAT_ (see the README for the table).
type Config struct {
	Addr                string        `envconfig:"ADDR" default:":8080"`
	Store               string        `envconfig:"STORE" default:"memory"`
	HistoryTTL          time.Duration `envconfig:"HISTORY_TTL" default:"1h"`
	HistoryLimit        int           `envconfig:"HISTORY_LIMIT" default:"500"`
	PostRate            float64       `envconfig:"POST_RATE" default:"2"`
	PostBurst           int           `envconfig:"POST_BURST" default:"10"`
	MaxStreamsPerClient int           `envconfig:"MAX_STREAMS_PER_CLIENT" default:"32"`
	EmbedOrigins        Origins       `envconfig:"EMBED_ORIGINS"`
	Heartbeat           time.Duration `envconfig:"HEARTBEAT" default:"15s"`

	// With prefix CHAT, MOMENTO_API_KEY reads CHAT_MOMENTO_API_KEY or,
	// failing that, plain MOMENTO_API_KEY.
	MomentoAPIKey   string `envconfig:"MOMENTO_API_KEY"`
	MomentoCache    string `envconfig:"MOMENTO_CACHE" default:"chat"`
	MomentoEndpoint string `envconfig:"MOMENTO_ENDPOINT"`
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
	if c.MaxStreamsPerClient < 0 {
		errs = append(errs, fmt.Errorf("CHAT_MAX_STREAMS_PER_CLIENT=%d: must be 0 (unlimited) or more", c.MaxStreamsPerClient))
	}
	if c.Heartbeat <= 0 {
		errs = append(errs, fmt.Errorf("CHAT_HEARTBEAT=%s: must be positive", c.Heartbeat))
	}
	return errors.Join(errs...)
}
