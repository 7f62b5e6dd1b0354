package momentotest

// Sweep runs the expiry sweep now and returns how many items it removed.
func (s *Server) Sweep() int { return s.sweep() }

// StoredItems returns how many items a cache holds, expired ones included.
func (s *Server) StoredItems(cache string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.caches[cache]; c != nil {
		return len(c.items)
	}
	return 0
}
