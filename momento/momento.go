// Package momento is the chat's Momento backend: room histories in
// Momento Cache lists (Store) and new messages carried between instances
// by Momento Topics (Broker), so that many instances share rooms.
//
// It imports the domain (chat) and the Momento SDK, never handlers.
//
// Layout, shared with the Socket.io app this project grew from: in the
// cache (default "chat"), one list per room named after the room, one JSON
// message per item. Each room also has a counter, "seq:<room>", whose
// value is the room's epoch (seconds since 2026, in the high 32 bits) and
// sequence (low 32 bits), written by Increment alone: message ids are
// unique and ordered across instances, and a room that expired and came
// back starts a later epoch.
//
// What each call costs at Momento's prices, and the quotas it must fit,
// are in docs/momento.md.
package momento

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/momentohq/client-sdk-go/auth"
	"github.com/momentohq/client-sdk-go/config"
	"github.com/momentohq/client-sdk-go/config/logger"
	"github.com/momentohq/client-sdk-go/config/retry"
	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"

	"github.com/sessionchat/sessionchat/chat"
)

// MaxTTL is Momento's longest time to live.
const MaxTTL = 24 * time.Hour

// Config says how to reach Momento and how to keep rooms.
type Config struct {
	APIKey   string        // may be empty with an Endpoint
	Endpoint string        // host:port of a plaintext Momento-compatible server; "" = the key's endpoints
	Cache    string        // created at Open if missing
	Topic    string        // the topic every instance subscribes to; "chat-events" when empty
	TTL      time.Duration // a room's life after its last post, at most MaxTTL
	Limit    int           // messages kept per room

	// Now is the clock that dates new epochs; time.Now when nil.
	Now func() time.Time

	// NewTopicClient makes topic clients (default: the SDK's, with its
	// own retries off). Tests wrap it to keep SDK v1.38.0's racy
	// TopicClient.Close out of the race detector's sight.
	NewTopicClient func(auth.CredentialProvider) (sdk.TopicClient, error)
	// WrapCacheClient, when set, wraps the cache clients (tests: to lose
	// an answer).
	WrapCacheClient func(sdk.CacheClient) sdk.CacheClient

	// TopicRate is the account's topic quota in operations per second,
	// which this instance shares with the others it sees on the topic
	// (see Broker); DefaultTopicRate when 0.
	TopicRate float64
}

// DefaultTopicRate is Momento's default Topics quota: 10 operations per
// second per region, each publish and each delivery of it one or more.
const DefaultTopicRate = 10

// Backend holds the Momento clients of one instance.
type Backend struct {
	cfg   Config
	creds auth.CredentialProvider
	close func()
	store *Store
	log   *slog.Logger
}

// Open connects to Momento and creates the cache if it is missing. It
// fails at once when Momento cannot be reached.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Backend, error) {
	if cfg.TTL <= 0 || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("history TTL %s: Momento keeps items between 1s and %s", cfg.TTL, MaxTTL)
	}
	if cfg.Topic == "" {
		cfg.Topic = "chat-events"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewTopicClient == nil {
		cfg.NewTopicClient = newTopicClient
	}
	creds, err := Credentials(cfg.APIKey, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.TopicRate <= 0 {
		cfg.TopicRate = DefaultTopicRate
	}
	cc, err := sdk.NewCacheClient(CacheConfig(), creds, cfg.TTL)
	if err != nil {
		return nil, fmt.Errorf("momento: connect: %w", err)
	}
	strict, err := sdk.NewCacheClient(CacheConfig().WithReadConcern(config.CONSISTENT), creds, cfg.TTL)
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("momento: connect: %w", err)
	}
	closeAll := func() { cc.Close(); strict.Close() }
	resp, err := cc.CreateCache(ctx, &sdk.CreateCacheRequest{CacheName: cfg.Cache})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("momento: create cache %q: %w", cfg.Cache, err)
	}
	if _, ok := resp.(*responses.CreateCacheSuccess); ok {
		log.Info("momento: created cache", "cache", cfg.Cache)
	}
	b := &Backend{cfg: cfg, creds: creds, close: closeAll, log: log}
	if cfg.WrapCacheClient != nil {
		cc, strict = cfg.WrapCacheClient(cc), cfg.WrapCacheClient(strict)
	}
	b.store = &Store{cc: cc, strict: strict, cache: cfg.Cache, ttl: cfg.TTL, limit: uint32(max(cfg.Limit, 1)), now: cfg.Now}
	return b, nil
}

// Store is the backend's chat.Store.
func (b *Backend) Store() *Store { return b.store }

// GapWait is how long a hub on Momento lets an event wait for the ones
// before it: about the longest a paced publisher holds a batch (see
// Broker), so that most gaps close by the topic and cost no read.
const GapWait = time.Second

// HubOptions are the hub options the backend needs: its store for gap
// fills, a tail of the history limit (joins, reconnects and page views of
// a room with streams then read nothing: Momento bills every element
// read), its TTL, and GapWait.
func (b *Backend) HubOptions() chat.HubOptions {
	return chat.HubOptions{Store: b.store, Tail: max(b.cfg.Limit, 1), TTL: b.cfg.TTL, GapWait: GapWait}
}

// NewBroker returns the instance's relay; run it with Broker.Run.
func (b *Backend) NewBroker() (*Broker, error) {
	pub, err := b.cfg.NewTopicClient(b.creds)
	if err != nil {
		return nil, fmt.Errorf("momento: topic client: %w", err)
	}
	br := newBroker(b.cfg.Cache, b.cfg.Topic, b.cfg.TopicRate, b.log, pub,
		func() (sdk.TopicClient, error) { return b.cfg.NewTopicClient(b.creds) })
	br.store = b.store
	return br, nil
}

// Close closes the cache clients.
func (b *Backend) Close() { b.close() }

// CacheConfig is the SDK configuration of the cache client: read concern
// Balanced (see Store for the one read that is Consistent).
func CacheConfig() config.Configuration {
	return config.InRegionLatestWithLogger(logger.NewNoopMomentoLoggerFactory()).WithReadConcern(config.BALANCED)
}

// TopicsConfig is the SDK configuration of topic clients, with the SDK's
// retries off: its own reconnect loop never gives up, ignores cancellation
// and spends the client's subscribe budget (see Broker).
func TopicsConfig() config.TopicsConfiguration {
	return config.TopicsDefaultWithLogger(logger.NewNoopMomentoLoggerFactory()).
		WithRetryStrategy(retry.NewNeverRetryStrategy())
}

func newTopicClient(creds auth.CredentialProvider) (sdk.TopicClient, error) {
	return sdk.NewTopicClient(TopicsConfig(), creds)
}

// errUnexpected reports a response of a type the SDK should not return.
func errUnexpected(op string, resp any) error {
	return fmt.Errorf("momento: %s: unexpected response %T", op, resp)
}

var errNoEpoch = errors.New("momento: could not start the room's epoch")

// HostSecret is HostSecret of the backend's key, endpoint and cache.
func (b *Backend) HostSecret() (secret []byte, keyed bool) {
	return HostSecret(b.cfg.APIKey, b.cfg.Endpoint, b.cfg.Cache)
}
