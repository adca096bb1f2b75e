package cache_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/ratelimit"
)

// BenchmarkVerifyRestricted measures what an IP allowlist and a rate limit
// add to a cached verification, side by side in one run
// (docs/performance.md):
//
//	go test -run='^$' -bench=BenchmarkVerifyRestricted -benchmem -count=6 ./internal/cache/ | tee /tmp/restricted.txt
//	benchstat -col /keys /tmp/restricted.txt
//
// plain verifies keys without either; restricted verifies keys that have
// an allowlist of three networks (the client's is the last) and a rate
// limit that is never reached, from the client's address, and spends one
// request of the key's bucket on this node's limiter — all the server adds
// for such a key on its hot path.
func BenchmarkVerifyRestricted(b *testing.B) {
	var val keywarden.Validation
	allowed := keywarden.ValidateAllowedIPs([]string{"10.0.0.0/8", "2001:db8::/32", "127.0.0.0/8"}, &val)
	if err := val.Err(); err != nil {
		b.Fatal(err)
	}
	client := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name       string
		restricted bool
	}{{"keys=plain", false}, {"keys=restricted", true}} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 1_000
			rng := rand.NewChaCha8([32]byte{7})
			c := cache.New(nil, cache.Config{Size: n, HotSize: n, MaxStaleness: 24 * time.Hour})
			headers := make([]string, n)
			for i := range n {
				km, err := keywarden.GenerateKey(rng, keywarden.DefaultOrgKeyPrefix)
				if err != nil {
					b.Fatal(err)
				}
				k := syntheticKey(i)
				k.User, k.SecretHash, k.ExpiresAt = km.User, km.Hash(), time.Now().Add(time.Hour)
				if tc.restricted {
					k.AllowedIPs, k.RateLimit = allowed, keywarden.RateLimit{Limit: keywarden.MaxRateLimit, Window: time.Second}
				}
				cache.Fill(c, k)
				headers[i] = basic(km.Value())
			}
			cache.MarkSynced(c)
			v := &keywarden.Verifier{Keys: c, Now: time.Now}
			limiter := ratelimit.NewLocal(nil)
			ctx := context.Background()
			req := keywarden.Requirement{ClientAddr: client}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				r, _ := v.VerifyAuthorization(ctx, headers[i%n], req)
				if r.Code != keywarden.VerifyValid {
					b.Fatalf("not valid: %s", r.Reason)
				}
				if rl := r.Key.RateLimit; !rl.IsZero() {
					if d, _ := limiter.Allow(ctx, r.Key.User, ratelimit.Limit{Limit: rl.Limit, Window: rl.Window}); !d.Allowed {
						b.Fatal("rate limited")
					}
				}
				i++
			}
		})
	}
}
