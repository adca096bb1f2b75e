package postgres

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden/internal/storetest"
	"github.com/keywarden/keywarden/internal/testenv"
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

// TestMain drops the benchmark's schema when the tests end (only a
// benchmark run builds one), and says how many tests skipped for want of
// PostgreSQL.
func TestMain(m *testing.M) {
	code := testenv.Run(m)
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
	f.headers = storetest.MustImportColdKeys(b, f.db, coldKeys, 1<<16)
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
	storetest.BenchmarkColdVerify(b, f.db, f.headers)
}
