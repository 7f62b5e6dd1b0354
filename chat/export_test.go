package chat

// The hub's two steps of Service.Join, for the hub's own tests, which
// drive its ordering without a store.

func (h *Hub) Subscribe(room Room) (*Stream, error) {
	st, _, err := h.subscribe(room, nil)
	return st, err
}

// Baseline is baseline with a history whose last message is last.
func (h *Hub) Baseline(room Room, last ID) {
	var history []Message
	if !last.IsZero() {
		history = []Message{{ID: last, Room: room}}
	}
	h.baseline(room, history, ID{})
}
