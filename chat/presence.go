package chat

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Presence and typing: who is in a room now, and who is typing. Neither
// is ever stored.
//
// Each stream joined with JoinAs is a visitor: a person (it has a name)
// or a watcher (it has none). The hub knows this instance's visitors; the
// service turns them into a room's presence, merged with what the other
// instances say of theirs, and sends it to the room's visitors as a
// presence event, coalesced to one a PresenceEvery at most, whenever it
// changes (a stream joins or leaves, another instance's summary changes
// or lapses).
//
// Across instances (with a Relay) each instance publishes its own
// summary of a room (a here event, which never reaches a stream) when it
// changes, coalesced the same way, and again every PresenceBeat while it
// has visitors in the room; the others count it for PresenceTTL after
// the last one they heard, so that the people of an instance that died
// drop out within PresenceTTL. Typing is instance-local (see Typing).

// Event kinds of presence and typing. Presence and typing go only to
// streams joined with JoinAs; a here event only to the service.
const (
	KindPresence Kind = "presence" // a Presence
	KindTyping   Kind = "typing"   // a Typing
	KindHere     Kind = "here"     // an instance's summary of a room, relayed
)

// Presence timings.
const (
	// PresenceEvery is the least time between two presence events of a
	// room, and between two summaries an instance publishes for it.
	PresenceEvery = time.Second
	// PresenceBeat is how often an instance publishes again the summary
	// of a room where it has visitors.
	PresenceBeat = 4 * time.Second
	// PresenceTTL is how long another instance's summary counts after it
	// was heard.
	PresenceTTL = 9 * time.Second
	// presenceSweep is how often, with a relay, lapsed summaries are
	// looked for and beats are due.
	presenceSweep = time.Second
	// TypingFor is how long one typing notice counts; TypingEvery the
	// least time between two typing events of a room.
	TypingFor   = 5 * time.Second
	TypingEvery = time.Second
	// maxTypists bounds the typists a room keeps and a typing event
	// names: a page says "several people are typing" past three, and
	// notices under made-up keys cannot grow either without bound.
	maxTypists = 8
)

// Person is someone in a room: a name and an author tag (either may be
// empty; both empty is an anonymous watcher).
type Person struct {
	Name string `json:"name"`
	Tag  string `json:"tag,omitempty"`
}

// key identifies a person: by tag, else by name.
func (p Person) key() string {
	if p.Tag != "" {
		return p.Tag
	}
	return "\x00" + p.Name
}

// Presence is the data of a presence event: the people in a room (each
// once, however many streams they have, by name) and how many more only
// watch.
type Presence struct {
	Room     Room     `json:"room"`
	People   []Person `json:"people"`
	Watchers int      `json:"watchers"`
}

// Typing is the data of a typing event: who typed in the last TypingFor.
type Typing struct {
	Room   Room     `json:"room"`
	People []Person `json:"people"`
}

// here is an instance's summary of its visitors of a room.
type here struct {
	Room      Room     `json:"room"`
	From      string   `json:"from"`
	People    []Person `json:"people,omitempty"`
	Watching  []string `json:"watching,omitempty"` // tags of watchers
	Anonymous int      `json:"anon,omitempty"`     // watchers without a tag
	// Hello marks an instance's first summary of a room: the others
	// answer with theirs at once instead of at their next beat.
	Hello bool `json:"hello,omitempty"`
}

func (h *here) empty() bool { return len(h.People) == 0 && len(h.Watching) == 0 && h.Anonymous == 0 }

// summarize makes this instance's summary of visitors.
func summarize(room Room, from string, visitors []Person) here {
	h := here{Room: room, From: from}
	people := make(map[string]bool)
	watching := make(map[string]bool)
	for _, v := range visitors {
		switch {
		case v.Name != "":
			if !people[v.key()] {
				people[v.key()] = true
				h.People = append(h.People, v)
			}
		case v.Tag != "":
			if !watching[v.Tag] {
				watching[v.Tag] = true
				h.Watching = append(h.Watching, v.Tag)
			}
		default:
			h.Anonymous++
		}
	}
	sortPeople(h.People)
	slices.Sort(h.Watching)
	return h
}

// merge is the presence of room from the summaries of every instance.
func merge(room Room, hs ...here) Presence {
	p := Presence{Room: room, People: []Person{}}
	people := make(map[string]bool)
	watching := make(map[string]bool)
	for _, h := range hs {
		for _, v := range h.People {
			if !people[v.key()] {
				people[v.key()] = true
				p.People = append(p.People, v)
			}
		}
		for _, t := range h.Watching {
			watching[t] = true
		}
		p.Watchers += h.Anonymous
	}
	for t := range watching {
		if !people[t] {
			p.Watchers++
		}
	}
	sortPeople(p.People)
	return p
}

func sortPeople(ps []Person) {
	slices.SortFunc(ps, func(a, b Person) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			strings.Compare(a.Name, b.Name), strings.Compare(a.Tag, b.Tag))
	})
}

// Visitor is who a stream joined with JoinAs is: a name (empty for one
// who only watches) and the author's key (see Author), of which the
// room's presence shows only the tag.
type Visitor struct {
	Name string
	Key  string
}

// presenceRoom is what the service knows of a room's presence and typing.
type presenceRoom struct {
	timer  Timer     // the next presence event, when armed
	last   time.Time // when the last was made
	sent   string    // its JSON, as the room's visitors last got it
	shown  *Event    // that event, which a joining stream starts from
	local  string    // this instance's summary as last published; "" none
	remote map[string]heard
	again  bool // publish local even if unchanged: an instance is new here

	typing    map[string]typist
	typeTimer Timer
	typeLast  time.Time
}

type heard struct {
	h     here
	until time.Time
}

type typist struct {
	p     Person
	until time.Time
}

// presenceState is the service's presence of every room it knows of.
type presenceState struct {
	self  string // this instance, in the summaries it publishes
	rooms map[Room]*presenceRoom
	sweep Timer // with a relay, while rooms is not empty
	beat  time.Time
}

func newPresenceState() presenceState {
	var id [6]byte
	rand.Read(id[:])
	return presenceState{self: hex.EncodeToString(id[:]), rooms: make(map[Room]*presenceRoom)}
}

// presRoom returns room's presence, made if need be. s.presMu is held.
func (s *Service) presRoom(room Room) *presenceRoom {
	pr := s.pres.rooms[room]
	if pr == nil {
		pr = &presenceRoom{remote: make(map[string]heard), typing: make(map[string]typist)}
		s.pres.rooms[room] = pr
	}
	if s.relay != nil && s.pres.sweep == nil {
		s.pres.sweep = s.clock.AfterFunc(presenceSweep, s.sweepPresence)
		if s.pres.beat.IsZero() {
			s.pres.beat = s.clock.Now() // a beat is due a PresenceBeat after the first word
		}
	}
	return pr
}

// JoinAs is Join for a visitor whom the room's presence counts while the
// stream is open: the stream's Presence is the room's presence as it
// joins, and it receives presence and typing events. Streams joined with
// Join are not counted and receive neither.
func (s *Service) JoinAs(ctx context.Context, room Room, cursor string, v Visitor) (*Stream, error) {
	who := &Person{Name: v.Name, Tag: s.AuthorTag(room, v.Key)}
	st, err := s.join(ctx, room, cursor, who)
	if err != nil {
		return nil, err
	}
	st.Presence = s.presenceOnJoin(room)
	s.presenceChanged(room)
	return st, nil
}

// joinRecount is the most visitors a room may have on this instance for
// a join to count them afresh; a larger room's joins start from the
// event its visitors last got (shared, at most PresenceEvery old: the
// next one follows), so that n joins cost O(n), not O(n²).
const joinRecount = 64

// presenceOnJoin is the presence event a joining stream starts with; nil
// in a large room that has had none yet (its first comes within
// PresenceEvery).
func (s *Service) presenceOnJoin(room Room) *Event {
	if s.hub.streams(room) <= joinRecount {
		return newPresenceEvent(s.presenceNow(room))
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if pr := s.pres.rooms[room]; pr != nil {
		return pr.shown
	}
	return nil
}

func newPresenceEvent(p Presence) *Event {
	b, _ := json.Marshal(p) // a Presence always encodes
	return &Event{Kind: KindPresence, Message: Message{Room: p.Room}, JSON: b}
}

// Presence is the presence of room now, from every instance.
func (s *Service) Presence(room Room) Presence { return s.presenceNow(room) }

func (s *Service) presenceNow(room Room) Presence {
	local := summarize(room, s.pres.self, s.hub.visitors(room))
	now := s.clock.Now()
	s.presMu.Lock()
	hs := []here{local}
	if pr := s.pres.rooms[room]; pr != nil {
		for _, r := range pr.remote {
			if now.Before(r.until) {
				hs = append(hs, r.h)
			}
		}
	}
	s.presMu.Unlock()
	return merge(room, hs...)
}

// Rooms lists the rooms with someone in them: those with streams on this
// instance, and those where other instances say people are. People and
// Watchers count every instance. The busiest (most people) come first,
// then those with more streams here, then by name.
func (s *Service) Rooms() []RoomInfo {
	infos := s.hub.Rooms()
	known := make(map[Room]bool, len(infos))
	for _, in := range infos {
		known[in.Room] = true
	}
	s.presMu.Lock()
	for room, pr := range s.pres.rooms {
		if !known[room] && len(pr.remote) > 0 {
			known[room] = true
			infos = append(infos, RoomInfo{Room: room})
		}
	}
	s.presMu.Unlock()
	out := infos[:0]
	for _, in := range infos {
		p := s.presenceNow(in.Room)
		in.People, in.Watchers = len(p.People), p.Watchers
		if in.Subscribers > 0 || in.People > 0 || in.Watchers > 0 {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b RoomInfo) int {
		return cmp.Or(b.People-a.People, b.Subscribers-a.Subscribers, strings.Compare(string(a.Room), string(b.Room)))
	})
	return out
}

// presenceChanged says room's visitors changed: a presence event
// follows, at once unless one was made within PresenceEvery. The hub
// calls it with a room locked: it takes only the presence lock.
func (s *Service) presenceChanged(room Room) {
	s.presMu.Lock()
	defer s.presMu.Unlock()
	s.schedule(room, s.presRoom(room))
}

// schedule arms room's next presence event. s.presMu is held.
func (s *Service) schedule(room Room, pr *presenceRoom) {
	if pr.timer != nil {
		return
	}
	d := max(0, pr.last.Add(PresenceEvery).Sub(s.clock.Now()))
	pr.timer = s.clock.AfterFunc(d, func() { s.emitPresence(room) })
}

// emitPresence sends room's presence to its visitors if it changed, and
// this instance's summary to the others if that changed.
func (s *Service) emitPresence(room Room) {
	visitors := s.hub.visitors(room)
	local := summarize(room, s.pres.self, visitors)
	now := s.clock.Now()

	s.presMu.Lock()
	pr := s.pres.rooms[room]
	if pr == nil {
		s.presMu.Unlock()
		return
	}
	pr.timer = nil
	hs := []here{local}
	for from, r := range pr.remote {
		if now.Before(r.until) {
			hs = append(hs, r.h)
		} else {
			delete(pr.remote, from)
		}
	}
	var send, publish []byte
	var shown *Event
	if len(visitors) > 0 {
		if b, _ := json.Marshal(merge(room, hs...)); string(b) != pr.sent {
			pr.sent, send = string(b), b
			shown = &Event{Kind: KindPresence, Message: Message{Room: room}, JSON: send}
			pr.shown = shown
		}
	} else {
		pr.sent, pr.shown = "", nil
	}
	if s.relay != nil {
		lj, _ := json.Marshal(local)
		switch {
		case !local.empty() && (string(lj) != pr.local || pr.again):
			publish = lj
			if pr.local == "" {
				hello := local
				hello.Hello = true
				publish, _ = json.Marshal(hello)
			}
			pr.local = string(lj)
		case local.empty() && pr.local != "":
			pr.local, publish = "", lj // the last word: no one here
		}
	}
	pr.again = false
	if send != nil || publish != nil {
		pr.last = now // the window counts from what was said
	}
	s.tidy(room, pr)
	s.presMu.Unlock()

	if shown != nil {
		s.hub.Receive(shown)
	}
	if publish != nil {
		s.relay.Publish(&Event{Kind: KindHere, Message: Message{Room: room}, JSON: publish})
	}
}

// tidy forgets room's presence when nothing is left of it. s.presMu is
// held.
func (s *Service) tidy(room Room, pr *presenceRoom) {
	if pr.timer == nil && pr.typeTimer == nil && pr.local == "" && pr.sent == "" &&
		len(pr.remote) == 0 && len(pr.typing) == 0 {
		delete(s.pres.rooms, room)
	}
}

// hear takes another instance's summary of a room (a here event from the
// relay).
func (s *Service) hear(e *Event) {
	var h here
	if err := json.Unmarshal(e.JSON, &h); err != nil || h.From == s.pres.self {
		return
	}
	if _, err := ParseRoom(string(h.Room)); err != nil {
		return
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	pr := s.presRoom(h.Room)
	if h.empty() {
		delete(pr.remote, h.From)
	} else {
		if h.Hello && pr.local != "" {
			// An instance new to the room learns of this one's visitors
			// now rather than at the next beat.
			pr.again = true
		}
		pr.remote[h.From] = heard{h: h, until: s.clock.Now().Add(PresenceTTL)}
	}
	s.schedule(h.Room, pr)
}

// sweepPresence, every presenceSweep while the service knows of rooms'
// presence (with a relay only), drops other instances' summaries that
// lapsed and, every PresenceBeat, publishes again this instance's.
func (s *Service) sweepPresence() {
	now := s.clock.Now()
	var beats []*Event
	s.presMu.Lock()
	beat := now.Sub(s.pres.beat) >= PresenceBeat
	if beat {
		s.pres.beat = now
	}
	for room, pr := range s.pres.rooms {
		for from, r := range pr.remote {
			if !now.Before(r.until) {
				delete(pr.remote, from)
				s.schedule(room, pr)
			}
		}
		if beat && pr.local != "" {
			beats = append(beats, &Event{Kind: KindHere, Message: Message{Room: room}, JSON: []byte(pr.local)})
		}
		s.tidy(room, pr)
	}
	s.pres.sweep = nil
	if len(s.pres.rooms) > 0 && s.hub.ctx.Err() == nil {
		s.pres.sweep = s.clock.AfterFunc(presenceSweep, s.sweepPresence)
	}
	s.presMu.Unlock()
	for _, e := range beats {
		s.relay.Publish(e)
	}
}

// Typing says that a (by name username) is typing in room: the room's
// visitors on this instance get a typing event naming everyone who typed
// in the last TypingFor, coalesced to one a TypingEvery. Nothing is
// stored, nor relayed: typing is instance-local (every notice relayed
// would cost the topic quota what a message costs; see docs/momento.md).
// A room that does not take posts refuses it as Post does.
func (s *Service) Typing(ctx context.Context, room Room, a Author, username string) error {
	name, err := ParseName(username)
	if err != nil {
		return err
	}
	if err := s.postable(ctx, room); err != nil {
		return err
	}
	p := Person{Name: name, Tag: s.AuthorTag(room, a.Key)}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	pr := s.presRoom(room)
	if _, known := pr.typing[p.key()]; !known && len(pr.typing) >= maxTypists {
		return nil // enough are typing to say so
	}
	pr.typing[p.key()] = typist{p: p, until: s.clock.Now().Add(TypingFor)}
	if pr.typeTimer == nil {
		d := max(0, pr.typeLast.Add(TypingEvery).Sub(s.clock.Now()))
		pr.typeTimer = s.clock.AfterFunc(d, func() { s.emitTyping(room) })
	}
	return nil
}

// emitTyping sends room's typists to its visitors.
func (s *Service) emitTyping(room Room) {
	now := s.clock.Now()
	s.presMu.Lock()
	pr := s.pres.rooms[room]
	if pr == nil {
		s.presMu.Unlock()
		return
	}
	pr.typeTimer, pr.typeLast = nil, now
	t := Typing{Room: room, People: []Person{}}
	for k, ty := range pr.typing {
		if now.Before(ty.until) {
			t.People = append(t.People, ty.p)
		} else {
			delete(pr.typing, k)
		}
	}
	sortPeople(t.People)
	s.tidy(room, pr)
	s.presMu.Unlock()
	if len(t.People) > 0 {
		b, _ := json.Marshal(t)
		s.hub.Receive(&Event{Kind: KindTyping, Message: Message{Room: room}, JSON: b})
	}
}

// decodePresence checks the data of a presence, typing or here event.
func decodePresence(kind Kind, data []byte) (*Event, error) {
	var d struct {
		Room Room `json:"room"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: %s event: %w", ErrInvalid, kind, err)
	}
	if _, err := ParseRoom(string(d.Room)); err != nil {
		return nil, fmt.Errorf("%w: %s event without a valid room", ErrInvalid, kind)
	}
	return &Event{Kind: kind, Message: Message{Room: d.Room}, JSON: data}, nil
}

// social reports whether k goes only to visitors (JoinAs).
func (k Kind) social() bool { return k == KindPresence || k == KindTyping }

// present implements watcher: a visitor left room.
func (s *Service) present(room Room) { s.presenceChanged(room) }
