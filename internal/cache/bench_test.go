package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
)

// BenchmarkVerify compares a cached verification with the floor of what
// any verification must do, in one run, so benchstat shows them side by
// side (docs/performance.md):
//
//	go test -run='^$' -bench=BenchmarkVerify -benchmem -count=6 ./internal/cache/ | tee /tmp/cache.txt
//	benchstat /tmp/cache.txt
//	benchstat -filter '.unit:sec/op -/hot:1k' -row .name -col /keys /tmp/cache.txt   # each size against floor
//	benchstat -filter '.unit:sec/op /keys:(1k OR 1M)' -row .name -col /keys,/hot /tmp/cache.txt
//
// floor does only base64-decoding of the Basic credential, a lookup in a
// 1M-entry map, SHA-256 of the secret and a constant-time compare. cached
// runs the cache's whole hit path (parse, checksum, hash, lookup, expiry)
// over caches of 1k, 100k and 1M keys, each verifying keys picked at random
// among all of its keys. cached/hot=1k/keys=1M verifies only 1,000 keys of
// the 1M cache: the same number of distinct keys as keys=1k, so the two
// differ only in the size of the cache, not in how many keys are in use.
// Every fixture is built once per process, outside the timed loop; the 1M
// one takes a few seconds.
func BenchmarkVerify(b *testing.B) {
	b.Run("floor", benchmarkFloor)
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run("cached/keys="+size.name, func(b *testing.B) {
			f := mustBenchKeys(b, size.n)
			benchmarkCached(b, f, f.headers)
		})
	}
	b.Run("cached/hot=1k/keys=1M", func(b *testing.B) {
		f := mustBenchKeys(b, 1_000_000)
		benchmarkCached(b, f, f.hot)
	})
}

// benchHeaders is how many pre-built Authorization headers a benchmark
// cycles through, in random order, so that consecutive lookups land far
// apart in the cache.
const benchHeaders = 4096

// hotKeys is how many distinct keys the hot=1k benchmark verifies.
const hotKeys = 1_000

// benchKeys is a cache of n valid keys: real key material from
// keywarden.GenerateKey (drawn from a seeded ChaCha8 stream, so fixtures are
// reproducible and quick to build), stored as syntheticKey shapes them.
type benchKeys struct {
	cache    *cache.Store
	verifier *keywarden.Verifier // over cache
	headers  []string            // Basic headers of keys picked at random among all n (with repeats when n < benchHeaders)
	hot      []string            // Basic headers of the first hotKeys keys, benchHeaders of them
	users    []string            // all n public IDs, for the floor's map
	hashes   []keywarden.SecretHash
}

var (
	benchMu       sync.Mutex
	benchFixtures = map[int]*benchKeys{} // by n
	floorFixture  *floor                 // built from the 1M keys
)

// mustBenchKeys returns the fixture of n keys, building it on first use.
func mustBenchKeys(b *testing.B, n int) *benchKeys {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if f, ok := benchFixtures[n]; ok {
		return f
	}
	start := time.Now()
	rng := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	pick := rand.New(rand.NewPCG(uint64(n), 1))
	f := &benchKeys{
		// No store behind it: filled directly, and fresh for the whole
		// run, as a node whose change log reads succeed.
		cache:  cache.New(nil, cache.Config{Size: n, HotSize: n, MaxStaleness: 24 * time.Hour}),
		users:  make([]string, n),
		hashes: make([]keywarden.SecretHash, n),
	}
	picked := make(map[int]string, benchHeaders)
	for range benchHeaders {
		picked[pick.IntN(n)] = ""
	}
	var hot []string
	expires := time.Now().Add(365 * 24 * time.Hour)
	for i := range n {
		km, err := keywarden.GenerateKey(rng, keywarden.DefaultOrgKeyPrefix)
		if err != nil {
			b.Fatal(err)
		}
		k := syntheticKey(i)
		k.User, k.SecretHash, k.ExpiresAt = km.User, km.Hash(), expires
		cache.Fill(f.cache, k)
		f.users[i], f.hashes[i] = km.User, k.SecretHash
		if _, ok := picked[i]; ok {
			picked[i] = basic(km.Value())
		}
		if i < hotKeys {
			hot = append(hot, basic(km.Value()))
		}
	}
	cache.MarkSynced(f.cache)
	f.verifier = &keywarden.Verifier{Keys: f.cache, Now: time.Now}
	if f.cache.Len() != n {
		b.Fatalf("cached %d keys, want %d", f.cache.Len(), n)
	}
	spread := make([]string, 0, len(picked))
	for _, h := range picked {
		spread = append(spread, h)
	}
	f.headers = cycle(pick, spread)
	f.hot = cycle(pick, hot)
	b.Logf("built a cache of %d keys in %v", n, time.Since(start).Round(time.Millisecond))
	// Collect the garbage of the build now, or the collector would run
	// during the timed loop that follows.
	runtime.GC()
	benchFixtures[n] = f
	return f
}

// cycle returns benchHeaders headers taken from hs in turn, shuffled.
func cycle(r *rand.Rand, hs []string) []string {
	out := make([]string, benchHeaders)
	for i := range out {
		out[i] = hs[i%len(hs)]
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func benchmarkCached(b *testing.B, f *benchKeys, headers []string) {
	ctx := context.Background()
	for _, h := range headers { // each is the hit path to VALID, not a failure path
		if v, err := f.verifier.VerifyAuthorization(ctx, h, keywarden.Requirement{}); err != nil || v.Code != keywarden.VerifyValid {
			b.Fatalf("fixture key: %+v, %v", v, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		v, _ := f.verifier.VerifyAuthorization(ctx, headers[i%benchHeaders], keywarden.Requirement{})
		if v.Code != keywarden.VerifyValid {
			b.Fatal("not valid")
		}
		i++
	}
}

// floor is a plain 1M-entry map from public ID to secret hash, and the
// Basic parameters (without "Basic ") of the keys cached/keys=1M verifies.
type floor struct {
	hashes map[string]keywarden.SecretHash
	params [][]byte
}

func mustFloor(b *testing.B) *floor {
	keys := mustBenchKeys(b, 1_000_000)
	benchMu.Lock()
	defer benchMu.Unlock()
	if floorFixture == nil {
		f := &floor{hashes: make(map[string]keywarden.SecretHash, len(keys.users))}
		for i, u := range keys.users {
			f.hashes[u] = keys.hashes[i]
		}
		for _, h := range keys.headers {
			f.params = append(f.params, []byte(h[len("Basic "):]))
		}
		floorFixture = f
	}
	return floorFixture
}

func benchmarkFloor(b *testing.B) {
	f := mustFloor(b)
	var buf [128]byte
	verify := func(param []byte) bool {
		n, err := base64.StdEncoding.Decode(buf[:], param)
		if err != nil {
			return false
		}
		key := buf[:n]
		i := bytes.IndexByte(key, ':')
		stored, ok := f.hashes[string(key[:i])]
		presented := sha256.Sum256(key[i+1 : i+1+43])
		return ok && subtle.ConstantTimeCompare(presented[:], stored[:]) == 1
	}
	for _, p := range f.params {
		if !verify(p) {
			b.Fatal("floor fixture key does not verify")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if !verify(f.params[i%benchHeaders]) {
			b.Fatal("not valid")
		}
		i++
	}
}
