// Package ratelimit limits the requests of each API key to the rate its
// limit allows: at most Limit requests per Window, as a token bucket that
// holds Limit requests and refills continuously at Limit per Window. A key
// may spend its whole bucket at once (a burst of Limit) and then goes on at
// the sustained rate.
//
// Local keeps the buckets in this process: each node of a cluster counts on
// its own, so N nodes together allow up to N times a key's limit. Redis keeps
// them in one Redis server shared by every node, so the limit holds across
// the cluster; its OnError says what it does when Redis fails or is slower
// than its timeout:
//
//   - OnErrorLocal (the default) decides the request on a Local bucket of
//     this node: limits stay enforced, per node, for as long as Redis is
//     down. This is what Keywarden does without Redis at all, so an outage
//     of Redis neither takes the API down nor lifts the limits.
//   - OnErrorDeny refuses the request: for limits that must never be
//     exceeded (a quota that costs money), at the price of refusing every
//     limited key while Redis is down.
//   - OnErrorAllow lets the request through uncounted: for limits that are
//     advisory, at the price of having none while Redis is down — which
//     whoever can make Redis fail or slow controls.
//
// Whatever the choice, Allow returns the Redis error beside the decision,
// so the caller can log and count it. A refusal whose error is ErrUndecided
// is not the key's doing (Redis is down under OnErrorDeny, or the limit is
// out of bounds): the HTTP layer answers it 503 with its RetryAfter, not
// 429. A refusal by OnErrorLocal's bucket is the key's: 429.
// docs/ratelimits.md describes the same for operators.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limit is a key's rate limit: at most Limit requests per Window.
type Limit struct {
	Limit  int
	Window time.Duration
}

// The bounds of a Limit, those of a key's rateLimit in the API (1 to
// 1,000,000 requests per 1 to 86,400 seconds). The floor of Window is
// lower, for tests; Redis measures time in microseconds.
const (
	maxLimit  = 1_000_000
	minWindow = time.Millisecond
	maxWindow = 24 * time.Hour
)

// errInvalidLimit is returned, with a refusal, for a Limit out of bounds:
// one reaching here has escaped the API's validation, and a limiter fails
// closed rather than guess at the limit a key was meant to have.
var errInvalidLimit = fmt.Errorf("%w: limit out of bounds (1 to 1,000,000 requests per 1 ms to 24 h)", ErrUndecided)

// ErrUndecided marks the error of a refusal that no bucket decided: the
// limiter could not count the request and refuses it to fail closed.
var ErrUndecided = errors.New("ratelimit: not decided")

func (l Limit) valid() bool {
	return l.Limit >= 1 && l.Limit <= maxLimit && l.Window >= minWindow && l.Window <= maxWindow
}

// Decision is the outcome of one request against a limit.
type Decision struct {
	Allowed bool
	// Limit is the limit, for RateLimit-Limit.
	Limit int
	// Remaining is how many more requests would be allowed now (0 when
	// refused), for RateLimit-Remaining.
	Remaining int
	// Reset is the time until the bucket is full again, for RateLimit-Reset
	// (rounded up to whole seconds by the HTTP layer).
	Reset time.Duration
	// RetryAfter is, when refused, the time until one request would be
	// allowed, for Retry-After; 0 when allowed.
	RetryAfter time.Duration
}

// Limiter decides requests of keys, identified by their public key ID,
// against their limits.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
}

// bucket is a key's token bucket, kept as its level: the requests it has
// counted and not yet drained (Limit minus the tokens left). It is the
// level, not the tokens, that a bucket keeps across a change of the key's
// limit, so that an edited limit applies at once in both directions: a key
// raised from 10 to 20 per minute that has just made 10 requests may make
// 10 more, and one lowered below what it has just made is refused until it
// has drained below the new limit.
//
// The Lua script of redis.go is the same arithmetic, in microseconds.
type bucket struct {
	level float64
	at    int64 // when level was measured, in nanoseconds of the limiter's clock
	full  int64 // when level reaches 0, at the rate of the latest request: the bucket is then as good as absent
}

// take counts one request at now (nanoseconds) in b, under l, and returns
// the bucket and the decision.
func take(b bucket, now int64, l Limit) (bucket, Decision) {
	limit, window := float64(l.Limit), float64(l.Window)
	// A clock that went back drains nothing; past a Window everything is
	// drained, which also keeps the product below from growing unbounded.
	elapsed := min(max(now-b.at, 0), int64(l.Window))
	level := b.level - float64(elapsed)*limit/window
	level = min(max(level, 0), limit)
	d := Decision{Limit: l.Limit}
	if level+1 <= limit {
		level++
		d.Allowed = true
		d.Remaining = int(limit - level)
	} else {
		d.RetryAfter = ceilDuration((level + 1 - limit) * window / limit)
	}
	d.Reset = ceilDuration(level * window / limit)
	return bucket{level: level, at: now, full: now + int64(d.Reset)}, d
}

// ceilDuration rounds up, so that a client waiting RetryAfter is never
// early.
func ceilDuration(ns float64) time.Duration { return time.Duration(math.Ceil(ns)) }
