package middleware

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// cacheKey names one presented key under one requirement. It is a SHA-256
// digest, never the key: the cache holds no secret a heap dump could give
// away, and different keys or requirements cannot share an entry.
type cacheKey [sha256.Size]byte

// newCacheKey digests key, processID and scopes, each length-prefixed so
// that no two different triples digest the same input.
func newCacheKey(key, processID string, scopes []string) cacheKey {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(key)
	field(processID)
	binary.BigEndian.PutUint64(n[:], uint64(len(scopes)))
	h.Write(n[:])
	for _, s := range scopes {
		field(s)
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// cache holds Keywarden's verdicts until a deadline each. It is bounded: a
// flood of distinct keys may empty it, never grow it without limit.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]cacheEntry
}

type cacheEntry struct {
	v     verdict
	until time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

// get returns the verdict cached for k if it is still good at now.
func (c *cache) get(k cacheKey, now time.Time) (verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return verdict{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, k)
		return verdict{}, false
	}
	return e.v, true
}

// put caches v for k until until. When the cache is full it first drops
// what has expired, and if that frees nothing it starts over empty: simpler
// than an LRU, and at worst it costs one Keywarden call per key again.
func (c *cache) put(k cacheKey, v verdict, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for ek, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, ek)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = cacheEntry{v: v, until: until}
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
