package server

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
)

// everyRoute is the route table with every optional route switched on:
// the whole surface a handler can serve.
func everyRoute() []route {
	return (&server{Config: Config{ServeMetrics: true, Metrics: metrics.New()}}).routes()
}

// publicAPIRoutes are the /api/v1 routes that need only a valid key, with no
// particular scope. Adding to this list is a security decision: say why.
var publicAPIRoutes = map[string]string{
	"GET /api/v1/scopes": "the catalogue is the same for everyone and holds no tenant data",
	"GET /api/v1/me":     "describes the calling key to itself",
}

// keyCheckingRoutes are the /api/v1 routes whose callers bring no credential
// of their own, because the key they ask about is the proof. Adding to this
// list is a security decision: say why.
var keyCheckingRoutes = map[string]string{
	"POST /api/v1/keys/verify":        "answers only the holder of the key in the body, with one code for unknown and wrong keys",
	"/api/v1/auth/forward":            "answers a gateway about the client's own Authorization header",
	"POST /api/v1/keys/revoke-leaked": "the full key in the body proves it compromised; it revokes only that key and answers a wrong secret like an unknown ID",
}

// TestRoutesDeclareAccess enforces deny by default: every /api/v1 route
// requires credentials and a scope, except the documented any-key routes
// and the catch-all, and nothing under /api/v1 is public.
func TestRoutesDeclareAccess(t *testing.T) {
	seen := map[string]bool{}
	for _, rt := range everyRoute() {
		if seen[rt.pattern] {
			t.Errorf("route %q is registered twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.handle == nil {
			t.Errorf("route %q has no handler", rt.pattern)
		}
		path := rt.pattern[strings.LastIndexByte(rt.pattern, ' ')+1:]
		if rt.pattern == "/" {
			if rt.access != fallback() {
				t.Errorf("route %q, the site's catch-all, declares %+v, want the fallback and nothing else", rt.pattern, rt.access)
			}
			continue
		}
		if !strings.HasPrefix(path, "/api/v1/") {
			checkConsoleRoute(t, rt)
			continue
		}
		a := rt.access
		switch {
		case a.fallback != (rt.pattern == "/api/v1/"):
			t.Errorf("API route %q: fallback = %v, but only the /api/v1/ catch-all is the fallback", rt.pattern, a.fallback)
		case a.fallback && (a.anyKey || a.scope != "" || a.public || a.checksKey):
			t.Errorf("API route %q is the fallback and declares other access too", rt.pattern)
		case a.fallback:
		case a.checksKey != (keyCheckingRoutes[rt.pattern] != ""):
			t.Errorf("API route %q: checks the key it is given = %v, listed in keyCheckingRoutes = %v", rt.pattern, a.checksKey, keyCheckingRoutes[rt.pattern] != "")
		case a.checksKey && (a.anyKey || a.scope != "" || a.public):
			t.Errorf("API route %q checks the key it is given and declares other access too", rt.pattern)
		case a.checksKey:
		case a.public:
			t.Errorf("API route %q is public: every API route needs credentials", rt.pattern)
		case a.anyKey && a.scope != "":
			t.Errorf("API route %q is both any-key and scoped", rt.pattern)
		case a.anyKey && publicAPIRoutes[rt.pattern] == "":
			t.Errorf("API route %q accepts any key without a scope and is not in publicAPIRoutes", rt.pattern)
		case !a.anyKey && a.scope == "":
			t.Errorf("API route %q declares no scope", rt.pattern)
		case a.console:
			t.Errorf("API route %q is marked as a console page", rt.pattern)
		}
	}
	for p := range keyCheckingRoutes {
		if !seen[p] {
			t.Errorf("keyCheckingRoutes lists %q, which is not a route", p)
		}
	}
	for p := range publicAPIRoutes {
		if !seen[p] {
			t.Errorf("publicAPIRoutes lists %q, which is not a route", p)
		}
	}
}

// TestAdminRoutesAreOrgLevel checks that nothing under /admin is reachable by
// a process key, whatever scopes it holds.
func TestAdminRoutesAreOrgLevel(t *testing.T) {
	for _, rt := range everyRoute() {
		if strings.Contains(rt.pattern, "/api/v1/admin/") && !rt.access.orgLevel {
			t.Errorf("admin route %q is not organization-level", rt.pattern)
		}
	}
}

// publicPages are the routes reachable without signing in. Adding to this
// list is a security decision: say why.
var publicPages = map[string]string{
	"GET /healthz":       "liveness probe",
	"GET /readyz":        "readiness probe",
	"GET /metrics":       "Prometheus scrapes without credentials; counts by route pattern, no key, tenant or path",
	"GET /static/{name}": "content-hashed CSS and JavaScript",
	"GET /setup":         "first run; guarded by the one-time token",
	"POST /setup":        "first run; guarded by the one-time token",
	"GET /sign-in":       "signing in",
	"POST /sign-in":      "signing in; throttled",
	"GET /invite":        "accepting an invitation; guarded by its token",
	"POST /invite":       "accepting an invitation; guarded by its token",
}

// checkConsoleRoute enforces deny by default outside the API: every route
// is a console page that needs a session, unless it is listed in
// publicPages; and a page for one process declares the scope it needs there.
func checkConsoleRoute(t *testing.T, rt route) {
	t.Helper()
	a := rt.access
	open := a.public || a.anonymous
	if open != (publicPages[rt.pattern] != "") {
		t.Errorf("route %q: reachable without a session = %v, listed in publicPages = %v", rt.pattern, open, publicPages[rt.pattern] != "")
	}
	if !a.public && !a.console {
		t.Errorf("route %q outside the API is not a console page", rt.pattern)
	}
	if strings.Contains(rt.pattern, "{processId}") && a.scope == "" && !a.admin {
		t.Errorf("process page %q declares neither a scope nor admin", rt.pattern)
	}
}

// TestRequestsWithoutCredentials sends every route of the table a request
// without credentials and checks the answer against the access the route
// declares: only the routes declared open answer; an API route answers 401,
// a key-checking route refuses the key it was not given, a console page
// sends the browser to sign in, and the catch-all answers 404 or 405.
func TestRequestsWithoutCredentials(t *testing.T) {
	db := sqlitetest.MustOpen(t)
	cfg := Config{Store: db, ServeMetrics: true, Metrics: metrics.New()}
	h := NewHandler(cfg)
	wildcard := regexp.MustCompile(`\{[^}$]+\}`)
	for _, rt := range (&server{Config: cfg}).routes() {
		method, path, found := strings.Cut(rt.pattern, " ")
		if !found {
			method, path = http.MethodGet, rt.pattern // any method
		}
		path = wildcard.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), strings.Repeat("a", 32))
		if rt.access.fallback {
			path += "no-such-route" // "/" itself is the dashboard
		}
		t.Run(rt.pattern, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
			res := w.Result()
			toSignIn := res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/sign-in")
			problem := res.Header.Get("Content-Type") == "application/problem+json"
			a := rt.access
			switch {
			case a.fallback:
				if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed || !problem {
					t.Errorf("%s %s: %d %s, want a 404 or 405 problem", method, path, res.StatusCode, res.Header.Get("Content-Type"))
				}
			case a.public || a.console && a.anonymous:
				if res.StatusCode == http.StatusUnauthorized || toSignIn || res.StatusCode >= 500 {
					t.Errorf("%s %s, declared open: %d %s", method, path, res.StatusCode, res.Header.Get("Location"))
				}
			case a.console:
				if !toSignIn {
					t.Errorf("%s %s: %d, want 303 to /sign-in", method, path, res.StatusCode)
				}
			case a.checksKey:
				if res.StatusCode < 400 || res.StatusCode >= 500 || !problem {
					t.Errorf("%s %s without a key to check: %d %s, want a 4xx problem", method, path, res.StatusCode, res.Header.Get("Content-Type"))
				}
			default: // a key, with or without a scope
				if res.StatusCode != http.StatusUnauthorized || !problem || res.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: %d %s, want a 401 problem with WWW-Authenticate", method, path, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}
		})
	}
}

// TestNewHandlerRefusesUndeclaredAccess: a route whose access is missing or
// contradicts itself stops the handler from being built, naming the route.
func TestNewHandlerRefusesUndeclaredAccess(t *testing.T) {
	h := func(http.ResponseWriter, *http.Request) error { return nil }
	for name, rt := range map[string]route{
		"no access":                    {"GET /api/v1/things", access{}, h},
		"organization-level only":      {"GET /api/v1/things", access{orgLevel: true}, h},
		"public API route":             {"GET /api/v1/things", public(), h},
		"API route marked as a page":   {"GET /api/v1/things", memberPage(), h},
		"any key and a scope":          {"GET /api/v1/things", access{anyKey: true, scope: keywarden.ScopeProcessRead}, h},
		"checks the key and any key":   {"POST /api/v1/things", access{checksKey: true, anyKey: true}, h},
		"admin without the console":    {"GET /api/v1/things", access{anyKey: true, admin: true}, h},
		"page without the console":     {"GET /things", anyKey(), h},
		"scoped page without console":  {"GET /processes/{processId}/things", scope(keywarden.ScopeProcessRead), h},
		"anonymous page for admins":    {"GET /things", access{console: true, anonymous: true, admin: true}, h},
		"organization-level page":      {"GET /things", access{console: true, orgLevel: true}, h},
		"fallback outside the API":     {"/things/", fallback(), h},
		"fallback for one path":        {"GET /api/v1/things", fallback(), h},
		"no handler":                   {"GET /api/v1/things", anyKey(), nil},
		"scope the catalogue lacks":    {"GET /api/v1/things", scope("workspace.thing:frobnicate"), h},
		"console page, no access kind": {"GET /things", access{admin: true}, h},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "server: route "+rt.pattern+" ") {
					t.Errorf("building a handler with %s: panic %q, want one naming the route", rt.pattern, msg)
				}
			}()
			s := &server{Config: Config{Catalogue: keywarden.MustDefaultCatalogue()}}
			s.newMux(append(everyRoute(), rt))
		})
	}
	// The real table builds.
	(&server{Config: Config{Catalogue: keywarden.MustDefaultCatalogue()}}).newMux(everyRoute())
}

// TestSafePathIsSegmentBySegment: safePath says what splitting the path
// at every slash, redacting each secret-like segment and joining again
// says, for paths made of key-like, colon, base62, empty and plain
// segments; and a long path with nothing to redact costs no allocation.
func TestSafePathIsSegmentBySegment(t *testing.T) {
	km, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	reference := func(p string) string {
		if len(p) < secretRun && !strings.Contains(p, ":") {
			return p
		}
		segments := strings.Split(p, "/")
		for i, seg := range segments {
			if secretSegment(seg) {
				segments[i] = redacted
			}
		}
		return strings.Join(segments, "/")
	}
	parts := []string{"", "api", "v1", "me", "0123456789abcdef0123456789abcdef", "abc:def", km.Value(), km.User + ":",
		km.Secret, km.Pass(), km.Value()[:50], strings.Repeat("a", secretRun-1), strings.Repeat("Z9", 30), "files", ":", "x:y:z"}
	rnd := rand.New(rand.NewPCG(3, 12))
	for range 20000 {
		var b strings.Builder
		for range rnd.IntN(7) {
			if rnd.IntN(4) > 0 {
				b.WriteByte('/')
			}
			b.WriteString(parts[rnd.IntN(len(parts))])
		}
		if p := b.String(); safePath(p) != reference(p) {
			t.Fatalf("safePath(%q) = %q, split and joined %q", p, safePath(p), reference(p))
		}
	}
	clean := "/v1/processes/39525f060b62a1412b82ab5f910e8884/files/0123456789abcdef0123456789abcdef"
	if n := testing.AllocsPerRun(100, func() { _ = safePath(clean) }); n != 0 {
		t.Errorf("safePath of a path with nothing to redact allocates %v times", n)
	}
}

func TestSafePathRedactsKeys(t *testing.T) {
	km, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/api/v1/me":                                                  "/api/v1/me",
		"/api/v1/processes/abc:def":                                   "/api/v1/processes/abc:def",
		"/api/v1/" + km.Value():                                       "/api/v1/[REDACTED]",
		"/api/v1/" + km.Value() + "/x":                                "/api/v1/[REDACTED]/x",
		"/api/v1/" + km.Value()[:60] + "XX":                           "/api/v1/[REDACTED]",
		"/api/v1/" + km.User + ":":                                    "/api/v1/[REDACTED]",
		"/api/v1/processes/" + km.Secret:                              "/api/v1/processes/[REDACTED]",
		"/v1/x/" + km.Pass() + "/files":                               "/v1/x/[REDACTED]/files",
		"/api/v1/processes/0123456789abcdef0123456789abcdef/api-keys": "/api/v1/processes/0123456789abcdef0123456789abcdef/api-keys",
	} {
		if got := safePath(in); got != want {
			t.Errorf("safePath(%q) = %q, want %q", in, got, want)
		}
	}
}
