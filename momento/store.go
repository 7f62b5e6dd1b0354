package momento

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"
	"github.com/momentohq/client-sdk-go/utils"

	"github.com/sessionchat/sessionchat/chat"
)

// epochBase is the origin of epochs: ids made before it cannot exist.
var epochBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const seqBits = 32

// Store is a chat.Store on Momento Cache lists. Safe for concurrent use.
type Store struct {
	cc    sdk.CacheClient
	cache string
	ttl   time.Duration
	limit uint32
	now   func() time.Time
}

var _ chat.Store = (*Store)(nil)

// Append implements chat.Store: sequence, then list.
func (s *Store) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	id, err := s.next(ctx, m.Room)
	if err != nil {
		return chat.Message{}, err
	}
	m.ID = id
	item, err := json.Marshal(m)
	if err != nil {
		return chat.Message{}, err
	}
	_, err = s.cc.ListPushBack(ctx, &sdk.ListPushBackRequest{
		CacheName:           s.cache,
		ListName:            string(m.Room),
		Value:               sdk.Bytes(item),
		TruncateFrontToSize: s.limit,
		Ttl:                 &utils.CollectionTtl{Ttl: s.ttl, RefreshTtl: true},
	})
	if err != nil {
		return chat.Message{}, fmt.Errorf("momento: push to %q: %w", m.Room, err)
	}
	return m, nil
}

// next takes the room's next id from its counter. A counter created by a
// bare increment (a new room) gets an epoch first: whoever saw its latest
// value installs it, everyone increments again.
func (s *Store) next(ctx context.Context, room chat.Room) (chat.ID, error) {
	key := sdk.String("seq:" + string(room))
	for range 8 {
		resp, err := s.cc.Increment(ctx, &sdk.IncrementRequest{
			CacheName: s.cache, Field: key, Amount: 1,
			Ttl: &utils.CollectionTtl{Ttl: s.ttl, RefreshTtl: true},
		})
		if err != nil {
			return chat.ID{}, fmt.Errorf("momento: sequence of %q: %w", room, err)
		}
		inc, ok := resp.(*responses.IncrementSuccess)
		if !ok {
			return chat.ID{}, errUnexpected("increment", resp)
		}
		v := uint64(inc.Value())
		if epoch := v >> seqBits; epoch > 0 {
			return chat.ID{Epoch: epoch, Seq: v & (1<<seqBits - 1)}, nil
		}
		epoch := uint64(max(s.now().Sub(epochBase)/time.Second, 0)) + 1
		_, err = s.cc.SetIfEqual(ctx, &sdk.SetIfEqualRequest{
			CacheName: s.cache, Key: key,
			Value: sdk.String(strconv.FormatUint(epoch<<seqBits, 10)),
			Equal: sdk.String(strconv.FormatUint(v, 10)),
			Ttl:   s.ttl,
		})
		if err != nil {
			return chat.ID{}, fmt.Errorf("momento: epoch of %q: %w", room, err)
		}
	}
	return chat.ID{}, fmt.Errorf("%w %q", errNoEpoch, room)
}

// History implements chat.Store. Messages come in id order whatever the
// list's order (two instances may push in the opposite order of their
// sequence numbers); items of the original app, which have no id, come
// first in list order. Items that are not JSON messages are skipped.
func (s *Store) History(ctx context.Context, room chat.Room) ([]chat.Message, error) {
	return s.fetch(ctx, room, nil)
}

// tail reads the room's last n messages, in id order.
func (s *Store) tail(ctx context.Context, room chat.Room, n int32) ([]chat.Message, error) {
	start := -n
	return s.fetch(ctx, room, &start)
}

func (s *Store) fetch(ctx context.Context, room chat.Room, start *int32) ([]chat.Message, error) {
	resp, err := s.cc.ListFetch(ctx, &sdk.ListFetchRequest{CacheName: s.cache, ListName: string(room), StartIndex: start})
	if err != nil {
		return nil, fmt.Errorf("momento: fetch %q: %w", room, err)
	}
	switch r := resp.(type) {
	case *responses.ListFetchMiss:
		return nil, nil
	case *responses.ListFetchHit:
		items := r.ValueListByte()
		msgs := make([]chat.Message, 0, len(items))
		for _, item := range items {
			var m chat.Message
			if json.Unmarshal(item, &m) != nil {
				continue
			}
			if m.Room == "" {
				m.Room = room
			}
			msgs = append(msgs, m)
		}
		slices.SortStableFunc(msgs, func(a, b chat.Message) int {
			return cmp.Or(cmp.Compare(a.ID.Epoch, b.ID.Epoch), cmp.Compare(a.ID.Seq, b.ID.Seq))
		})
		return msgs, nil
	default:
		return nil, errUnexpected("list fetch", resp)
	}
}

// Ping implements chat.Store.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.cc.Ping(ctx); err != nil {
		return fmt.Errorf("momento: ping: %w", err)
	}
	return nil
}
