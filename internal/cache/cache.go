// Package cache answers key lookups from memory. Store is the
// keywarden.KeySource (and ProcessOwners) of the one key check
// (keywarden.Verifier), in front of the store's key lookups: a verification
// of a cached key costs about one SHA-256 and allocates nothing.
//
// It loads every key when it starts (Watch), so that an unknown key ID is
// answered from memory exactly like a known one: a flood of made-up keys
// costs no database query, and the response time does not tell whether an
// ID exists. Only when there are more keys than Size does a miss go to the
// database (and an unknown ID is then remembered for a short while).
//
// It trusts itself only while fresh: while it can confirm that it has
// applied every change to keys made up to MaxStaleness ago. A cache that
// cannot (its database stalls or is unreachable) checks each key against
// the database, under the store's deadline, and so fails closed.
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
	"net/netip"
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
	// DefaultMaxStaleness is how far behind the change log the cache may
	// be and still answer from memory: a key deleted on another node stops
	// working here within it, whatever happens to the database or the
	// network (docs/security.md, "Bounded staleness").
	DefaultMaxStaleness = time.Second
	// DefaultPropagationWindow is how far behind the change log the cache
	// may be and still refuse an unknown key ID from memory. A node that
	// creates or rotates a key waits this long before handing it out
	// (server.Config.KeyPropagation), so every node that refuses from
	// memory has read the log since the key was committed: a key created
	// on one node works on every other at its first use. It must exceed
	// the poll interval (--cache-poll, 250 ms by default) with room for a
	// slow read.
	DefaultPropagationWindow = 500 * time.Millisecond
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
	MaxStaleness time.Duration
	// PropagationWindow bounds how far behind the log a refusal of an
	// unknown ID from memory may be (DefaultPropagationWindow). At most
	// MaxStaleness.
	PropagationWindow time.Duration
	Catalogue         *keywarden.Catalogue
	Now               func() time.Time
	Metrics           Metrics
}

// Source is what the cache reads from the store: keys by public ID, every
// key (to load them), the organization of a process, and the log of key
// changes. Nothing else.
type Source interface {
	keywarden.APIKeyFinder
	APIKeysAfter(ctx context.Context, afterUser string, limit int) ([]*keywarden.APIKey, error)
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
	// complete says that index holds every key of the store: a miss is
	// an unknown ID, answered without asking the store. Loading sets it;
	// evicting a key clears it.
	complete bool
	// gen counts invalidations. A lookup that missed notes it before asking
	// the store and drops its result if it changed meanwhile: a key deleted
	// while it was being fetched is never put back.
	gen uint64

	// followMu serializes reading the change log, by Watch and by Sync,
	// and guards seq, the last change applied.
	followMu sync.Mutex
	seq      int64
	// synced is when (on the monotonic clock, since base) the last
	// successful read of the change log started: every change committed
	// before it has been applied. 0 until the first, and after a failure.
	base   time.Time
	synced atomic.Int64
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
	user, id, name string
	hash           keywarden.SecretHash
	scope          *scope
	extra          *extra // nil for a key with no previous secret, allowlist or rate limit: most keys
	expires        int64  // Unix ns
	ref            atomic.Uint32
	used           bool
}

// extra is what only some keys have, kept out of line so that the others
// do not pay for it in memory.
type extra struct {
	previousHash  keywarden.SecretHash
	previousUntil time.Time
	allowedIPs    []netip.Prefix
	rateLimit     keywarden.RateLimit
}

// extraOf returns k's extra, or nil when it has none.
func extraOf(k *keywarden.APIKey) *extra {
	if k.PreviousSecretExpiresAt.IsZero() && len(k.AllowedIPs) == 0 && k.RateLimit.IsZero() {
		return nil
	}
	return &extra{previousHash: k.PreviousSecretHash, previousUntil: k.PreviousSecretExpiresAt,
		allowedIPs: k.AllowedIPs, rateLimit: k.RateLimit}
}

// record returns the entry as a KeyRecord, sharing its strings.
func (e *entry) record() keywarden.KeyRecord {
	rec := keywarden.KeyRecord{Key: e.identity(), Hash: e.hash}
	if x := e.extra; x != nil {
		rec.PreviousHash, rec.PreviousUntil = x.previousHash, x.previousUntil
	}
	return rec
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
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = DefaultMaxStaleness
	}
	if cfg.PropagationWindow <= 0 {
		cfg.PropagationWindow = min(DefaultPropagationWindow, cfg.MaxStaleness)
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
		base:     time.Now(),
	}
	return s
}

// Fresh reports whether the cache has applied every change to keys made up
// to MaxStaleness ago, and so answers from memory. /readyz reports it.
func (s *Store) Fresh() bool { return s.readWithin(s.cfg.MaxStaleness) }

// readWithin reports whether the last successful read of the change log
// started at most d ago.
func (s *Store) readWithin(d time.Duration) bool {
	at := s.synced.Load()
	return at != 0 && time.Since(s.base)-time.Duration(at) <= d
}

// LookupKey implements keywarden.KeySource. A hit copies the entry out
// under a read lock: no allocation, and no lock held while the caller
// hashes and compares. A miss in a complete cache is an unknown ID; in an
// incomplete one it asks the store and remembers the answer, found or not.
// A cache that is not fresh asks the store every time.
//
// An unknown ID is refused from memory only while the cache has read the
// change log within PropagationWindow: a key created on another node is
// handed out only after that window (server.Config.KeyPropagation), so it
// is then in memory here. A cache further behind (a slow read, a node
// that was busy) first reads the log once more — one read, shared by
// every miss waiting for it — rather than refuse a key that may have been
// created a moment ago.
func (s *Store) LookupKey(ctx context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	if !s.Fresh() {
		s.cfg.Metrics.CacheMiss("stale")
		return s.fetch(ctx, string(user))
	}
	s.mu.RLock()
	if rec, ok := s.cached(user); ok {
		s.mu.RUnlock()
		s.cfg.Metrics.CacheHit("positive")
		return rec, true, nil
	}
	if s.complete {
		s.mu.RUnlock()
		if s.readWithin(s.cfg.PropagationWindow) {
			s.cfg.Metrics.CacheHit("negative")
			return keywarden.KeyRecord{}, false, nil
		}
		return s.catchUp(ctx, user)
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
	return k.Record(s.cfg.Catalogue), true, nil
}

// cached returns the record of a cached key, marking it used. Called with
// mu held (read).
func (s *Store) cached(user []byte) (keywarden.KeyRecord, bool) {
	i, ok := s.index[string(user)]
	if !ok {
		return keywarden.KeyRecord{}, false
	}
	e := s.at(i)
	e.ref.Store(1)
	return e.record(), true
}

// catchUp answers a miss of a complete cache that is behind the change log
// by more than PropagationWindow: it has the log read by a read that
// started after the miss, then looks again. When the log cannot be read,
// the one bounded query of an uncached lookup answers instead.
func (s *Store) catchUp(ctx context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	s.cfg.Metrics.CacheMiss("behind")
	if err := s.syncSince(ctx, time.Since(s.base)); err != nil {
		return s.fetch(ctx, string(user))
	}
	s.mu.RLock()
	if rec, ok := s.cached(user); ok {
		s.mu.RUnlock()
		return rec, true, nil
	}
	complete := s.complete
	s.mu.RUnlock()
	if !complete {
		// Evicted while reading: only the store can tell.
		return s.fetch(ctx, string(user))
	}
	return keywarden.KeyRecord{}, false, nil
}

// fetch looks user up in the store, caching nothing: the answer of a cache
// that is not fresh.
func (s *Store) fetch(ctx context.Context, user string) (keywarden.KeyRecord, bool, error) {
	k, err := s.source.FindAPIKeyByUser(ctx, user)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && k == nil {
		return keywarden.KeyRecord{}, false, nil
	} else if err != nil {
		return keywarden.KeyRecord{}, false, err
	}
	return k.Record(s.cfg.Catalogue), true, nil
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
	if x := e.extra; x != nil {
		id.AllowedIPs, id.RateLimit = x.allowedIPs, x.rateLimit
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
	e.extra = extraOf(k)
	e.expires = k.ExpiresAt.UnixNano()
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
			// There are more keys than Size: misses must ask the store.
			s.complete = false
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
// user, positive or negative: applying the change log calls it.
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

// drop frees slot i. Called with mu held.
func (s *Store) drop(i int32) {
	delete(s.index, s.at(i).user)
	*s.at(i) = entry{}
	s.free = append(s.free, i)
	s.cfg.Metrics.SetCacheSize("positive", len(s.index))
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

// Watch loads every key and then follows the store's key change feed in
// the background until ctx ends: a deletion made elsewhere (the command
// line, other nodes) stops working here within interval, and a key created
// elsewhere works here as soon; or as soon as wake fires (a PostgreSQL
// notification; nil for none). interval must be well under MaxStaleness:
// each successful read keeps the cache fresh for MaxStaleness. When the
// feed cannot be read, or a read stalls, the cache stops being fresh and
// every lookup asks the store, under its deadline, until a read succeeds
// again; onError hears of each failure. Watch returns once the cache is
// loaded and fresh, so no change made after it returns is missed.
func (s *Store) Watch(ctx context.Context, interval time.Duration, wake <-chan struct{}, onError func(error)) error {
	seq, err := s.source.LatestKeyChange(ctx)
	if err != nil {
		return err
	}
	s.followMu.Lock()
	s.seq = seq
	s.followMu.Unlock()
	// The changes made while loading are applied by the Sync after it.
	if err := s.load(ctx); err != nil {
		return err
	}
	if err := s.Sync(ctx); err != nil {
		return err
	}
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

// loadBatch is how many keys one query of load reads.
const loadBatch = 1000

// load caches every key of the store, up to Size, and marks the cache
// complete when they all fit.
func (s *Store) load(ctx context.Context) error {
	after, n := "", 0
	for {
		keys, err := s.source.APIKeysAfter(ctx, after, loadBatch)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if n == s.cfg.Size {
				return nil // more keys than fit: misses will ask the store
			}
			s.mu.RLock()
			gen := s.gen
			s.mu.RUnlock()
			s.add(k, gen)
			n++
		}
		if len(keys) < loadBatch {
			break
		}
		after = keys[len(keys)-1].User
	}
	s.mu.Lock()
	s.complete = true
	s.mu.Unlock()
	return nil
}

// Sync applies every change in the log that this cache has not applied
// yet. The server calls it after each change to keys it makes, before it
// answers, so that a deleted key stops working here the moment its
// deletion is acknowledged. A successful read keeps the cache fresh for
// MaxStaleness from when it started; a failed one ends freshness at once
// (so a deletion made here whose change could not be applied is not
// honoured from memory either), and the error is returned for the log.
func (s *Store) Sync(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	return s.syncLocked(ctx)
}

// syncSince makes sure the log has been read by a read that started at or
// after t (on the cache's monotonic clock): misses that wait together on
// followMu share one read.
func (s *Store) syncSince(ctx context.Context, t time.Duration) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	if at := s.synced.Load(); at != 0 && time.Duration(at) >= t {
		return nil
	}
	return s.syncLocked(ctx)
}

// syncLocked is Sync with followMu held.
func (s *Store) syncLocked(ctx context.Context) error {
	started := time.Since(s.base)
	next, err := s.follow(ctx, s.seq)
	s.seq = next
	if err != nil {
		s.synced.Store(0)
		return err
	}
	s.synced.Store(max(int64(started), 1))
	return nil
}

// apply forgets what change c makes stale, and caches a key created
// elsewhere when the cache holds every key (a miss would otherwise refuse
// it). A kind this code does not know (written by a newer node)
// invalidates everything the change names; a complete cache can then no
// longer vouch for its misses.
func (s *Store) apply(ctx context.Context, c keywarden.KeyChange) error {
	switch c.Kind {
	case keywarden.KeyChangeCreated:
		s.Invalidate(c.User)
		return s.fill(ctx, c.User)
	case keywarden.KeyChangeRotated, keywarden.KeyChangeUpdated, keywarden.KeyChangePreviousSecretEnded:
		// The key's secrets or restrictions changed: read it again.
		s.Invalidate(c.User)
		return s.fill(ctx, c.User)
	case keywarden.KeyChangeExpiring, keywarden.KeyChangeExpired:
		// Reminders for webhooks: the key is as it was.
	case keywarden.KeyChangeDeleted, keywarden.KeyChangeLeaked:
		s.Invalidate(c.User)
	case keywarden.KeyChangeProcessDeleted:
		s.InvalidateProcess(c.ProcessID)
	default:
		if c.User != "" {
			s.Invalidate(c.User)
			return s.fill(ctx, c.User)
		}
		if c.ProcessID != "" {
			s.InvalidateProcess(c.ProcessID)
		}
	}
	return nil
}

// fill caches the key whose public ID is user, read from the store, when
// the cache is complete. A key already deleted again is left out (its
// deletion is further down the log).
func (s *Store) fill(ctx context.Context, user string) error {
	s.mu.RLock()
	complete, gen := s.complete, s.gen
	s.mu.RUnlock()
	if !complete {
		return nil
	}
	k, err := s.source.FindAPIKeyByUser(ctx, user)
	switch {
	case keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && k == nil:
		return nil
	case err != nil:
		return err
	}
	s.add(k, gen)
	return nil
}

// follow applies the changes after seq and returns the last one applied: a
// change that could not be applied is read again next time.
func (s *Store) follow(ctx context.Context, seq int64) (int64, error) {
	const batch = 1000
	for {
		changes, err := s.source.KeyChangesSince(ctx, seq, batch)
		if err != nil {
			return seq, err
		}
		for _, c := range changes {
			if err := s.apply(ctx, c); err != nil {
				return seq, err
			}
			seq = c.Seq
		}
		if len(changes) < batch {
			return seq, nil
		}
	}
}
