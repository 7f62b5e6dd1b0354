// Package momentotest is a wire-compatible stand-in for the Momento Cache and
// Topics services, so that code using the real Momento Go SDK
// (github.com/momentohq/client-sdk-go v1.38.0) can be tested end to end over
// gRPC without the internet.
//
// It is a test double for the chat server's Momento backend: tests start one
// with [Start], point SDK clients at it with [Server.Credential], inject
// faults ([Server.Stop], [Server.Restart], [Server.SetUnavailable],
// [Server.FailNext], [Server.DropSubscriptions]), impose Momento's quotas
// ([WithQuotas]) and read what Momento would bill ([Server.Meter]).
// devtools/momentotest wraps it as a standalone process for manual
// multi-instance runs, with the meter served as JSON (-stats). Production
// code must not import this package (it imports testing).
//
// # How it works
//
// No .proto file or generated code is copied. Linking the SDK package momento
// registers Momento's descriptors in protoregistry.GlobalFiles; every call
// arrives at a grpc.UnknownServiceHandler on a plaintext (h2c) grpc-go
// server, its method descriptor is found by name, the request is decoded
// into a dynamicpb message and the answer is a dynamicpb message.
//
// # Supported methods
//
//	control_client.ScsControl: CreateCache, DeleteCache, ListCaches
//	cache_client.Ping:         Ping
//	cache_client.Scs:          Get, Set, SetIf (SetIfEqual, SetIfAbsent, ...), Delete, Increment,
//	                           UpdateTtl (UpdateTtl, IncreaseTtl, DecreaseTtl), ItemGetTtl,
//	                           ListPushBack, ListFetch, ListLength, ListRemove (ListRemoveValue)
//	cache_client.pubsub.Pubsub: Publish, Subscribe (server streaming)
//
// Anything else answers Unimplemented (the SDK's BadRequestError).
// Data-plane (Scs) calls must carry the `cache` header, as the SDK always
// sends it; Publish and Subscribe take the cache from the request body. The
// `authorization` header may be empty unless [WithAuthToken] is given.
//
// # Semantics
//
// Sources are named by repository and path: momentohq/public-dev-docs
// (docs/...), momentohq/client-protos (proto/...), and the Go SDK v1.38.0
// in the module cache.
//
// Known (Momento docs, proto comments or the SDKs' own tests):
//   - CreateCache of an existing cache fails with AlreadyExists, which the SDK
//     turns into *responses.CreateCacheAlreadyExists; calls on an unknown cache
//     fail with NotFound (the SDK's NotFoundError).
//   - Collection TTL: refresh_ttl=true resets the list's expiry to now+ttl
//     on every push; false sets it only when the push creates the list.
//   - ListPushBack truncate_front_to_size drops the oldest elements after the
//     push so the length is at most N (0 = no truncation).
//   - ListFetch: start inclusive, end exclusive, negative indices count from
//     the end, unbounded = whole list; an empty range is a Miss (the SDK's
//     list_test.go expects "no start and end 0" to be a ListFetchMiss).
//   - Increment works only on a base-10 integer string, creates a missing
//     item with the amount, stores the result as a decimal string, and fails
//     with FailedPrecondition otherwise (as the SDK's DictionaryIncrement test
//     expects for a non-integer value) and on int64 overflow.
//   - Limits (docs/cache/manage/limits.mdx, docs/topics/limits.mdx): item
//     5 MB including the key, collection element 128 KB, TTL 24 h, topic
//     message 4 KB, 100 concurrent subscriptions. Size limits answer
//     ResourceExhausted (the SDK's LimitExceededError). See [Limits].
//   - Quotas, with [WithQuotas] (off by default): Momento's default soft
//     limits are 100 cache and 10 topic operations per second per region
//     ([DefaultQuotas]); throttling answers ResourceExhausted with the `err`
//     trailer operations_rate_limit_exceeded, which the SDK
//     (internal/momentoerrors/scs_errors.go) maps to LimitExceededError
//     "Request rate limit exceeded"; the SDKs do not retry it
//     (docs/cache/develop/basics/error-handling-production-readiness.md).
//   - Billing ([Usage], [Server.Meter], [Server.StatsHandler]): a cache call
//     costs the 1024-byte chunks of each item or element in its request and
//     in its response, the user data of a request or response without any
//     counting as one item; times 2 for SetIf*; times 2 for read concern
//     Consistent; at least 1, failed calls included
//     (docs/cache/manage/operations.mdx). A topic publish costs its 1 KB
//     chunks, and every delivery to a subscriber as much again
//     (docs/topics/limits.mdx). The SDK sends the read concern as the
//     header `read-concern: balanced|consistent` on every data call
//     (internal/interceptor/authorization_interceptor.go).
//   - Topics: the first stream message is a heartbeat (the SDK's Subscribe
//     fails without it); items carry topic_sequence_number 1, 2, 3... per
//     topic, the same for every subscriber, and a sequence_page that
//     changes when the topic resets; heartbeats do not consume sequence
//     numbers (proto/cachepubsub.proto).
//   - A fresh subscription (resume_at_topic_sequence_number 0) "will begin
//     with the latest messages" (proto/cachepubsub.proto): it gets the
//     heartbeat, then a discontinuity (client-sdk-go PR #540, checked on
//     the live service: "heartbeat, then discontinuity"), then the latest
//     retained item (the Python SDK's live tests read an item published
//     before they subscribed).
//   - Resume is inclusive: resume_at_topic_sequence_number=n replays
//     retained items n, n+1, ... (the proto: "replay messages starting from
//     the provided sequence number"; the HTTP API docs: "the next sequence
//     you expect, typically lastReceived + 1"; the Python SDK's test resumes
//     at 2 and reads item 2). The Go SDK's own reconnect sends the last
//     number it received, so after an SDK reconnect that item arrives
//     twice; dedupe by message id.
//   - Sequence pages grow but "don't go one-by-one" (the proto); the HTTP
//     API docs show 1748358253, a Unix time in seconds. Pages here are the
//     wall clock's Unix seconds, bumped when two topics start in one
//     second: below 2^53, so JavaScript SDKs, which hold them as numbers,
//     keep them exact.
//
// Inferred (not documented by Momento; chosen to be plausible and useful):
//   - Quota mechanics: a token bucket per kind holding one second's worth
//     ([Quotas] burst fields), refilled by the [WithClock] clock. A call is
//     admitted while the bucket holds one operation and pays its whole bill
//     afterwards, possibly into debt (so a 500-element ListFetch passes
//     once, then the account waits); topic deliveries are charged as they
//     are sent and never refused. Refused calls are not billed. Ping,
//     control calls and Subscribe have no rate quota and no bill (the
//     control API's 5/s hard limit is not enforced); the subscription
//     limit counts all live streams on the server.
//   - Billing details: the "user data" of a request without items is its
//     encoded size (one chunk in practice), so a Get costs 1 + the value's
//     chunks and a ListFetch of n small elements 1 + n; a response without
//     items (Set, SetIf, Increment, UpdateTtl, ListPushBack,
//     ListRemoveValue, a miss) adds nothing, so a ListRemoveValue costs
//     its value's chunks as a ListPushBack does and an UpdateTtl 1;
//     SetIf's comparand is not an item; an item's size is key plus value,
//     a list element's its value alone. Consistent multiplies every data
//     call that carries it, writes too (the header is sent on all; the
//     docs only say "some APIs"), by 2 as the billing page says; the older
//     read-concern page says 6x, see [WithConsistentFactor]. A failed call
//     costs 1. A replay on resume is billed as delivery. The topics page's
//     own example ("4 KB to a single subscriber: 4 operations") contradicts
//     its rule (publish plus delivery, 8); the rule is applied.
//   - Increment's effect on an existing item's TTL is undocumented (its
//     request has ttl_milliseconds and no refresh flag; the Go SDK drops
//     CollectionTtl.RefreshTtl for Increment). The default,
//     [IncrementKeepTTL], applies the TTL only when the increment creates
//     the item, because Momento's rate-limiter how-to
//     (docs/cache/how-to/rate-limiter.mdx) sets the TTL once with UpdateTtl
//     after the first increment, which works only if later increments keep
//     it; [WithIncrementTTL] selects [IncrementRefreshTTL].
//   - A fresh subscription gets only the single latest retained item; its
//     discontinuity has last_topic_sequence 0 ("0 otherwise"),
//     new_topic_sequence one less than the first number it will get, and the
//     current page; on an empty topic new_topic_sequence is 0. resume n > 0
//     with sequence_page 0 is taken as "the current page".
//   - Each topic retains its last [WithRetention] items (default 100),
//     across Stop/Restart and without subscribers (the proto allows
//     dropping a publish nobody hears; this server keeps it).
//   - Discontinuity triggers: resuming with another page (topic reset, see
//     [Server.ResetTopic]), resuming before the oldest retained item, resuming
//     beyond the newest item, or a subscriber falling behind by more than the
//     retention. Fields: last_topic_sequence = the last number the
//     subscriber is taken to have (cursor-1), new_topic_sequence = the number
//     after which items resume (the proto's words; the HTTP API docs'
//     example shows new_topic_sequence 104 followed by item 104),
//     new_sequence_page = the topic's page. After a page change the
//     retained items of the new page are replayed.
//   - Heartbeat cadence: immediately, then after every [WithHeartbeat] of
//     silence (default 1s).
//   - Exact error messages and `err` trailer values: cache_not_found,
//     cache_already_exists, item_size_limit_exceeded,
//     element_size_limit_exceeded, request_size_limit_exceeded (topic message
//     too large), topic_subscriptions_limit_exceeded,
//     operations_rate_limit_exceeded. The trailer names are the SDK's; the
//     messages are this server's.
//   - ListRemoveValue removes every element equal to the value and keeps
//     the list's TTL; a list it leaves empty is gone (Momento keeps no empty
//     collections). UpdateTtl's increase and decrease forms compare with
//     the time left and answer NotSet when it is not longer or shorter.
//   - TTL of 0 or above the maximum is InvalidArgument; sizes are counted as
//     key bytes + value bytes without overhead; a Get, list or Increment
//     call on an item of the other type is FailedPrecondition.
//   - DeleteCache ends that cache's subscriptions with NotFound;
//     [Server.DropSubscriptions] ends them with Unavailable.
//   - Not emulated: throughput (bytes/s) limits, hot-storage limits, other
//     data types, momento-local's fault-injection headers, publisher ids
//     (always "").
//
// Expired items vanish lazily on access and in a sweep every second (by the
// [WithClock] clock), so memory does not grow with dead items.
//
// # Connecting the SDK with a plain host:port
//
// The SDK (v1.38.0) resolves endpoints from the credential provider. To talk
// plaintext to host:port (for example CHAT_MOMENTO_ENDPOINT=127.0.0.1:9090):
//
// Without an API key (momento-local style, empty authorization):
//
//	creds, err := auth.NewMomentoLocalProvider(&auth.MomentoLocalConfig{
//		Hostname: "127.0.0.1", Port: 9090, // every endpoint, InsecureConnection: true
//	})
//
// With a key the SDK can parse (a v1 key, base64 JSON {"endpoint","api_key"},
// or a legacy JWT key), override the endpoints it encodes:
//
//	creds, err := auth.FromString(apiKey)
//	ep := auth.Endpoint{Endpoint: "127.0.0.1:9090", InsecureConnection: true}
//	creds, err = creds.WithEndpoints(auth.AllEndpoints{
//		CacheEndpoint: ep, ControlEndpoint: ep, TokenEndpoint: ep, StorageEndpoint: ep,
//	})
//
// With any other key string (an opaque token, a v2 key), auth.FromString
// fails ("Could not parse auth token." / "malformed auth token"); implement
// the exported auth.CredentialProvider interface with fixed values instead,
// as the chat's momento.Credentials does; it picks the right recipe for
// any key, "" included, and [Server.Credential] uses it.
//
// Then, identically for Momento and this server:
//
//	cc, err := momento.NewCacheClient(config.LaptopLatest(), creds, time.Hour)
//	tc, err := momento.NewTopicClient(
//		config.TopicsDefault().WithRetryStrategy(retry.NewNeverRetryStrategy()), creds)
//
// NewCacheClient connects eagerly and fails at once with ConnectionError if
// nothing listens; NewTopicClient is lazy.
//
// # SDK v1.38.0 quirks these tests pin down
//
//   - A TopicClient allows 400 Subscribe calls in its lifetime (4 stream
//     channels x 100); closed subscriptions do not give their slot back, and
//     call 401 fails with ClientResourceExhaustedError (TestSubscribeBudget).
//   - After the SDK reconnects a subscription by itself, the new stream
//     lives only as long as the ctx passed to the Item/Event call that
//     reconnected; a per-call timeout ctx kills it (TestSDKReconnect). The
//     SDK resumes at the last number it saw, so that item arrives twice.
//   - TopicClient.Close closes a channel a pool goroutine may still send on:
//     the race detector reports it on every Close, and it can panic. The
//     tests never close their topic clients.
//   - Idempotent calls (ListFetch, ListLength, Get, Set, Delete) are retried
//     up to 3 times on Unavailable/Internal; ListPushBack, Increment and
//     Publish are not (TestFailNext).
package momentotest
