package momento

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	sdk "github.com/momentohq/client-sdk-go/momento"
	"github.com/momentohq/client-sdk-go/responses"

	"github.com/sessionchat/sessionchat/chat"
)

// Rooms with a lifetime and a host (chat.RoomStore) on Momento.
//
// A room's state is the scalar "room:<room>": its chat.RoomState as JSON
// plus "keep", when the room and its history expire (its end plus the
// grace period), which is the key's TTL too. The key is written only by
// check-and-set calls (SetIfAbsent to start a room, SetIfPresent or else
// SetIfAbsent to save it): Momento leaves mixing those with Set or Delete
// on one key undefined.
//
// A post costs nothing more for its room's state: the service keeps
// states in memory, and this store keeps, for every started room it has
// heard of (started, saved or read here, or carried by the relay with its
// keep), when the room is kept, so that a post's Increment and ListPushBack
// set the counter's and the list's expiry to it rather than the history
// TTL after the post.

// stateKey is the key of room's state.
func stateKey(room chat.Room) string { return "room:" + string(room) }

// storedState is the value at stateKey.
type storedState struct {
	chat.RoomState
	Keep time.Time `json:"keep,omitzero"`
}

var _ chat.RoomStore = (*Store)(nil)

// keeps is what a store knows of when started rooms expire.
type keeps struct {
	mu sync.Mutex
	m  map[chat.Room]time.Time
	// adds counts additions since the last sweep of rooms gone.
	adds int
}

// keepOf returns when room is kept, zero for a room this store does not
// know to have a set end (its history lives TTL after its last post).
func (s *Store) keepOf(room chat.Room) time.Time {
	s.keeps.mu.Lock()
	defer s.keeps.mu.Unlock()
	return s.keeps.m[room]
}

// learnKeep records when room is kept; a zero keep forgets it.
func (s *Store) learnKeep(room chat.Room, keep time.Time) {
	k := &s.keeps
	k.mu.Lock()
	defer k.mu.Unlock()
	if keep.IsZero() {
		delete(k.m, room)
		return
	}
	if k.m == nil {
		k.m = make(map[chat.Room]time.Time)
	}
	k.m[room] = keep
	// Rooms whose keep has passed are gone: sweep them now and then, so
	// the map holds only live started rooms.
	if k.adds++; k.adds >= 1024 && k.adds >= len(k.m) {
		k.adds = 0
		now := s.now()
		for r, at := range k.m {
			if !now.Before(at) {
				delete(k.m, r)
			}
		}
	}
}

// ttlFor is the TTL of a post's counter and list: until the room's keep
// for a started room (capped to Momento's maximum), else the history TTL,
// refreshed by every post.
func (s *Store) ttlFor(room chat.Room) time.Duration {
	keep := s.keepOf(room)
	if keep.IsZero() {
		return s.ttl
	}
	return ttlUntil(keep, s.now())
}

// ttlUntil is a TTL that ends at keep, at least a second and at most
// MaxTTL.
func ttlUntil(keep, now time.Time) time.Duration {
	return min(max(keep.Sub(now), time.Second), MaxTTL)
}

// StartRoom implements chat.RoomStore: a ListLength (the room has no
// history) and a SetIfAbsent of its state, 3 operations. A post that
// lands between the two is the started room's first message.
func (s *Store) StartRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	n, err := s.length(ctx, st.Room)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %q has a history", chat.ErrExists, st.Room)
	}
	value, ttl, err := s.encodeState(st, keep)
	if err != nil {
		return err
	}
	resp, err := s.cc.SetIfAbsent(ctx, &sdk.SetIfAbsentRequest{
		CacheName: s.cache, Key: sdk.String(stateKey(st.Room)), Value: sdk.Bytes(value), Ttl: ttl,
	})
	if err != nil {
		return fmt.Errorf("momento: start %q: %w", st.Room, err)
	}
	switch resp.(type) {
	case *responses.SetIfAbsentStored:
		s.learnKeep(st.Room, keep)
		return nil
	case *responses.SetIfAbsentNotStored:
		return fmt.Errorf("%w: %q has a state", chat.ErrExists, st.Room)
	}
	return errUnexpected("set if absent", resp)
}

// length is the length of room's list, 0 when it has none.
func (s *Store) length(ctx context.Context, room chat.Room) (int, error) {
	resp, err := s.cc.ListLength(ctx, &sdk.ListLengthRequest{CacheName: s.cache, ListName: string(room)})
	if err != nil {
		return 0, fmt.Errorf("momento: length of %q: %w", room, err)
	}
	switch r := resp.(type) {
	case *responses.ListLengthHit:
		return int(r.Length()), nil
	case *responses.ListLengthMiss:
		return 0, nil
	}
	return 0, errUnexpected("list length", resp)
}

// encodeState is st's stored value and the TTL of the key: until keep,
// or the history TTL for a room without a set end (locked by a host, it
// takes no posts, so its history expires before the lock).
func (s *Store) encodeState(st chat.RoomState, keep time.Time) ([]byte, time.Duration, error) {
	value, err := json.Marshal(storedState{RoomState: st, Keep: keep.UTC()})
	if err != nil {
		return nil, 0, err
	}
	if keep.IsZero() {
		return value, s.ttl, nil
	}
	return value, ttlUntil(keep, s.now()), nil
}

// RoomState implements chat.RoomStore: a Get, 2 operations (a state is
// well under 1 KiB).
func (s *Store) RoomState(ctx context.Context, room chat.Room) (chat.RoomState, bool, error) {
	resp, err := s.cc.Get(ctx, &sdk.GetRequest{CacheName: s.cache, Key: sdk.String(stateKey(room))})
	if err != nil {
		return chat.RoomState{}, false, fmt.Errorf("momento: state of %q: %w", room, err)
	}
	switch r := resp.(type) {
	case *responses.GetMiss:
		s.learnKeep(room, time.Time{})
		return chat.RoomState{}, false, nil
	case *responses.GetHit:
		var ss storedState
		if err := json.Unmarshal(r.ValueByte(), &ss); err != nil {
			return chat.RoomState{}, false, fmt.Errorf("momento: state of %q: %w", room, err)
		}
		ss.Room = room
		s.learnKeep(room, ss.Keep)
		return ss.RoomState, true, nil
	}
	return chat.RoomState{}, false, errUnexpected("get", resp)
}

// SaveRoom implements chat.RoomStore: a SetIfPresent of the state (a
// SetIfAbsent too when the room had none), and for a room with a keep an
// UpdateTtl of its list: 3 operations, 5 for a room without a state.
func (s *Store) SaveRoom(ctx context.Context, st chat.RoomState, keep time.Time) error {
	value, ttl, err := s.encodeState(st, keep)
	if err != nil {
		return err
	}
	key := sdk.String(stateKey(st.Room))
	// Replace whatever is there, by check-and-set calls alone: present,
	// else absent (a race with a save that creates it goes round again).
	for try := 0; ; try++ {
		resp, err := s.cc.SetIfPresent(ctx, &sdk.SetIfPresentRequest{CacheName: s.cache, Key: key, Value: sdk.Bytes(value), Ttl: ttl})
		if err != nil {
			return fmt.Errorf("momento: save %q: %w", st.Room, err)
		}
		if _, ok := resp.(*responses.SetIfPresentStored); ok {
			break
		}
		resp2, err := s.cc.SetIfAbsent(ctx, &sdk.SetIfAbsentRequest{CacheName: s.cache, Key: key, Value: sdk.Bytes(value), Ttl: ttl})
		if err != nil {
			return fmt.Errorf("momento: save %q: %w", st.Room, err)
		}
		if _, ok := resp2.(*responses.SetIfAbsentStored); ok {
			break
		}
		if try >= 3 {
			return fmt.Errorf("momento: save %q: the state kept changing", st.Room)
		}
	}
	s.learnKeep(st.Room, keep)
	if keep.IsZero() {
		return nil
	}
	// The history lives until keep too (a missing list is fine: the
	// first post creates it with that TTL).
	if _, err := s.cc.UpdateTtl(ctx, &sdk.UpdateTtlRequest{CacheName: s.cache, Key: sdk.String(string(st.Room)), Ttl: ttl}); err != nil {
		return fmt.Errorf("momento: expiry of %q: %w", st.Room, err)
	}
	return nil
}

// deleteWindow is how far around its expected place Delete first looks
// for a message: pushes of nearby numbers may land in either order.
const deleteWindow = 8

// Delete implements chat.RoomStore: it finds the message's item in the
// list and removes that exact string (ListRemoveValue). The room's
// counter (a Get, 2 operations) says how many messages were numbered
// after it, so one ListFetch of 2×deleteWindow+1 items around that place
// finds it (about 18 operations), whatever its age; the list's end from
// there is read when it is not found there (messages after it that were
// never stored move it toward the end), and the whole list when the
// counter cannot say (another epoch). Then the ListRemoveValue, 1.
func (s *Store) Delete(ctx context.Context, room chat.Room, id chat.ID) error {
	if id.IsZero() {
		return fmt.Errorf("%w: %s", chat.ErrNotFound, id)
	}
	item, err := s.findItem(ctx, room, id)
	if err != nil {
		return err
	}
	if item == nil {
		return fmt.Errorf("%w: %s in %q", chat.ErrNotFound, id, room)
	}
	if _, err := s.cc.ListRemoveValue(ctx, &sdk.ListRemoveValueRequest{
		CacheName: s.cache, ListName: string(room), Value: sdk.Bytes(item),
	}); err != nil {
		return fmt.Errorf("momento: delete %s from %q: %w", id, room, err)
	}
	return nil
}

// findItem returns the stored item of message id, nil if room's list has
// none.
func (s *Store) findItem(ctx context.Context, room chat.Room, id chat.ID) ([]byte, error) {
	after := -1 // messages numbered after id; -1: unknown
	resp, err := s.cc.Get(ctx, &sdk.GetRequest{CacheName: s.cache, Key: sdk.String(seqKey(room))})
	if err != nil {
		return nil, fmt.Errorf("momento: sequence of %q: %w", room, err)
	}
	if hit, ok := resp.(*responses.GetHit); ok {
		v, err := strconv.ParseUint(hit.ValueString(), 10, 64)
		if err == nil && v>>seqBits == id.Epoch && v&seqMask >= id.Seq {
			after = int(min(v&seqMask-id.Seq, uint64(s.limit)))
		}
	}
	if after >= 0 {
		// Its place is after+1 from the end, give or take pushes that
		// landed in another order than their numbers; numbers after it
		// that were never stored put it nearer the end. So: around
		// there, then on toward the end in windows that double.
		lo, hi := max(after+1-deleteWindow, 1), after+1+deleteWindow
		foreign := false
		for width := hi - lo + 1; ; width *= 2 {
			r, err := s.findIn(ctx, room, id, lo, hi)
			if err != nil || r.item != nil {
				return r.item, err
			}
			foreign = foreign || r.foreign
			if lo == 1 {
				break
			}
			lo, hi = max(lo-width, 1), lo-1
		}
		// Unless items of the original app (not numbered) came after
		// it, it can be nowhere else.
		if !foreign {
			return nil, nil
		}
	}
	r, err := s.findIn(ctx, room, id, 1, int(s.limit))
	return r.item, err
}

// found is what findIn found.
type found struct {
	item    []byte // of the message; nil if not read
	foreign bool   // it read items without an id (the original app's)
}

// findIn reads the items of room's list from the lo-th to the hi-th from
// its end (1 is the last) for the item of message id.
func (s *Store) findIn(ctx context.Context, room chat.Room, id chat.ID, lo, hi int) (found, error) {
	start := -int32(hi)
	var end *int32
	if lo > 1 {
		e := -int32(lo - 1)
		end = &e
	}
	resp, err := s.cc.ListFetch(ctx, &sdk.ListFetchRequest{CacheName: s.cache, ListName: string(room), StartIndex: &start, EndIndex: end})
	if err != nil {
		return found{}, fmt.Errorf("momento: fetch %q: %w", room, err)
	}
	switch r := resp.(type) {
	case *responses.ListFetchMiss:
		return found{}, nil
	case *responses.ListFetchHit:
		var f found
		for _, b := range r.ValueListByte() {
			m, ok := decode(room, b)
			switch {
			case !ok || m.ID.IsZero():
				f.foreign = true
			case m.ID == id:
				f.item = b
				return f, nil
			}
		}
		return f, nil
	}
	return found{}, errUnexpected("list fetch", resp)
}
