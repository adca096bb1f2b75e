package server

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/ratelimit"
)

// A key may carry a rate limit (keywarden.RateLimit). Every request it
// authenticates — on the REST API, forward-auth and the verify API alike —
// takes one token from its bucket (package ratelimit: on this node, or on
// Redis for the whole cluster), after the key check and only for a valid
// key, so that nobody but its holder can spend a key's budget. Past the
// limit the REST API answers 429 with Retry-After, forward-auth 403 with
// Retry-After (nginx's auth_request turns any other status into a 500), and
// the verify API the code RATE_LIMITED. Every response to a limited key's
// request carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.

var errKeyRateLimited = keywarden.Errorf(keywarden.ERATELIMITED, "This API key's rate limit is reached. Try again after the time in Retry-After.")

// limitKey spends one request of k's rate limit, if it has one, and returns
// errKeyRateLimited past it. A limiter that cannot decide (Redis down, with
// --rate-limit-redis-failure deny) is EUNAVAILABLE: the limit was not the
// key's doing.
func (s *server) limitKey(r *http.Request, info *requestInfo, k keywarden.KeyIdentity) error {
	if k.RateLimit.IsZero() {
		return nil
	}
	d, err := s.RateLimiter.Allow(r.Context(), k.User, ratelimit.Limit{Limit: k.RateLimit.Limit, Window: k.RateLimit.Window})
	info.rate, info.hasRate = d, true
	if err != nil {
		s.Logger.WarnContext(r.Context(), "rate limiter failed", "key_user", k.User, "allowed", d.Allowed, "error", err)
		if s.Metrics != nil {
			s.Metrics.ObserveRateLimiterError()
		}
		if !d.Allowed && errors.Is(err, ratelimit.ErrUndecided) {
			info.retryAfter = d.RetryAfter
			return keywarden.Errorf(keywarden.EUNAVAILABLE, "rate limiter: %v", err)
		}
	}
	if !d.Allowed {
		info.retryAfter = d.RetryAfter
		if s.Metrics != nil {
			s.Metrics.ObserveRateLimited()
		}
		return errKeyRateLimited
	}
	return nil
}

// setRateLimitHeaders writes the IETF RateLimit headers of decision d
// (draft-ietf-httpapi-ratelimit-headers): the limit, what is left, and the
// seconds until the bucket is full again. net/http takes header values as
// strings in the header map, which it reads after the handler returns, so
// they are on the heap: rateLimitTexts remembers them.
func setRateLimitHeaders(h http.Header, d *ratelimit.Decision) {
	v := rateLimitTexts.values(d.Limit, d.Remaining, int64((d.Reset+time.Second-1)/time.Second))
	h["Ratelimit-Limit"] = v.vals[0:1:1]
	h["Ratelimit-Remaining"] = v.vals[1:2:2]
	h["Ratelimit-Reset"] = v.vals[2:3:3]
}

// rateLimitTexts remembers the header values of recent decisions, as the
// memos of hotpath.go do: a key in steady use answers the same few
// (limit, remaining, reset) over and over, and a hit allocates nothing.
// It holds numbers only, nothing of any key or tenant, so one serves
// every server in the process.
var rateLimitTexts rateLimitMemo

type rateLimitMemo struct {
	slots [memoSlots]atomic.Pointer[rateLimitValues]
}

// rateLimitValues is one decision's header values: their slices, and the
// digits their strings share. Never modified once stored.
type rateLimitValues struct {
	limit, remaining int
	reset            int64 // seconds
	vals             [3]string
	digits           [3 * 20]byte // an int64 is at most 20 characters
}

func (m *rateLimitMemo) values(limit, remaining int, reset int64) *rateLimitValues {
	slot := &m.slots[memoSlot([3]int64{int64(limit), int64(remaining), reset})]
	if e := slot.Load(); e != nil && e.limit == limit && e.remaining == remaining && e.reset == reset {
		return e
	}
	v := &rateLimitValues{limit: limit, remaining: remaining, reset: reset}
	b := strconv.AppendInt(v.digits[:0], int64(limit), 10)
	n1 := len(b)
	b = strconv.AppendInt(b, int64(remaining), 10)
	n2 := len(b)
	b = strconv.AppendInt(b, reset, 10)
	// b is v.digits (three int64s need at most 60 bytes), which nothing
	// writes again.
	str := unsafe.String(&v.digits[0], len(b))
	v.vals[0], v.vals[1], v.vals[2] = str[:n1], str[n1:n2], str[n2:]
	slot.Store(v)
	return v
}
