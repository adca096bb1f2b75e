package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/storetest"
	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/middleware"
)

// MustReach fails unless w is the wrapped handler's 200, and returns the
// identity the handler saw.
func MustReach(tb testing.TB, w *httptest.ResponseRecorder) api.VerifiedKey {
	tb.Helper()
	if w.Code != http.StatusOK || w.Header().Get("X-Reached") != "yes" {
		tb.Fatalf("status %d, body %s: the handler was not reached", w.Code, w.Body)
	}
	var id api.VerifiedKey
	if err := json.Unmarshal(w.Body.Bytes(), &id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// MustProblem fails unless w is a problem document with status and detail,
// sent the way Keywarden sends its own, and returns it.
func MustProblem(tb testing.TB, w *httptest.ResponseRecorder, status int, code, detail string) api.Problem {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status %d, body %s; want %d", w.Code, w.Body, status)
	}
	if w.Header().Get("X-Reached") != "" {
		tb.Fatalf("the handler was reached")
	}
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != api.ProblemContentType || cc != "no-store" {
		tb.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	var p api.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		tb.Fatalf("body %s: %v", w.Body, err)
	}
	if p.Type != api.ProblemType(code) || p.Status != status || p.Title != http.StatusText(status) || p.Detail != detail || p.Errors == nil {
		tb.Fatalf("problem %+v, want type %s, status %d, detail %q", p, api.ProblemType(code), status, detail)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil || !strings.HasSuffix(p.Timestamp, "Z") {
		tb.Fatalf("timestamp %q is not RFC 3339 UTC", p.Timestamp)
	}
	return p
}

// MustServers401 returns Keywarden's own 401 (body as a generic map, and
// headers) for a request without a key.
func MustServers401(tb testing.TB, kw *keywardenServer) (map[string]any, http.Header) {
	tb.Helper()
	res, err := http.Get(kw.srv.URL + "/api/v1/me")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		tb.Fatalf("server answered %d", res.StatusCode)
	}
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		tb.Fatal(err)
	}
	return body, res.Header
}

func TestValidKeyReachesTheHandlerWithItsIdentity(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{})
	proc := kw.MustProcess(t, "Invoices")
	orgKey := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read", "workspace.file:upload")
	procKey := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload")

	tests := []struct {
		name          string
		method, path  string
		authorization string
		want          *api.APIKey
	}{
		{"org key as Basic", "GET", routeDestinations, basic(orgKey.Key), orgKey},
		{"org key as Bearer", "GET", routeDestinations, "Bearer " + orgKey.Key, orgKey},
		{"scheme in any case", "GET", routeDestinations, "bAsIc " + strings.TrimPrefix(basic(orgKey.Key), "Basic "), orgKey},
		{"process key on its own process", "POST", fmt.Sprintf(routeFiles, proc), basic(procKey.Key), procKey},
		{"org key on a process of its organization", "POST", fmt.Sprintf(routeFiles, proc), basic(orgKey.Key), orgKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := MustReach(t, s.Do(tt.method, tt.path, tt.authorization))
			want := api.VerifiedKey{ID: tt.want.ID, User: tt.want.User, OrgID: kw.org.ID, ProcessID: tt.want.ProcessID,
				Scopes: tt.want.Scopes, Exp: tt.want.Exp}
			if !reflect.DeepEqual(id, want) {
				t.Fatalf("identity %+v\nwant     %+v", id, want)
			}
		})
	}
}

func TestFailedAuthenticationIsKeywardensOwn401(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{})
	key := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	expiring := kw.MustKey(t, "", time.Hour, "workspace.destination:read")
	deleted := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	kw.MustDelete(t, deleted)
	_, secret, _ := strings.Cut(key.Key, ":")
	flipped := "A" // the last character of the checksum, changed
	if strings.HasSuffix(key.Key, flipped) {
		flipped = "B"
	}
	badChecksum := key.Key[:len(key.Key)-1] + flipped

	wantBody, wantHeader := MustServers401(t, kw)
	tests := []struct {
		name          string
		authorization []string
		asksKeywarden bool
		before        func()
	}{
		{name: "no header"},
		{name: "two headers", authorization: []string{basic(key.Key), basic(key.Key)}},
		{name: "empty header", authorization: []string{""}},
		{name: "unknown scheme", authorization: []string{"Token " + key.Key}},
		{name: "scheme alone", authorization: []string{"Basic"}},
		{name: "Basic that is not base64", authorization: []string{"Basic !!!not-base64!!!"}},
		{name: "Basic without a colon", authorization: []string{basic("justauser")}},
		{name: "Basic with a very long value", authorization: []string{basic(strings.Repeat("a", 500) + ":" + strings.Repeat("b", 500))}},
		{name: "garbage Bearer", authorization: []string{"Bearer garbage"}},
		{name: "bad checksum", authorization: []string{basic(badChecksum)}},
		{name: "key in the query string only", authorization: nil},
		{name: "unknown key", authorization: []string{basic(MustUnknownKey(t))}, asksKeywarden: true},
		{name: "wrong secret", authorization: []string{basic(MustWrongSecret(t, key.Key))}, asksKeywarden: true},
		{name: "deleted key", authorization: []string{basic(deleted.Key)}, asksKeywarden: true},
		{name: "expired key", authorization: []string{"Bearer " + expiring.Key}, asksKeywarden: true,
			before: func() { kw.clock.Advance(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			calls := s.verifier.Calls()
			// A key in the query string is no credential, and is not echoed.
			w := s.Do("GET", routeDestinations+"?api_key="+url.QueryEscape(key.Key), tt.authorization...)
			if strings.Contains(w.Body.String(), secret) {
				t.Fatalf("the body shows a secret: %s", w.Body)
			}
			p := MustProblem(t, w, http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
			if p.Instance != routeDestinations {
				t.Fatalf("instance %q, want %q", p.Instance, routeDestinations)
			}
			// The very shape of Keywarden's own 401: the same members with
			// the same values, but for where and when.
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			g, wb := without(got, "instance", "timestamp"), without(wantBody, "instance", "timestamp")
			if !reflect.DeepEqual(g, wb) || len(got) != len(wantBody) {
				t.Fatalf("body %v\nwant %v", got, wantBody)
			}
			for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control"} {
				if w.Header().Get(h) != wantHeader.Get(h) {
					t.Fatalf("%s = %q, Keywarden sends %q", h, w.Header().Get(h), wantHeader.Get(h))
				}
			}
			if asked := s.verifier.Calls() > calls; asked != tt.asksKeywarden {
				t.Fatalf("asked Keywarden: %v, want %v", asked, tt.asksKeywarden)
			}
		})
	}
}

func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func TestKeysThatCannotDoItAreForbidden(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{})
	proc, other := kw.MustProcess(t, "Invoices"), kw.MustProcess(t, "Receipts")
	org2, _ := storetest.MustCreateOrganization(t, kw.store)
	foreign := storetest.MustCreateProcess(t, kw.store, org2.ID, kw.clock.Now())

	narrow := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	uploader := kw.MustKey(t, "", 24*time.Hour, "workspace.file:upload")
	procKey := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload", "workspace.result:read")

	const noReach = "This key cannot reach that process."
	tests := []struct {
		name, method, path, key, detail string
	}{
		{"missing scope", "GET", routeDestinations, uploader.Key, "This endpoint requires the scope workspace.destination:read."},
		{"missing scope in a process", "POST", fmt.Sprintf(routeFiles, proc), narrow.Key, "This endpoint requires the scope workspace.file:upload."},
		{"one of two scopes missing", "POST", fmt.Sprintf(routeTwoScopes, proc), procKey.Key, "This endpoint requires the scopes workspace.export:create, workspace.result:read."},
		{"process key on another process", "POST", fmt.Sprintf(routeFiles, other), procKey.Key, noReach},
		{"process key on a process that does not exist", "POST", fmt.Sprintf(routeFiles, storetest.MustNewID(t)), procKey.Key, noReach},
		{"org key on another organization's process", "POST", fmt.Sprintf(routeFiles, foreign.ID), uploader.Key, noReach},
		{"org key on a process that does not exist", "POST", fmt.Sprintf(routeFiles, storetest.MustNewID(t)), uploader.Key, noReach},
		{"org key on a process ID that is no ID", "POST", fmt.Sprintf(routeFiles, "..%2F"), uploader.Key, noReach},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustProblem(t, s.Do(tt.method, tt.path, basic(tt.key)), http.StatusForbidden, keywarden.EFORBIDDEN, tt.detail)
		})
	}
	// And the same keys where they belong.
	MustReach(t, s.Do("POST", fmt.Sprintf(routeFiles, proc), basic(procKey.Key)))
	MustReach(t, s.Do("POST", fmt.Sprintf(routeFiles, other), basic(uploader.Key)))
}

// MustLogger returns a logger writing text into the returned buffer.
func MustLogger() (*slog.Logger, *testenv.SyncBuffer) {
	b := &testenv.SyncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func TestKeywardenUnreachableSlowOrFailingIs503(t *testing.T) {
	kw := MustKeywarden(t)
	key := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	_, secret, _ := strings.Cut(key.Key, ":")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"type":"urn:keywarden:problem:internal","title":"Service Unavailable","status":503,"detail":"database down"}`))
	}))
	defer failing.Close()
	proxyError := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
	}))
	defer proxyError.Close()
	throttled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer throttled.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so that the server notices the client hanging up,
		// then answer only when the middleware gives up.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer slow.Close()
	nonsense := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`<html>200 OK, surely</html>`))
	}))
	defer nonsense.Close()

	tests := []struct {
		name string
		url  string
	}{
		{"unreachable", closed.URL},
		{"5xx", failing.URL},
		{"a proxy's 502", proxyError.URL},
		{"throttled", throttled.URL},
		{"too slow", slow.URL},
		{"a 200 that is not JSON", nonsense.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := MustLogger()
			g, err := middleware.New(middleware.Config{Client: client.New(tt.url, ""), Timeout: 100 * time.Millisecond,
				CacheTTL: 10 * time.Second, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			h := g.Require("workspace.destination:read")(reached())
			for range 2 { // and no error is cached
				w := httptest.NewRecorder()
				r := httptest.NewRequest("GET", routeDestinations, nil)
				r.Header.Set("Authorization", basic(key.Key))
				h.ServeHTTP(w, r)
				MustProblem(t, w, http.StatusServiceUnavailable, "unavailable", "The API key could not be checked. Try again later.")
			}
			if n := strings.Count(logs.String(), "cannot verify key"); n != 2 {
				t.Fatalf("%d log lines about the failure, want 2:\n%s", n, logs)
			}
			if !strings.Contains(logs.String(), "key_user="+key.User) || strings.Contains(logs.String(), secret) {
				t.Fatalf("the log must name the key's user and never its secret:\n%s", logs)
			}
		})
	}
}

func TestErrorsAndRateLimitsAreNeverCached(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{CacheTTL: 10 * time.Second})
	key := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")

	s.verifier.Fake(func(api.VerifyRequest) (*api.VerifyResponse, error) { return nil, errDown })
	MustProblem(t, s.Do("GET", routeDestinations, basic(key.Key)), http.StatusServiceUnavailable, "unavailable", "The API key could not be checked. Try again later.")
	s.verifier.Fake(func(api.VerifyRequest) (*api.VerifyResponse, error) {
		return &api.VerifyResponse{Code: keywarden.VerifyRateLimited}, nil
	})
	for range 2 {
		MustProblem(t, s.Do("GET", routeDestinations, basic(key.Key)), http.StatusTooManyRequests, "rate_limited", "Too many requests with this key. Try again later.")
	}
	s.verifier.Fake(nil)
	MustReach(t, s.Do("GET", routeDestinations, basic(key.Key)))
	if n := s.verifier.Calls(); n != 4 {
		t.Fatalf("%d calls to Keywarden, want 4: an error or RATE_LIMITED was served from the cache", n)
	}
}

func TestAnswersThatMakeNoSenseAreRefused(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{CacheTTL: 10 * time.Second})
	proc, other := kw.MustProcess(t, "Invoices"), kw.MustProcess(t, "Receipts")
	key := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload")
	identity := func(scopes []keywarden.Scope, processID string) *api.VerifiedKey {
		return &api.VerifiedKey{ID: key.ID, User: key.User, OrgID: kw.org.ID, ProcessID: processID, Scopes: scopes, Exp: key.Exp}
	}
	upload := []keywarden.Scope{"workspace.file:upload"}
	for name, res := range map[string]*api.VerifyResponse{
		"nothing":                           nil,
		"unknown code":                      {Valid: true, Code: "PROBABLY"},
		"empty code":                        {},
		"VALID but not valid":               {Code: keywarden.VerifyValid, Key: identity(upload, proc)},
		"VALID without a key":               {Valid: true, Code: keywarden.VerifyValid},
		"valid but INVALID":                 {Valid: true, Code: keywarden.VerifyInvalid},
		"VALID without the scope":           {Valid: true, Code: keywarden.VerifyValid, Key: identity([]keywarden.Scope{"workspace.result:read"}, proc)},
		"VALID for a process key elsewhere": {Valid: true, Code: keywarden.VerifyValid, Key: identity(upload, other)},
	} {
		t.Run(name, func(t *testing.T) {
			s.verifier.Fake(func(api.VerifyRequest) (*api.VerifyResponse, error) { return res, nil })
			MustProblem(t, s.Do("POST", fmt.Sprintf(routeFiles, proc), basic(key.Key)), http.StatusServiceUnavailable, "unavailable", "The API key could not be checked. Try again later.")
		})
	}
}

func TestMisconfiguredRoutesFailClosedWith500(t *testing.T) {
	kw := MustKeywarden(t)
	logger, logs := MustLogger()
	s := MustService(t, kw, middleware.Config{Logger: logger})
	key := kw.MustKey(t, "", 24*time.Hour, "all")

	// The wildcard named is not the route's: without a process ID the
	// middleware could not confine a process key, so it refuses.
	MustProblem(t, s.Do("GET", fmt.Sprintf(routeMisrouted, "x"), basic(key.Key)), http.StatusInternalServerError, keywarden.EINTERNAL, "The API key could not be checked. Try again later.")
	if s.verifier.Calls() != 0 || !strings.Contains(logs.String(), "wildcard=processId") {
		t.Fatalf("%d calls; log:\n%s", s.verifier.Calls(), logs)
	}
	// A scope Keywarden's catalogue lacks: Keywarden answers 400.
	MustProblem(t, s.Do("GET", routeUnknownScope, basic(key.Key)), http.StatusInternalServerError, keywarden.EINTERNAL, "The API key could not be checked. Try again later.")
	if !strings.Contains(logs.String(), "workspace.nothing:read") {
		t.Fatalf("the log does not name the unknown scope:\n%s", logs)
	}
}

func TestHandlersCannotChangeEachOthersIdentity(t *testing.T) {
	kw := MustKeywarden(t)
	g, err := middleware.New(middleware.Config{Client: client.New(kw.srv.URL, ""), CacheTTL: time.Minute, Now: kw.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	key := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	var seen []keywarden.Scope
	h := g.Require("workspace.destination:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.IdentityFrom(r.Context())
		seen = slices.Clone(id.Scopes)
		id.Scopes[0] = "workspace.admin.api_key:manage"
		id.OrgID = "someone else"
	}))
	for range 2 {
		r := httptest.NewRequest("GET", routeDestinations, nil)
		r.Header.Set("Authorization", basic(key.Key))
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !slices.Equal(seen, []keywarden.Scope{"workspace.destination:read"}) {
			t.Fatalf("scopes %v: an earlier handler's change stuck", seen)
		}
	}
}

func TestIdentityFromWithoutTheMiddleware(t *testing.T) {
	if id, ok := middleware.IdentityFrom(context.Background()); ok || id != nil {
		t.Fatalf("IdentityFrom(empty context) = %v, %v", id, ok)
	}
	if _, ok := middleware.IdentityFrom(middleware.NewContext(context.Background(), nil)); ok {
		t.Fatal("a nil identity counts as one")
	}
	want := &api.VerifiedKey{ID: "k"}
	if id, ok := middleware.IdentityFrom(middleware.NewContext(context.Background(), want)); !ok || id != want {
		t.Fatalf("IdentityFrom(NewContext(id)) = %v, %v", id, ok)
	}
}

func TestNewRefusesUnusableConfig(t *testing.T) {
	c := client.New("http://keywarden.invalid", "")
	tests := []struct {
		name string
		cfg  middleware.Config
		want string // in the error; empty for none
	}{
		{"no client", middleware.Config{}, "Client is required"},
		{"TTL above the maximum", middleware.Config{Client: c, CacheTTL: middleware.MaxCacheTTL + time.Nanosecond}, "CacheTTL"},
		{"negative TTL", middleware.Config{Client: c, CacheTTL: -time.Second}, "CacheTTL"},
		{"negative timeout", middleware.Config{Client: c, Timeout: -time.Second}, "Timeout"},
		{"negative size", middleware.Config{Client: c, CacheSize: -1}, "CacheSize"},
		{"the maximum TTL", middleware.Config{Client: c, CacheTTL: middleware.MaxCacheTTL}, ""},
		{"defaults", middleware.Config{Client: c}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := middleware.New(tt.cfg)
			if tt.want == "" {
				if err != nil || g == nil {
					t.Fatalf("New = %v, %v", g, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestRoutesThatRequireNothingDoNotRegister(t *testing.T) {
	g, err := middleware.New(middleware.Config{Client: client.New("http://keywarden.invalid", "")})
	if err != nil {
		t.Fatal(err)
	}
	for name, register := range map[string]func(){
		"no scope":                    func() { g.Require() },
		"no scope in a process":       func() { g.RequireInProcess("processId") },
		"no wildcard":                 func() { g.RequireInProcess("", "workspace.file:upload") },
		"a scope that is not a scope": func() { g.Require("upload files") },
		"an empty scope":              func() { g.Require("workspace.file:upload", "") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			register()
		})
	}
}

// verifierFunc is a KeyVerifier made of a function.
type verifierFunc func(context.Context, api.VerifyRequest) (*api.VerifyResponse, error)

func (f verifierFunc) Verify(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error) {
	return f(ctx, req)
}

// The verify call runs under the request's context and the configured
// timeout, whichever ends first, so neither a slow Keywarden nor a caller
// that hung up keeps the request waiting.
func TestVerifyCallIsBoundedByTheRequestAndTheTimeout(t *testing.T) {
	key := MustUnknownKey(t)
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"configured timeout", 300 * time.Millisecond, 300 * time.Millisecond},
		{"default timeout", 0, middleware.DefaultTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				deadline time.Time
				ok       bool
				ctxErr   error
			}
			got := make(chan seen, 1)
			g, err := middleware.New(middleware.Config{Timeout: tt.timeout, Client: verifierFunc(func(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error) {
				d, ok := ctx.Deadline()
				<-ctx.Done() // the caller hangs up, below
				got <- seen{d, ok, ctx.Err()}
				return nil, ctx.Err()
			})})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			r := httptest.NewRequest("GET", routeDestinations, nil).WithContext(ctx)
			r.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			before := time.Now()
			time.AfterFunc(10*time.Millisecond, cancel)
			g.Require("workspace.destination:read")(reached()).ServeHTTP(w, r)
			s := <-got
			if !s.ok || s.deadline.Before(before.Add(tt.want)) || s.deadline.After(time.Now().Add(tt.want)) {
				t.Fatalf("verify deadline %v (set %v), want %v after the request", s.deadline.Sub(before), s.ok, tt.want)
			}
			if s.ctxErr != context.Canceled {
				t.Fatalf("verify context ended with %v, want the request's cancellation", s.ctxErr)
			}
			MustProblem(t, w, http.StatusServiceUnavailable, "unavailable", "The API key could not be checked. Try again later.")
		})
	}
}

// TestAnyKeyNeedsAValidKeyAndNoScope: AnyKey lets through a key with
// whatever scopes, and refuses what Require refuses for the key itself.
func TestAnyKeyNeedsAValidKeyAndNoScope(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{})
	proc := kw.MustProcess(t, "Invoices")
	key := kw.MustKey(t, proc, 24*time.Hour, "workspace.result:read")
	if id := MustReach(t, s.Do("GET", routeMe, basic(key.Key))); id.ID != key.ID || id.ProcessID != proc {
		t.Errorf("identity %+v, want key %s of process %s", id, key.ID, proc)
	}
	MustProblem(t, s.Do("GET", routeMe, ""), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
	wrong := key.User + ":" + strings.Repeat("0", 49)
	if w := s.Do("GET", routeMe, basic(wrong)); w.Code != http.StatusUnauthorized {
		t.Errorf("a wrong secret: status %d, want 401", w.Code)
	}
}

// TestFailuresCountAgainstTheEndClient: the middleware tells Keywarden
// whom it asks for (X-Forwarded-For), so with the service among
// Keywarden's trusted proxies one client's bad keys throttle that client
// and not the service's other callers.
func TestFailuresCountAgainstTheEndClient(t *testing.T) {
	trusted, err := clientip.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	kw := MustKeywarden(t, func(c *server.Config) { c.AuthFailuresPerIP, c.ClientIPs = 3, trusted })
	s := MustService(t, kw, middleware.Config{})
	good := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	bad := MustWrongSecret(t, good.Key)
	for i := 0; i < 3; i++ {
		MustProblem(t, s.DoFrom("192.0.2.66:4000", "GET", routeDestinations, basic(bad)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
	}
	if w := s.DoFrom("192.0.2.66:4000", "GET", routeDestinations, basic(good.Key)); w.Code == http.StatusOK {
		t.Error("the client that failed three times still reaches the handler: its failures were not counted against it")
	}
	MustReach(t, s.DoFrom("192.0.2.7:4000", "GET", routeDestinations, basic(good.Key)))
}
