package momento

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"
	"github.com/momentohq/client-sdk-go/utils"

	"github.com/sessionchat/sessionchat/chat"
)

// epochBase is the origin of epochs: ids made before it cannot exist.
var epochBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	seqBits = 32
	seqMask = 1<<seqBits - 1
	// epochSlack is how far ahead of this instance's clock another's epoch
	// may be (clock skew). An epoch further ahead is two epochs added
	// together for a moment (see next) and is not used.
	epochSlack = 24 * 60 * 60
	// epochWait is how long a post waits for the creator of a room's
	// counter to give it an epoch before giving it one itself.
	epochWait = 500 * time.Millisecond
	// epochGiveUp bounds a post's wait for a usable counter.
	epochGiveUp = 3 * time.Second
	// verifyFor bounds the reads that tell whether a push whose answer
	// was lost was stored; verifyTail is the first read's length.
	verifyFor  = 3 * time.Second
	verifyTail = 16
)

// Store is a chat.Store (and chat.TailStore) on Momento Cache lists. Safe
// for concurrent use.
//
// Read concern: every call goes through a Balanced client (Momento bills
// Consistent reads at a multiple) except the one read that must see this
// instance's own latest write: after a push whose answer was lost, a
// Consistent read of the list's end tells whether it was stored. Joins
// and gap fills read Balanced: a read that misses a just-stored message
// delays it (the hub reads again), and the hub concludes that a number is
// absent only from reads made seconds after the message behind it.
type Store struct {
	cc     sdk.CacheClient // read concern Balanced
	strict sdk.CacheClient // read concern Consistent
	cache  string
	ttl    time.Duration
	limit  uint32
	now    func() time.Time
	keeps  keeps // of started rooms; see rooms.go
}

var _ chat.TailStore = (*Store)(nil)

// Append implements chat.Store: a number from the room's counter
// (Increment), then the list (ListPushBack): 2 operations for a message of
// up to 1 KiB. Both then live the history TTL after the post, or, in a
// started room, until the room's keep (see StartRoom).
//
// A push that Momento refused (a quota, a limit) fails with a
// chat.NotStoredError. A push whose answer was lost (a timeout, a broken
// connection) may have been stored: a Consistent read of the list's end
// tells, and the post succeeds if it was, or fails with a NotStoredError
// if it was not; only when that read cannot be made within verifyFor does
// Append fail without knowing (the message may then appear in the room).
func (s *Store) Append(ctx context.Context, m chat.Message) (chat.Message, error) {
	ttl := s.ttlFor(m.Room)
	id, err := s.next(ctx, m.Room, ttl)
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
		Ttl:                 &utils.CollectionTtl{Ttl: ttl, RefreshTtl: true},
	})
	if err == nil {
		return m, nil
	}
	err = fmt.Errorf("momento: push to %q: %w", m.Room, err)
	if !ambiguous(err) {
		return chat.Message{}, &chat.NotStoredError{Room: m.Room, ID: id, Err: err}
	}
	stored, verr := s.verify(ctx, m.Room, id)
	switch {
	case verr != nil:
		return chat.Message{}, fmt.Errorf("%w; whether it was stored is unknown: %w", err, verr)
	case stored:
		return m, nil
	}
	return chat.Message{}, &chat.NotStoredError{Room: m.Room, ID: id, Err: err}
}

// ambiguous reports whether a failed call may have been carried out: its
// answer, not its request, may have been lost. A refusal (quota, limits,
// bad request, permissions, unknown cache) is not.
func ambiguous(err error) bool {
	var me sdk.MomentoError
	if !errors.As(err, &me) {
		return true
	}
	switch me.Code() {
	case sdk.LimitExceededError, sdk.InvalidArgumentError, sdk.BadRequestError, sdk.PermissionError,
		sdk.AuthenticationError, sdk.CacheNotFoundError, sdk.FailedPreconditionError,
		sdk.ClientResourceExhaustedError, sdk.ConnectionError:
		return false
	}
	return true
}

// refused reports whether err is Momento refusing a call for a quota.
func refused(err error) bool {
	var me sdk.MomentoError
	return errors.As(err, &me) && me.Code() == sdk.LimitExceededError
}

// verify tells whether the message id is in room's list, by Consistent
// reads of the list's end, read further back until they reach an earlier
// message, retried with backoff while they fail, for at most verifyFor.
func (s *Store) verify(ctx context.Context, room chat.Room, id chat.ID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyFor)
	defer cancel()
	backoff := 20 * time.Millisecond
	n := verifyTail
	for {
		n = min(n, int(s.limit))
		msgs, whole, err := s.fetch(ctx, s.strict, room, n)
		if err == nil {
			if slices.ContainsFunc(msgs, func(m chat.Message) bool { return m.ID == id }) {
				return true, nil
			}
			// Pushes of nearby numbers may land in either order: only a
			// message well before id shows the read went back far enough.
			if whole || n == int(s.limit) || slices.ContainsFunc(msgs, func(m chat.Message) bool { return wellBefore(m.ID, id) }) {
				return false, nil
			}
			n *= 2
			continue
		}
		if ctx.Err() != nil {
			return false, err
		}
		if err := pause(ctx, &backoff, time.Second); err != nil {
			return false, err
		}
	}
}

// wellBefore reports whether a was numbered well before b: pushes in
// between have landed.
func wellBefore(a, b chat.ID) bool {
	if a.IsZero() {
		return false
	}
	if a.Epoch != b.Epoch {
		return b.After(a)
	}
	return a.Seq+verifyTail <= b.Seq
}

// next takes the room's next id from its counter, "seq:<room>": the epoch
// in its high 32 bits, the sequence in the low 32. It is written by
// Increment alone (Momento leaves mixing check-and-set and other writes on
// one key undefined).
//
// A room's first Increment creates the counter without an epoch (value
// 1): that poster adds one (its clock's seconds since 2026, shifted) and
// takes sequence 1 of it. Posts that meanwhile got a small value retry;
// after epochWait without an epoch (the creator failed) one of them adds
// it instead. An adder whose result is not its own epoch alone (two added
// at once) takes its addition back out; nobody uses an epoch that far
// ahead of the clock meanwhile. So epochs only grow: a room whose counter
// expired and came back starts a later one.
func (s *Store) next(ctx context.Context, room chat.Room, ttl time.Duration) (chat.ID, error) {
	key := seqKey(room)
	start := time.Now()
	backoff := 2 * time.Millisecond
	for {
		v, err := s.increment(ctx, key, 1, ttl)
		if err != nil {
			return chat.ID{}, fmt.Errorf("momento: sequence of %q: %w", room, err)
		}
		now := s.epochNow()
		switch e := v >> seqBits; {
		case e > 0 && e <= now+epochSlack:
			return chat.ID{Epoch: e, Seq: v & seqMask}, nil
		case e == 0 && (v == 1 || time.Since(start) >= epochWait):
			id, ok, err := s.giveEpoch(ctx, key, now, ttl)
			if err != nil {
				return chat.ID{}, fmt.Errorf("momento: epoch of %q: %w", room, err)
			}
			if ok {
				return id, nil
			}
		}
		if time.Since(start) >= epochGiveUp {
			return chat.ID{}, fmt.Errorf("%w %q", errNoEpoch, room)
		}
		if err := pause(ctx, &backoff, 100*time.Millisecond); err != nil {
			return chat.ID{}, err
		}
	}
}

// giveEpoch adds epoch e to a counter that has none and reports whether
// this call's addition is the one that counts; then the caller's id is
// sequence 1 of e (the values in between went to posts that retry).
func (s *Store) giveEpoch(ctx context.Context, key string, e uint64, ttl time.Duration) (chat.ID, bool, error) {
	v, err := s.increment(ctx, key, int64(e<<seqBits), ttl)
	if err != nil {
		return chat.ID{}, false, err
	}
	if v>>seqBits == e {
		return chat.ID{Epoch: e, Seq: 1}, true, nil
	}
	// Another epoch came first: take this one back out, come what may.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		if _, err = s.increment(ctx, key, -int64(e<<seqBits), ttl); err == nil {
			return chat.ID{}, false, nil
		}
		if perr := pause(ctx, &backoff, time.Second); perr != nil {
			return chat.ID{}, false, err
		}
	}
}

func (s *Store) increment(ctx context.Context, key string, amount int64, ttl time.Duration) (uint64, error) {
	resp, err := s.cc.Increment(ctx, &sdk.IncrementRequest{
		CacheName: s.cache, Field: sdk.String(key), Amount: amount,
		Ttl: &utils.CollectionTtl{Ttl: ttl, RefreshTtl: true},
	})
	if err != nil {
		return 0, err
	}
	inc, ok := resp.(*responses.IncrementSuccess)
	if !ok || inc.Value() < 0 {
		return 0, errUnexpected("increment", resp)
	}
	return uint64(inc.Value()), nil
}

// epochNow is the epoch a counter created now gets.
func (s *Store) epochNow() uint64 {
	return uint64(max(s.now().Sub(epochBase)/time.Second, 0)) + 1
}

func seqKey(room chat.Room) string { return "seq:" + string(room) }

// History implements chat.Store with one ListFetch of at most the store's
// limit (the original app's pushes do not truncate the list). Messages
// come in list order except that a run of ours between two items of the
// original app (which have no id) is put in id order: two instances may
// push in the opposite order of their sequence numbers. A message stored
// twice shows once; items that are not JSON objects with a message are
// skipped.
func (s *Store) History(ctx context.Context, room chat.Room) ([]chat.Message, error) {
	msgs, _, err := s.fetch(ctx, s.cc, room, int(s.limit))
	return msgs, err
}

// Tail implements chat.TailStore: one ListFetch of the list's last n items.
// n of the limit or more reads History: all there is to read (whole).
func (s *Store) Tail(ctx context.Context, room chat.Room, n int) ([]chat.Message, bool, error) {
	if n >= int(s.limit) {
		msgs, err := s.History(ctx, room)
		return msgs, true, err
	}
	return s.fetch(ctx, s.cc, room, n)
}

// fetch reads the last n items of room's list (n ≥ 1). whole reports that
// the list has no more.
func (s *Store) fetch(ctx context.Context, cc sdk.CacheClient, room chat.Room, n int) (msgs []chat.Message, whole bool, err error) {
	start := -int32(min(max(n, 1), 1<<30))
	resp, err := cc.ListFetch(ctx, &sdk.ListFetchRequest{CacheName: s.cache, ListName: string(room), StartIndex: &start})
	if err != nil {
		return nil, false, fmt.Errorf("momento: fetch %q: %w", room, err)
	}
	switch r := resp.(type) {
	case *responses.ListFetchMiss:
		return nil, true, nil
	case *responses.ListFetchHit:
		items := r.ValueListByte()
		return decodeList(room, items), len(items) < n, nil
	default:
		return nil, false, errUnexpected("list fetch", resp)
	}
}

// decodeList turns list items into messages; see History.
func decodeList(room chat.Room, items [][]byte) []chat.Message {
	msgs := make([]chat.Message, 0, len(items))
	seen := make(map[chat.ID]bool, len(items))
	for _, item := range items {
		m, ok := decode(room, item)
		switch {
		case !ok:
			continue
		case m.ID.IsZero():
			msgs = append(msgs, m)
			continue
		case seen[m.ID]:
			continue
		}
		seen[m.ID] = true
		msgs = append(msgs, m)
	}
	// Each run between the original app's items, in id order.
	start := 0
	for i := 0; i <= len(msgs); i++ {
		if i == len(msgs) || msgs[i].ID.IsZero() {
			slices.SortStableFunc(msgs[start:i], func(a, b chat.Message) int {
				return cmp.Or(cmp.Compare(a.ID.Epoch, b.ID.Epoch), cmp.Compare(a.ID.Seq, b.ID.Seq))
			})
			start = i + 1
		}
	}
	return msgs
}

// item is a list item as stored by us or the original app, decoded
// leniently: the original app's carry only username and message, and
// its message may be any JSON value.
type item struct {
	ID       json.RawMessage `json:"id"`
	Room     json.RawMessage `json:"room"`
	Username json.RawMessage `json:"username"`
	Message  json.RawMessage `json:"message"`
	Time     json.RawMessage `json:"time"`
}

// decode reads one list item. ok is false for an item that is not a JSON
// object with a message.
func decode(room chat.Room, b []byte) (chat.Message, bool) {
	var it item
	if json.Unmarshal(b, &it) != nil || it.Message == nil {
		return chat.Message{}, false
	}
	m := chat.Message{Room: room, Username: text(it.Username), Text: text(it.Message)}
	if s := text(it.ID); s != "" {
		id, ok := chat.ParseID(s)
		if !ok {
			return chat.Message{}, false
		}
		m.ID = id
	}
	if s := text(it.Time); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			m.Time = t
		}
	}
	return m, true
}

// text is a JSON string's value, or any other JSON value's compact text
// ("" for null or absent).
func text(raw json.RawMessage) string {
	if raw == nil || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// Ping implements chat.Store.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.cc.Ping(ctx); err != nil {
		return fmt.Errorf("momento: ping: %w", err)
	}
	return nil
}

// pause waits for *backoff or ctx, then doubles *backoff up to limit.
func pause(ctx context.Context, backoff *time.Duration, limit time.Duration) error {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	*backoff = min(*backoff*2, limit)
	return nil
}
