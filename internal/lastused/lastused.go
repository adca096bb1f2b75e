// Package lastused records when keys were last used, off the request path.
// A verification hands the use to a Recorder and returns at once; the
// Recorder writes it to the store in the background, under the store's own
// deadline, so that a slow or stalled database never slows down a request
// the verification cache can answer (DESIGN.md §7: no database write on
// the request path).
//
// A key's last use is advice for the people who rotate keys, not a
// security control: a use that cannot be written (the database is down,
// the queue is full) is dropped and counted, never retried at the cost of
// memory or of the requests.
package lastused

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
)

// MaxPending bounds the uses waiting to be written: one entry per key, so
// it is reached only when more than this many distinct keys are used while
// the database does not keep up.
const MaxPending = 100_000

// Store is where uses are written.
type Store interface {
	TouchAPIKey(ctx context.Context, user string, at time.Time) error
}

// Recorder writes key uses to a Store in the background. It is safe for
// concurrent use.
type Recorder struct {
	store   Store
	written func(user string, at time.Time)
	logger  *slog.Logger

	mu      sync.Mutex
	idle    sync.Cond // signalled when the writer stops
	pending map[string]time.Time
	writing bool
	dropped atomic.Int64
}

// New returns a Recorder writing to store. written, when not nil, is told
// of each use once it is stored (the verification cache's Touched, so that
// the next verification does not record the same use again).
func New(store Store, written func(user string, at time.Time), logger *slog.Logger) *Recorder {
	if written == nil {
		written = func(string, time.Time) {}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{store: store, written: written, logger: logger, pending: map[string]time.Time{}}
	r.idle.L = &r.mu
	return r
}

// Record notes that the key whose public ID is user was used at at. It
// never waits for the store: the use is queued (the latest per key) and
// written by a writer goroutine, started when the queue stops being empty
// and ending when it is empty again.
func (r *Recorder) Record(user string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.pending[user]; ok {
		if at.After(prev) {
			r.pending[user] = at
		}
		return
	}
	if len(r.pending) >= MaxPending {
		r.dropped.Add(1)
		return
	}
	r.pending[user] = at
	if !r.writing {
		r.writing = true
		go r.write()
	}
}

// Dropped returns how many uses were not written: the queue was full, or
// the store was unavailable.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Wait returns once every use recorded before it was called has been
// written or dropped: for a graceful shutdown, and for tests.
func (r *Recorder) Wait() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.writing {
		r.idle.Wait()
	}
}

// write writes the queue until it is empty.
func (r *Recorder) write() {
	for {
		r.mu.Lock()
		batch := r.pending
		if len(batch) == 0 {
			r.writing = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		r.pending = make(map[string]time.Time, len(batch))
		r.mu.Unlock()
		r.writeBatch(batch)
	}
}

// writeBatch writes one batch. An unavailable store drops the rest of it
// at once: each write would wait out the store's deadline in turn.
func (r *Recorder) writeBatch(batch map[string]time.Time) {
	left := len(batch)
	for user, at := range batch {
		left--
		err := r.store.TouchAPIKey(context.Background(), user, at)
		switch keywarden.ErrorCode(err) {
		case "":
			r.written(user, at)
		case keywarden.ENOTFOUND:
			// Deleted since: nothing to record.
		case keywarden.EUNAVAILABLE:
			r.dropped.Add(int64(left + 1))
			r.logger.Warn("key last-use not recorded: the database is unavailable", "dropped", left+1, "error", err)
			return
		default:
			r.dropped.Add(1)
			r.logger.Warn("record key last use", "key_user", user, "error", err)
		}
	}
}
