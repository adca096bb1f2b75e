package ratelimit

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// Local keeps the buckets in memory, for one node. It is safe for
// concurrent use. Deciding a request of a key it already has allocates
// nothing.
//
// Memory: a bucket that has drained completely says no more than an absent
// one, so Local drops it. It does so lazily: each of its shards sweeps out
// its drained buckets when it has doubled in size since its last sweep
// (amortized, a constant cost per new bucket). A shard therefore holds at
// most twice the buckets that were not yet drained at its last sweep, or
// minSweep; a bucket drains at most its Window after its key's latest
// request. With keys only authenticated requests name, that is at most
// about twice the number of keys used within the longest Window (24 h),
// plus 2,048, at about 125 bytes each with Keywarden's 24-byte key IDs
// (measured with a million).
type Local struct {
	now    func() time.Time
	base   time.Time // the clock's time at New: buckets keep nanoseconds since, on the monotonic clock when now is time.Now
	seed   maphash.Seed
	shards [shardCount]shard
}

var _ Limiter = (*Local)(nil)

// shardCount spreads keys over that many locks, so that requests of
// different keys seldom wait for each other, and a sweep holds up only the
// keys of one shard.
const shardCount = 32

// minSweep is how many buckets a shard holds before its first sweep.
const minSweep = 64

type shard struct {
	mu      sync.Mutex
	buckets map[string]bucket
	sweepAt int      // sweep when len(buckets) reaches it
	_       [40]byte // one shard per 64-byte cache line: neighbours' locks do not contend
}

// NewLocal returns a Local with now as its clock (time.Now when nil).
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	l := &Local{now: now, base: now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]bucket{}
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow counts one request of key under l. It returns an error, with a
// refusal, only for a Limit out of bounds.
func (l *Local) Allow(_ context.Context, key string, lim Limit) (Decision, error) {
	if !lim.valid() {
		return Decision{Limit: lim.Limit}, errInvalidLimit
	}
	s := &l.shards[maphash.String(l.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := int64(l.now().Sub(l.base))
	b, ok := s.buckets[key]
	b, d := take(b, now, lim)
	if !ok {
		if len(s.buckets) >= s.sweepAt {
			s.sweep(now)
		}
		// A key ID is often a substring of the Authorization header, which
		// holds the secret too: the map must keep a copy of the ID alone.
		key = strings.Clone(key)
	}
	s.buckets[key] = b
	return d, nil
}

// sweep drops the drained buckets. Go maps never give back the memory of
// deleted entries, so a shard that has shrunk to a quarter moves to a new
// map, and memory follows the load down as well as up. The caller holds
// s.mu.
func (s *shard) sweep(now int64) {
	before := len(s.buckets)
	for k, b := range s.buckets {
		if b.full <= now {
			delete(s.buckets, k)
		}
	}
	if n := len(s.buckets); n < before/4 {
		m := make(map[string]bucket, n)
		for k, b := range s.buckets {
			m[k] = b
		}
		s.buckets = m
	}
	s.sweepAt = max(2*len(s.buckets), minSweep)
}
