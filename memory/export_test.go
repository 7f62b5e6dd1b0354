package memory

import "fmt"

// CheckInvariants reports the first broken invariant of s: its list holds
// exactly its rooms, latest post first; each room's bytes match what it
// holds; the store's bytes are their sum.
func CheckInvariants(s *Store) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum int64
	n := 0
	for r := s.lru.next; r != &s.lru; r = r.next {
		n++
		if s.rooms[r.name] != r {
			return fmt.Errorf("room %q is listed but not in the map", r.name)
		}
		if r.next.prev != r || r.prev.next != r {
			return fmt.Errorf("room %q: broken links", r.name)
		}
		if r.next != &s.lru && r.next.expires.After(r.expires) {
			return fmt.Errorf("room %q expires before the room after it in the list", r.name)
		}
		want := roomBytes + int64(len(r.name)) + int64(cap(r.msgs))*messageBytes
		for _, m := range r.msgs {
			want += textBytes(m)
		}
		if r.bytes != want {
			return fmt.Errorf("room %q counts %d bytes, holds %d", r.name, r.bytes, want)
		}
		sum += r.bytes
	}
	if n != len(s.rooms) {
		return fmt.Errorf("%d rooms listed, %d in the map", n, len(s.rooms))
	}
	if sum != s.bytes {
		return fmt.Errorf("store counts %d bytes, its rooms %d", s.bytes, sum)
	}
	return nil
}

// RoomBytes is the fixed cost of a room, without its name and messages.
const RoomBytes = roomBytes
