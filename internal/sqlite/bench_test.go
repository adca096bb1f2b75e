package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

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
	f.headers = storetest.MustImportColdKeys(b, f.db, coldKeys, 1<<16)
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
	storetest.BenchmarkColdVerify(b, f.db, f.headers)
}
