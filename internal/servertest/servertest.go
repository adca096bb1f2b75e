// Package servertest runs the real Keywarden API handler on SQLite over
// HTTP, for the tests of the packages that talk to a Keywarden server (the
// client, the middleware): one organization, and the key with every scope
// that an operator's command line would create for it.
package servertest

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
	"github.com/keywarden/keywarden/internal/storetest"
)

// Clock is a test clock that the server's handlers and the test share.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at 2026-03-01 12:00 UTC.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is a running Keywarden API with one organization.
type Server struct {
	Store *sqlite.DB
	Clock *Clock
	Org   *keywarden.Organization
	HTTP  *httptest.Server
	// RootKey is an organization key with every scope, "user:pass",
	// valid for 60 days.
	RootKey string
}

// MustSQLite returns a migrated SQLite store in a temporary directory.
func MustSQLite(tb testing.TB) *sqlite.DB { return sqlitetest.MustOpen(tb) }

// New starts a server that stops when the test ends. Each of configure
// may change its configuration before it starts.
func New(tb testing.TB, configure ...func(*server.Config)) *Server {
	tb.Helper()
	s := &Server{Store: MustSQLite(tb), Clock: NewClock()}
	s.Org, _ = storetest.MustCreateOrganization(tb, s.Store)
	// The client's and middleware's tests make many failed authentications
	// from one address on purpose; throttling is tested where it is
	// configured.
	cfg := server.Config{Store: s.Store, Now: s.Clock.Now, AuthFailuresPerIP: 1 << 20}
	for _, c := range configure {
		c(&cfg)
	}
	s.HTTP = httptest.NewServer(server.NewHandler(cfg))
	tb.Cleanup(s.HTTP.Close)
	s.RootKey = s.MustStoreKey(tb, "", []string{keywarden.ScopeAll}, 60*24*time.Hour)
	return s
}

// MustStoreKey stores a key of the organization (of processID when not
// empty) expiring after lifetime, directly in the store, as the command
// line does, and returns its "user:pass".
func (s *Server) MustStoreKey(tb testing.TB, processID string, scopes []string, lifetime time.Duration) string {
	tb.Helper()
	now := s.Clock.Now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "test key", Scopes: scopes,
		Exp: now.Add(lifetime).Format(time.RFC3339)}, keywarden.MintParams{Org: s.Org, ProcessID: processID,
		Catalogue: keywarden.MustDefaultCatalogue(), Now: now})
	if err != nil {
		tb.Fatalf("MintAPIKey: %v", err)
	}
	if err := s.Store.CreateAPIKey(context.Background(), k, nil); err != nil {
		tb.Fatalf("CreateAPIKey: %v", err)
	}
	return km.Value()
}
