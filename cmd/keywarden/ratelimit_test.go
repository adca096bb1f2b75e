package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

// createLimitedKey creates an organization key allowed limit requests per
// window seconds.
func (s *testServer) createLimitedKey(t *testing.T, root string, clock *fakeClock, limit, window int) string {
	t.Helper()
	return want(t, s.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "limited", "scopes": []string{"workspace.file:upload"},
		"exp": clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339), "rateLimit": map[string]any{"limit": limit, "windowSeconds": window}}), http.StatusCreated).JSON(t)["key"].(string)
}

// TestRateLimitPerKey: a burst above a key's limit gets exactly the limit
// through and 429s with Retry-After for the rest, every answer carrying the
// RateLimit headers; the verify API answers RATE_LIMITED and forward-auth
// 403; another key is not affected; the bucket refills with time.
func TestRateLimitPerKey(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	limited := srv.createLimitedKey(t, root, clock, 10, 60)
	other := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)["key"].(string)

	ok, refused := 0, 0
	for i := range 30 {
		r := srv.do(t, basic(limited), "GET", "/api/v1/me", nil)
		if r.Header.Get("RateLimit-Limit") != "10" {
			t.Fatalf("request %d: RateLimit-Limit %q", i, r.Header.Get("RateLimit-Limit"))
		}
		switch r.Status {
		case http.StatusOK:
			ok++
			if rem := r.Header.Get("RateLimit-Remaining"); rem != strconv.Itoa(10-ok) {
				t.Errorf("after %d requests RateLimit-Remaining is %s", ok, rem)
			}
		case http.StatusTooManyRequests:
			refused++
			if r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Remaining") != "0" || r.Header.Get("RateLimit-Reset") == "" {
				t.Errorf("a 429 without Retry-After or the RateLimit headers: %v", r.Header)
			}
		default:
			t.Fatalf("request %d: status %d", i, r.Status)
		}
		if r := srv.do(t, basic(other), "GET", "/api/v1/me", nil); r.Status != http.StatusOK || r.Header.Get("RateLimit-Limit") != "" {
			t.Fatalf("the unlimited key is affected: %d %v", r.Status, r.Header)
		}
	}
	if ok != 10 || refused != 20 {
		t.Errorf("a burst of 30 at a limit of 10: %d through, %d refused", ok, refused)
	}
	if v := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": limited}), http.StatusOK).JSON(t); v["code"] != "RATE_LIMITED" || v["valid"] != false {
		t.Errorf("the verify API answers %v past the limit", v)
	}
	clock.Advance(6 * time.Second) // a tenth of the window: one request's worth
	want(t, srv.do(t, basic(limited), "GET", "/api/v1/me", nil), http.StatusOK)
	want(t, srv.do(t, basic(limited), "GET", "/api/v1/me", nil), http.StatusTooManyRequests)
}

// TestRateLimitAcrossNodesOnRedis: with --redis-url, two nodes hold one
// limit together: a burst spread over both gets the limit through, not
// twice it.
func TestRateLimitAcrossNodesOnRedis(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	// Two nodes on one SQLite database, as the command line runs beside
	// a node. The test is of the shared bucket, not of the timeout
	// (TestRateLimitWhenRedisIsDown is): a call that missed the default
	// 50 ms on a loaded machine would be decided on that node's own
	// bucket, and let one more through.
	a := startServer(t, clock, dir, "--redis-url", redisURL, "--redis-timeout", "10s")
	b := startServer(t, clock, dir, "--redis-url", redisURL, "--redis-timeout", "10s")
	// The bucket is on Redis, keyed by the key's random ID: a fresh one
	// on every run.
	key := a.createLimitedKey(t, root, clock, 10, 3600)
	eventually(t, "node B knows the new key", func() bool {
		return b.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": key}).JSON(t)["code"] == "VALID"
	})
	ok := 1 // the verification that found it spent one
	for i := range 30 {
		node := a
		if i%2 == 1 {
			node = b
		}
		if node.do(t, basic(key), "GET", "/api/v1/me", nil).Status == http.StatusOK {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("two nodes on one Redis let %d requests through at a limit of 10", ok)
		for _, log := range []string{a.Log.String(), b.Log.String()} {
			if line := logLineWith(log, "rate limiter failed"); line != "" {
				t.Log(line)
			}
		}
	}
}

// TestRateLimitWhenRedisIsDown: with Redis unreachable, a limited key's
// requests are decided as --rate-limit-redis-failure says — on this node's
// own buckets (local, the default), refused with 503 (deny) or let through
// (allow) — within the Redis timeout; keys without a limit never ask Redis.
func TestRateLimitWhenRedisIsDown(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		wantOK   int
		refusals int
	}{
		{"local", 3, http.StatusTooManyRequests},
		{"deny", 0, http.StatusServiceUnavailable},
		{"allow", 6, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			clock, dir := newFakeClock(), t.TempDir()
			_, root := setupOrg(t, clock, dir, "Acme")
			srv := startServer(t, clock, dir, "--redis-url", "redis://127.0.0.1:1/0", "--rate-limit-redis-failure", tc.mode)
			key := srv.createLimitedKey(t, root, clock, 3, 60)
			want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK)
			ok := 0
			for range 6 {
				start := time.Now()
				r := srv.do(t, basic(key), "GET", "/api/v1/me", nil)
				if d := time.Since(start); d > time.Second {
					t.Errorf("a request waited %v for an unreachable Redis", d)
				}
				switch r.Status {
				case http.StatusOK:
					ok++
				case tc.refusals:
					if r.Header.Get("Retry-After") == "" {
						t.Errorf("a %d without Retry-After", r.Status)
					}
				default:
					t.Errorf("status %d", r.Status)
				}
			}
			if ok != tc.wantOK {
				t.Errorf("%d of 6 requests through at a limit of 3, want %d", ok, tc.wantOK)
			}
		})
	}
}
