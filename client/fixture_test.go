package client_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/storetest"
)

// clock is a test clock that several goroutines (the server's handlers and
// the test) may read.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a real Keywarden server on SQLite, one organization in it, and
// a client holding an organization key with every scope.
type fixture struct {
	store    *sqlite.DB
	clock    *clock
	org      *keywarden.Organization
	srv      *httptest.Server
	adminKey string
	admin    *client.Client
}

// MustSQLite returns a migrated SQLite store in a temporary directory.
func MustSQLite(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "keywarden.db"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustServer starts the fixture. The organization key is written to the
// store directly (the way `keywarden keys create` does); everything else
// the tests create goes through the client.
func MustServer(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{store: MustSQLite(tb), clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	f.org, _ = storetest.MustCreateOrganization(tb, f.store)
	f.srv = httptest.NewServer(server.NewHandler(server.Config{Store: f.store, Now: f.clock.Now}))
	tb.Cleanup(f.srv.Close)
	f.adminKey = MustStoreKey(tb, f, "", []string{keywarden.ScopeAll}, 30*24*time.Hour)
	f.admin = client.New(f.srv.URL, f.adminKey)
	return f
}

// MustStoreKey stores a key of the fixture's organization (of processID
// when not empty) expiring after lifetime, and returns its "user:pass".
func MustStoreKey(tb testing.TB, f *fixture, processID string, scopes []string, lifetime time.Duration) string {
	tb.Helper()
	now := f.clock.Now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "test key", Scopes: scopes,
		Exp: now.Add(lifetime).Format(time.RFC3339)}, keywarden.MintParams{Org: f.org, ProcessID: processID,
		Catalogue: keywarden.MustDefaultCatalogue(), Now: now})
	if err != nil {
		tb.Fatalf("MintAPIKey: %v", err)
	}
	if err := f.store.CreateAPIKey(context.Background(), k, nil); err != nil {
		tb.Fatalf("CreateAPIKey: %v", err)
	}
	return km.Value()
}

// exp returns an expiry d from the fixture's now, as the API takes it.
func (f *fixture) exp(d time.Duration) string { return f.clock.Now().Add(d).Format(time.RFC3339) }

// MustError returns err as an *client.Error with the given status.
func MustError(tb testing.TB, err error, status int) *client.Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want a %d *client.Error", status)
	}
	var e *client.Error
	if !errors.As(err, &e) {
		tb.Fatalf("err = %T %v, want *client.Error", err, err)
	}
	if e.StatusCode != status || e.Problem.Status != status {
		tb.Fatalf("status %d (problem %d), want %d: %v", e.StatusCode, e.Problem.Status, status, err)
	}
	return e
}
