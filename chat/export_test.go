package chat

// The hub's two steps of Service.Join, for the hub's own tests, which
// drive its ordering without a store.

func (h *Hub) Subscribe(room Room) (*Stream, error) { return h.subscribe(room) }

func (h *Hub) Baseline(room Room, last ID) { h.baseline(room, last) }
