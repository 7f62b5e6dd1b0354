package momento

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"

	"github.com/sessionchat/sessionchat/chat"
)

const (
	// maxPayload keeps a topic message under Momento's 4 KB limit; a
	// message whose JSON is longer travels as a reference.
	maxPayload = 4000
	// compressAbove is the size from which a topic message is deflated
	// (Momento bills topic messages per KiB, publish and each delivery).
	compressAbove = 512
	// maxPending bounds the bytes of events waiting to be published; past
	// it, each room's waiting messages become one reference.
	maxPending = 256 << 10
	// quotaShare is the part of its share of the topic quota an instance
	// plans to use, leaving room for timing and for instances it has not
	// heard of yet.
	quotaShare = 0.8
	// peerTTL is how long an instance heard on the topic counts as
	// subscribed; beacon is how often a quiet instance says it is there.
	peerTTL = time.Minute
	beacon  = 20 * time.Second
	// subscribesPerClient retires a TopicClient well before SDK v1.38.0
	// refuses its 401st subscribe: it never releases a stream slot.
	subscribesPerClient = 300
	publishTimeout      = 3 * time.Second
	flushTimeout        = 2 * time.Second
	minBackoff          = 100 * time.Millisecond
	maxBackoff          = 5 * time.Second
	maxPublishBackoff   = 10 * time.Second
)

// Broker is a chat.Relay over one Momento topic that every room shares:
// each instance holds one subscription, whatever its number of rooms and
// streams (Momento allows 100 per account by default). What it receives
// goes to the chat.Inbox that Run is handed (the instance's hub), which
// puts it in id order, drops duplicates and fills gaps from history.
//
// Publishing never waits: Publish and Skip queue the event, and Run's
// publisher sends what waits as one topic message (a batch of up to 4 KB,
// deflated when that is smaller; a message too big for it, or the
// messages of a room when too many wait, as a reference the others read
// from the list). It paces itself to its share of the account's topic
// quota (Config.TopicRate over the instances it hears on the topic; each
// publish costs its KiB once and again for each instance subscribed, this
// one included), and while Momento refuses or fails a publish it keeps
// the batch, adds what comes meanwhile and tries again with backoff: every
// acknowledged message reaches every instance, also in a room that then
// goes quiet.
//
// It owns the subscription's life (SDK v1.38.0's own reconnect loop never
// ends and ignores cancellation): on any break it subscribes again with
// backoff, resuming from the last sequence number, asks the hub to resync
// every room from history, and replaces the TopicClient before it runs out
// of subscribe calls.
type Broker struct {
	cache, topic string
	log          *slog.Logger
	publisher    sdk.TopicClient
	newClient    func() (sdk.TopicClient, error)
	rate         float64 // the account's topic operations per second
	self         string  // this instance, named in each batch
	store        *Store  // learns the keep of started rooms; may be nil

	mu           sync.Mutex
	pending      []entry // in the order posts handed them in
	pendingBytes int
	wake         chan struct{}
	peers        map[string]time.Time // other instances, when last heard
	sending      int                  // entries of the publish under way
	stats        BrokerStats
}

// BrokerStats counts what a broker has done, for tests and metrics.
type BrokerStats struct {
	Publishes     int // topic messages published
	Refused       int // publishes Momento refused or failed
	Events        int // entries published (messages, skips, references)
	References    int // messages published as references
	PendingEvents int // entries waiting or being published now
}

// Stats returns the broker's counts.
func (b *Broker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.PendingEvents = len(b.pending) + b.sending
	return st
}

// entry is one event of a batch: a message (Msg), a room event (Kind and
// Data, its JSON: the room's state, a deleted message, its end), a number
// never stored (Skip), or a reference to a stored message (Ref).
// Instances of the version before room events see in a room event none of
// the fields they know, and skip it.
type entry struct {
	Msg  json.RawMessage `json:"m,omitempty"`
	Kind chat.Kind       `json:"k,omitempty"`
	Data json.RawMessage `json:"d,omitempty"`
	// Keep is, with a room's state, when the room expires (see
	// Store.StartRoom): the others' posts then set their expiry to it.
	Keep time.Time `json:"keep,omitzero"`
	Skip *ref      `json:"skip,omitempty"`
	Ref  *ref      `json:"ref,omitempty"`

	room chat.Room // of Msg
	id   chat.ID   // of Msg
}

type ref struct {
	Room chat.Room `json:"room"`
	ID   chat.ID   `json:"id"`
}

// batch is a topic message. A message of an older version is a message's
// JSON, or {"ref": {...}}: legacy reads both.
type batch struct {
	From    string  `json:"from"`
	Entries []entry `json:"e"`
}

type legacy struct {
	chat.Message
	Ref *ref `json:"ref,omitempty"`
}

var _ chat.Relay = (*Broker)(nil)

func newBroker(cache, topic string, rate float64, log *slog.Logger, pub sdk.TopicClient, newClient func() (sdk.TopicClient, error)) *Broker {
	var id [6]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return &Broker{
		cache: cache, topic: topic, rate: rate, log: log, publisher: pub, newClient: newClient,
		self: hex.EncodeToString(id[:]), wake: make(chan struct{}, 1), peers: make(map[string]time.Time),
	}
}

// Publish implements chat.Relay: it queues e for the publisher. A room
// event travels in the order it was handed in among the messages, and is
// never squeezed into a reference (it is small: a state or an id).
func (b *Broker) Publish(e *chat.Event) {
	var en entry
	switch {
	case e.Kind != chat.KindMessage:
		en = entry{Kind: e.Kind, Data: e.JSON}
		if (e.Kind == chat.KindRoom || e.Kind == chat.KindEnded) && b.store != nil {
			en.Keep = b.store.keepOf(e.Message.Room)
		}
	case len(e.JSON) > maxPayload-64:
		en = entry{Ref: &ref{Room: e.Message.Room, ID: e.Message.ID}}
	default:
		en = entry{Msg: e.JSON, room: e.Message.Room, id: e.Message.ID}
	}
	b.enqueue(en)
}

// Skip implements chat.Relay: it queues a skip for the publisher.
func (b *Broker) Skip(room chat.Room, id chat.ID) {
	b.enqueue(entry{Skip: &ref{Room: room, ID: id}})
}

func (b *Broker) enqueue(en entry) {
	b.mu.Lock()
	b.pending = append(b.pending, en)
	b.pendingBytes += en.size()
	if b.pendingBytes > maxPending {
		b.squeeze()
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// size is about what en adds to a batch.
func (en entry) size() int {
	switch {
	case en.Msg != nil:
		return len(en.Msg) + 8
	case en.Kind != chat.KindMessage:
		return len(en.Data) + 64
	case en.Skip != nil:
		return len(en.Skip.Room) + 40
	}
	return len(en.Ref.Room) + 40
}

// squeeze replaces each room's waiting messages with a reference to its
// last: the others read them from the list. b.mu is held.
func (b *Broker) squeeze() {
	last := make(map[chat.Room]int)
	for i, en := range b.pending {
		if en.Msg != nil {
			last[en.room] = i
		}
	}
	kept := b.pending[:0]
	b.pendingBytes = 0
	for i, en := range b.pending {
		if en.Msg != nil {
			if last[en.room] != i {
				continue
			}
			b.stats.References++
			en = entry{Ref: &ref{Room: en.room, ID: en.id}}
		}
		kept = append(kept, en)
		b.pendingBytes += en.size()
	}
	clear(b.pending[len(kept):])
	b.pending = kept
}

// take removes from the queue what fits in one topic message.
func (b *Broker) take() []entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, size := 0, 64
	for n < len(b.pending) && (n == 0 || size+b.pending[n].size() <= maxPayload) {
		size += b.pending[n].size()
		n++
	}
	out := append([]entry(nil), b.pending[:n]...)
	b.pending = b.pending[n:]
	b.sending = n
	b.pendingBytes = max(b.pendingBytes-size+64, 0)
	if len(b.pending) == 0 {
		b.pending = nil
	}
	return out
}

// giveBack puts a batch that was not published before what came since.
func (b *Broker) giveBack(es []entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(es, b.pending...)
	for _, en := range es {
		b.pendingBytes += en.size()
	}
	if b.pendingBytes > maxPending {
		b.squeeze()
	}
}

// instances is how many instances share the topic: this one and those
// heard within peerTTL.
func (b *Broker) instances() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 1
	for id, at := range b.peers {
		if time.Since(at) < peerTTL {
			n++
		} else {
			delete(b.peers, id)
		}
	}
	return n
}

func (b *Broker) heard(from string) {
	if from == "" || from == b.self {
		return
	}
	b.mu.Lock()
	b.peers[from] = time.Now()
	b.mu.Unlock()
}

// encode makes the topic message for es: JSON, deflated (behind a 0x01
// byte) when that is smaller and the JSON is not small.
func (b *Broker) encode(es []entry) (sdk.TopicValue, int, error) {
	js, err := json.Marshal(batch{From: b.self, Entries: es})
	if err != nil {
		return nil, 0, err
	}
	if len(js) > compressAbove {
		var buf bytes.Buffer
		buf.WriteByte(1)
		w, _ := flate.NewWriter(&buf, flate.BestCompression) // valid level: no error
		_, _ = w.Write(js)                                   // a bytes.Buffer does not fail
		_ = w.Close()
		if buf.Len() < len(js) {
			return sdk.Bytes(buf.Bytes()), buf.Len(), nil
		}
	}
	return sdk.String(js), len(js), nil
}

// publishLoop sends what waits, paced and retried, until ctx ends; then it
// tries once more to send what is left.
func (b *Broker) publishLoop(ctx context.Context) {
	var (
		tokens   float64   // topic operations this instance may spend now
		refilled time.Time // when tokens was last refilled
		backoff  time.Duration
		lastSent = time.Now()
	)
	refill := func() float64 {
		share := quotaShare * b.rate / float64(b.instances())
		now := time.Now()
		if !refilled.IsZero() {
			tokens = min(tokens+now.Sub(refilled).Seconds()*share, share)
		} else {
			tokens = share
		}
		refilled = now
		return share
	}
	beat := time.NewTicker(beacon)
	defer beat.Stop()
	for {
		due := false // a beacon
		select {
		case <-ctx.Done():
			b.flush()
			return
		case <-b.wake:
		case <-beat.C:
			due = time.Since(lastSent) >= beacon
		}
		for {
			share := refill()
			if tokens < 0 {
				// In debt: wait until the share pays it off.
				if !sleepFor(ctx, time.Duration(-tokens/share*float64(time.Second))) {
					break
				}
				continue
			}
			es := b.take()
			if len(es) == 0 && !due {
				break
			}
			due = false
			cost, err := b.send(ctx, es)
			lastSent = time.Now()
			if err == nil {
				tokens -= cost
				backoff = 0
				continue
			}
			b.giveBack(es)
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(2*backoff, minBackoff), maxPublishBackoff)
			level := slog.LevelWarn
			if refused(err) {
				level = slog.LevelInfo // the quota: expected under load
			}
			b.log.Log(ctx, level, "momento: publish failed; will retry with what comes meanwhile",
				"events", len(es), "retry_in", backoff, "err", err)
			if !sleepFor(ctx, backoff) {
				break
			}
		}
	}
}

// send publishes es (an empty batch is a beacon) and returns the topic
// operations it is expected to cost the account.
func (b *Broker) send(ctx context.Context, es []entry) (float64, error) {
	v, size, err := b.encode(es)
	if err != nil {
		b.log.Error("momento: encode a batch", "err", err)
		return 0, nil
	}
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, err = b.publisher.Publish(pctx, &sdk.TopicPublishRequest{CacheName: b.cache, TopicName: b.topic, Value: v})
	b.mu.Lock()
	b.sending = 0
	if err != nil {
		b.stats.Refused++
	} else {
		b.stats.Publishes++
		b.stats.Events += len(es)
	}
	b.mu.Unlock()
	kib := float64(max(1, (size+1023)/1024))
	return kib * float64(1+b.instances()), err
}

// flush tries once, briefly, to publish what is left at shutdown.
func (b *Broker) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for ctx.Err() == nil {
		es := b.take()
		if len(es) == 0 {
			return
		}
		if _, err := b.send(ctx, es); err != nil {
			b.log.Warn("momento: events not published at shutdown; other instances read them from history when they see the gap",
				"events", len(es), "err", err)
			return
		}
	}
}

// Run hands in what every instance publishes, and publishes what this one
// queues, until ctx ends.
func (b *Broker) Run(ctx context.Context, in chat.Inbox) {
	published := make(chan struct{})
	go func() {
		defer close(published)
		b.publishLoop(ctx)
	}()
	defer func() { <-published }()

	var (
		client     sdk.TopicClient
		subscribes int
		seq, page  uint64
		backoff    = minBackoff
		broken     bool
	)
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	for ctx.Err() == nil {
		if client == nil || subscribes >= subscribesPerClient {
			next, err := b.newClient()
			if err != nil {
				b.log.Error("momento: topic client", "err", err)
				sleep(ctx, &backoff)
				continue
			}
			if client != nil {
				client.Close()
			}
			client, subscribes = next, 0
		}
		subscribes++
		// Resume is inclusive: at the number after the last one had (a
		// replayed item is billed like any delivery).
		resume := seq
		if resume > 0 {
			resume++
		}
		sub, err := client.Subscribe(ctx, &sdk.TopicSubscribeRequest{
			CacheName: b.cache, TopicName: b.topic,
			ResumeAtTopicSequenceNumber: resume, SequencePage: page,
		})
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("momento: subscribe failed", "topic", b.topic, "retry_in", backoff, "err", err)
			}
			broken = true
			sleep(ctx, &backoff)
			continue
		}
		if broken {
			b.log.Info("momento: subscribed again; resyncing rooms from history", "topic", b.topic)
			in.Resync()
			broken = false
		}
		backoff = minBackoff
		err = b.receive(ctx, in, sub, &seq, &page)
		sub.Close()
		if ctx.Err() == nil {
			b.log.Warn("momento: subscription broke", "topic", b.topic, "err", err)
			broken = true
		}
	}
}

// receive hands items in until the subscription fails.
func (b *Broker) receive(ctx context.Context, in chat.Inbox, sub sdk.TopicSubscription, seq, page *uint64) error {
	for {
		ev, err := sub.Event(ctx)
		if err != nil {
			return err
		}
		switch ev := ev.(type) {
		case sdk.TopicItem:
			*seq, *page = ev.GetTopicSequenceNumber(), ev.GetTopicSequencePage()
			b.deliver(in, ev.GetValue())
		case sdk.TopicDiscontinuity:
			*seq, *page = ev.GetNewSequenceNumber(), ev.GetNewSequencePage()
			b.log.Info("momento: topic discontinuity; resyncing rooms from history", "topic", b.topic)
			in.Resync()
		}
	}
}

// deliver decodes a topic message and hands its events in.
func (b *Broker) deliver(in chat.Inbox, v sdk.TopicValue) {
	var payload []byte
	switch v := v.(type) {
	case sdk.String:
		payload = []byte(v)
	case sdk.Bytes:
		payload = v
	}
	if len(payload) > 0 && payload[0] == 1 {
		js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(payload[1:])), 1<<20))
		if err != nil {
			b.log.Warn("momento: undecodable topic message", "err", err)
			return
		}
		payload = js
	}
	var bt batch
	if err := json.Unmarshal(payload, &bt); err != nil {
		b.log.Warn("momento: undecodable topic message", "err", err)
		return
	}
	if bt.Entries == nil && bt.From == "" {
		b.deliverLegacy(in, payload)
		return
	}
	b.heard(bt.From)
	for _, en := range bt.Entries {
		switch {
		case en.Kind != chat.KindMessage:
			e, err := chat.DecodeEvent(en.Kind, en.Data)
			if err != nil {
				b.log.Warn("momento: undecodable room event", "kind", en.Kind, "err", err)
				continue
			}
			if !en.Keep.IsZero() && b.store != nil {
				b.store.learnKeep(e.Message.Room, en.Keep)
			}
			in.Receive(e)
		case en.Msg != nil:
			var m chat.Message
			if json.Unmarshal(en.Msg, &m) != nil || !valid(m.Room, m.ID) {
				b.log.Warn("momento: topic message without a valid room or id")
				continue
			}
			in.Receive(&chat.Event{Message: m, JSON: en.Msg})
		case en.Skip != nil && valid(en.Skip.Room, en.Skip.ID):
			in.Skip(en.Skip.Room, en.Skip.ID)
		case en.Ref != nil && valid(en.Ref.Room, en.Ref.ID):
			in.Expect(en.Ref.Room, en.Ref.ID)
		}
	}
}

// deliverLegacy hands in a topic message of the version before batches.
func (b *Broker) deliverLegacy(in chat.Inbox, payload []byte) {
	var w legacy
	if json.Unmarshal(payload, &w) != nil {
		return
	}
	switch {
	case w.Ref != nil && valid(w.Ref.Room, w.Ref.ID):
		in.Expect(w.Ref.Room, w.Ref.ID)
	case w.Ref == nil && valid(w.Room, w.ID):
		in.Receive(&chat.Event{Message: w.Message, JSON: payload})
	}
}

func valid(room chat.Room, id chat.ID) bool {
	_, err := chat.ParseRoom(string(room))
	return err == nil && !id.IsZero()
}

// sleep waits for *backoff or ctx, then doubles *backoff up to maxBackoff.
func sleep(ctx context.Context, backoff *time.Duration) {
	sleepFor(ctx, *backoff)
	*backoff = min(*backoff*2, maxBackoff)
}

// sleepFor waits d or until ctx ends, and reports whether ctx is live.
func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close closes the publishing client.
func (b *Broker) Close() { b.publisher.Close() }
