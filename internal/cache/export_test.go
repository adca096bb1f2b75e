package cache

import "github.com/keywarden/keywarden"

// Fill caches k as a verification's store lookup would.
func Fill(s *Store, k *keywarden.APIKey) {
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	s.add(k, gen)
}
