package momento

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"

	"github.com/sessionchat/sessionchat/chat"
)

const (
	// maxPayload keeps a topic message under Momento's 4 KB limit; a
	// message whose JSON is longer is published as a reference.
	maxPayload = 4000
	// subscribesPerClient retires a TopicClient well before SDK v1.38.0
	// refuses its 401st subscribe: it never releases a stream slot.
	subscribesPerClient = 300
	// refTail is how many of a room's last items are read to find a
	// referenced message.
	refTail        = 16
	publishTimeout = 3 * time.Second
	fetchTimeout   = 5 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// Broker is a chat.Relay over one Momento topic that every room shares:
// each instance holds one subscription, whatever its number of rooms and
// streams (Momento allows 100 per account by default). What it receives
// goes to the chat.Inbox that Run is handed (the instance's hub), which
// puts it in id order, drops duplicates and fills gaps from history.
//
// It owns the subscription's life (SDK v1.38.0's own reconnect loop never
// ends and ignores cancellation): on any break it subscribes again with
// backoff, resuming from the last sequence number, asks the hub to resync
// every room from history, and replaces the TopicClient before it runs out
// of subscribe calls.
type Broker struct {
	store        *Store
	cache, topic string
	log          *slog.Logger
	publisher    sdk.TopicClient
	newClient    func() (sdk.TopicClient, error)
}

// wire is a topic message: the message's JSON, or, for a message too big
// for the topic, {"ref": {"room", "id"}} to read it from the list.
type wire struct {
	chat.Message
	Ref *ref `json:"ref,omitempty"`
}

type ref struct {
	Room chat.Room `json:"room"`
	ID   chat.ID   `json:"id"`
}

var _ chat.Relay = (*Broker)(nil)

// Publish implements chat.Relay: it publishes e on the topic. A failed
// publish is logged: the message is stored, and other instances fill it in
// from history when the next one shows the gap.
func (b *Broker) Publish(e *chat.Event) {
	payload := e.JSON
	if len(payload) > maxPayload {
		var err error
		if payload, err = json.Marshal(wire{Ref: &ref{Room: e.Message.Room, ID: e.Message.ID}}); err != nil {
			b.log.Error("momento: encode a reference", "err", err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	_, err := b.publisher.Publish(ctx, &sdk.TopicPublishRequest{CacheName: b.cache, TopicName: b.topic, Value: sdk.String(payload)})
	if err != nil {
		b.log.Warn("momento: publish failed; other instances will fill in from history",
			"room", e.Message.Room, "id", e.Message.ID.String(), "err", err)
	}
}

// Run hands in what every instance publishes until ctx ends.
func (b *Broker) Run(ctx context.Context, in chat.Inbox) {
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
		sub, err := client.Subscribe(ctx, &sdk.TopicSubscribeRequest{
			CacheName: b.cache, TopicName: b.topic,
			ResumeAtTopicSequenceNumber: seq, SequencePage: page,
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
			b.deliver(ctx, in, ev.GetValue())
		case sdk.TopicDiscontinuity:
			*seq, *page = ev.GetNewSequenceNumber(), ev.GetNewSequencePage()
			b.log.Info("momento: topic discontinuity; resyncing rooms from history", "topic", b.topic)
			in.Resync()
		}
	}
}

// deliver decodes a topic message and hands it in.
func (b *Broker) deliver(ctx context.Context, in chat.Inbox, v sdk.TopicValue) {
	var payload []byte
	switch v := v.(type) {
	case sdk.String:
		payload = []byte(v)
	case sdk.Bytes:
		payload = v
	}
	var w wire
	if err := json.Unmarshal(payload, &w); err != nil {
		b.log.Warn("momento: undecodable topic message", "err", err)
		return
	}
	if w.Ref == nil {
		if _, err := chat.ParseRoom(string(w.Room)); err != nil || w.ID.IsZero() {
			b.log.Warn("momento: topic message without a valid room or id")
			return
		}
		in.Receive(&chat.Event{Message: w.Message, JSON: payload})
		return
	}
	m, err := b.find(ctx, w.Ref.Room, w.Ref.ID)
	if err != nil {
		// The hub fills the gap from history when the next message comes.
		b.log.Warn("momento: read a referenced message", "room", w.Ref.Room, "id", w.Ref.ID.String(), "err", err)
		return
	}
	e, err := chat.NewEvent(m)
	if err == nil {
		in.Receive(e)
	}
}

var errNotFound = errors.New("not in the room's history")

// find reads a referenced message: in the list's tail, else the whole list.
func (b *Broker) find(ctx context.Context, room chat.Room, id chat.ID) (chat.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	for _, n := range []int32{refTail, 0} {
		var msgs []chat.Message
		var err error
		if n > 0 {
			msgs, err = b.store.tail(ctx, room, n)
		} else {
			msgs, err = b.store.History(ctx, room)
		}
		if err != nil {
			return chat.Message{}, err
		}
		for _, m := range msgs {
			if m.ID == id {
				return m, nil
			}
		}
	}
	return chat.Message{}, errNotFound
}

// sleep waits for *backoff or ctx, then doubles *backoff up to maxBackoff.
func sleep(ctx context.Context, backoff *time.Duration) {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	*backoff = min(*backoff*2, maxBackoff)
}

// Close closes the publishing client.
func (b *Broker) Close() { b.publisher.Close() }

// Skip implements chat.Relay. Other instances skip the number once a read
// of history shows it absent.
func (b *Broker) Skip(chat.Room, chat.ID) {}
