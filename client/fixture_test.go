package client_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/sqlite"
)

// fixture is a real Keywarden server on SQLite, one organization in it, and
// a client holding an organization key with every scope.
type fixture struct {
	*servertest.Server
	store    *sqlite.DB
	clock    *servertest.Clock
	org      *keywarden.Organization
	srv      *httptest.Server
	adminKey string
	admin    *client.Client
}

// MustServer starts the fixture. The organization key is written to the
// store directly (the way `keywarden keys create` does); everything else
// the tests create goes through the client.
func MustServer(tb testing.TB) *fixture {
	tb.Helper()
	s := servertest.New(tb)
	return &fixture{Server: s, store: s.Store, clock: s.Clock, org: s.Org, srv: s.HTTP, adminKey: s.RootKey, admin: client.New(s.HTTP.URL, s.RootKey)}
}

// MustStoreKey stores a key of the fixture's organization (of processID
// when not empty) expiring after lifetime, and returns its "user:pass".
func MustStoreKey(tb testing.TB, f *fixture, processID string, scopes []string, lifetime time.Duration) string {
	tb.Helper()
	return f.MustStoreKey(tb, processID, scopes, lifetime)
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
