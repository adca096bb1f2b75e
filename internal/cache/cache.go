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
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
)

// Defaults.
const (
	// DefaultSize holds 4 million keys in about 250 MB (see
	// docs/performance.md for the measured bytes per key).
	DefaultSize = 1 << 22
	// DefaultHotSize is how many keys in use are held whole: about 256
	// bytes each.
	DefaultHotSize = 1 << 16
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

// MaxSize is the most keys a Store holds.
const MaxSize = maxRows

// Metrics receives what the cache does; internal/metrics implements it.
type Metrics interface {
	CacheHit(kind string)
	CacheMiss(kind string)
	CacheEviction(kind string)
	SetCacheSize(kind string, n int)
}

// Config tunes a Store. Zero values take the defaults.
type Config struct {
	// Size bounds the keys held (at most MaxSize): past it, misses ask
	// the store.
	Size int
	// HotSize bounds the keys held whole, with everything a successful
	// verification answers (DefaultHotSize); the others are read from the
	// store on their first successful use.
	HotSize      int
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

// Store caches the keys of a Source for verification, in two tiers: every
// key in keys, as little as refusing or recognizing a secret needs (about
// 60 bytes, docs/performance.md), and the keys in use whole in the hot
// tier, up to HotSize, evicted with the CLOCK algorithm.
type Store struct {
	source Source
	cfg    Config

	mu   sync.RWMutex
	keys keyTable
	// The hot tier: index maps a row of keys to its slot.
	index    map[uint32]int32
	chunks   [][]entry // the slots, in chunks of chunkSize: growing never copies or over-allocates
	nslots   int
	free     []int32
	hand     int                       // the hot tier's CLOCK hand
	rowHand  int                       // keys' CLOCK hand, past Size
	previous map[uint32]previousSecret // rows whose key has a previous secret
	negative map[string]int64          // unknown public key ID → until (Unix ns)
	scopes   map[scope]*scope          // shared by the hot keys of one process (or organization) with the same scopes
	owners   map[string]string         // process ID → its organization, for requirements naming a process
	// complete says that keys holds every key of the store: a miss is an
	// unknown ID, answered without asking the store. Loading sets it;
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

// chunkSize is how many hot slots are allocated at a time.
const chunkSize = 1024

// at returns hot slot i. Called with mu held.
func (s *Store) at(i int32) *entry { return &s.chunks[i/chunkSize][i%chunkSize] }

// entry is one key of the hot tier: what a successful verification and
// authorization need.
type entry struct {
	user, id, name string
	hash           keywarden.SecretHash
	scope          *scope
	extra          *extra // nil for a key with no previous secret, allowlist or rate limit: most keys
	expires        int64  // Unix ns
	row            uint32 // in keys
	ref            atomic.Uint32
}

// extra is what only some keys have, kept out of line so that the others
// do not pay for it in memory.
type extra struct {
	previousHash  keywarden.SecretHash
	previousUntil time.Time
	allowedIPs    []netip.Prefix
	rateLimit     keywarden.RateLimit
}

// previousSecret is the secret a rotation replaced, while it still works:
// a row's, for keys outside the hot tier.
type previousSecret struct {
	hash  keywarden.SecretHash
	until time.Time
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
	cfg.Size = min(cfg.Size, MaxSize)
	if cfg.HotSize <= 0 {
		cfg.HotSize = DefaultHotSize
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
		keys:     newKeyTable(),
		index:    make(map[uint32]int32),
		previous: make(map[uint32]previousSecret),
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
func (s *Store) readWithin(d time.Duration) bool { return s.behind(time.Since(s.base)) <= d }

// behind returns how long before now (a time since s.base) the last
// successful read of the change log started; more than any bound when
// there was none.
func (s *Store) behind(now time.Duration) time.Duration {
	at := s.synced.Load()
	if at == 0 {
		return math.MaxInt64
	}
	return now - time.Duration(at)
}

// LookupKey implements keywarden.KeySource. A hit copies what the cache
// holds out under a read lock: no allocation, and no lock held while the
// caller hashes and compares. A key outside the hot tier is a Partial
// record: its organization and secrets, completed by CompleteKey once the
// secret matched. A miss in a complete cache is an unknown ID; in an
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
	// One reading of the clock for both bounds: a known ID and an unknown
	// one then cost the same (docs/security.md, "No existence oracle").
	arrived := time.Since(s.base)
	behind := s.behind(arrived)
	if behind > s.cfg.MaxStaleness {
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
		if behind <= s.cfg.PropagationWindow {
			s.cfg.Metrics.CacheHit("negative")
			return keywarden.KeyRecord{}, false, nil
		}
		return s.catchUp(ctx, user, arrived)
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
	s.add(k, gen, true)
	return k.Record(s.cfg.Catalogue), true, nil
}

// CompleteKey implements keywarden.KeySource: the whole record of a key
// whose secret matched its Partial one, read from the store (one bounded
// query, which only a holder of the secret can cause) and kept in the hot
// tier.
func (s *Store) CompleteKey(ctx context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	s.cfg.Metrics.CacheMiss("hot")
	k, err := s.source.FindAPIKeyByUser(ctx, string(user))
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && k == nil {
		return keywarden.KeyRecord{}, false, nil
	} else if err != nil {
		return keywarden.KeyRecord{}, false, err
	}
	s.add(k, gen, true)
	return k.Record(s.cfg.Catalogue), true, nil
}

// cached returns what the cache holds of user, marking it used. Called
// with mu held (read). A known ID and an unknown one cost the same steps:
// the index's probe, and lookups in the hot tier and of previous secrets
// (of noRow, which no key has, for an unknown one).
func (s *Store) cached(user []byte) (keywarden.KeyRecord, bool) {
	id, _ := s.keys.pack(user)
	r, found := s.keys.find(id)
	i, hot := s.index[r]
	previous, rotated := s.previous[r]
	if !found {
		return keywarden.KeyRecord{}, false
	}
	s.keys.markUsed(r)
	if hot {
		e := s.at(i)
		if e.ref.Load() == 0 { // a write only when CLOCK cleared it: the line is shared by every core
			e.ref.Store(1)
		}
		return e.record(), true
	}
	e := s.keys.at(r)
	rec := keywarden.KeyRecord{Key: keywarden.KeyIdentity{OrgID: s.keys.groups[e.group].org}, Hash: e.hash, Partial: true}
	if rotated {
		rec.PreviousHash, rec.PreviousUntil = previous.hash, previous.until
	}
	return rec, true
}

// catchUp answers a miss of a complete cache that is behind the change log
// by more than PropagationWindow: it has the log read by a read that
// started after the miss arrived (the same clock reading that found the
// cache behind), then looks again. Timing from the arrival, not from a
// later reading, lets every miss that found the cache behind while one
// read ran share the next one: a miss delayed between the two readings
// would otherwise need a read of its own. When the log cannot be read,
// the one bounded query of an uncached lookup answers instead.
func (s *Store) catchUp(ctx context.Context, user []byte, arrived time.Duration) (keywarden.KeyRecord, bool, error) {
	s.cfg.Metrics.CacheMiss("behind")
	if err := s.syncSince(ctx, arrived); err != nil {
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

// add caches k unless an invalidation happened since gen was read: in
// keys, and whole in the hot tier when hot (a key just used, or read from
// the store anyway).
func (s *Store) add(k *keywarden.APIKey, gen uint64, hot bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	id, ok := s.keys.packAdding(k.User)
	if !ok {
		// No key ID (it could never verify), or one prefix too many
		// to pack: only the store can tell of such keys.
		s.complete = s.complete && len(s.keys.prefixes) < maxPrefixes
		return
	}
	g := group{org: k.OrgID, process: k.ProcessID}
	r, found := s.keys.find(id)
	if found {
		s.keys.update(r, k.SecretHash, g)
	} else if r, ok = s.newRow(id, k.SecretHash, g); !ok {
		s.complete = false // not held: only the store can tell of it
		return
	}
	if k.PreviousSecretExpiresAt.IsZero() {
		delete(s.previous, r)
	} else {
		s.previous[r] = previousSecret{hash: k.PreviousSecretHash, until: k.PreviousSecretExpiresAt}
	}
	i, isHot := s.index[r]
	switch {
	case hot && !isHot:
		i = s.slot()
		s.index[r] = i
	case !hot && isHot:
		s.dropHot(i)
	}
	if hot {
		e := s.at(i)
		e.user, e.id, e.name, e.row = k.User, k.ID, k.Name, r
		e.scope = s.shared(scope{org: k.OrgID, process: k.ProcessID, scopes: s.cfg.Catalogue.SetOf(k.Scopes)})
		e.hash = k.SecretHash
		e.extra = extraOf(k)
		e.expires = k.ExpiresAt.UnixNano()
		e.ref.Store(1)
		s.cfg.Metrics.SetCacheSize("hot", len(s.index))
	}
	s.cfg.Metrics.SetCacheSize("positive", s.keys.count)
}

// newRow adds a key to keys, evicting with the CLOCK algorithm past Size:
// the hand clears the used bits of the rows it passes and takes the first
// that was not looked up since it last passed. Called with mu held.
func (s *Store) newRow(id packedID, hash keywarden.SecretHash, g group) (uint32, bool) {
	if s.keys.count >= s.cfg.Size {
		for {
			s.rowHand = (s.rowHand + 1) % s.keys.nrows
			r := uint32(s.rowHand)
			if s.keys.inUse(r) && !s.keys.takeUsed(r) {
				// There are more keys than Size: misses must ask the store.
				s.complete = false
				s.cfg.Metrics.CacheEviction("positive")
				s.dropRow(r)
				break
			}
		}
	}
	return s.keys.insert(id, hash, g)
}

// slot returns a free hot slot, growing up to HotSize and then evicting
// with the CLOCK algorithm. Evicting from the hot tier keeps the key in
// keys. Called with mu held.
func (s *Store) slot() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	if s.nslots < s.cfg.HotSize {
		if s.nslots%chunkSize == 0 {
			s.chunks = append(s.chunks, make([]entry, min(chunkSize, s.cfg.HotSize-s.nslots)))
		}
		s.nslots++
		return int32(s.nslots - 1)
	}
	for {
		s.hand = (s.hand + 1) % s.nslots
		e := s.at(int32(s.hand))
		if e.ref.Swap(0) == 0 {
			s.cfg.Metrics.CacheEviction("hot")
			delete(s.index, e.row)
			*e = entry{}
			return int32(s.hand)
		}
	}
}

// shared returns the one shared copy of sc. The table is bounded: when it
// outgrows the hot tier it starts over (entries keep what they point to).
func (s *Store) shared(sc scope) *scope {
	if p, ok := s.scopes[sc]; ok {
		return p
	}
	if len(s.scopes) >= s.cfg.HotSize {
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
	id, _ := s.keys.pack([]byte(user))
	if r, ok := s.keys.find(id); ok {
		s.dropRow(r)
	}
}

// InvalidateProcess forgets every cached key of a process, and the process.
func (s *Store) InvalidateProcess(processID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	delete(s.owners, processID)
	if processID == "" {
		return
	}
	for r := uint32(0); int(r) < s.keys.nrows; r++ {
		if s.keys.inUse(r) && s.keys.groups[s.keys.at(r).group].process == processID {
			s.dropRow(r)
		}
	}
}

// dropRow forgets the key in row r. Called with mu held.
func (s *Store) dropRow(r uint32) {
	if i, ok := s.index[r]; ok {
		s.dropHot(i)
	}
	delete(s.previous, r)
	s.keys.remove(r)
	s.cfg.Metrics.SetCacheSize("positive", s.keys.count)
}

// dropHot frees hot slot i. Called with mu held.
func (s *Store) dropHot(i int32) {
	delete(s.index, s.at(i).row)
	*s.at(i) = entry{}
	s.free = append(s.free, i)
	s.cfg.Metrics.SetCacheSize("hot", len(s.index))
}

// Len returns the number of cached keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys.count
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
			s.add(k, gen, false) // not yet used: the rest is read at its first use
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
	s.add(k, gen, true) // read whole anyway, and likely to be used soon
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
