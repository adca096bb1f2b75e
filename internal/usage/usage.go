// Package usage records how keys are used — each key's last use (when, and
// from which client address) and its successful and failed
// authentications per hour — off the request path. A verification hands
// its outcome to a Recorder and returns at once; the Recorder adds it up
// in memory and writes everything this node saw every FlushInterval, in
// one store call (keywarden.UsageStore.RecordKeyUsage) and so one
// transaction, whatever the number of requests: no database write sits on
// the request path (DESIGN.md §7), and a busy key costs the database one
// row a flush, not one per request.
//
// Usage is advice for the people who rotate and delete keys, not a
// security control, and is kept accordingly: what a node has not flushed
// yet is lost if the process dies (at most one FlushInterval of it), and a
// flush the database cannot take (it is down, or slower than the store's
// deadline) is dropped, counted and logged, never retried at the cost of
// memory or of the requests. Memory is bounded by MaxPending keys.
package usage

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
)

// DefaultFlushInterval is how often a Recorder writes what it has seen.
const DefaultFlushInterval = 5 * time.Second

// MaxPending bounds the keys whose usage waits for the next flush. It is
// reached only when more than this many distinct keys are used within one
// FlushInterval; the uses of further keys are then dropped and counted.
const MaxPending = 100_000

// maxHoursPerKey bounds the hours one key's counts cover between two
// flushes: two at most with a real clock and a short interval.
const maxHoursPerKey = 24

// PruneInterval is how often a Recorder deletes the hours past
// keywarden.KeyUsageRetention.
const PruneInterval = time.Hour

// shards split the pending usage, each with its own lock, so that the
// requests of many cores do not queue on one mutex.
const shards = 32

// Store is where usage is written.
type Store interface {
	RecordKeyUsage(ctx context.Context, uses []keywarden.KeyUse, counts []keywarden.KeyUsageCount) error
	PruneKeyUsage(ctx context.Context, before time.Time) (int64, error)
}

// Observer is told how many authentications' usage was not recorded
// (*metrics.Metrics is one).
type Observer interface {
	UsageDropped(n int)
}

// Config configures a Recorder; the zero value is usable.
type Config struct {
	// FlushInterval is how often usage is written; DefaultFlushInterval
	// when zero.
	FlushInterval time.Duration
	// Now is the clock that decides which hours are past retention (the
	// server's, which tests control); time.Now when nil.
	Now      func() time.Time
	Logger   *slog.Logger
	Observer Observer
}

// Recorder adds up key uses and writes them in the background. It is safe
// for concurrent use.
//
// Its writer goroutine starts with the first use and ends after a flush
// that had nothing to write, so a Recorder nobody uses holds no goroutine;
// Close ends it for good, after a last flush.
type Recorder struct {
	store  Store
	cfg    Config
	seed   maphash.Seed
	shards [shards]shard

	dropped atomic.Int64
	closed  atomic.Bool

	mu      sync.Mutex // guards running and the writer's start and end
	running bool
	stop    chan struct{} // closed by Close
	writer  sync.WaitGroup

	flushMu   sync.Mutex // one flush at a time; guards what follows
	failing   bool       // the last flush failed (logged once per outage)
	lastPrune time.Time  // by the monotonic clock; zero before the first
}

type shard struct {
	mu      sync.Mutex
	pending map[string]*keyUsage // by public key ID
	// scratch takes Ignore's counts, which nothing reads: an unknown ID
	// does the counting a known key's failure does.
	scratch keyUsage
}

// keyUsage is what one key did since the last flush.
type keyUsage struct {
	at    time.Time // the latest successful use; zero when none
	from  string
	hours []hourCount
}

type hourCount struct {
	hour              time.Time
	succeeded, failed int64
}

// New returns a Recorder writing to store.
func New(store Store, cfg Config) *Recorder {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{store: store, cfg: cfg, seed: maphash.MakeSeed(), stop: make(chan struct{})}
	for i := range r.shards {
		r.shards[i].pending = map[string]*keyUsage{}
	}
	return r
}

// Record notes an authentication with the key whose public ID is user, at
// at from the client address from: a success (ok) or a failure of a key
// that exists (a wrong secret, an expired key). Only a success is a use:
// a failure counts, but moves no last use. Record never waits for the
// store.
func (r *Recorder) Record(user string, at time.Time, from string, ok bool) {
	r.record(user, at, from, ok, true)
}

// Ignore does the work of Record — the hash, the lock, the look-up, the
// count (into a scratch entry) — and records nothing: for a failed authentication whose key ID names no key,
// so that the time a failure takes does not tell whether its ID exists
// (docs/security.md, "No existence oracle"). Unknown IDs take no memory
// here, however many an attacker sends.
func (r *Recorder) Ignore(user string, at time.Time, from string) {
	r.record(user, at, from, false, false)
}

func (r *Recorder) record(user string, at time.Time, from string, ok, keep bool) {
	if r.closed.Load() {
		if keep {
			r.drop(1)
		}
		return
	}
	at = at.UTC().Truncate(time.Microsecond)
	hour := at.Truncate(time.Hour)
	sh := &r.shards[maphash.String(r.seed, user)%shards]
	sh.mu.Lock()
	u := sh.pending[user]
	if !keep {
		if len(sh.scratch.hours) >= maxHoursPerKey {
			sh.scratch.hours = sh.scratch.hours[:0]
		}
		sh.scratch.count(hour, ok)
		sh.mu.Unlock()
		return
	}
	fresh := u == nil
	if fresh {
		if r.pendingFull(sh) {
			sh.mu.Unlock()
			r.drop(1)
			return
		}
		u = &keyUsage{}
		sh.pending[user] = u
	}
	if !u.count(hour, ok) {
		sh.mu.Unlock()
		r.drop(1)
		return
	}
	if ok && at.After(u.at) {
		u.at, u.from = at, from
	}
	sh.mu.Unlock()
	if fresh {
		r.wake()
	}
}

// pendingFull reports whether sh holds its share of MaxPending keys.
// Called with sh.mu held.
func (r *Recorder) pendingFull(sh *shard) bool { return len(sh.pending) >= MaxPending/shards }

// count adds one authentication to hour, unless the key already has
// counts for maxHoursPerKey other hours.
func (u *keyUsage) count(hour time.Time, ok bool) bool {
	i := len(u.hours) - 1
	for ; i >= 0 && !u.hours[i].hour.Equal(hour); i-- {
	}
	if i < 0 {
		if len(u.hours) >= maxHoursPerKey {
			return false
		}
		u.hours = append(u.hours, hourCount{hour: hour})
		i = len(u.hours) - 1
	}
	if ok {
		u.hours[i].succeeded++
	} else {
		u.hours[i].failed++
	}
	return true
}

// wake starts the writer unless it runs.
func (r *Recorder) wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.closed.Load() {
		return
	}
	r.running = true
	r.writer.Add(1)
	go r.write()
}

// write flushes every FlushInterval, and prunes every PruneInterval, until
// a flush finds nothing new or the Recorder is closed.
func (r *Recorder) write() {
	defer r.writer.Done()
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.Flush()
		r.pruneIfDue()
		// Idle: end here. A use recorded after the check below starts a
		// new writer, because wake waits for r.mu.
		r.mu.Lock()
		if r.empty() {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
}

// empty reports whether no usage waits to be written.
func (r *Recorder) empty() bool {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n := len(sh.pending)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// Flush writes everything recorded so far in one RecordKeyUsage call and
// returns once it is written or dropped. The writer calls it every
// FlushInterval; tests and Close call it themselves.
func (r *Recorder) Flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	var (
		uses   []keywarden.KeyUse
		counts []keywarden.KeyUsageCount
		n      int64 // the authentications in this flush
	)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		batch := sh.pending
		if len(batch) == 0 {
			// Nothing to take, and the map stays the shard's: not ours
			// to read once the lock is released.
			sh.mu.Unlock()
			continue
		}
		sh.pending = make(map[string]*keyUsage, len(batch))
		sh.mu.Unlock()
		for user, u := range batch {
			if !u.at.IsZero() {
				uses = append(uses, keywarden.KeyUse{User: user, At: u.at, From: u.from})
			}
			for _, h := range u.hours {
				counts = append(counts, keywarden.KeyUsageCount{User: user, Hour: h.hour, Succeeded: h.succeeded, Failed: h.failed})
				n += h.succeeded + h.failed
			}
		}
	}
	if n == 0 {
		return
	}
	// Not the request's context: the requests are long answered. The
	// store's own deadline bounds the call.
	err := r.store.RecordKeyUsage(context.Background(), uses, counts)
	switch {
	case err != nil:
		r.drop(n)
		if !r.failing {
			r.failing = true
			r.cfg.Logger.Warn("key usage not recorded: dropped, not retried; logged once until a flush succeeds again",
				"keys", len(uses), "authentications", n, "error", err)
		}
	case r.failing:
		r.failing = false
		r.cfg.Logger.Info("key usage recorded again", "dropped_total", r.Dropped())
	}
}

// pruneIfDue deletes the hours past retention, at most every PruneInterval.
func (r *Recorder) pruneIfDue() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	if !r.lastPrune.IsZero() && time.Since(r.lastPrune) < PruneInterval {
		return
	}
	r.lastPrune = time.Now()
	before := r.cfg.Now().UTC().Add(-keywarden.KeyUsageRetention).Truncate(time.Hour)
	n, err := r.store.PruneKeyUsage(context.Background(), before)
	if err != nil {
		r.cfg.Logger.Warn("key usage not pruned; trying again in an hour", "pruned", n, "error", err)
	} else if n > 0 {
		r.cfg.Logger.Info("key usage pruned", "rows", n, "before", before)
	}
}

// Close writes what is pending and stops the writer. Uses recorded after
// it are dropped: call it once the server no longer answers requests.
func (r *Recorder) Close() {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return
	}
	close(r.stop)
	r.mu.Unlock()
	r.writer.Wait()
	r.Flush()
}

// Dropped returns how many authentications' usage was not recorded: their
// key did not fit in MaxPending, or the store could not take their flush.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

func (r *Recorder) drop(n int64) {
	r.dropped.Add(n)
	if r.cfg.Observer != nil {
		r.cfg.Observer.UsageDropped(int(n))
	}
}
