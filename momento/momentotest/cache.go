package momentotest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// cache is one named cache: its items and its topics.
type cache struct {
	items  map[string]*item
	topics map[string]*topic
}

func newCache() *cache {
	return &cache{items: make(map[string]*item), topics: make(map[string]*topic)}
}

// item is a scalar value or a list, with its expiry.
type item struct {
	isList  bool
	value   []byte   // scalar
	list    [][]byte // list, oldest first
	size    int      // key bytes + value bytes
	expires time.Time
}

func (it *item) expired(now time.Time) bool { return !now.Before(it.expires) }

// live returns the unexpired item at key, removing it if it has expired.
func (c *cache) live(key string, now time.Time) *item {
	it := c.items[key]
	if it != nil && it.expired(now) {
		delete(c.items, key)
		return nil
	}
	return it
}

// cacheFor returns the cache named by the call's `cache` header. s.mu must
// be held.
func (s *Server) cacheFor(c *call) (*cache, error) {
	name := c.header("cache")
	ch := s.caches[name]
	if ch == nil {
		return nil, errCacheNotFound(name)
	}
	return ch, nil
}

// ttl validates a ttl_milliseconds field.
func (s *Server) ttl(ms uint64) (time.Duration, error) {
	if ms == 0 {
		return 0, errorf(codes.InvalidArgument, "", "ttl_milliseconds must be positive")
	}
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return 0, errorf(codes.InvalidArgument, "", "ttl_milliseconds %d is too large", ms)
	}
	d := time.Duration(ms) * time.Millisecond
	if limit := s.opts.limits.MaxTTL; limit > 0 && d > limit {
		return 0, errorf(codes.InvalidArgument, "", "TTL %v exceeds the maximum of %v", d, limit)
	}
	return d, nil
}

func (s *Server) checkItemSize(size int) error {
	if limit := s.opts.limits.MaxItemSize; limit > 0 && size > limit {
		return errorf(codes.ResourceExhausted, "item_size_limit_exceeded",
			"Item size limit exceeded: %d bytes is more than %d", size, limit)
	}
	return nil
}

func errWrongType(key string) error {
	return errorf(codes.FailedPrecondition, "", "Item %q has a different type", key)
}

// Control plane.

func (s *Server) createCache(c *call) (*dynamicpb.Message, error) {
	name := getString(c.req, "cache_name")
	if name == "" {
		return nil, errorf(codes.InvalidArgument, "", "cache_name must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caches[name] != nil {
		return nil, errorf(codes.AlreadyExists, "cache_already_exists", "Cache already exists: %q", name)
	}
	s.caches[name] = newCache()
	return c.response(), nil
}

func (s *Server) deleteCache(c *call) (*dynamicpb.Message, error) {
	name := getString(c.req, "cache_name")
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.caches[name]
	if ch == nil {
		return nil, errCacheNotFound(name)
	}
	delete(s.caches, name)
	for sub := range s.subs {
		if sub.cache == name {
			sub.end(errCacheNotFound(name))
		}
	}
	return c.response(), nil
}

func (s *Server) listCaches(c *call) (*dynamicpb.Message, error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.caches))
	for name := range s.caches {
		names = append(names, name)
	}
	s.mu.Unlock()
	slices.Sort(names)

	resp := c.response()
	list := resp.Mutable(field(resp, "cache")).List()
	lim := s.opts.limits
	for _, name := range names {
		ci := list.NewElement().Message()
		set(ci, "cache_name", protoreflect.ValueOfString(name))
		cl := mutable(ci, "cache_limits")
		set(cl, "max_item_size_kb", protoreflect.ValueOfUint32(uint32(lim.MaxItemSize>>10)))
		set(cl, "max_ttl_seconds", protoreflect.ValueOfUint64(uint64(lim.MaxTTL/time.Second)))
		tl := mutable(ci, "topic_limits")
		set(tl, "max_subscription_count", protoreflect.ValueOfUint32(uint32(lim.MaxSubscriptions)))
		set(tl, "max_publish_message_size_kb", protoreflect.ValueOfUint32(uint32(lim.MaxTopicMessageSize>>10)))
		list.Append(protoreflect.ValueOfMessage(ci))
	}
	return resp, nil
}

// Scalars.

func (s *Server) get(c *call) (*dynamicpb.Message, error) {
	key := string(getBytes(c.req, "cache_key"))
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	resp := c.response()
	resultEnum := field(resp, "result").Enum()
	it := ch.live(key, s.opts.now())
	switch {
	case it == nil:
		set(resp, "result", protoreflect.ValueOfEnum(resultEnum.Values().ByName("Miss").Number()))
	case it.isList:
		return nil, errWrongType(key)
	default:
		set(resp, "result", protoreflect.ValueOfEnum(resultEnum.Values().ByName("Hit").Number()))
		set(resp, "cache_body", protoreflect.ValueOfBytes(it.value))
	}
	return resp, nil
}

func (s *Server) set(c *call) (*dynamicpb.Message, error) {
	if _, err := s.put(c, nil); err != nil {
		return nil, err
	}
	resp := c.response()
	resultEnum := field(resp, "result").Enum()
	set(resp, "result", protoreflect.ValueOfEnum(resultEnum.Values().ByName("Ok").Number()))
	return resp, nil
}

// setIf is Set under a condition on the current value (SetIfEqual,
// SetIfAbsent, SetIfPresent, SetIfNotEqual and their combinations); the
// answer says whether the value was stored.
func (s *Server) setIf(c *call) (*dynamicpb.Message, error) {
	cond := whichOneof(c.req, "condition")
	var check []byte
	if cond != "" && cond != "present" && cond != "absent" {
		check = getBytes(c.req.Get(field(c.req, string(cond))).Message(), "value_to_check")
	}
	var when func(it *item) bool
	switch cond {
	case "present":
		when = func(it *item) bool { return it != nil }
	case "absent":
		when = func(it *item) bool { return it == nil }
	case "equal":
		when = func(it *item) bool { return it != nil && bytes.Equal(it.value, check) }
	case "not_equal":
		when = func(it *item) bool { return it == nil || !bytes.Equal(it.value, check) }
	case "present_and_not_equal":
		when = func(it *item) bool { return it != nil && !bytes.Equal(it.value, check) }
	case "absent_or_equal":
		when = func(it *item) bool { return it == nil || bytes.Equal(it.value, check) }
	default:
		return nil, errorf(codes.InvalidArgument, "", "SetIf: unsupported condition %q", cond)
	}
	stored, err := s.put(c, when)
	if err != nil {
		return nil, err
	}
	resp := c.response()
	if stored {
		mutable(resp, "stored")
	} else {
		mutable(resp, "not_stored")
	}
	return resp, nil
}

// put stores the request's cache_body under its cache_key with its TTL:
// always when when is nil (Set), else if when says so of the live item
// (nil when there is none), which must then not be a list.
func (s *Server) put(c *call, when func(it *item) bool) (stored bool, err error) {
	key := getBytes(c.req, "cache_key")
	value := getBytes(c.req, "cache_body")
	ttl, err := s.ttl(getUint(c.req, "ttl_milliseconds"))
	if err != nil {
		return false, err
	}
	size := len(key) + len(value)
	if err := s.checkItemSize(size); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return false, err
	}
	now := s.opts.now()
	if when != nil {
		it := ch.live(string(key), now)
		if it != nil && it.isList {
			return false, errWrongType(string(key))
		}
		if !when(it) {
			return false, nil
		}
	}
	ch.items[string(key)] = &item{value: value, size: size, expires: now.Add(ttl)}
	return true, nil
}

func (s *Server) delete(c *call) (*dynamicpb.Message, error) {
	key := string(getBytes(c.req, "cache_key"))
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	delete(ch.items, key)
	return c.response(), nil
}

// IncrementTTL is what Increment does to the TTL of an item that exists.
// Its request carries a ttl_milliseconds and no refresh flag, and Momento
// does not document the answer; see [WithIncrementTTL].
type IncrementTTL int

const (
	// IncrementKeepTTL keeps an existing item's expiry: the TTL applies
	// only when the increment creates the item. The default.
	IncrementKeepTTL IncrementTTL = iota
	// IncrementRefreshTTL sets the expiry to now+ttl on every increment.
	IncrementRefreshTTL
)

// String returns "keep" or "refresh".
func (m IncrementTTL) String() string {
	switch m {
	case IncrementKeepTTL:
		return "keep"
	case IncrementRefreshTTL:
		return "refresh"
	}
	return "IncrementTTL(" + strconv.Itoa(int(m)) + ")"
}

// ParseIncrementTTL parses "keep" or "refresh".
func ParseIncrementTTL(s string) (IncrementTTL, error) {
	switch s {
	case "keep":
		return IncrementKeepTTL, nil
	case "refresh":
		return IncrementRefreshTTL, nil
	}
	return 0, fmt.Errorf("momentotest: increment TTL %q is neither keep nor refresh", s)
}

// WithIncrementTTL selects what Increment does to an existing item's TTL
// (default [IncrementKeepTTL]), so that code can be tested under both
// behaviours.
func WithIncrementTTL(m IncrementTTL) Option {
	return func(o *options) { o.incrementTTL = m }
}

func (s *Server) increment(c *call) (*dynamicpb.Message, error) {
	key := getBytes(c.req, "cache_key")
	amount := getInt(c.req, "amount")
	ttl, err := s.ttl(getUint(c.req, "ttl_milliseconds"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	now := s.opts.now()
	var old int64
	expires := now.Add(ttl)
	if it := ch.live(string(key), now); it != nil {
		if it.isList {
			return nil, errWrongType(string(key))
		}
		if s.opts.incrementTTL == IncrementKeepTTL {
			expires = it.expires
		}
		old, err = strconv.ParseInt(string(it.value), 10, 64)
		if err != nil {
			return nil, errorf(codes.FailedPrecondition, "",
				"Increment failed: the value of %q is not a base 10 integer", key)
		}
	}
	sum := old + amount
	if (amount > 0 && sum < old) || (amount < 0 && sum > old) {
		return nil, errorf(codes.FailedPrecondition, "",
			"Increment failed: %d + %d overflows a signed 64-bit integer", old, amount)
	}
	value := []byte(strconv.FormatInt(sum, 10))
	ch.items[string(key)] = &item{value: value, size: len(key) + len(value), expires: expires}
	resp := c.response()
	set(resp, "value", protoreflect.ValueOfInt64(sum))
	return resp, nil
}

// Lists.

func (s *Server) listPushBack(c *call) (*dynamicpb.Message, error) {
	key := getBytes(c.req, "list_name")
	value := getBytes(c.req, "value")
	refresh := getBool(c.req, "refresh_ttl")
	truncate := int(getUint(c.req, "truncate_front_to_size"))
	ttl, err := s.ttl(getUint(c.req, "ttl_milliseconds"))
	if err != nil {
		return nil, err
	}
	if limit := s.opts.limits.MaxElementSize; limit > 0 && len(value) > limit {
		return nil, errorf(codes.ResourceExhausted, "element_size_limit_exceeded",
			"Element size limit exceeded: %d bytes is more than %d", len(value), limit)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	now := s.opts.now()
	it := ch.live(string(key), now)
	if it == nil {
		it = &item{isList: true, size: len(key), expires: now.Add(ttl)}
	} else if !it.isList {
		return nil, errWrongType(string(key))
	}

	// Work out the result before changing anything, so that a refused push
	// leaves the list as it was.
	drop := 0
	if truncate > 0 && len(it.list)+1 > truncate {
		drop = len(it.list) + 1 - truncate
	}
	size := it.size + len(value)
	for _, v := range it.list[:drop] {
		size -= len(v)
	}
	if err := s.checkItemSize(size); err != nil {
		return nil, err
	}

	it.list = append(it.list[drop:], value)
	it.size = size
	if refresh {
		it.expires = now.Add(ttl)
	}
	ch.items[string(key)] = it

	resp := c.response()
	set(resp, "list_length", protoreflect.ValueOfUint32(uint32(len(it.list))))
	return resp, nil
}

// listItem returns the live list at the request's list_name, nil if there
// is none. s.mu must be held.
func (s *Server) listItem(c *call) (*item, error) {
	key := string(getBytes(c.req, "list_name"))
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	it := ch.live(key, s.opts.now())
	if it != nil && !it.isList {
		return nil, errWrongType(key)
	}
	return it, nil
}

func (s *Server) listFetch(c *call) (*dynamicpb.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.listItem(c)
	if err != nil {
		return nil, err
	}
	resp := c.response()
	if it == nil {
		mutable(resp, "missing")
		return resp, nil
	}
	n := len(it.list)
	start, end := 0, n
	if whichOneof(c.req, "start_index") == "inclusive_start" {
		start = listIndex(getInt(c.req, "inclusive_start"), n)
	}
	if whichOneof(c.req, "end_index") == "exclusive_end" {
		end = listIndex(getInt(c.req, "exclusive_end"), n)
	}
	if start >= end {
		mutable(resp, "missing")
		return resp, nil
	}
	values := mutable(resp, "found")
	list := values.Mutable(field(values, "values")).List()
	for _, v := range it.list[start:end] {
		list.Append(protoreflect.ValueOfBytes(v))
	}
	return resp, nil
}

// listIndex resolves a possibly negative index into [0, n].
func listIndex(i int64, n int) int {
	if i < 0 {
		i += int64(n)
	}
	return int(min(max(i, 0), int64(n)))
}

func (s *Server) listLength(c *call) (*dynamicpb.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.listItem(c)
	if err != nil {
		return nil, err
	}
	resp := c.response()
	if it == nil {
		mutable(resp, "missing")
		return resp, nil
	}
	set(mutable(resp, "found"), "length", protoreflect.ValueOfUint32(uint32(len(it.list))))
	return resp, nil
}

// listRemove removes every element equal to the request's
// all_elements_with_value (the SDK's ListRemoveValue). A list left empty
// is gone, as Momento deletes empty collections. The list's TTL is kept.
func (s *Server) listRemove(c *call) (*dynamicpb.Message, error) {
	if whichOneof(c.req, "remove") != "all_elements_with_value" {
		return nil, errorf(codes.InvalidArgument, "", "ListRemove: no value to remove")
	}
	value := getBytes(c.req, "all_elements_with_value")
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.listItem(c)
	if err != nil {
		return nil, err
	}
	resp := c.response()
	if it == nil {
		mutable(resp, "missing")
		return resp, nil
	}
	kept := it.list[:0]
	for _, v := range it.list {
		if bytes.Equal(v, value) {
			it.size -= len(v)
			continue
		}
		kept = append(kept, v)
	}
	clear(it.list[len(kept):])
	it.list = kept
	if len(it.list) == 0 {
		ch, _ := s.cacheFor(c) // listItem found it
		delete(ch.items, string(getBytes(c.req, "list_name")))
	}
	set(mutable(resp, "found"), "list_length", protoreflect.ValueOfUint32(uint32(len(it.list))))
	return resp, nil
}

// TTLs.

// updateTTL sets the expiry of an item of any type (the SDK's UpdateTtl,
// IncreaseTtl, DecreaseTtl): overwrite unconditionally, increase or
// decrease only when the new TTL is longer or shorter than what is left.
func (s *Server) updateTTL(c *call) (*dynamicpb.Message, error) {
	key := string(getBytes(c.req, "cache_key"))
	how := whichOneof(c.req, "update_ttl")
	if how == "" {
		return nil, errorf(codes.InvalidArgument, "", "UpdateTtl: no TTL")
	}
	ttl, err := s.ttl(getUint(c.req, string(how)))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	now := s.opts.now()
	resp := c.response()
	it := ch.live(key, now)
	if it == nil {
		mutable(resp, "missing")
		return resp, nil
	}
	expires := now.Add(ttl)
	switch {
	case how == "increase_to_milliseconds" && !expires.After(it.expires),
		how == "decrease_to_milliseconds" && !expires.Before(it.expires):
		mutable(resp, "not_set")
		return resp, nil
	}
	it.expires = expires
	mutable(resp, "set")
	return resp, nil
}

// itemGetTTL answers the time an item of any type has left.
func (s *Server) itemGetTTL(c *call) (*dynamicpb.Message, error) {
	key := string(getBytes(c.req, "cache_key"))
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.cacheFor(c)
	if err != nil {
		return nil, err
	}
	now := s.opts.now()
	resp := c.response()
	it := ch.live(key, now)
	if it == nil {
		mutable(resp, "missing")
		return resp, nil
	}
	set(mutable(resp, "found"), "remaining_ttl_millis", protoreflect.ValueOfUint64(uint64(it.expires.Sub(now)/time.Millisecond)))
	return resp, nil
}
