package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/ratelimit"
)

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustAllow returns the decision of one request, failing tb on an error.
func mustAllow(tb testing.TB, l ratelimit.Limiter, key string, lim ratelimit.Limit) ratelimit.Decision {
	tb.Helper()
	d, err := l.Allow(context.Background(), key, lim)
	if err != nil {
		tb.Fatalf("Allow(%q, %+v): %v", key, lim, err)
	}
	return d
}

// allowed counts how many of n immediate requests l allows.
func allowed(tb testing.TB, l ratelimit.Limiter, key string, lim ratelimit.Limit, n int) int {
	tb.Helper()
	a := 0
	for range n {
		if mustAllow(tb, l, key, lim).Allowed {
			a++
		}
	}
	return a
}

func TestLocalBurstGetsExactlyTheLimitThenRefills(t *testing.T) {
	c := newClock()
	l := ratelimit.NewLocal(c.now)
	lim := ratelimit.Limit{Limit: 10, Window: time.Minute}
	if n := allowed(t, l, "k", lim, 30); n != 10 {
		t.Fatalf("a burst of 30 got %d allowed, want the limit, 10", n)
	}
	c.advance(lim.Window / 2)
	if n := allowed(t, l, "k", lim, 30); n != 5 {
		t.Errorf("half a window later a burst of 30 got %d allowed, want half the limit, 5", n)
	}
	c.advance(lim.Window)
	if n := allowed(t, l, "k", lim, 30); n != 10 {
		t.Errorf("a window later a burst of 30 got %d allowed, want the limit, 10", n)
	}
}

// TestLocalDecisionValues: 10 per 10 s is one request a second.
func TestLocalDecisionValues(t *testing.T) {
	c := newClock()
	l := ratelimit.NewLocal(c.now)
	lim := ratelimit.Limit{Limit: 10, Window: 10 * time.Second}
	steps := []struct {
		name    string
		advance time.Duration
		want    ratelimit.Decision
	}{
		{"the first request leaves 9, full again in 1 s", 0,
			ratelimit.Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: time.Second}},
		{"the second leaves 8, full again in 2 s", 0,
			ratelimit.Decision{Allowed: true, Limit: 10, Remaining: 8, Reset: 2 * time.Second}},
		{"half a second later the third leaves 7", 500 * time.Millisecond,
			ratelimit.Decision{Allowed: true, Limit: 10, Remaining: 7, Reset: 2500 * time.Millisecond}},
	}
	for _, s := range steps {
		c.advance(s.advance)
		if d := mustAllow(t, l, "k", lim); d != s.want {
			t.Errorf("%s: got %+v, want %+v", s.name, d, s.want)
		}
	}
	allowed(t, l, "k", lim, 7) // the bucket is now at 10 of 10, full again in 9.5 s
	steps = []struct {
		name    string
		advance time.Duration
		want    ratelimit.Decision
	}{
		{"an empty bucket refuses for 0.5 s more", 0,
			ratelimit.Decision{Limit: 10, Reset: 9500 * time.Millisecond, RetryAfter: 500 * time.Millisecond}},
		{"0.4 s later, for 0.1 s more", 400 * time.Millisecond,
			ratelimit.Decision{Limit: 10, Reset: 9100 * time.Millisecond, RetryAfter: 100 * time.Millisecond}},
		{"at RetryAfter one request is allowed", 100 * time.Millisecond,
			ratelimit.Decision{Allowed: true, Limit: 10, Remaining: 0, Reset: 10 * time.Second}},
		{"and the next refused for a whole second", 0,
			ratelimit.Decision{Limit: 10, Reset: 10 * time.Second, RetryAfter: time.Second}},
	}
	for _, s := range steps {
		c.advance(s.advance)
		if d := mustAllow(t, l, "k", lim); d != s.want {
			t.Errorf("%s: got %+v, want %+v", s.name, d, s.want)
		}
	}
}

func TestLocalKeysAreIndependent(t *testing.T) {
	l := ratelimit.NewLocal(newClock().now)
	lim := ratelimit.Limit{Limit: 3, Window: time.Hour}
	if n := allowed(t, l, "a", lim, 10); n != 3 {
		t.Fatalf("key a got %d allowed, want 3", n)
	}
	if n := allowed(t, l, "b", lim, 10); n != 3 {
		t.Errorf("key b got %d allowed after key a spent its bucket, want 3", n)
	}
}

// TestLocalChangedLimitAppliesAtOnce: a bucket keeps the requests it has
// counted, and the new limit decides on them from the next request on.
func TestLocalChangedLimitAppliesAtOnce(t *testing.T) {
	l := ratelimit.NewLocal(newClock().now)
	ten := ratelimit.Limit{Limit: 10, Window: time.Minute}
	if n := allowed(t, l, "k", ten, 10); n != 10 {
		t.Fatalf("got %d allowed, want 10", n)
	}
	if mustAllow(t, l, "k", ten).Allowed {
		t.Fatal("the 11th request of 10 per minute was allowed")
	}
	twenty := ratelimit.Limit{Limit: 20, Window: time.Minute}
	if d := mustAllow(t, l, "k", twenty); !d.Allowed || d.Remaining != 9 || d.Limit != 20 {
		t.Errorf("raised to 20: %+v, want allowed with 9 remaining of 20", d)
	}
	if n := allowed(t, l, "k", twenty, 20); n != 9 {
		t.Errorf("raised to 20, %d more allowed, want 9", n)
	}
	five := ratelimit.Limit{Limit: 5, Window: time.Minute}
	d := mustAllow(t, l, "k", five)
	if want := (ratelimit.Decision{Limit: 5, Reset: time.Minute, RetryAfter: 12 * time.Second}); d != want {
		t.Errorf("lowered to 5: %+v, want %+v (a full bucket of 5 per minute)", d, want)
	}
}

func TestLocalRefusesAnInvalidLimit(t *testing.T) {
	l := ratelimit.NewLocal(nil)
	for _, lim := range []ratelimit.Limit{
		{Limit: 0, Window: time.Second},
		{Limit: -1, Window: time.Second},
		{Limit: 1_000_001, Window: time.Second},
		{Limit: 1, Window: 0},
		{Limit: 1, Window: 25 * time.Hour},
	} {
		if d, err := l.Allow(context.Background(), "k", lim); !errors.Is(err, ratelimit.ErrUndecided) || d.Allowed {
			t.Errorf("%+v: %+v, %v; want a refusal and an error", lim, d, err)
		}
	}
}

// TestLocalSweepDropsDrainedBuckets: buckets that have refilled go when the
// map grows; those still draining stay.
func TestLocalSweepDropsDrainedBuckets(t *testing.T) {
	c := newClock()
	l := ratelimit.NewLocal(c.now)
	lim := ratelimit.Limit{Limit: 5, Window: time.Minute}
	const old = 3200 // 100 a shard
	for i := range old {
		mustAllow(t, l, "old"+strconv.Itoa(i), lim)
	}
	if n := ratelimit.Len(l); n != old {
		t.Fatalf("%d buckets, want %d: a sweep dropped buckets still draining", n, old)
	}
	// Each old bucket holds one request, drained in Window/Limit.
	c.advance(lim.Window / 5)
	const fresh = 4 * old // enough for every shard to double, and so sweep
	for i := range fresh {
		mustAllow(t, l, "new"+strconv.Itoa(i), lim)
	}
	if n := ratelimit.Len(l); n != fresh {
		t.Errorf("%d buckets, want the %d still draining: %d drained ones left", n, fresh, n-fresh)
	}
	// A dropped bucket was full: its key starts afresh with the whole limit.
	if d := mustAllow(t, l, "old1", lim); d.Remaining != lim.Limit-1 {
		t.Errorf("a drained key's next request left %d, want %d", d.Remaining, lim.Limit-1)
	}
}

// TestLocalConcurrentRequestsShareOneBucket runs under -race in CI.
func TestLocalConcurrentRequestsShareOneBucket(t *testing.T) {
	l := ratelimit.NewLocal(newClock().now)
	lim := ratelimit.Limit{Limit: 100, Window: time.Hour}
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if mustAllow(t, l, "shared", lim).Allowed {
					n.Add(1)
				}
				mustAllow(t, l, "own"+strconv.Itoa(g*1000+i), lim)
			}
		})
	}
	wg.Wait()
	if n.Load() != 100 {
		t.Errorf("800 concurrent requests got %d allowed, want the limit, 100", n.Load())
	}
}

// BenchmarkLocalAllow decides requests of keys Local already holds, the
// path of every request but a key's first: it allocates nothing. Its
// buckets do not drain between two requests of a key (a million per day).
// refilled is the other path: a 100,000 keys of a million per second, each
// of whose buckets has refilled, and may have been swept, by its next
// request, which then makes the bucket anew (one allocation, the copy of
// the key ID).
//
//	go test -run='^$' -bench=BenchmarkLocalAllow -benchmem ./internal/ratelimit/
func BenchmarkLocalAllow(b *testing.B) {
	perDay := ratelimit.Limit{Limit: 1_000_000, Window: 24 * time.Hour}
	perSecond := ratelimit.Limit{Limit: 1_000_000, Window: time.Second}
	for _, bc := range []struct {
		name string
		keys int
		lim  ratelimit.Limit
	}{
		{"keys=1", 1, perDay},
		{"keys=1000", 1_000, perDay},
		{"keys=100000", 100_000, perDay},
		{"keys=100000/refilled", 100_000, perSecond},
	} {
		keys := make([]string, bc.keys)
		for i := range keys {
			keys[i] = "kw_" + strconv.Itoa(i) + "_a1b2c3d4e5f6g7h8"
		}
		b.Run(bc.name, func(b *testing.B) {
			l := ratelimit.NewLocal(nil)
			for _, k := range keys {
				mustAllow(b, l, k, bc.lim)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.Allow(ctx, keys[i%len(keys)], bc.lim)
				i++
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			l := ratelimit.NewLocal(nil)
			for _, k := range keys {
				mustAllow(b, l, k, bc.lim)
			}
			ctx := context.Background()
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					l.Allow(ctx, keys[i%len(keys)], bc.lim)
					i++
				}
			})
		})
	}
}
