package cache

import (
	"time"

	"github.com/keywarden/keywarden"
)

// Fill caches k whole, as its first successful use would.
func Fill(s *Store, k *keywarden.APIKey) { add(s, k, true) }

// Load caches k as loading every key does: not yet used.
func Load(s *Store, k *keywarden.APIKey) { add(s, k, false) }

func add(s *Store, k *keywarden.APIKey, hot bool) {
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	s.add(k, gen, hot)
}

// MarkSynced makes s fresh as a successful read of the change log now
// would: for benchmarks over a cache filled without a store.
func MarkSynced(s *Store) { s.synced.Store(max(int64(time.Since(s.base)), 1)) }
