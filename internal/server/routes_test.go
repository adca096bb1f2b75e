package server

import (
	"github.com/keywarden/keywarden"
	"strings"
	"testing"
)

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
	"POST /api/v1/keys/verify": "answers only the holder of the key in the body, with one code for unknown and wrong keys",
	"/api/v1/auth/forward":     "answers a gateway about the client's own Authorization header",
}

// TestRoutesDeclareAccess enforces deny by default: every /api/v1 route
// requires credentials and a scope, except the documented any-key routes,
// and nothing under /api/v1 is public.
func TestRoutesDeclareAccess(t *testing.T) {
	s := &server{}
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		if seen[rt.pattern] {
			t.Errorf("route %q is registered twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.handle == nil {
			t.Errorf("route %q has no handler", rt.pattern)
		}
		path := rt.pattern[strings.LastIndexByte(rt.pattern, ' ')+1:]
		if !strings.HasPrefix(path, "/api/v1/") {
			checkConsoleRoute(t, rt)
			continue
		}
		a := rt.access
		switch {
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
	for _, rt := range (&server{}).routes() {
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

func TestSafePathRedactsKeys(t *testing.T) {
	km, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/api/v1/me":                        "/api/v1/me",
		"/api/v1/processes/abc:def":         "/api/v1/processes/abc:def",
		"/api/v1/" + km.Value():             "/api/v1/[REDACTED]",
		"/api/v1/" + km.Value() + "/x":      "/api/v1/[REDACTED]/x",
		"/api/v1/" + km.Value()[:60] + "XX": "/api/v1/[REDACTED]",
		"/api/v1/" + km.User + ":":          "/api/v1/[REDACTED]",
	} {
		if got := safePath(in); got != want {
			t.Errorf("safePath(%q) = %q, want %q", in, got, want)
		}
	}
}
