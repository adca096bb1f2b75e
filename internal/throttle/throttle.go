// Package throttle counts failures per key (an account, an IP address) in a
// sliding window, so that password guessing slows to a crawl while a person
// who mistypes a few times is not locked out for long.
package throttle

import (
	"sync"
	"time"
)

// Limiter refuses a key after Max failures within Window. It is safe for
// concurrent use and bounded in memory. It lives in one process: each node
// of a cluster throttles on its own, which bounds guessing to nodes × Max
// per window.
type Limiter struct {
	max     int
	window  time.Duration
	now     func() time.Time
	maxKeys int

	mu sync.Mutex
	// failures holds each key's failures within the window, oldest first,
	// as Unix nanoseconds, and never more than max of them: only the
	// newest max decide. An int64 is a third of a time.Time and holds no
	// pointer (a time.Time holds its Location), so the garbage collector
	// never scans these lists. That matters under a high limit: a flood
	// from one address that is only refused past a huge count keeps a
	// whole window of failures (docs/performance.md).
	failures map[string][]int64
	bursts   map[string]burst // see burst.go; nil until first used
	// maxPenalty, when set (Escalating), makes repeated lockouts longer;
	// strikes remembers them (escalate.go).
	maxPenalty time.Duration
	strikes    map[string]strike
}

// New returns a Limiter allowing max failures per window, with now as clock.
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	return &Limiter{max: max, window: window, now: now, maxKeys: 100_000, failures: map[string][]int64{}}
}

// Allow reports whether key may try again, and if not, how long until it may.
func (l *Limiter) Allow(key string) (bool, time.Duration) { return l.AllowAt(key, l.now()) }

// AllowAt is Allow at now, a reading of the Limiter's clock the caller has
// already taken.
func (l *Limiter) AllowAt(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxPenalty > 0 {
		if until := l.refusedUntil(key, now); !until.IsZero() {
			return false, until.Sub(now)
		}
	}
	recent := l.recent(key, now)
	if len(recent) < l.max {
		return true, 0
	}
	// The oldest of the newest max: when it leaves the window, fewer than
	// max are left.
	until := time.Unix(0, recent[len(recent)-l.max]).Add(l.window)
	if l.maxPenalty > 0 {
		until = l.lockout(key, now, until)
	}
	return false, until.Sub(now)
}

// Fail records a failure of key.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.failures) >= l.maxKeys {
		l.sweep(now)
	}
	list := append(l.recent(key, now), now.UnixNano())
	if l.max > 0 && len(list) > l.max {
		list = list[len(list)-l.max:]
	}
	l.failures[key] = list
}

// Reset forgets the failures of key, after a success.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// recent drops key's failures older than the window and returns the rest.
// It writes the map only when some have left the window: every request
// that authenticates asks AllowAt about its address, which has, nearly
// always, no failure at all, or none that expired since the last request.
func (l *Limiter) recent(key string, now time.Time) []int64 {
	list, ok := l.failures[key]
	if !ok {
		return nil
	}
	cutoff := now.Add(-l.window).UnixNano()
	i := 0
	for i < len(list) && list[i] <= cutoff {
		i++
	}
	switch {
	case i == len(list):
		delete(l.failures, key)
		return nil
	case i > 0:
		list = list[i:]
		l.failures[key] = list
	}
	return list
}

// sweep drops expired keys; if the map is still full, it drops half of it,
// so a flood of distinct keys costs bounded memory rather than an outage.
func (l *Limiter) sweep(now time.Time) {
	for key := range l.failures {
		l.recent(key, now)
	}
	if len(l.failures) < l.maxKeys {
		return
	}
	n := 0
	for key := range l.failures {
		if n >= l.maxKeys/2 {
			break
		}
		delete(l.failures, key)
		n++
	}
}
