// Command loadtest-seed fills a fresh database for scripts/loadtest.sh: an
// organization with its owner, and n API keys imported in bulk (SQLite: one
// prepared statement in one transaction per batch; PostgreSQL: COPY). The
// database is the SQLite one of -data-dir, or the (empty) PostgreSQL
// database of -database-url; either way, into -data-dir it writes the
// credentials the load test sends:
//
//	valid.key      one stored key, "user:pass"
//	restricted.key a key with an IP allowlist and a rate limit never
//	               reached, "user:pass"
//	unknown.keys   k well-formed keys (valid checksums, prefix kwo_) that
//	               were never stored, one per line
//	unknown.basic  the same keys as Authorization header values, "Basic …",
//	               for wrk's Lua script, which has no base64
//	process.id     a process of the organization
//	process.key    a key of that process holding workspace.file:upload and
//	               workspace.file:download, "user:pass" (verify API and
//	               forward-auth)
//	admin.key      an organization key with every organization scope
//	               (workspace.admin.api_key:manage among them), "user:pass",
//	               for creating keys over the REST API (the propagation
//	               probe, cmd/loadtest-probe)
//
// These files hold working secrets of a throwaway database: the data
// directory is for load tests only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/password"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlstore"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory to create (must not hold a database yet); with -database-url, where the credential files go")
	databaseURL := fs.String("database-url", "", "PostgreSQL URL of an empty database to seed instead of SQLite")
	n := fs.Int("n", 100_000, "how many keys to store")
	k := fs.Int("unknown", 5_000, "how many unknown keys to write")
	batch := fs.Int("batch", 50_000, "keys per import transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *n < 1 || *k < 0 || *batch < 1 {
		return errors.New("usage: seed -data-dir DIR [-n N] [-unknown K]")
	}
	path := filepath.Join(*dataDir, "keywarden.db")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: seed a fresh directory", path)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	var db *sqlstore.Store
	if *databaseURL != "" {
		pg, err := postgres.Open(ctx, postgres.Config{URL: *databaseURL})
		if err != nil {
			return err
		}
		defer pg.Close()
		db = pg.Store
	} else {
		lite, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		defer lite.Close()
		db = lite.Store
	}
	// Bulk imports of 100,000 keys take longer than a request's deadline;
	// nothing else uses the database meanwhile.
	db.SetTimeout(10 * time.Minute)
	if err := db.Migrate(ctx); err != nil {
		return err
	}

	// A CSPRNG seeded from crypto/rand: as unpredictable, and fast enough
	// for hundreds of thousands of keys.
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	rng := mrand.NewChaCha8(seed)
	now := time.Now().UTC().Truncate(time.Microsecond)

	org, owner, err := newOwner(rng, now)
	if err != nil {
		return err
	}
	if err := db.CreateOrganization(ctx, org, owner, nil); err != nil {
		return err
	}

	// The keys are generated first and imported in the order of their
	// indexes: by public ID, with IDs handed out in ascending order too, so
	// that every index of api_keys grows at its end. In random order each
	// insert lands on a random page of three indexes, and a million keys
	// take minutes (the page cache misses) instead of seconds.
	start := time.Now()
	type gen struct {
		user string
		hash keywarden.SecretHash
	}
	gens := make([]gen, *n)
	ids := make([]string, *n)
	var valid keywarden.KeyMaterial
	for i := range *n {
		km, err := keywarden.GenerateKey(rng, keywarden.DefaultOrgKeyPrefix)
		if err != nil {
			return err
		}
		if ids[i], err = keywarden.NewID(rng); err != nil {
			return err
		}
		if i == 0 {
			valid = km
		}
		gens[i] = gen{user: km.User, hash: km.Hash()}
	}
	slices.SortFunc(gens, func(a, b gen) int { return strings.Compare(a.user, b.user) })
	slices.Sort(ids)
	generated := time.Since(start)
	keys := make([]*keywarden.APIKey, 0, min(*batch, *n))
	for i, g := range gens {
		id := ids[i]
		keys = append(keys, &keywarden.APIKey{
			ID: id, OrgID: org.ID, Name: "load test " + id[:8],
			User: g.user, SecretHash: g.hash,
			Scopes:    []keywarden.Scope{keywarden.ScopeProcessRead, "workspace.file:upload"},
			CreatedAt: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "seed"},
			ExpiresAt: now.Add(30 * 24 * time.Hour),
		})
		if len(keys) == *batch || i == *n-1 {
			if err := db.ImportAPIKeys(ctx, keys); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	gens, ids = nil, nil
	imported := time.Since(start)
	pid, pkey, err := seedProcessKey(ctx, db, rng, org, now)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "process.id"), []byte(pid+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "process.key"), []byte(pkey.Value()+"\n"), 0o600); err != nil {
		return err
	}

	if err := os.WriteFile(filepath.Join(*dataDir, "valid.key"), []byte(valid.Value()+"\n"), 0o600); err != nil {
		return err
	}
	admin, err := seedAdminKey(ctx, db, rng, org, now)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "admin.key"), []byte(admin.Value()+"\n"), 0o600); err != nil {
		return err
	}
	// restricted.key: a key with an allowlist and a rate limit, for (b2),
	// the cost of both on the hot path. The loopback network is the last of
	// its three networks, and the limit (a million a second) is never
	// reached, so every request does the whole work and succeeds. It is
	// created, not imported: PostgreSQL's COPY import does not copy a key's
	// allowlist and rate limit.
	restricted, err := keywarden.GenerateKey(rng, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		return err
	}
	rid, err := keywarden.NewID(rng)
	if err != nil {
		return err
	}
	var val keywarden.Validation
	allowed := keywarden.ValidateAllowedIPs([]string{"10.0.0.0/8", "2001:db8::/32", "127.0.0.0/8"}, &val)
	if err := val.Err(); err != nil {
		return err
	}
	if err := db.CreateAPIKey(ctx, &keywarden.APIKey{
		ID: rid, OrgID: org.ID, Name: "load test restricted",
		User: restricted.User, SecretHash: restricted.Hash(),
		Scopes:    []keywarden.Scope{keywarden.ScopeProcessRead, "workspace.file:upload"},
		CreatedAt: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "seed"},
		ExpiresAt: now.Add(30 * 24 * time.Hour), AllowedIPs: allowed,
		RateLimit: keywarden.RateLimit{Limit: keywarden.MaxRateLimit, Window: time.Second},
	}, nil); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "restricted.key"), []byte(restricted.Value()+"\n"), 0o600); err != nil {
		return err
	}
	var raw, basic []byte
	for range *k {
		km, err := keywarden.GenerateKey(rng, keywarden.DefaultOrgKeyPrefix)
		if err != nil {
			return err
		}
		// 20 random base62 characters: a collision with a stored key is
		// as likely as guessing one.
		raw = append(append(raw, km.Value()...), '\n')
		basic = append(append(append(basic, "Basic "...), base64.StdEncoding.EncodeToString([]byte(km.Value()))...), '\n')
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "unknown.keys"), raw, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dataDir, "unknown.basic"), basic, 0o600); err != nil {
		return err
	}
	where := *dataDir
	if *databaseURL != "" {
		where = "PostgreSQL (credentials in " + *dataDir + ")"
	}
	fmt.Printf("seeded %s: %d keys generated and imported in %v (%.0f keys/s; generating %v), %d unknown keys written\n",
		where, *n, imported.Round(time.Millisecond), float64(*n)/imported.Seconds(), generated.Round(time.Millisecond), *k)
	return nil
}

// seedProcessKey creates a process and one key of it.
func seedProcessKey(ctx context.Context, db *sqlstore.Store, rng *mrand.ChaCha8, org *keywarden.Organization, now time.Time) (string, keywarden.KeyMaterial, error) {
	pid, err := keywarden.NewID(rng)
	if err != nil {
		return "", keywarden.KeyMaterial{}, err
	}
	p := &keywarden.Process{ID: pid, OrgID: org.ID, Name: "Invoices", ProcessTypeID: "invoices", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateProcess(ctx, p, nil); err != nil {
		return "", keywarden.KeyMaterial{}, err
	}
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{
		Name: "load test uploader", Scopes: []string{"workspace.file:upload", "workspace.file:download"},
		Exp: now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}, keywarden.MintParams{Org: org, ProcessID: pid, Catalogue: keywarden.MustDefaultCatalogue(), Now: now, Rand: rng,
		CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "seed"}})
	if err != nil {
		return "", keywarden.KeyMaterial{}, err
	}
	return pid, km, db.CreateAPIKey(ctx, k, nil)
}

// seedAdminKey creates an organization key with every scope an organization
// key may hold.
func seedAdminKey(ctx context.Context, db *sqlstore.Store, rng *mrand.ChaCha8, org *keywarden.Organization, now time.Time) (keywarden.KeyMaterial, error) {
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{
		Name: "load test admin", Scopes: []string{keywarden.ScopeAll},
		Exp: now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}, keywarden.MintParams{Org: org, Catalogue: keywarden.MustDefaultCatalogue(), Now: now, Rand: rng,
		CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "seed"}})
	if err != nil {
		return keywarden.KeyMaterial{}, err
	}
	return km, db.CreateAPIKey(ctx, k, nil)
}

// newOwner returns an organization and its owner, whose password is random
// and thrown away: nobody signs in to a load test's console.
func newOwner(rng *mrand.ChaCha8, now time.Time) (*keywarden.Organization, *keywarden.User, error) {
	orgID, err := keywarden.NewID(rng)
	if err != nil {
		return nil, nil, err
	}
	userID, err := keywarden.NewID(rng)
	if err != nil {
		return nil, nil, err
	}
	hash, err := password.Hash(rand.Text())
	if err != nil {
		return nil, nil, err
	}
	org := &keywarden.Organization{ID: orgID, Name: "Load test", MaxKeyLifetime: 90 * 24 * time.Hour, CreatedAt: now}
	owner := &keywarden.User{ID: userID, Email: "owner@loadtest.invalid", PasswordHash: hash, CreatedAt: now}
	return org, owner, nil
}
