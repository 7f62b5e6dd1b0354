package momentotest

import (
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// topic is one topic of a cache: its sequence, page and retained items.
// Subscriptions read the retained items themselves, so a publisher never
// waits for a subscriber and a slow subscriber can only miss items (and is
// told so with a discontinuity).
type topic struct {
	page    uint64
	lastSeq uint64
	ring    []topicItem   // the newest retained items, contiguous, oldest first
	wake    chan struct{} // closed and replaced whenever the topic changes
}

type topicItem struct {
	seq    uint64
	isText bool
	text   string
	binary []byte
}

// cursor is where a subscription stands: the page it is on and the next
// sequence number it expects.
type cursor struct{ page, next uint64 }

// discontinuity mirrors _Discontinuity.
type discontinuity struct{ last, next, page uint64 }

// subscription is one live Subscribe stream.
type subscription struct {
	cache, topic string
	done         chan struct{} // closed by end
	err          error         // why it ended; set before done is closed
}

// end ends the subscription with err. s.mu must be held.
func (sub *subscription) end(err error) {
	if sub.err == nil {
		sub.err = err
		close(sub.done)
	}
}

// topicLocked returns the named topic of ch, creating it. s.mu must be held.
func (s *Server) topicLocked(ch *cache, name string) *topic {
	t := ch.topics[name]
	if t == nil {
		t = &topic{page: s.newPageLocked(), wake: make(chan struct{})}
		ch.topics[name] = t
	}
	return t
}

// newPageLocked returns a sequence page greater than any before. Pages are
// the wall clock's Unix seconds (like the 1748358253 in Momento's HTTP API
// docs), bumped past the last page when two topics start in one second:
// they grow, not one by one, differ between server runs, and stay far
// below 2^53, so that JavaScript SDKs, which hold them as numbers, keep
// them exact.
func (s *Server) newPageLocked() uint64 {
	p := uint64(max(time.Now().Unix(), 1))
	if p <= s.lastPage {
		p = s.lastPage + 1
	}
	s.lastPage = p
	return p
}

func (t *topic) oldest() uint64 {
	if len(t.ring) > 0 {
		return t.ring[0].seq
	}
	return t.lastSeq + 1
}

func (t *topic) signal() {
	close(t.wake)
	t.wake = make(chan struct{})
}

func (t *topic) publish(it topicItem, retention int) {
	t.lastSeq++
	it.seq = t.lastSeq
	if retention > 0 {
		t.ring = append(t.ring, it)
		if n := len(t.ring); n > retention {
			t.ring = t.ring[n-retention:]
		}
	}
	t.signal()
}

// advance moves cur past everything available: it returns the
// discontinuity to report first, if any, and the items to send.
func (t *topic) advance(cur *cursor) (*discontinuity, []topicItem) {
	var d *discontinuity
	switch {
	case cur.page != t.page, cur.next < t.oldest():
		// Topic reset, or the items the subscriber wants are gone.
		d = &discontinuity{last: cur.next - 1, next: t.oldest() - 1, page: t.page}
		cur.page, cur.next = t.page, t.oldest()
	case cur.next > t.lastSeq+1:
		// Resuming beyond the newest item: the subscriber knows a history
		// this topic does not have.
		d = &discontinuity{last: cur.next - 1, next: t.lastSeq, page: t.page}
		cur.next = t.lastSeq + 1
	}
	var items []topicItem
	if cur.next <= t.lastSeq {
		items = slices.Clone(t.ring[cur.next-t.ring[0].seq:])
		cur.next = t.lastSeq + 1
	}
	return d, items
}

func (s *Server) publish(c *call) (*dynamicpb.Message, error) {
	cacheName := getString(c.req, "cache_name")
	topicName := getString(c.req, "topic")
	if topicName == "" {
		return nil, errorf(codes.InvalidArgument, "", "topic must not be empty")
	}
	value := c.req.Get(field(c.req, "value")).Message()
	var it topicItem
	switch whichOneof(value, "kind") {
	case "text":
		it.isText, it.text = true, getString(value, "text")
	case "binary":
		it.binary = getBytes(value, "binary")
	default:
		return nil, errorf(codes.InvalidArgument, "", "value must be text or binary")
	}
	if size, limit := len(it.text)+len(it.binary), s.opts.limits.MaxTopicMessageSize; limit > 0 && size > limit {
		return nil, errorf(codes.ResourceExhausted, "request_size_limit_exceeded",
			"Request size limit exceeded: topic message of %d bytes is more than %d", size, limit)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.caches[cacheName]
	if ch == nil {
		return nil, errCacheNotFound(cacheName)
	}
	s.topicLocked(ch, topicName).publish(it, s.opts.retention)
	return c.response(), nil
}

func (s *Server) subscribe(c *call, ss grpc.ServerStream) error {
	cacheName := getString(c.req, "cache_name")
	topicName := getString(c.req, "topic")
	resume := getUint(c.req, "resume_at_topic_sequence_number")
	page := getUint(c.req, "sequence_page")
	if topicName == "" {
		return errorf(codes.InvalidArgument, "", "topic must not be empty")
	}

	s.mu.Lock()
	ch := s.caches[cacheName]
	if ch == nil {
		s.mu.Unlock()
		return errCacheNotFound(cacheName)
	}
	if limit := s.opts.limits.MaxSubscriptions; limit > 0 && len(s.subs) >= limit {
		s.mu.Unlock()
		return errorf(codes.ResourceExhausted, "topic_subscriptions_limit_exceeded",
			"Too many subscribers (limit: %d)", limit)
	}
	t := s.topicLocked(ch, topicName)
	cur := cursor{page: t.page, next: t.lastSeq + 1}
	var fresh *discontinuity
	if resume > 0 {
		cur.next = resume
		if page != 0 {
			cur.page = page
		}
	} else {
		// A fresh subscription starts with the latest retained item, after
		// a discontinuity that tells it the page (and the number after which
		// items come).
		if len(t.ring) > 0 {
			cur.next = t.lastSeq
		}
		fresh = &discontinuity{last: 0, next: cur.next - 1, page: t.page}
	}
	sub := &subscription{cache: cacheName, topic: topicName, done: make(chan struct{})}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	st := &stream{ss: ss, out: c.method.Output()}
	// The SDK's Subscribe waits for this first heartbeat.
	if err := st.heartbeat(); err != nil {
		return err
	}
	if fresh != nil {
		if err := st.discontinuity(fresh); err != nil {
			return err
		}
	}
	timer := time.NewTimer(s.opts.heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-sub.done:
			return sub.err
		default:
		}
		s.mu.Lock()
		d, items := t.advance(&cur)
		wake := t.wake
		s.mu.Unlock()

		if d != nil {
			if err := st.discontinuity(d); err != nil {
				return err
			}
		}
		for _, it := range items {
			// Billed before it is sent, so that a test that has received an
			// item sees it in the meter.
			s.billDelivery(len(it.text) + len(it.binary))
			if err := st.item(it, cur.page); err != nil {
				return err
			}
		}
		if d != nil || len(items) > 0 {
			timer.Reset(s.opts.heartbeat)
			continue
		}

		select {
		case <-wake:
		case <-timer.C:
			if err := st.heartbeat(); err != nil {
				return err
			}
			timer.Reset(s.opts.heartbeat)
		case <-c.ctx.Done():
			return status.FromContextError(c.ctx.Err()).Err()
		case <-sub.done:
			return sub.err
		}
	}
}

// stream writes _SubscriptionItem messages.
type stream struct {
	ss  grpc.ServerStream
	out protoreflect.MessageDescriptor
}

func (st *stream) heartbeat() error {
	m := dynamicpb.NewMessage(st.out)
	mutable(m, "heartbeat")
	return st.ss.SendMsg(m)
}

func (st *stream) discontinuity(d *discontinuity) error {
	m := dynamicpb.NewMessage(st.out)
	dm := mutable(m, "discontinuity")
	set(dm, "last_topic_sequence", protoreflect.ValueOfUint64(d.last))
	set(dm, "new_topic_sequence", protoreflect.ValueOfUint64(d.next))
	set(dm, "new_sequence_page", protoreflect.ValueOfUint64(d.page))
	return st.ss.SendMsg(m)
}

func (st *stream) item(it topicItem, page uint64) error {
	m := dynamicpb.NewMessage(st.out)
	im := mutable(m, "item")
	set(im, "topic_sequence_number", protoreflect.ValueOfUint64(it.seq))
	set(im, "sequence_page", protoreflect.ValueOfUint64(page))
	v := mutable(im, "value")
	if it.isText {
		set(v, "text", protoreflect.ValueOfString(it.text))
	} else {
		set(v, "binary", protoreflect.ValueOfBytes(it.binary))
	}
	return st.ss.SendMsg(m)
}

// Subscribers returns the number of live Subscribe streams on a topic.
func (s *Server) Subscribers(cache, topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sub := range s.subs {
		if sub.cache == cache && sub.topic == topic {
			n++
		}
	}
	return n
}

// DropSubscriptions ends every live Subscribe stream with Unavailable, as a
// broken subscription would end. The SDK then reconnects according to its
// topic retry strategy, or returns the error (ServerUnavailableError) from
// Item and Event with retry.NewNeverRetryStrategy.
func (s *Server) DropSubscriptions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.end(status.Error(codes.Unavailable, "momentotest: subscription dropped (DropSubscriptions)"))
	}
}

// ResetTopic simulates a topic reset: the topic gets a new sequence page,
// numbering restarts at 1 and retained items are forgotten. Live
// subscribers receive a discontinuity with the new page.
func (s *Server) ResetTopic(cache, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.caches[cache]
	if ch == nil {
		return
	}
	t := s.topicLocked(ch, topic)
	t.page, t.lastSeq, t.ring = s.newPageLocked(), 0, nil
	t.signal()
}
