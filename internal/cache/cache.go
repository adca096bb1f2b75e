// Package cache answers key lookups from memory. Store is the
// keywarden.KeySource (and ProcessOwners) of the one key check
// (keywarden.Verifier), in front of the store's key lookups: a verification
// of a cached key costs about one SHA-256 and allocates nothing, and an
// unknown key ID is remembered for a short while, so a flood of made-up keys
// does not reach the database.
//
// It learns of changes to keys in one way only: the store's ordered log of
// key changes, which every key-changing store method writes in its own
// transaction (the conformance suite holds each one to it). It does not
// wrap the store's writes, so a new key-changing method cannot bypass it by
// being forgotten here. The server calls Sync after each change it makes,
// so that a key stops working on this node the moment its deletion is
// acknowledged; Watch follows the changes other nodes and the command line
// make.
package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
)

// Defaults.
const (
	// DefaultSize holds a million keys in about 250 MB at most (see
	// docs/performance.md for the measured bytes per key).
	DefaultSize = 1 << 20
	// DefaultNegativeSize bounds the memory of unknown key IDs.
	DefaultNegativeSize = 1 << 16
	// DefaultNegativeTTL is how long an unknown key ID is answered from
	// memory. A creation read from the change feed ends it at once (Watch);
	// it bounds only how long a key imported in bulk, which writes no
	// change, is refused after someone presented its ID before it existed —
	// which only its creator can do.
	DefaultNegativeTTL = 10 * time.Second
)

// Metrics receives what the cache does; internal/metrics implements it.
type Metrics interface {
	CacheHit(kind string)
	CacheMiss(kind string)
	CacheEviction(kind string)
	SetCacheSize(kind string, n int)
}

// Config tunes a Store. Zero values take the defaults.
type Config struct {
	Size         int
	NegativeSize int
	NegativeTTL  time.Duration
	Catalogue    *keywarden.Catalogue
	Now          func() time.Time
	Metrics      Metrics
}

// Source is what the cache reads from the store: keys by public ID, the
// organization of a process, and the log of key changes. Nothing else.
type Source interface {
	keywarden.APIKeyFinder
	keywarden.ProcessFinder
	keywarden.KeyChangeFeed
}

// Store caches the keys of a Source for verification.
type Store struct {
	source Source
	cfg    Config

	mu       sync.RWMutex
	index    map[string]int32 // public key ID → slot
	chunks   [][]entry        // the slots, in chunks of chunkSize: growing never copies or over-allocates
	nslots   int
	free     []int32
	hand     int               // the CLOCK eviction hand
	negative map[string]int64  // unknown public key ID → until (Unix ns)
	scopes   map[scope]*scope  // shared by the keys of one process (or organization) with the same scopes
	owners   map[string]string // process ID → its organization, for requirements naming a process
	// gen counts invalidations. A lookup that missed notes it before asking
	// the store and drops its result if it changed meanwhile: a key deleted
	// while it was being fetched is never put back.
	gen uint64

	// followMu serializes reading the change log, by Watch and by Sync,
	// and guards seq, the last change applied.
	followMu sync.Mutex
	seq      int64
}

var (
	_ keywarden.KeySource     = (*Store)(nil)
	_ keywarden.ProcessOwners = (*Store)(nil)
)

// chunkSize is how many slots are allocated at a time.
const chunkSize = 1024

// at returns slot i. Called with mu held.
func (s *Store) at(i int32) *entry { return &s.chunks[i/chunkSize][i%chunkSize] }

// entry is one cached key: what verification and authorization need, and no
// more, so that a million keys fit in a few hundred megabytes.
type entry struct {
	user, id, name    string
	hash              keywarden.SecretHash
	scope             *scope
	expires, lastUsed int64 // Unix ns; lastUsed 0 when never used
	ref               atomic.Uint32
	used              bool
}

// scope is where a key reaches and what it may do there. Keys of one
// process with the same scopes share one.
type scope struct {
	org, process string
	scopes       keywarden.ScopeSet
}

// New returns a Store caching the keys of source. Start following the
// change log with Watch before serving.
func New(source Source, cfg Config) *Store {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.NegativeSize <= 0 {
		cfg.NegativeSize = DefaultNegativeSize
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.Catalogue == nil {
		cfg.Catalogue = keywarden.MustDefaultCatalogue()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Store{
		source:   source,
		cfg:      cfg,
		index:    make(map[string]int32),
		negative: make(map[string]int64),
		scopes:   make(map[scope]*scope),
		owners:   make(map[string]string),
	}
	return s
}

// LookupKey implements keywarden.KeySource. A hit copies the entry out
// under a read lock: no allocation, and no lock held while the caller
// hashes and compares. A miss asks the store and remembers the answer,
// found or not.
func (s *Store) LookupKey(ctx context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	s.mu.RLock()
	if i, ok := s.index[string(user)]; ok {
		e := s.at(i)
		e.ref.Store(1)
		rec := keywarden.KeyRecord{Key: e.identity(), Hash: e.hash}
		s.mu.RUnlock()
		s.cfg.Metrics.CacheHit("positive")
		return rec, true, nil
	}
	until, known := s.negative[string(user)]
	gen := s.gen
	s.mu.RUnlock()
	now := s.cfg.Now()
	if known && now.UnixNano() < until {
		s.cfg.Metrics.CacheHit("negative")
		return keywarden.KeyRecord{}, false, nil
	}

	s.cfg.Metrics.CacheMiss("positive")
	u := string(user)
	k, err := s.source.FindAPIKeyByUser(ctx, u)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && k == nil {
		s.rememberUnknown(u, gen, now)
		return keywarden.KeyRecord{}, false, nil
	} else if err != nil {
		return keywarden.KeyRecord{}, false, err
	}
	s.add(k, gen)
	return keywarden.KeyRecord{Key: k.Identity(s.cfg.Catalogue), Hash: k.SecretHash}, true, nil
}

// OwnsProcess implements keywarden.ProcessOwners. Only found processes are
// remembered: a process never moves to another organization, so the answer
// stays true until the process is deleted, which invalidates it. Unknown
// process IDs are asked again each time; only an authenticated key gets
// this far.
func (s *Store) OwnsProcess(ctx context.Context, orgID, processID string) (bool, error) {
	s.mu.RLock()
	owner, ok := s.owners[processID]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return owner == orgID, nil
	}
	_, err := s.source.FindProcess(ctx, orgID, processID)
	switch keywarden.ErrorCode(err) {
	case "":
	case keywarden.ENOTFOUND:
		return false, nil
	default:
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.gen {
		if len(s.owners) >= s.cfg.NegativeSize {
			clear(s.owners)
		}
		s.owners[processID] = orgID
	}
	return true, nil
}

// identity returns the entry as a KeyIdentity, sharing its strings.
func (e *entry) identity() keywarden.KeyIdentity {
	id := keywarden.KeyIdentity{ID: e.id, User: e.user, OrgID: e.scope.org, ProcessID: e.scope.process, Name: e.name,
		Scopes: e.scope.scopes, ExpiresAt: time.Unix(0, e.expires).UTC()}
	if e.lastUsed != 0 {
		id.LastUsedAt = time.Unix(0, e.lastUsed).UTC()
	}
	return id
}

// add caches k unless an invalidation happened since gen was read.
func (s *Store) add(k *keywarden.APIKey, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	i, ok := s.index[k.User]
	if !ok {
		i = s.slot()
		s.index[k.User] = i
	}
	e := s.at(i)
	e.user, e.id, e.name = k.User, k.ID, k.Name
	e.scope = s.shared(scope{org: k.OrgID, process: k.ProcessID, scopes: s.cfg.Catalogue.SetOf(k.Scopes)})
	e.hash = k.SecretHash
	e.expires = k.ExpiresAt.UnixNano()
	e.lastUsed = 0
	if !k.LastUsedAt.IsZero() {
		e.lastUsed = k.LastUsedAt.UnixNano()
	}
	e.ref.Store(1)
	e.used = true
	s.cfg.Metrics.SetCacheSize("positive", len(s.index))
}

// slot returns a free slot, growing up to Size and then evicting with the
// CLOCK algorithm: the hand clears recently used entries and takes the first
// that was not used since it last passed. Called with mu held.
func (s *Store) slot() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	if s.nslots < s.cfg.Size {
		if s.nslots%chunkSize == 0 {
			s.chunks = append(s.chunks, make([]entry, min(chunkSize, s.cfg.Size-s.nslots)))
		}
		s.nslots++
		return int32(s.nslots - 1)
	}
	for {
		s.hand = (s.hand + 1) % s.nslots
		e := s.at(int32(s.hand))
		if e.ref.Swap(0) == 0 {
			delete(s.index, e.user)
			s.cfg.Metrics.CacheEviction("positive")
			*e = entry{}
			return int32(s.hand)
		}
	}
}

// shared returns the one shared copy of sc. The table is bounded: when it
// outgrows the cache it starts over (entries keep what they point to).
func (s *Store) shared(sc scope) *scope {
	if p, ok := s.scopes[sc]; ok {
		return p
	}
	if len(s.scopes) >= s.cfg.Size {
		clear(s.scopes)
	}
	p := &sc
	s.scopes[sc] = p
	return p
}

// rememberUnknown notes that no key has the public ID user, unless an
// invalidation (such as a creation) happened since gen was read.
func (s *Store) rememberUnknown(user string, gen uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	if len(s.negative) >= s.cfg.NegativeSize {
		n := now.UnixNano()
		for u, until := range s.negative {
			if n >= until {
				delete(s.negative, u)
			}
		}
		if len(s.negative) >= s.cfg.NegativeSize {
			s.cfg.Metrics.CacheEviction("negative")
			clear(s.negative)
		}
	}
	s.negative[user] = now.Add(s.cfg.NegativeTTL).UnixNano()
	s.cfg.Metrics.SetCacheSize("negative", len(s.negative))
}

// Invalidate forgets what the cache knows about the key whose public ID is
// user, positive or negative. The PostgreSQL store's change notifications
// call it for changes made through other nodes.
func (s *Store) Invalidate(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	delete(s.negative, user)
	if i, ok := s.index[user]; ok {
		s.drop(i)
	}
}

// InvalidateProcess forgets every cached key of a process, and the process.
func (s *Store) InvalidateProcess(processID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	delete(s.owners, processID)
	for i := 0; i < s.nslots; i++ {
		if e := s.at(int32(i)); e.used && e.scope.process == processID {
			s.drop(int32(i))
		}
	}
}

// InvalidateAll forgets everything, for when changes may have been missed.
func (s *Store) InvalidateAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	clear(s.index)
	clear(s.negative)
	clear(s.owners)
	s.chunks, s.nslots = nil, 0
	s.free = s.free[:0]
	s.hand = 0
	s.cfg.Metrics.SetCacheSize("positive", 0)
	s.cfg.Metrics.SetCacheSize("negative", 0)
}

// drop frees slot i. Called with mu held.
func (s *Store) drop(i int32) {
	delete(s.index, s.at(i).user)
	*s.at(i) = entry{}
	s.free = append(s.free, i)
	s.cfg.Metrics.SetCacheSize("positive", len(s.index))
}

// Touched notes that the key whose public ID is user was used at at (the
// server has recorded it in the store), so that the next verification does
// not record it again.
func (s *Store) Touched(user string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[user]; ok && at.UnixNano() > s.at(i).lastUsed {
		s.at(i).lastUsed = at.UnixNano()
	}
}

// Len returns the number of cached keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.index)
}

type noMetrics struct{}

func (noMetrics) CacheHit(string)          {}
func (noMetrics) CacheMiss(string)         {}
func (noMetrics) CacheEviction(string)     {}
func (noMetrics) SetCacheSize(string, int) {}

// Watch follows the store's key change feed in the background until ctx
// ends, dropping the keys that other processes sharing the store (the
// command line, other nodes) deleted, and the unknown-ID entries of keys
// they created: a deletion made elsewhere stops working here within
// interval, and a key created elsewhere works here as soon, even if its ID
// was presented before it existed; or as soon as wake fires (a PostgreSQL
// notification; nil for none). It reads the feed's position before it
// returns, so no change made after Watch returns is missed. When the feed
// cannot be read, the cache is emptied: it may have missed a deletion, so it
// must not keep answering from memory — the next verifications go to the
// store, and fail closed if it is down.
func (s *Store) Watch(ctx context.Context, interval time.Duration, wake <-chan struct{}, onError func(error)) error {
	seq, err := s.source.LatestKeyChange(ctx)
	if err != nil {
		return err
	}
	s.followMu.Lock()
	s.seq = seq
	s.followMu.Unlock()
	go func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			case <-wake:
			}
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}()
	return nil
}

// Sync applies every change in the log that this cache has not applied
// yet. The server calls it after each change to keys it makes, before it
// answers, so that a deleted key stops working here the moment its
// deletion is acknowledged. When the log cannot be read, the cache is
// emptied: it may have missed a deletion, so it must not keep answering
// from memory, and the error is returned for the log.
func (s *Store) Sync(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	next, err := s.follow(ctx, s.seq)
	s.seq = next
	if err != nil {
		s.InvalidateAll()
	}
	return err
}

// apply forgets what change c makes stale. A creation elsewhere makes the
// key's ID known: a negative entry for it must go, or the new key would be
// refused here until the entry expired. A kind this code does not know
// (written by a newer node) invalidates everything the change names.
func (s *Store) apply(c keywarden.KeyChange) {
	switch c.Kind {
	case keywarden.KeyChangeCreated, keywarden.KeyChangeDeleted:
		s.Invalidate(c.User)
	case keywarden.KeyChangeProcessDeleted:
		s.InvalidateProcess(c.ProcessID)
	default:
		if c.User != "" {
			s.Invalidate(c.User)
		}
		if c.ProcessID != "" {
			s.InvalidateProcess(c.ProcessID)
		}
	}
}

// follow applies the changes after seq and returns the last one applied.
func (s *Store) follow(ctx context.Context, seq int64) (int64, error) {
	const batch = 1000
	for {
		changes, err := s.source.KeyChangesSince(ctx, seq, batch)
		if err != nil {
			return seq, err
		}
		for _, c := range changes {
			s.apply(c)
			seq = c.Seq
		}
		if len(changes) < batch {
			return seq, nil
		}
	}
}
