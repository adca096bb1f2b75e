package sqlite_test

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/storetest"
)

// coldKeys is how many keys BenchmarkColdVerify's database holds.
const coldKeys = 1_000_000

// coldFixture is a database of coldKeys keys, built once per process (it
// takes a while) and removed by TestMain, with the Basic headers of keys
// picked at random among them.
type coldFixture struct {
	dir     string
	db      *sqlite.DB
	headers []string
}

var (
	coldMu   sync.Mutex
	coldOnce *coldFixture // guarded by coldMu
)

// TestMain removes the benchmark's database when the tests end. Only a
// benchmark run builds one.
func TestMain(m *testing.M) {
	code := m.Run()
	coldMu.Lock()
	if f := coldOnce; f != nil {
		f.db.Close()
		os.RemoveAll(f.dir)
	}
	coldMu.Unlock()
	os.Exit(code)
}

// mustColdFixture returns the fixture, building it on first use: an
// organization and a process created through the store API, then coldKeys
// keys (alternately organization and process keys, real key material from
// keywarden.GenerateKey) imported with ImportAPIKeys.
func mustColdFixture(b *testing.B) *coldFixture {
	b.Helper()
	coldMu.Lock()
	defer coldMu.Unlock()
	if coldOnce != nil {
		return coldOnce
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "keywarden-bench-")
	if err != nil {
		b.Fatal(err)
	}
	f := &coldFixture{dir: dir}
	if f.db, err = sqlite.Open(ctx, filepath.Join(dir, "keywarden.db")); err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	coldOnce = f // from here on, TestMain cleans up
	if err := f.db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	org, owner := storetest.NewOrganization(b), storetest.NewUser(b)
	if err := f.db.CreateOrganization(ctx, org, owner); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := storetest.NewProcess(b, org.ID, now)
	if err := f.db.CreateProcess(ctx, p, nil); err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	rng := rand.NewChaCha8([32]byte{42})
	pick := rand.New(rand.NewPCG(42, 42))
	picked := make(map[int]bool, 1<<16)
	for len(picked) < 1<<16 {
		picked[pick.IntN(coldKeys)] = true
	}
	const batch = 100_000
	scopes := []keywarden.Scope{"workspace.file:upload", keywarden.ScopeProcessRead}
	keys := make([]*keywarden.APIKey, 0, batch)
	for i := range coldKeys {
		processID, prefix := "", keywarden.DefaultOrgKeyPrefix
		if i%2 == 1 {
			processID, prefix = p.ID, keywarden.DefaultProcessKeyPrefix
		}
		km, err := keywarden.GenerateKey(rng, prefix)
		if err != nil {
			b.Fatal(err)
		}
		id, err := keywarden.NewID(rng)
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, &keywarden.APIKey{
			ID: id, OrgID: org.ID, ProcessID: processID, Name: "CI upload " + id[:8],
			User: km.User, SecretHash: km.Hash(), Scopes: scopes,
			CreatedAt: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI},
			ExpiresAt: now.Add(365 * 24 * time.Hour),
		})
		if picked[i] {
			f.headers = append(f.headers, "Basic "+base64.StdEncoding.EncodeToString([]byte(km.Value())))
		}
		if len(keys) == batch || i == coldKeys-1 {
			if err := f.db.ImportAPIKeys(ctx, keys); err != nil {
				b.Fatal(err)
			}
			keys = keys[:0]
		}
	}
	pick.Shuffle(len(f.headers), func(i, j int) { f.headers[i], f.headers[j] = f.headers[j], f.headers[i] })
	b.Logf("generated and imported %d keys in %v", coldKeys, time.Since(start).Round(time.Millisecond))
	return f
}

// BenchmarkColdVerify is a verification that misses every cache: the
// store-backed keywarden.Verifier over SQLite holding a million keys, each
// operation a different random key, so each is one lookup on the unique
// index of the public ID. Run it with a fixed count of operations:
//
//	go test -run='^$' -bench=BenchmarkColdVerify -benchtime=20000x -count=5 ./internal/sqlite/
//
// Besides the mean (ns/op) it reports the median and the 99th percentile of
// the operations' latencies (p50-ns, p99-ns). "Cold" is about the caches
// of Keywarden: the database file itself is in the operating system's page
// cache, as it is on a server that has been up for a while.
func BenchmarkColdVerify(b *testing.B) {
	f := mustColdFixture(b)
	v := &keywarden.Verifier{Keys: f.db, Catalogue: keywarden.MustDefaultCatalogue(), Now: time.Now}
	ctx := context.Background()
	if r, err := v.VerifyAuthorization(ctx, f.headers[0]); err != nil || r.Code != keywarden.VerifyValid {
		b.Fatalf("fixture key: %+v, %v", r, err)
	}
	latencies := make([]time.Duration, 0, 1<<15)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		r, err := v.VerifyAuthorization(ctx, f.headers[i%len(f.headers)])
		latencies = append(latencies, time.Since(start))
		if err != nil || r.Code != keywarden.VerifyValid {
			b.Fatalf("%+v, %v", r, err)
		}
		i++
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2]), "p50-ns")
	b.ReportMetric(float64(latencies[len(latencies)*99/100]), "p99-ns")
}
