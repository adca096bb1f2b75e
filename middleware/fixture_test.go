package middleware_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/middleware"
)

// keywardenServer is a real Keywarden on SQLite with one organization and
// a client holding an organization key with every scope.
type keywardenServer struct {
	store *sqlite.DB
	clock *servertest.Clock
	org   *keywarden.Organization
	srv   *httptest.Server
	admin *client.Client
}

// MustKeywarden starts a Keywarden server. Its first key is written to the
// store directly; every other key and process goes through the client.
func MustKeywarden(tb testing.TB, configure ...func(*server.Config)) *keywardenServer {
	tb.Helper()
	s := servertest.New(tb, configure...)
	return &keywardenServer{store: s.Store, clock: s.Clock, org: s.Org, srv: s.HTTP, admin: client.New(s.HTTP.URL, s.RootKey)}
}

// MustProcess creates a process through the API.
func (kw *keywardenServer) MustProcess(tb testing.TB, name string) string {
	tb.Helper()
	p, err := kw.admin.CreateProcess(context.Background(), api.CreateProcessRequest{Name: name})
	if err != nil {
		tb.Fatalf("CreateProcess: %v", err)
	}
	return p.ID
}

// MustKey creates a key through the API: an organization key when
// processID is empty. It returns the key object, whose Key is "user:pass".
func (kw *keywardenServer) MustKey(tb testing.TB, processID string, lifetime time.Duration, scopes ...string) *api.APIKey {
	tb.Helper()
	req := api.CreateAPIKeyRequest{Name: "service caller", Scopes: scopes, Exp: kw.clock.Now().Add(lifetime).Format(time.RFC3339)}
	var (
		k   *api.APIKey
		err error
	)
	if processID == "" {
		k, err = kw.admin.CreateOrgKey(context.Background(), req)
	} else {
		k, err = kw.admin.CreateProcessKey(context.Background(), processID, req)
	}
	if err != nil {
		tb.Fatalf("create key: %v", err)
	}
	return k
}

// MustDelete deletes a key through the API.
func (kw *keywardenServer) MustDelete(tb testing.TB, k *api.APIKey) {
	tb.Helper()
	var err error
	if k.ProcessID == "" {
		err = kw.admin.DeleteOrgKey(context.Background(), k.ID)
	} else {
		err = kw.admin.DeleteProcessKey(context.Background(), k.ProcessID, k.ID)
	}
	if err != nil {
		tb.Fatalf("delete key: %v", err)
	}
}

// counting is a KeyVerifier that counts the calls it passes on to next, or
// answers with fake when set.
type counting struct {
	next middleware.KeyVerifier
	mu   sync.Mutex
	n    int
	fake func(api.VerifyRequest) (*api.VerifyResponse, error)
}

func (c *counting) Verify(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error) {
	c.mu.Lock()
	c.n++
	fake := c.fake
	c.mu.Unlock()
	if fake != nil {
		return fake(req)
	}
	return c.next.Verify(ctx, req)
}

func (c *counting) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *counting) Fake(f func(api.VerifyRequest) (*api.VerifyResponse, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fake = f
}

// service is a Go service with the middleware in front of its handlers,
// verifying against kw.
type service struct {
	kw       *keywardenServer
	clock    *servertest.Clock // the middleware's, for its cache
	verifier *counting
	guard    *middleware.Guard
	mux      *http.ServeMux
}

// The service's routes.
const (
	routeDestinations = "/v1/destinations"                // GET, workspace.destination:read
	routeMe           = "/v1/me"                          // GET, any valid key
	routeFiles        = "/v1/processes/%s/files"          // POST, workspace.file:upload in the process
	routeMisrouted    = "/v1/misrouted/%s"                // GET, names a wildcard the route lacks
	routeUnknownScope = "/v1/unknown-scope"               // GET, a scope Keywarden does not know
	routeTwoScopes    = "/v1/processes/%s/results/export" // POST, two scopes in the process
)

// MustService starts the middleware with cfg (its Client and Now are set
// here) in front of handlers that answer 200 with the identity they see.
func MustService(tb testing.TB, kw *keywardenServer, cfg middleware.Config) *service {
	tb.Helper()
	s := &service{kw: kw, clock: servertest.NewClock()}
	s.verifier = &counting{next: client.New(kw.srv.URL, "")}
	cfg.Client, cfg.Now = s.verifier, s.clock.Now
	g, err := middleware.New(cfg)
	if err != nil {
		tb.Fatalf("middleware.New: %v", err)
	}
	s.guard = g
	s.mux = http.NewServeMux()
	s.mux.Handle("GET "+routeDestinations, g.Require("workspace.destination:read")(reached()))
	s.mux.Handle("GET "+routeMe, g.AnyKey()(reached()))
	s.mux.Handle("POST /v1/processes/{processId}/files", g.RequireInProcess("processId", "workspace.file:upload")(reached()))
	s.mux.Handle("GET /v1/misrouted/{id}", g.RequireInProcess("processId", "workspace.file:upload")(reached()))
	s.mux.Handle("GET "+routeUnknownScope, g.Require("workspace.nothing:read")(reached()))
	s.mux.Handle("POST /v1/processes/{processId}/results/export", g.RequireInProcess("processId", "workspace.result:read", "workspace.export:create")(reached()))
	return s
}

// reached answers 200 with the identity the middleware put in the context.
func reached() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := middleware.IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Reached", "yes")
		_ = jsonEncode(w, id)
	})
}

// Do sends method path with the given Authorization header values (none
// when empty) through the service.
func (s *service) Do(method, path string, authorization ...string) *httptest.ResponseRecorder {
	return s.DoFrom("192.0.2.1:1234", method, path, authorization...)
}

// DoFrom is Do from the client at remoteAddr.
func (s *service) DoFrom(remoteAddr, method, path string, authorization ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remoteAddr
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	return w
}

func basic(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key)) }

// MustWrongSecret returns key's user with another well-formed secret, its
// checksum right: it passes the shape check and fails only at Keywarden.
func MustWrongSecret(tb testing.TB, key string) string {
	tb.Helper()
	km, err := keywarden.ParseKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	other, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	return keywarden.KeyMaterial{User: km.User, Secret: other.Secret}.Value()
}

// MustUnknownKey returns a well-formed key that Keywarden does not know.
func MustUnknownKey(tb testing.TB) string {
	tb.Helper()
	km, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	return km.Value()
}

var errDown = errors.New("keywarden is down")

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
