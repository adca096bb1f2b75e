package password

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// ErrBusy is Bound's answer when no hashing slot frees up in time. It is
// load, not a wrong password: the caller should ask the client to retry
// (503 with Retry-After), and count no failure.
var ErrBusy = errors.New("password: too many password hashes in progress")

// Bound limits how many argon2id computations run at once. Each one holds
// 64 MiB for tens of milliseconds, so a burst of N sign-ins would otherwise
// hold N × 64 MiB at once and a few hundred requests exhaust a small
// server's memory. Beyond the bound, callers wait their turn; a caller
// still waiting after the wait gets ErrBusy instead of piling up.
//
// The bound is a value the server owns, not package state behind Hash and
// Check: the house keeps no mutable state at package level, and only the
// server sees concurrent callers. The command line (orgs create, users)
// hashes one password per run, so it is bounded by construction and keeps
// calling Hash directly.
type Bound struct {
	slots chan struct{}
	wait  time.Duration
	// inSlot, when set (by tests), runs while a slot is held, before the
	// hash: it lets a test see how many computations overlap.
	inSlot func()
}

// DefaultConcurrency is the bound a server uses: each hash already runs
// on parallelism threads, so GOMAXPROCS/parallelism hashes keep every CPU
// busy; more at once would only add memory, not throughput. At least two,
// so one slow hash does not serialize a small machine.
func DefaultConcurrency() int {
	return max(2, runtime.GOMAXPROCS(0)/parallelism)
}

// NewBound returns a Bound of n concurrent hashes (at least 1), where a
// caller waits at most wait for a slot.
func NewBound(n int, wait time.Duration) *Bound {
	return &Bound{slots: make(chan struct{}, max(1, n)), wait: wait}
}

// Hash is the package's Hash within the bound.
func (b *Bound) Hash(ctx context.Context, pw string) (string, error) {
	var (
		h   string
		err error
	)
	if serr := b.do(ctx, func() { h, err = Hash(pw) }); serr != nil {
		return "", serr
	}
	return h, err
}

// Check is the package's Check within the bound. A malformed hash is
// refused without taking a slot, since refusing it costs nothing.
func (b *Bound) Check(ctx context.Context, pw, encoded string) (bool, error) {
	h, ok := parse(encoded)
	if !ok {
		return false, nil
	}
	var match bool
	if err := b.do(ctx, func() { match = h.matches(pw) }); err != nil {
		return false, err
	}
	return match, nil
}

// do runs f in a slot, waiting at most b.wait (or until ctx ends) for one.
func (b *Bound) do(ctx context.Context, f func()) error {
	select {
	case b.slots <- struct{}{}:
	default:
		t := time.NewTimer(b.wait)
		defer t.Stop()
		select {
		case b.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	defer func() { <-b.slots }()
	if b.inSlot != nil {
		b.inSlot()
	}
	f()
	return nil
}
