package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/sqlite"
)

// keyOutsideTheNode mints a key of orgID, returning it unstored and its
// value, so that a test can present its ID to a node before it exists.
func keyOutsideTheNode(t *testing.T, clock *fakeClock, orgID string) (*keywarden.APIKey, string) {
	t.Helper()
	now := clock.Now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "created elsewhere", Scopes: []string{"workspace.file:upload"},
		Exp: now.Add(30 * 24 * time.Hour).Format(time.RFC3339)}, keywarden.MintParams{
		Org: &keywarden.Organization{ID: orgID}, Catalogue: keywarden.MustDefaultCatalogue(), Now: now,
		CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	return k, km.Value()
}

// wantAcceptedSoon polls node with key until it answers 200, failing after
// bound. A node that had the key's ID cached as unknown would refuse it for
// the negative cache's 10 s unless it learns of the creation. It polls
// every 25 ms: each refusal counts as a failed authentication of this
// address, which is throttled after 60 a minute.
func wantAcceptedSoon(t *testing.T, node *testServer, key string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for node.do(t, basic(key), "GET", "/api/v1/me", nil).Status != http.StatusOK {
		if time.Since(start) > bound {
			t.Fatalf("the node still refuses a key created elsewhere %v after its creation", bound)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return time.Since(start)
}

// TestKeyCreatedElsewhereWorksAtOnce (SQLite): a key created by another
// process on the same database file — the command line — works on the
// server within the feed's poll interval, even if its ID was presented
// before it existed and is remembered as unknown.
func TestKeyCreatedElsewhereWorksAtOnce(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, _ := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	k, key := keyOutsideTheNode(t, clock, orgID)
	want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusUnauthorized) // now remembered as unknown

	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "keywarden.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("a key created elsewhere was accepted after %v", wantAcceptedSoon(t, srv, key, 2*time.Second))
}

// TestPostgresNodesLearnOfCreations: a key created through another node
// reaches this node's cache through the event log (a notification, or the
// poll), so an ID this node had seen as unknown works at once.
func TestPostgresNodesLearnOfCreations(t *testing.T) {
	dbURL, _ := pgSchema(t)
	clock := newFakeClock()
	orgID, _ := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	b := startServer(t, clock, t.TempDir(), "--database-url", dbURL)
	waitLog(t, b, "key change notifications: listening", 1)
	k, key := keyOutsideTheNode(t, clock, orgID)
	want(t, b.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusUnauthorized)

	ctx := context.Background()
	a, err := postgres.Open(ctx, postgres.Config{URL: dbURL}) // another node's store
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("a key created on another node was accepted after %v", wantAcceptedSoon(t, b, key, time.Second))
}
