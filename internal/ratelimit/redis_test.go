package ratelimit_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keywarden/keywarden/internal/ratelimit"
	"github.com/keywarden/keywarden/internal/testenv"
)

// mustRedis returns the test Redis server's URL and a client of it, or
// skips tb (fails it under CI) when it does not answer (testenv.RedisURL).
func mustRedis(tb testing.TB) (string, *redis.Client) {
	tb.Helper()
	u := testenv.RedisURL(tb)
	opt, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("%s: %v", testenv.RedisURLVar, err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return u, c
}

// mustRedisLimiter returns a limiter of its own client (a node of its own).
func mustRedisLimiter(tb testing.TB, cfg ratelimit.RedisConfig) *ratelimit.Redis {
	tb.Helper()
	r, err := ratelimit.NewRedis(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// uniqueKey returns a key ID no other run uses, and deletes its bucket
// when tb ends.
func uniqueKey(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	key := "test_" + rand.Text()
	tb.Cleanup(func() { c.Del(context.Background(), "keywarden:ratelimit:"+key) })
	return key
}

// TestRedisNodesShareOneLimit: two nodes, each with its own connections,
// take from one bucket.
func TestRedisNodesShareOneLimit(t *testing.T) {
	u, c := mustRedis(t)
	nodes := []*ratelimit.Redis{
		mustRedisLimiter(t, ratelimit.RedisConfig{URL: u, OnError: ratelimit.OnErrorDeny}),
		mustRedisLimiter(t, ratelimit.RedisConfig{URL: u, OnError: ratelimit.OnErrorDeny}),
	}
	key := uniqueKey(t, c)
	lim := ratelimit.Limit{Limit: 10, Window: time.Hour}
	var n atomic.Int64
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Go(func() {
			for range 15 {
				if mustAllow(t, node, key, lim).Allowed {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n.Load() != 10 {
		t.Errorf("30 requests across two nodes got %d allowed, want the limit, 10", n.Load())
	}
}

// TestRedisDecisionValues: the values of Local, within the microseconds
// that pass between requests on the server's clock.
func TestRedisDecisionValues(t *testing.T) {
	u, c := mustRedis(t)
	r := mustRedisLimiter(t, ratelimit.RedisConfig{URL: u})
	key := uniqueKey(t, c)
	lim := ratelimit.Limit{Limit: 3, Window: time.Hour} // one request per 20 minutes
	const slack = time.Second
	for i, wantRemaining := range []int{2, 1, 0} {
		d := mustAllow(t, r, key, lim)
		wantReset := time.Duration(i+1) * 20 * time.Minute
		if !d.Allowed || d.Limit != 3 || d.Remaining != wantRemaining || d.RetryAfter != 0 || d.Reset > wantReset || d.Reset < wantReset-slack {
			t.Errorf("request %d: %+v, want allowed, %d remaining, reset in %v", i+1, d, wantRemaining, wantReset)
		}
	}
	d := mustAllow(t, r, key, lim)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter > 20*time.Minute || d.RetryAfter < 20*time.Minute-slack || d.Reset < time.Hour-slack {
		t.Errorf("request 4: %+v, want refused, retry after 20 minutes, reset in an hour", d)
	}
	ttl, err := c.PTTL(context.Background(), "keywarden:ratelimit:"+key).Result()
	if err != nil || ttl > time.Hour || ttl < time.Hour-slack {
		t.Errorf("the bucket's TTL is %v (%v), want the time until it is full again, an hour", ttl, err)
	}
	// A raised limit applies at once, as in Local.
	if d := mustAllow(t, r, key, ratelimit.Limit{Limit: 6, Window: time.Hour}); !d.Allowed || d.Remaining != 2 {
		t.Errorf("raised to 6: %+v, want allowed with 2 remaining", d)
	}
}

// TestRedisUnreachable: each OnError decides as documented, returns the
// error, and within the timeout, whether Redis refuses connections or
// accepts them and never answers.
func TestRedisUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100)
	go func() { // accepts, never answers
		for {
			conn, err := silent.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		for conn := range accepted {
			conn.Close()
		}
	})
	refused := "redis://127.0.0.1:1/0"
	lim := ratelimit.Limit{Limit: 2, Window: time.Hour}
	for _, server := range []struct{ name, url string }{
		{"refusing", refused},
		{"silent", "redis://" + silent.Addr().String() + "/0"},
	} {
		for _, tc := range []struct {
			onError ratelimit.OnRedisError
			allowed int // of 3 requests
		}{
			{ratelimit.OnErrorLocal, 2}, // the node's own bucket of 2
			{ratelimit.OnErrorDeny, 0},
			{ratelimit.OnErrorAllow, 3},
		} {
			t.Run(server.name+"/"+tc.onError.String(), func(t *testing.T) {
				r := mustRedisLimiter(t, ratelimit.RedisConfig{URL: server.url, OnError: tc.onError})
				n := 0
				for i := range 3 {
					start := time.Now()
					d, err := r.Allow(context.Background(), "k", lim)
					if took := time.Since(start); took > 500*time.Millisecond {
						t.Errorf("request %d took %v, want about the timeout, %v", i+1, took, ratelimit.DefaultTimeout)
					}
					if err == nil || !strings.Contains(err.Error(), "redis") {
						t.Errorf("request %d: error %v, want Redis's", i+1, err)
					}
					// Only a refusal no bucket decided is ErrUndecided
					// (503, not 429).
					if undecided := errors.Is(err, ratelimit.ErrUndecided); undecided != (tc.onError == ratelimit.OnErrorDeny) {
						t.Errorf("request %d: errors.Is(err, ErrUndecided) = %v under %v", i+1, undecided, tc.onError)
					}
					if d.Limit != lim.Limit {
						t.Errorf("request %d: Limit %d, want %d", i+1, d.Limit, lim.Limit)
					}
					if d.Allowed {
						n++
					} else if d.RetryAfter <= 0 {
						t.Errorf("request %d refused with RetryAfter %v", i+1, d.RetryAfter)
					}
				}
				if n != tc.allowed {
					t.Errorf("%d of 3 requests allowed, want %d", n, tc.allowed)
				}
			})
		}
	}
	t.Run("a silent server times out", func(t *testing.T) {
		r := mustRedisLimiter(t, ratelimit.RedisConfig{URL: "redis://" + silent.Addr().String() + "/0"})
		if _, err := r.Allow(context.Background(), "k", lim); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Errorf("error %v, want a timeout", err)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestNewRedisRefusesABadURL, without showing its password.
func TestNewRedisRefusesABadURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "redis://:s3cret@127.0.0.1:6379/x", "redis://:s3cret@127.0.0.1:6379/0\x00"} {
		_, err := ratelimit.NewRedis(ratelimit.RedisConfig{URL: u})
		if err == nil {
			t.Errorf("NewRedis accepted %q", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestOnRedisErrorText(t *testing.T) {
	for _, o := range []ratelimit.OnRedisError{ratelimit.OnErrorLocal, ratelimit.OnErrorDeny, ratelimit.OnErrorAllow} {
		text, _ := o.MarshalText()
		var back ratelimit.OnRedisError
		if err := back.UnmarshalText(text); err != nil || back != o {
			t.Errorf("%v: %q read back as %v, %v", o, text, back, err)
		}
	}
	var o ratelimit.OnRedisError
	if err := o.UnmarshalText([]byte("open")); err == nil {
		t.Error(`"open" was accepted`)
	}
}

// BenchmarkRedisAllow is one round trip to the test server and its script.
func BenchmarkRedisAllow(b *testing.B) {
	u, c := mustRedis(b)
	r := mustRedisLimiter(b, ratelimit.RedisConfig{URL: u})
	key := uniqueKey(b, c)
	lim := ratelimit.Limit{Limit: 1_000_000, Window: time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Allow(ctx, key, lim); err != nil {
			b.Fatal(err)
		}
	}
}
