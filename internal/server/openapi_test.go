package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/usage"
)

// specPath is the REST contract, relative to this package.
const specPath = "../../api/openapi.yaml"

// MustLoadSpec loads api/openapi.yaml and fails unless it is a valid OpenAPI
// document whose examples match their schemas.
func MustLoadSpec(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		tb.Fatalf("load %s: %v", specPath, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		tb.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		tb.Fatalf("%s declares openapi %q, want 3.1", specPath, doc.OpenAPI)
	}
	return doc
}

type declaredRoute struct {
	access string // public, anyKey, scope or orgScope
	scope  keywarden.Scope
}

var pathParams = regexp.MustCompile(`\{[^}/]+\}`)

// declaredRoutes returns the server's route table keyed by method and
// normalized path.
func declaredRoutes(t *testing.T) map[string]declaredRoute {
	t.Helper()
	out := map[string]declaredRoute{}
	for _, rt := range server.Routes() {
		method, path, found := strings.Cut(rt.Pattern, " ")
		if !found {
			// Any method (forward-auth): the document describes it as GET.
			method, path = "GET", rt.Pattern
		}
		if rt.Console || strings.HasPrefix(path, "/static/") {
			continue // the console's pages are not part of the REST contract
		}
		if rt.Fallback || path == "/metrics" {
			continue // no operation: the 404/405 of unknown paths; Prometheus' format
		}
		r := declaredRoute{scope: rt.Scope}
		switch {
		case rt.ChecksKey:
			r.access = "checksKey"
		case rt.Public:
			r.access = "public"
		case rt.AnyKey:
			r.access = "anyKey"
		case rt.OrgLevel:
			r.access = "orgScope"
		default:
			r.access = "scope"
		}
		out[method+" "+normalizePath(path)] = r
	}
	if len(out) == 0 {
		t.Fatal("the server has no routes")
	}
	return out
}

// normalizePath replaces every path parameter by {} so that the server's and
// the document's parameter names need not agree for the comparison.
func normalizePath(p string) string { return pathParams.ReplaceAllString(p, "{}") }

// TestOpenAPIDocumentsEveryRoute fails when a route of the server is missing
// from api/openapi.yaml or the document describes a route the server does
// not have, and when an operation's declared access differs from the route's.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := MustLoadSpec(t)
	routes := declaredRoutes(t)

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + normalizePath(path)
			documented[key] = true
			r, ok := routes[key]
			if !ok {
				t.Errorf("%s %s is documented but the server has no such route", method, path)
				continue
			}
			checkAccess(t, method+" "+path, op, r)
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %q is not documented in %s", key, specPath)
		}
	}
}

func checkAccess(t *testing.T, name string, op *openapi3.Operation, r declaredRoute) {
	t.Helper()
	if op.OperationID == "" || op.Summary == "" {
		t.Errorf("%s: operationId and summary are required", name)
	}
	scope, _ := op.Extensions["x-required-scope"].(string)
	orgOnly, _ := op.Extensions["x-organization-level-only"].(bool)
	public := op.Security != nil && len(*op.Security) == 0
	switch r.access {
	case "checksKey":
		// The key checked is the credential: the verify API takes it in
		// the body (security: []), forward-auth in the client's header.
		if !strings.Contains(strings.Join(strings.Fields(op.Description), " "), "needs no credential of its own") {
			t.Errorf("%s: the route checks the key it is given; its description must say it needs no credential of its own", name)
		}
	case "public":
		if !public {
			t.Errorf("%s: the route is public; document it with security: []", name)
		}
	default:
		if public {
			t.Errorf("%s: the route requires a key but is documented with security: []", name)
		}
	}
	if got, want := scope, string(r.scope); got != want {
		t.Errorf("%s: x-required-scope = %q, the route requires %q", name, got, want)
	}
	description := strings.Join(strings.Fields(op.Description), " ") // unwrap lines
	if want := "Requires " + string(r.scope); r.scope != "" && !strings.Contains(description, want) {
		t.Errorf("%s: description does not say %q", name, want)
	}
	if r.access == "anyKey" && !strings.Contains(description, "any valid API key") {
		t.Errorf("%s: description does not say that any valid API key will do", name)
	}
	if want := r.access == "orgScope"; orgOnly != want {
		t.Errorf("%s: x-organization-level-only = %v, want %v", name, orgOnly, want)
	}
}

// contractRoutes is the forward-auth route table of the contract scenario.
const contractRoutes = `
routes:
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.file:upload]
    process: processId
`

// constReader is a broken source of randomness: every ID and key it makes
// is the same, which is how the test provokes a 409.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// contract runs the real handler over a real SQLite store and checks every
// exchange against the OpenAPI document.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	db     *sqlite.DB
	clock  *servertest.Clock
	srv    *httptest.Server
	// usage is srv's usage recorder, which the scenario flushes itself.
	usage *usage.Recorder

	mu   sync.Mutex
	seen map[string]map[int]bool // operationId → statuses observed
}

func newContract(t *testing.T) *contract {
	t.Helper()
	doc := MustLoadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	db := servertest.MustSQLite(t)
	c := &contract{
		doc:    doc,
		router: router,
		db:     db,
		clock:  servertest.NewClock(),
		seen:   map[string]map[int]bool{},
	}
	routes, err := routetable.Parse("routes.yaml", []byte(contractRoutes), keywarden.MustDefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	c.usage = usage.New(db, usage.Config{FlushInterval: time.Hour, Now: c.clock.Now})
	t.Cleanup(c.usage.Close)
	c.srv = c.serve(t, server.Config{Store: db, Now: c.clock.Now, Usage: c.usage, ForwardRoutes: func() *routetable.Table { return routes }})
	return c
}

// serve starts the real handler with cfg.
func (c *contract) serve(t *testing.T, cfg server.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(server.NewHandler(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// seed creates an organization and a root key with every scope, directly in
// the store, as the operator's command line does.
func (c *contract) seed(t *testing.T, name string) keywarden.KeyMaterial {
	t.Helper()
	ctx := context.Background()
	id, err := keywarden.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := c.clock.Now()
	org := &keywarden.Organization{ID: id, Name: name, MaxKeyLifetime: keywarden.DefaultMaxKeyLifetime, CreatedAt: now}
	if err := c.db.CreateOrganization(ctx, org, nil, nil); err != nil {
		t.Fatal(err)
	}
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{
		Name: "root", Scopes: []string{keywarden.ScopeAll}, Exp: now.Add(300 * 24 * time.Hour).Format(time.RFC3339),
	}, keywarden.MintParams{
		Org: org, Catalogue: keywarden.MustDefaultCatalogue(), Now: now,
		CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "contract test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.db.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	return km
}

// credential puts (or deliberately breaks) the Authorization header.
type credential func(*http.Request)

func basic(km keywarden.KeyMaterial) credential {
	return func(r *http.Request) { r.SetBasicAuth(km.User, km.Pass()) }
}

func bearer(km keywarden.KeyMaterial) credential {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+km.Value()) }
}

func header(value string) credential {
	return func(r *http.Request) { r.Header.Set("Authorization", value) }
}

var anonymous credential = func(*http.Request) {}

// newRequest builds a request to the test server. body is sent as is when
// it is a []byte or an io.Reader (chunked), and as JSON otherwise.
func (c *contract) newRequest(t *testing.T, srv *httptest.Server, cred credential, method, path string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	cred(req)
	return req
}

// exchange sends req and validates the response against the document — and
// the request too when checkRequest is set, as it is for every request a
// correct client could send. A status other than want fails the test; it
// stops it only for a request a correct client could send, on whose result
// the scenario builds.
func (c *contract) exchange(t *testing.T, srv *httptest.Server, req *http.Request, checkRequest bool, want int) (http.Header, []byte, bool) {
	t.Helper()
	ctx := context.Background()
	name := req.Method + " " + req.URL.RequestURI()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: the document has no such operation: %v", name, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			MultiError:          true,
			SkipSettingDefaults: true, // send exactly the request built
		},
	}
	if checkRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s: the request does not match the document: %v", name, err)
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read response: %v", name, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s → %d: the response does not match the document: %v\n%s", name, resp.StatusCode, err, data)
	}
	c.mu.Lock()
	op := route.Operation.OperationID
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][resp.StatusCode] = true
	c.mu.Unlock()
	if resp.StatusCode != want {
		if checkRequest {
			t.Fatalf("%s: status %d, want %d\n%s", name, resp.StatusCode, want, data)
		}
		t.Errorf("%s: status %d, want %d\n%s", name, resp.StatusCode, want, data)
		return resp.Header, data, false
	}
	return resp.Header, data, true
}

// ok sends a request a correct client would send and expects success.
func (c *contract) ok(t *testing.T, cred credential, method, path string, body any, want int) (http.Header, []byte) {
	t.Helper()
	h, data, _ := c.exchange(t, c.srv, c.newRequest(t, c.srv, cred, method, path, body), true, want)
	return h, data
}

// fail sends a request that must fail with status want and returns the
// problem document.
func (c *contract) fail(t *testing.T, cred credential, method, path string, body any, want int) problem {
	t.Helper()
	return c.failOn(t, c.srv, c.newRequest(t, c.srv, cred, method, path, body), want)
}

func (c *contract) failOn(t *testing.T, srv *httptest.Server, req *http.Request, want int) problem {
	t.Helper()
	h, data, ok := c.exchange(t, srv, req, false, want)
	if !ok {
		return problem{}
	}
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s %s: Content-Type %q, want application/problem+json", req.Method, req.URL.Path, ct)
	}
	return mustDecode[problem](t, data)
}

// problem is the error document, as a client reads it.
type problem struct {
	Type     string                 `json:"type"`
	Title    string                 `json:"title"`
	Status   int                    `json:"status"`
	Detail   string                 `json:"detail"`
	Instance string                 `json:"instance"`
	Errors   []keywarden.FieldError `json:"errors"`
}

// hasField reports whether p lists an error of type typ at location.
func (p problem) hasField(location, typ string) bool {
	return slices.ContainsFunc(p.Errors, func(f keywarden.FieldError) bool { return f.Location == location && f.Type == typ })
}

func mustDecode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// The client's view of the resources; the document checks their shape, these
// are only the fields the scenario needs.
type (
	apiKey struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		ProcessID string   `json:"processId"`
		Level     string   `json:"level"`
		User      string   `json:"user"`
		Scopes    []string `json:"scopes"`
		Status    string   `json:"status"`
		Key       string   `json:"key"`
	}
	apiKeyList struct {
		APIKeys    []apiKey   `json:"apiKeys"`
		Pagination pagination `json:"pagination"`
	}
	process struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		ProcessTypeID string `json:"processTypeId"`
	}
	processList struct {
		Processes  []process  `json:"processes"`
		Pagination pagination `json:"pagination"`
	}
	pagination struct{ Offset, Limit, Total int }
	me         struct {
		KeyID     string   `json:"keyId"`
		ProcessID string   `json:"processId"`
		Level     string   `json:"level"`
		Scopes    []string `json:"scopes"`
	}
)

// created decodes a create response and the key it carries.
func created(t *testing.T, h http.Header, data []byte) (apiKey, keywarden.KeyMaterial) {
	t.Helper()
	k := mustDecode[apiKey](t, data)
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("create response: Cache-Control %q, want no-store", got)
	}
	km, err := keywarden.ParseKey(k.Key)
	if err != nil || km.User != k.User {
		t.Fatalf("create response: key %q does not parse as the key of %q: %v", k.Key, k.User, err)
	}
	return k, km
}

// TestOpenAPIContract drives every operation of the API and every kind of
// error through the real handler and a real store, and checks each request a
// client may send and every response the server gives against
// api/openapi.yaml.
func TestOpenAPIContract(t *testing.T) {
	c := newContract(t)
	rootKM := c.seed(t, "Acme")
	otherKM := c.seed(t, "Globex")
	root, other := basic(rootKM), basic(otherKM)
	now := c.clock.Now()
	exp := now.Add(90 * 24 * time.Hour).Format(time.RFC3339)
	newKey := func(name string, scopes ...string) keywarden.CreateAPIKeyRequest {
		return keywarden.CreateAPIKeyRequest{Name: name, Scopes: scopes, Exp: exp}
	}
	unknownID, err := keywarden.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}

	// Health, without credentials.
	c.ok(t, anonymous, "GET", "/healthz", nil, http.StatusOK)
	c.ok(t, anonymous, "GET", "/readyz", nil, http.StatusOK)

	// Any valid key, as Basic or Bearer credentials.
	_, data := c.ok(t, root, "GET", "/api/v1/scopes", nil, http.StatusOK)
	if got := mustDecode[struct{ Scopes []keywarden.ScopeInfo }](t, data).Scopes; len(got) != len(keywarden.DefaultScopes()) {
		t.Errorf("GET /scopes: %d scopes, want %d", len(got), len(keywarden.DefaultScopes()))
	}
	_, data = c.ok(t, bearer(rootKM), "GET", "/api/v1/me", nil, http.StatusOK)
	if m := mustDecode[me](t, data); m.Level != "organization" || m.ProcessID != "" {
		t.Errorf("GET /me as the root key: %+v", m)
	}

	// Organization keys.
	h, data := c.ok(t, root, "POST", "/api/v1/admin/api-keys", newKey("CI reader", string(keywarden.ScopeProcessRead)), http.StatusCreated)
	reader, readerKM := created(t, h, data)
	if want := "/api/v1/admin/api-keys/" + reader.ID; h.Get("Location") != want {
		t.Errorf("Location %q, want %q", h.Get("Location"), want)
	}
	h, data = c.ok(t, root, "POST", "/api/v1/admin/api-keys", newKey("Key manager", string(keywarden.ScopeAdminAPIKeyManage)), http.StatusCreated)
	_, managerKM := created(t, h, data)
	c.ok(t, basic(readerKM), "GET", "/api/v1/me", nil, http.StatusOK)

	_, data = c.ok(t, root, "GET", "/api/v1/admin/api-keys", nil, http.StatusOK)
	if l := mustDecode[apiKeyList](t, data); l.Pagination.Total != 3 || len(l.APIKeys) != 3 || l.Pagination.Limit != keywarden.DefaultPageLimit {
		t.Errorf("GET /admin/api-keys: %+v", l)
	}
	_, data = c.ok(t, root, "GET", "/api/v1/admin/api-keys?offset=1&limit=1", nil, http.StatusOK)
	if l := mustDecode[apiKeyList](t, data); l.Pagination != (pagination{Offset: 1, Limit: 1, Total: 3}) || len(l.APIKeys) != 1 {
		t.Errorf("GET /admin/api-keys?offset=1&limit=1: %+v", l)
	}
	_, data = c.ok(t, root, "GET", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusOK)
	if k := mustDecode[apiKey](t, data); k.Key != "" || k.Name != "CI reader" || k.Status != "Active" {
		t.Errorf("GET /admin/api-keys/{id}: %+v", k)
	}

	// Processes.
	h, data = c.ok(t, root, "POST", "/api/v1/processes", map[string]string{"name": "Invoices", "processTypeId": "invoices"}, http.StatusCreated)
	invoices := mustDecode[process](t, data)
	if want := "/api/v1/processes/" + invoices.ID; h.Get("Location") != want {
		t.Errorf("Location %q, want %q", h.Get("Location"), want)
	}
	_, data = c.ok(t, root, "POST", "/api/v1/processes", map[string]string{"name": "Receipts"}, http.StatusCreated)
	receipts := mustDecode[process](t, data)
	if receipts.ProcessTypeID != keywarden.DefaultProcessTypeID {
		t.Errorf("process created without a type has type %q", receipts.ProcessTypeID)
	}
	_, data = c.ok(t, root, "GET", "/api/v1/processes?limit=10", nil, http.StatusOK)
	if l := mustDecode[processList](t, data); l.Pagination.Total != 2 || len(l.Processes) != 2 {
		t.Errorf("GET /processes: %+v", l)
	}
	c.ok(t, root, "GET", "/api/v1/processes/"+invoices.ID, nil, http.StatusOK)
	_, data = c.ok(t, root, "PATCH", "/api/v1/processes/"+invoices.ID, map[string]string{"name": "Invoices 2026"}, http.StatusOK)
	if p := mustDecode[process](t, data); p.Name != "Invoices 2026" {
		t.Errorf("PATCH /processes/{id}: name %q", p.Name)
	}

	// Process keys, created by an organization key and by a process key.
	keysOf := func(p process) string { return "/api/v1/processes/" + p.ID + "/api-keys" }
	h, data = c.ok(t, root, "POST", keysOf(invoices), newKey("Uploader", keywarden.ScopeAll), http.StatusCreated)
	uploader, uploaderKM := created(t, h, data)
	if uploader.Level != "process" || uploader.ProcessID != invoices.ID || !strings.HasPrefix(uploader.User, keywarden.DefaultProcessKeyPrefix) {
		t.Errorf("process key: %+v", uploader)
	}
	if want := keysOf(invoices) + "/" + uploader.ID; h.Get("Location") != want {
		t.Errorf("Location %q, want %q", h.Get("Location"), want)
	}
	proc := basic(uploaderKM)
	_, data = c.ok(t, proc, "GET", "/api/v1/me", nil, http.StatusOK)
	if m := mustDecode[me](t, data); m.Level != "process" || m.ProcessID != invoices.ID || m.KeyID != uploader.ID {
		t.Errorf("GET /me as a process key: %+v", m)
	}
	_, data = c.ok(t, proc, "GET", "/api/v1/processes", nil, http.StatusOK)
	if l := mustDecode[processList](t, data); l.Pagination.Total != 1 || len(l.Processes) != 1 || l.Processes[0].ID != invoices.ID {
		t.Errorf("GET /processes as a process key: %+v", l)
	}
	c.ok(t, proc, "GET", "/api/v1/processes/"+invoices.ID, nil, http.StatusOK)
	h, data = c.ok(t, proc, "POST", keysOf(invoices), newKey("Sub-uploader", "workspace.file:upload"), http.StatusCreated)
	sub, subKM := created(t, h, data)
	_, data = c.ok(t, root, "GET", keysOf(invoices), nil, http.StatusOK)
	if l := mustDecode[apiKeyList](t, data); l.Pagination.Total != 2 || len(l.APIKeys) != 2 {
		t.Errorf("GET /processes/{id}/api-keys: %+v", l)
	}
	c.ok(t, root, "GET", keysOf(invoices)+"/"+sub.ID, nil, http.StatusOK)
	c.usageScenario(t, root, other, proc, invoices.ID, exp) // usage_test.go

	t.Run("400", func(t *testing.T) {
		p := c.fail(t, root, "POST", "/api/v1/admin/api-keys", []byte(`{"name":`), http.StatusBadRequest)
		if !p.hasField("body", "invalid_json") {
			t.Errorf("invalid JSON: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", []byte(`[]`), http.StatusBadRequest)
		if !p.hasField("body", "invalid_type") {
			t.Errorf("array body: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", []byte(``), http.StatusBadRequest)
		if !p.hasField("body", "required") {
			t.Errorf("empty body: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": []string{"all"}, "expires": exp}, http.StatusBadRequest)
		if !p.hasField("body: expires", "unknown_field") {
			t.Errorf("unknown field: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": "all", "exp": exp}, http.StatusBadRequest)
		if !p.hasField("body: scopes", "invalid_type") {
			t.Errorf("scopes as a string: %+v", p)
		}
		// Every invalid field at once.
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", newKeyWith("", "tomorrow", "workspace.nope:x", "workspace.process:read"), http.StatusBadRequest)
		if len(p.Errors) != 3 || !p.hasField("body: name", "required") || !p.hasField("body: scopes[0]", "unknown_scope") || !p.hasField("body: exp", "invalid") {
			t.Errorf("three invalid fields: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", newKeyWith("x", now.Add(-time.Hour).Format(time.RFC3339), "all"), http.StatusBadRequest)
		if !p.hasField("body: exp", "in_past") {
			t.Errorf("exp in the past: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/admin/api-keys", newKeyWith("x", now.Add(400*24*time.Hour).Format(time.RFC3339), "all"), http.StatusBadRequest)
		if !p.hasField("body: exp", "beyond_policy") {
			t.Errorf("exp beyond the policy: %+v", p)
		}
		p = c.fail(t, root, "POST", keysOf(invoices), newKey("x", string(keywarden.ScopeProcessCreate)), http.StatusBadRequest)
		if !p.hasField("body: scopes[0]", "scope_not_allowed") {
			t.Errorf("organization scope on a process key: %+v", p)
		}
		p = c.fail(t, root, "POST", "/api/v1/processes", map[string]string{"name": "x", "processTypeId": "Not A Type"}, http.StatusBadRequest)
		if !p.hasField("body: processTypeId", "invalid") {
			t.Errorf("bad process type: %+v", p)
		}
		p = c.fail(t, root, "PATCH", "/api/v1/processes/"+invoices.ID, map[string]string{"name": " "}, http.StatusBadRequest)
		if !p.hasField("body: name", "required") {
			t.Errorf("blank name: %+v", p)
		}
		p = c.fail(t, root, "GET", "/api/v1/admin/api-keys?limit=0&offset=-1", nil, http.StatusBadRequest)
		if !p.hasField("query: limit", "invalid") || !p.hasField("query: offset", "invalid") {
			t.Errorf("bad pagination: %+v", p)
		}
		c.fail(t, root, "GET", keysOf(invoices)+"?limit=101", nil, http.StatusBadRequest)
		c.fail(t, root, "GET", "/api/v1/processes?offset=x", nil, http.StatusBadRequest)
		// Keys in the URL are refused, whatever the parameter is called.
		p = c.fail(t, root, "GET", "/api/v1/me?api_key=abc", nil, http.StatusBadRequest)
		if !p.hasField("query: api_key", "credential_in_url") {
			t.Errorf("api_key in the query: %+v", p)
		}
		p = c.fail(t, anonymous, "GET", "/api/v1/scopes?q="+rootKM.Value(), nil, http.StatusBadRequest)
		if !p.hasField("query: q", "credential_in_url") {
			t.Errorf("key in the query: %+v", p)
		}
		c.fail(t, root, "GET", "/api/v1/admin/api-keys/"+reader.ID+"?token=x", nil, http.StatusBadRequest)
		c.fail(t, root, "DELETE", "/api/v1/admin/api-keys/"+reader.ID+"?token=x", nil, http.StatusBadRequest)
		c.fail(t, root, "GET", "/api/v1/processes/"+invoices.ID+"?token=x", nil, http.StatusBadRequest)
		c.fail(t, root, "DELETE", "/api/v1/processes/"+invoices.ID+"?token=x", nil, http.StatusBadRequest)
		c.fail(t, root, "GET", keysOf(invoices)+"/"+sub.ID+"?token=x", nil, http.StatusBadRequest)
		c.fail(t, root, "DELETE", keysOf(invoices)+"/"+sub.ID+"?token=x", nil, http.StatusBadRequest)
	})

	t.Run("401", func(t *testing.T) {
		unknown, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
		if err != nil {
			t.Fatal(err)
		}
		wrongSecret := rootKM
		wrongSecret.Secret = unknown.Secret
		badChecksum := rootKM.Value()[:len(rootKM.Value())-1] + "0"
		if badChecksum == rootKM.Value() {
			badChecksum = rootKM.Value()[:len(rootKM.Value())-1] + "1"
		}
		cases := map[string]credential{
			"no credentials":  anonymous,
			"unknown key":     basic(unknown),
			"wrong secret":    basic(wrongSecret),
			"bad checksum":    header("Bearer " + badChecksum),
			"not base64":      header("Basic !!!"),
			"unknown scheme":  header("Token " + rootKM.Value()),
			"bearer garbage":  header("Bearer garbage"),
			"empty bearer":    header("Bearer "),
			"user name only":  header("Basic " + "a3dvXw=="),
			"secret as token": header("Bearer " + rootKM.Pass()),
		}
		var first *problem
		for name, cred := range cases {
			p := c.fail(t, cred, "GET", "/api/v1/me", nil, http.StatusUnauthorized)
			if first == nil {
				first = &p
			} else if p.Detail != first.Detail || p.Title != first.Title || len(p.Errors) != 0 {
				t.Errorf("%s: the 401 differs from the others: %+v", name, p)
			}
		}
		// Every operation that needs a key answers the same.
		ops := [][2]string{
			{"GET", "/api/v1/scopes"},
			{"POST", "/api/v1/admin/api-keys"},
			{"GET", "/api/v1/admin/api-keys"},
			{"GET", "/api/v1/admin/api-keys/" + reader.ID},
			{"DELETE", "/api/v1/admin/api-keys/" + reader.ID},
			{"GET", "/api/v1/processes"},
			{"POST", "/api/v1/processes"},
			{"GET", "/api/v1/processes/" + invoices.ID},
			{"PATCH", "/api/v1/processes/" + invoices.ID},
			{"DELETE", "/api/v1/processes/" + invoices.ID},
			{"POST", keysOf(invoices)},
			{"GET", keysOf(invoices)},
			{"GET", keysOf(invoices) + "/" + sub.ID},
			{"DELETE", keysOf(invoices) + "/" + sub.ID},
		}
		for _, op := range ops {
			c.fail(t, basic(unknown), op[0], op[1], nil, http.StatusUnauthorized)
		}
	})

	t.Run("403", func(t *testing.T) {
		// A process key never reaches organization-level operations.
		p := c.fail(t, proc, "GET", "/api/v1/admin/api-keys", nil, http.StatusForbidden)
		if !strings.Contains(p.Detail, "process keys") {
			t.Errorf("process key on /admin/api-keys: %+v", p)
		}
		c.fail(t, proc, "POST", "/api/v1/admin/api-keys", newKey("x", keywarden.ScopeAll), http.StatusForbidden)
		c.fail(t, proc, "GET", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusForbidden)
		c.fail(t, proc, "DELETE", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusForbidden)
		c.fail(t, proc, "POST", "/api/v1/processes", map[string]string{"name": "x"}, http.StatusForbidden)
		c.fail(t, proc, "DELETE", "/api/v1/processes/"+invoices.ID, nil, http.StatusForbidden)
		// A key without the operation's scope.
		readerCred := basic(readerKM)
		p = c.fail(t, readerCred, "POST", "/api/v1/admin/api-keys", newKey("x", keywarden.ScopeAll), http.StatusForbidden)
		if !strings.Contains(p.Detail, string(keywarden.ScopeAdminAPIKeyManage)) {
			t.Errorf("missing scope: %+v", p)
		}
		c.fail(t, readerCred, "PATCH", "/api/v1/processes/"+invoices.ID, map[string]string{"name": "x"}, http.StatusForbidden)
		c.fail(t, readerCred, "GET", keysOf(invoices), nil, http.StatusForbidden)
		c.fail(t, readerCred, "POST", keysOf(invoices), newKey("x", keywarden.ScopeAll), http.StatusForbidden)
		c.fail(t, readerCred, "GET", keysOf(invoices)+"/"+sub.ID, nil, http.StatusForbidden)
		c.fail(t, readerCred, "DELETE", keysOf(invoices)+"/"+sub.ID, nil, http.StatusForbidden)
		c.fail(t, basic(subKM), "GET", "/api/v1/processes", nil, http.StatusForbidden)
		c.fail(t, basic(subKM), "GET", "/api/v1/processes/"+invoices.ID, nil, http.StatusForbidden)
		// No escalation: a key grants only the scopes it holds.
		p = c.fail(t, basic(managerKM), "POST", "/api/v1/admin/api-keys", newKey("x", keywarden.ScopeAll), http.StatusForbidden)
		if !strings.Contains(p.Detail, "do not hold") {
			t.Errorf("escalation: %+v", p)
		}
	})

	t.Run("404", func(t *testing.T) {
		c.fail(t, root, "GET", "/api/v1/admin/api-keys/"+unknownID, nil, http.StatusNotFound)
		c.fail(t, root, "DELETE", "/api/v1/admin/api-keys/"+unknownID, nil, http.StatusNotFound)
		c.fail(t, root, "GET", "/api/v1/admin/api-keys/not-an-id", nil, http.StatusNotFound)
		// A process key is not an organization key, nor a key of another process.
		c.fail(t, root, "GET", "/api/v1/admin/api-keys/"+uploader.ID, nil, http.StatusNotFound)
		c.fail(t, root, "GET", keysOf(receipts)+"/"+uploader.ID, nil, http.StatusNotFound)
		c.fail(t, root, "DELETE", keysOf(receipts)+"/"+uploader.ID, nil, http.StatusNotFound)
		c.fail(t, root, "GET", keysOf(invoices)+"/"+reader.ID, nil, http.StatusNotFound)
		c.fail(t, root, "GET", "/api/v1/processes/"+unknownID, nil, http.StatusNotFound)
		c.fail(t, root, "PATCH", "/api/v1/processes/"+unknownID, map[string]string{"name": "x"}, http.StatusNotFound)
		c.fail(t, root, "DELETE", "/api/v1/processes/"+unknownID, nil, http.StatusNotFound)
		c.fail(t, root, "POST", "/api/v1/processes/"+unknownID+"/api-keys", newKey("x", keywarden.ScopeAll), http.StatusNotFound)
		c.fail(t, root, "GET", "/api/v1/processes/"+unknownID+"/api-keys", nil, http.StatusNotFound)
		// A process key naming another process, as if it did not exist.
		c.fail(t, proc, "GET", "/api/v1/processes/"+receipts.ID, nil, http.StatusNotFound)
		c.fail(t, proc, "PATCH", "/api/v1/processes/"+receipts.ID, map[string]string{"name": "x"}, http.StatusNotFound)
		c.fail(t, proc, "GET", keysOf(receipts), nil, http.StatusNotFound)
		c.fail(t, proc, "POST", keysOf(receipts), newKey("x", keywarden.ScopeAll), http.StatusNotFound)
		// Another organization's objects, as if they did not exist.
		c.fail(t, other, "GET", "/api/v1/processes/"+invoices.ID, nil, http.StatusNotFound)
		c.fail(t, other, "GET", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusNotFound)
		c.fail(t, other, "DELETE", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusNotFound)
		c.fail(t, other, "GET", keysOf(invoices)+"/"+uploader.ID, nil, http.StatusNotFound)
		c.fail(t, other, "DELETE", keysOf(invoices)+"/"+uploader.ID, nil, http.StatusNotFound)
		_, data := c.ok(t, other, "GET", "/api/v1/processes", nil, http.StatusOK)
		if l := mustDecode[processList](t, data); l.Pagination.Total != 0 {
			t.Errorf("another organization sees %d processes", l.Pagination.Total)
		}
	})

	t.Run("413", func(t *testing.T) {
		huge := `{"name":"` + strings.Repeat("a", server.DefaultMaxBodyBytes) + `","scopes":["all"],"exp":"` + exp + `"}`
		// Declared length over the limit: refused before it is read.
		c.fail(t, root, "POST", "/api/v1/admin/api-keys", []byte(huge), http.StatusRequestEntityTooLarge)
		c.fail(t, root, "POST", keysOf(invoices), []byte(huge), http.StatusRequestEntityTooLarge)
		c.fail(t, root, "POST", "/api/v1/processes", []byte(huge), http.StatusRequestEntityTooLarge)
		// Chunked, length unknown: refused while it is read.
		for _, r := range []struct{ method, path string }{
			{"POST", "/api/v1/admin/api-keys"},
			{"POST", keysOf(invoices)},
			{"POST", "/api/v1/processes"},
			{"PATCH", "/api/v1/processes/" + invoices.ID},
		} {
			chunked := io.MultiReader(strings.NewReader(huge)) // hides the length from http.NewRequest
			p := c.fail(t, root, r.method, r.path, chunked, http.StatusRequestEntityTooLarge)
			if !strings.Contains(p.Detail, "larger than") {
				t.Errorf("%s %s: %+v", r.method, r.path, p)
			}
		}
	})

	t.Run("409", func(t *testing.T) {
		// A server whose randomness repeats itself makes the same IDs twice;
		// the store refuses the second.
		for i, r := range []struct {
			path string
			body any
		}{
			{"/api/v1/processes", map[string]string{"name": "Twin"}},
			{"/api/v1/admin/api-keys", newKey("Twin", keywarden.ScopeAll)},
		} {
			// Each resource gets its own repeating byte, so that only its
			// own IDs collide (not, say, the audit events of the two).
			broken := c.serve(t, server.Config{Store: c.db, Now: c.clock.Now, Rand: constReader(i + 1)})
			c.exchange(t, broken, c.newRequest(t, broken, root, "POST", r.path, r.body), true, http.StatusCreated)
			c.failOn(t, broken, c.newRequest(t, broken, root, "POST", r.path, r.body), http.StatusConflict)
		}
	})

	// A body must be declared as JSON.
	form := c.newRequest(t, c.srv, root, "POST", "/api/v1/processes", []byte(`{"name":"Sent as a form"}`))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c.failOn(t, c.srv, form, http.StatusUnsupportedMediaType)

	// The audit log, a page at a time by cursor.
	_, data = c.ok(t, root, "GET", "/api/v1/admin/audit-events?limit=2", nil, http.StatusOK)
	page := mustDecode[api.AuditEventList](t, data)
	if len(page.AuditEvents) != 2 || page.Next == "" || page.AuditEvents[0].At < page.AuditEvents[1].At {
		t.Errorf("GET /admin/audit-events?limit=2: %+v", page)
	}
	_, data = c.ok(t, root, "GET", "/api/v1/admin/audit-events?limit=2&cursor="+page.Next, nil, http.StatusOK)
	if next := mustDecode[api.AuditEventList](t, data); len(next.AuditEvents) == 0 || next.AuditEvents[0].ID == page.AuditEvents[0].ID || next.AuditEvents[0].ID == page.AuditEvents[1].ID {
		t.Errorf("the second page repeats the first: %+v", next)
	}
	_, data = c.ok(t, root, "GET", "/api/v1/admin/audit-events?action=api_key.created", nil, http.StatusOK)
	for _, e := range mustDecode[api.AuditEventList](t, data).AuditEvents {
		if e.Action != "api_key.created" || e.Target.Type != "api_key" {
			t.Errorf("action filter returned %+v", e)
		}
	}
	c.fail(t, root, "GET", "/api/v1/admin/audit-events?cursor=nonsense&since=yesterday", nil, http.StatusBadRequest)

	// Verification for the platform's other services: the verify API needs
	// no credential of its own; forward-auth checks the client's key against
	// the route table.
	_, data = c.ok(t, anonymous, "POST", "/api/v1/keys/verify", api.VerifyRequest{Key: uploaderKM.Value(),
		Scopes: []string{"workspace.file:upload"}, ProcessID: invoices.ID}, http.StatusOK)
	if v := mustDecode[api.VerifyResponse](t, data); !v.Valid || v.Code != keywarden.VerifyValid || v.Key == nil || v.Key.ID != uploader.ID || v.Key.ProcessID != invoices.ID {
		t.Errorf("verify a valid process key: %+v", v)
	}
	_, data = c.ok(t, anonymous, "POST", "/api/v1/keys/verify", api.VerifyRequest{Key: uploaderKM.Value(), ProcessID: receipts.ID}, http.StatusOK)
	if v := mustDecode[api.VerifyResponse](t, data); v.Valid || v.Code != keywarden.VerifyWrongProcess || v.Key != nil {
		t.Errorf("verify a process key on another process: %+v", v)
	}
	c.fail(t, anonymous, "POST", "/api/v1/keys/verify", map[string]any{"key": 42}, http.StatusBadRequest)
	forward := func(cred credential, method, uri string) credential {
		return func(r *http.Request) {
			cred(r)
			r.Header.Set(api.HeaderForwardedMethod, method)
			r.Header.Set(api.HeaderForwardedURI, uri)
		}
	}
	h, _ = c.ok(t, forward(proc, "POST", "/v1/processes/"+invoices.ID+"/files"), "GET", "/api/v1/auth/forward", nil, http.StatusOK)
	if h.Get(api.HeaderKeyID) != uploader.ID || h.Get(api.HeaderProcessID) != invoices.ID || !strings.Contains(h.Get(api.HeaderScopes), "workspace.file:upload") {
		t.Errorf("forward-auth identity headers: %v", h)
	}
	c.fail(t, forward(proc, "POST", "/v1/processes/"+receipts.ID+"/files"), "GET", "/api/v1/auth/forward", nil, http.StatusForbidden)
	c.fail(t, forward(anonymous, "POST", "/v1/processes/"+invoices.ID+"/files"), "GET", "/api/v1/auth/forward", nil, http.StatusUnauthorized)

	// Leaked-key self-revocation, in GitHub's secret scanning format and
	// without a credential: a live key reported is revoked at once; a real
	// key ID with a wrong secret is a false positive, and that key works on.
	h, data = c.ok(t, root, "POST", "/api/v1/admin/api-keys", newKey("Leaked", string(keywarden.ScopeProcessRead)), http.StatusCreated)
	_, leakedKM := created(t, h, data)
	c.ok(t, basic(leakedKM), "GET", "/api/v1/me", nil, http.StatusOK)
	guess := rootKM
	guess.Secret = leakedKM.Secret
	h, data = c.ok(t, anonymous, "POST", "/api/v1/keys/revoke-leaked", []api.LeakReport{
		{Token: leakedKM.Value(), Type: "keywarden_api_key", URL: "https://github.com/octocat/Hello-World/blob/main/.env", Source: "content"},
		{Token: guess.Value(), Type: "keywarden_api_key", Source: "commit"},
	}, http.StatusOK)
	if v := mustDecode[[]api.LeakVerdict](t, data); len(v) != 2 || v[0].Label != api.LeakTruePositive || v[1].Label != api.LeakFalsePositive {
		t.Errorf("revoke-leaked, a live key and a wrong secret: %+v", v)
	}
	c.fail(t, basic(leakedKM), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.ok(t, root, "GET", "/api/v1/me", nil, http.StatusOK)
	leak := c.fail(t, anonymous, "POST", "/api/v1/keys/revoke-leaked", map[string]string{"token": leakedKM.Value()}, http.StatusBadRequest)
	if !leak.hasField("body", "invalid_type") {
		t.Errorf("revoke-leaked, an object for the array: %+v", leak)
	}
	leak = c.fail(t, anonymous, "POST", "/api/v1/keys/revoke-leaked", make([]api.LeakReport, api.MaxLeakReports+1), http.StatusBadRequest)
	if !leak.hasField("body", "too_many") || !leak.hasField("body: [100].token", "required") {
		t.Errorf("revoke-leaked, 101 reports without tokens: %+v", leak)
	}

	c.lifecycleScenario(t, root, exp) // lifecycle_test.go
	c.revokeAllScenario(t, root, exp) // revokeall_test.go
	c.webhookScenario(t, root, other) // webhook_test.go

	// Expiry: a key past its exp is listed as Expired and no longer works.
	h, data = c.ok(t, root, "POST", "/api/v1/admin/api-keys", keywarden.CreateAPIKeyRequest{
		Name: "Short-lived", Scopes: []string{string(keywarden.ScopeProcessRead)}, Exp: now.Add(time.Hour).Format(time.RFC3339),
	}, http.StatusCreated)
	short, shortKM := created(t, h, data)
	c.clock.Advance(2 * time.Hour)
	_, data = c.ok(t, root, "GET", "/api/v1/admin/api-keys/"+short.ID, nil, http.StatusOK)
	if k := mustDecode[apiKey](t, data); k.Status != "Expired" {
		t.Errorf("key past its exp: status %q", k.Status)
	}
	c.fail(t, basic(shortKM), "GET", "/api/v1/me", nil, http.StatusUnauthorized)

	// Deletion: a deleted key no longer authenticates; deleting a process
	// deletes its keys.
	c.ok(t, root, "DELETE", keysOf(invoices)+"/"+sub.ID, nil, http.StatusNoContent)
	c.fail(t, root, "GET", keysOf(invoices)+"/"+sub.ID, nil, http.StatusNotFound)
	c.fail(t, basic(subKM), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.ok(t, root, "DELETE", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusNoContent)
	c.fail(t, root, "DELETE", "/api/v1/admin/api-keys/"+reader.ID, nil, http.StatusNotFound)
	c.fail(t, basic(readerKM), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.ok(t, root, "DELETE", "/api/v1/processes/"+invoices.ID, nil, http.StatusNoContent)
	c.fail(t, root, "GET", "/api/v1/processes/"+invoices.ID, nil, http.StatusNotFound)
	c.fail(t, root, "DELETE", keysOf(invoices)+"/"+uploader.ID, nil, http.StatusNotFound)
	c.fail(t, proc, "GET", "/api/v1/me", nil, http.StatusUnauthorized)

	// An outage: the database is gone. Readiness says so; requests fail
	// closed with a 500 that shows nothing of the cause.
	if err := c.db.Close(); err != nil {
		t.Fatal(err)
	}
	c.ok(t, anonymous, "GET", "/healthz", nil, http.StatusOK)
	c.ok(t, anonymous, "GET", "/readyz", nil, http.StatusServiceUnavailable)
	p := c.fail(t, root, "GET", "/api/v1/me", nil, http.StatusInternalServerError)
	if p.Detail != "Internal error." {
		t.Errorf("500 detail %q", p.Detail)
	}

	c.checkCoverage(t)
}

// newKeyWith is a create request with the given name, expiry and scopes.
func newKeyWith(name, exp string, scopes ...string) keywarden.CreateAPIKeyRequest {
	return keywarden.CreateAPIKeyRequest{Name: name, Scopes: scopes, Exp: exp}
}

// checkCoverage fails unless every operation of the document succeeded at
// least once and every status the document lists was observed somewhere, so
// that the scenario cannot silently stop exercising part of the contract.
func (c *contract) checkCoverage(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	observed := map[int]bool{}
	for _, statuses := range c.seen {
		for s := range statuses {
			observed[s] = true
		}
	}
	documented := map[int][]string{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			succeeded := false
			for s := range c.seen[op.OperationID] {
				succeeded = succeeded || s >= 200 && s < 300
			}
			if !succeeded {
				t.Errorf("%s (%s %s) never succeeded in the scenario", op.OperationID, method, path)
			}
			for code := range op.Responses.Map() {
				var s int
				if _, err := fmt.Sscan(code, &s); err != nil {
					t.Errorf("%s: response %q is not a status code", op.OperationID, code)
				}
				documented[s] = append(documented[s], op.OperationID)
			}
		}
	}
	for s, ops := range documented {
		if !observed[s] {
			t.Errorf("status %d is documented (%s) but the scenario never provoked it", s, strings.Join(ops, ", "))
		}
	}
}

// TestOpenAPIDocumentIsStrict shows that the contract test can fail: the
// responses a regression would produce do not validate.
func TestOpenAPIDocumentIsStrict(t *testing.T) {
	doc := MustLoadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const (
		id   = "0123456789abcdef0123456789abcdef"
		user = "kwo_ABCDEFGHIJKLMNOPQRST"
		key  = user + ":0123456789012345678901234567890123456789012345678"
	)
	validKey := func() map[string]any {
		return map[string]any{
			"id": id, "name": "CI", "orgId": id, "level": "organization", "user": user,
			"scopes": []string{"workspace.process:read"}, "status": "Active",
			"createdAt": "2026-03-01T12:00:00Z", "createdBy": map[string]any{"type": "cli"},
			"exp": "2026-06-01T12:00:00Z", "lastUsedAt": nil, "lastUsedFrom": nil,
			"allowedIps": []string{}, "rateLimit": nil, "previousSecretExpiresAt": nil,
		}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	validUsage := func() map[string]any {
		return map[string]any{"from": "2026-11-01T13:00:00Z", "to": "2026-12-01T14:00:00Z",
			"usage": []any{map[string]any{"hour": "2026-12-01T13:00:00Z", "succeeded": 40, "failed": 2}}}
	}
	without := func(m map[string]any, k string) map[string]any { delete(m, k); return m }
	validProblem := func() map[string]any {
		return map[string]any{
			"type": "urn:keywarden:problem:unauthorized", "title": "Unauthorized", "status": 401,
			"detail": "A valid API key is required.", "instance": "/api/v1/me",
			"timestamp": "2026-03-01T12:00:00Z", "errors": []any{},
		}
	}
	problemHeader := http.Header{
		"Content-Type":     {"application/problem+json"},
		"Cache-Control":    {"no-store"},
		"Www-Authenticate": {`Basic realm="keywarden"`},
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	createdHeader := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Location": {"/api/v1/admin/api-keys/" + id}}
	noStoreHeader := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	validVerdict := func() map[string]any {
		return map[string]any{"token_hash": strings.Repeat("ab", 32), "token_type": "keywarden_api_key", "label": "true_positive"}
	}

	tests := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         any
		valid        bool
	}{
		{"a key", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, validKey(), true},
		{"a used process key", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader,
			with(with(with(with(validKey(), "processId", id), "level", "process"), "lastUsedAt", "2026-03-02T00:00:00Z"), "lastUsedFrom", "2001:db8::7"), true},
		{"a key showing its secret after creation", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, with(validKey(), "key", key), false},
		{"a key with an undocumented field", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, with(validKey(), "secretHash", "x"), false},
		{"a key without lastUsedAt", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, without(validKey(), "lastUsedAt"), false},
		{"a key without lastUsedFrom", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, without(validKey(), "lastUsedFrom"), false},
		{"a key's usage", "GET", "/api/v1/admin/api-keys/" + id + "/usage", 200, jsonHeader, validUsage(), true},
		{"a key's usage without its range", "GET", "/api/v1/admin/api-keys/" + id + "/usage", 200, jsonHeader, without(validUsage(), "to"), false},
		{"a key's usage with a negative count", "GET", "/api/v1/processes/" + id + "/api-keys/" + id + "/usage", 200, jsonHeader,
			with(validUsage(), "usage", []any{map[string]any{"hour": "2026-12-01T13:00:00Z", "succeeded": 40, "failed": -2}}), false},
		{"a key with a deleted status", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, with(validKey(), "status", "Deleted"), false},
		{"a key with an unknown creator type", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, with(validKey(), "createdBy", map[string]any{"type": ""}), false},
		{"a key with a sequential ID", "GET", "/api/v1/admin/api-keys/" + id, 200, jsonHeader, with(validKey(), "id", "42"), false},
		{"a created key", "POST", "/api/v1/admin/api-keys", 201, createdHeader, with(validKey(), "key", key), true},
		{"a created key without its secret", "POST", "/api/v1/admin/api-keys", 201, createdHeader, validKey(), false},
		{"a created key that may be cached", "POST", "/api/v1/admin/api-keys", 201,
			http.Header{"Content-Type": {"application/json"}, "Location": {"/x"}}, with(validKey(), "key", key), false},
		{"a 401", "GET", "/api/v1/me", 401, problemHeader, validProblem(), true},
		{"a 401 without a challenge", "GET", "/api/v1/me", 401,
			http.Header{"Content-Type": {"application/problem+json"}, "Cache-Control": {"no-store"}}, validProblem(), false},
		{"a 401 as plain JSON", "GET", "/api/v1/me", 401,
			http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Www-Authenticate": {`Basic realm="keywarden"`}}, validProblem(), false},
		{"a problem without errors", "GET", "/api/v1/me", 401, problemHeader, without(validProblem(), "errors"), false},
		{"a problem with another status", "GET", "/api/v1/me", 401, problemHeader, with(validProblem(), "status", 400), false},
		{"an undocumented status", "GET", "/api/v1/me", 418, problemHeader, validProblem(), false},
		{"a list without pagination", "GET", "/api/v1/processes", 200, jsonHeader, map[string]any{"processes": []any{}}, false},
		{"a leak verdict", "POST", "/api/v1/keys/revoke-leaked", 200, noStoreHeader, []any{validVerdict()}, true},
		{"a leak verdict with the raw token", "POST", "/api/v1/keys/revoke-leaked", 200, noStoreHeader, []any{with(validVerdict(), "token_raw", key)}, false},
		{"a leak verdict with another label", "POST", "/api/v1/keys/revoke-leaked", 200, noStoreHeader, []any{with(validVerdict(), "label", "revoked")}, false},
		{"a leak verdict that may be cached", "POST", "/api/v1/keys/revoke-leaked", 200, jsonHeader, []any{validVerdict()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAgainstDocument(t, router, tt.method, tt.path, tt.status, tt.header, tt.body, tt.valid)
		})
	}
}

// checkAgainstDocument validates a made-up response to method path against
// the OpenAPI document: valid says whether the document must accept it.
func checkAgainstDocument(t *testing.T, router routers.Router, method, path string, status int, header http.Header, v any, valid bool) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	err = openapi3filter.ValidateResponse(context.Background(), in)
	if valid && err != nil {
		t.Errorf("a conforming response was rejected: %v", err)
	}
	if !valid && err == nil {
		t.Errorf("the document accepts it")
	}
}
