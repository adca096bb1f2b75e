package postgres

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/storetest"
)

// coldKeys is how many keys BenchmarkColdVerify's schema holds.
const coldKeys = 1_000_000

// coldFixture is a schema of coldKeys keys, built once per process (it takes
// a while) and dropped by TestMain, with the Basic headers of keys picked at
// random among them.
type coldFixture struct {
	base, schema string
	db           *DB
	headers      []string
}

var (
	coldMu   sync.Mutex
	coldOnce *coldFixture // guarded by coldMu
)

// TestMain drops the benchmark's schema when the tests end. Only a
// benchmark run builds one.
func TestMain(m *testing.M) {
	code := m.Run()
	coldMu.Lock()
	if f := coldOnce; f != nil {
		f.db.Close()
		if conn, err := pgx.Connect(context.Background(), f.base); err == nil {
			_, _ = conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{f.schema}.Sanitize()+` CASCADE`)
			conn.Close(context.Background())
		}
	}
	coldMu.Unlock()
	os.Exit(code)
}

// mustColdFixture builds, on first use, a schema holding coldKeys keys
// (alternately organization and process keys, real key material) imported
// with ImportAPIKeys, as the SQLite store's benchmark does.
func mustColdFixture(b *testing.B) *coldFixture {
	b.Helper()
	coldMu.Lock()
	defer coldMu.Unlock()
	if coldOnce != nil {
		return coldOnce
	}
	ctx := context.Background()
	f := &coldFixture{base: serverURL(b), schema: randomName(b, "kwbench_")}
	conn, err := pgx.Connect(ctx, f.base)
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{f.schema}.Sanitize())
	conn.Close(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if f.db, err = Open(ctx, Config{URL: withParam(b, f.base, "search_path", f.schema)}); err != nil {
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
	if _, err := f.db.Pool().Exec(ctx, `ANALYZE api_keys`); err != nil {
		b.Fatal(err)
	}
	pick.Shuffle(len(f.headers), func(i, j int) { f.headers[i], f.headers[j] = f.headers[j], f.headers[i] })
	b.Logf("generated and imported %d keys in %v", coldKeys, time.Since(start).Round(time.Millisecond))
	return f
}

// BenchmarkColdVerify is a verification that misses every cache: the
// store-backed keywarden.Verifier over PostgreSQL (on this machine, over
// loopback) holding a million keys, each operation a different random key.
//
//	KEYWARDEN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run='^$' -bench=BenchmarkColdVerify -benchtime=20000x -count=5 ./internal/postgres/
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
