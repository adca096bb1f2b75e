package routetable

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// serveMux is how Match used to answer, and what it must keep answering:
// ServeMux itself, handed a request for the original method and URI.
type serveMux struct {
	mux       *http.ServeMux
	unmatched *Route
}

func newServeMux(t *Table) *serveMux {
	m := &serveMux{mux: http.NewServeMux(), unmatched: t.unmatched}
	for i := range t.routes {
		m.mux.Handle(t.routes[i].Pattern, routeHandler{&t.routes[i]})
	}
	return m
}

func (m *serveMux) match(method, uri string) (Match, bool) {
	if !strings.HasPrefix(uri, "/") || method == "" {
		return Match{}, false
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || !cleanAsServeMux(u.Path) || !cleanAsServeMux(u.EscapedPath()) {
		return Match{}, false
	}
	w := &recorder{}
	m.mux.ServeHTTP(w, &http.Request{Method: method, URL: u})
	switch {
	case w.route != nil:
		return Match{Route: w.route, ProcessID: w.processID}, true
	case w.status != http.StatusNotFound && w.status != http.StatusMethodNotAllowed:
		return Match{}, false // a redirect
	case m.unmatched != nil:
		return Match{Route: m.unmatched}, true
	}
	return Match{}, false
}

// cleanAsServeMux reports whether ServeMux's path cleaning leaves p as is.
func cleanAsServeMux(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// routeHandler tells serveMux.match which route matched.
type routeHandler struct{ route *Route }

func (h routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := w.(*recorder)
	rec.route = h.route
	if h.route.ProcessWildcard != "" {
		rec.processID = r.PathValue(h.route.ProcessWildcard)
	}
}

// recorder is the ResponseWriter of one serveMux.match: ServeMux's own
// answers (not found, method not allowed, redirect) write their status.
type recorder struct {
	route     *Route
	processID string
	status    int
	header    http.Header
}

func (w *recorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// edgeTable has the patterns whose matching is least obvious: {$}, a
// subtree under a more specific route, escaped literals (one that
// unescapes to "/"), backtracking from a literal to a wildcard, HEAD next
// to GET, a remainder, the root subtree, and a wildcard before a trailing
// slash.
const edgeTable = `unmatched: %s
routes:
  - route: GET /x/{$}
    anyKey: true
  - route: GET /x/a
    anyKey: true
  - route: GET /t/
    anyKey: true
  - route: GET /t/{processId}/z
    anyKey: true
    process: processId
  - route: GET /e/a%20b
    anyKey: true
  - route: GET /e/%2F
    anyKey: true
  - route: GET /e/caf%C3%A9
    anyKey: true
  - route: POST /a/b/z
    anyKey: true
  - route: POST /a/{processId}/c
    anyKey: true
    process: processId
  - route: HEAD /h/{processId}
    anyKey: true
    process: processId
  - route: GET /h/{id}
    anyKey: true
  - route: GET /r/{processId}/{rest...}
    anyKey: true
    process: processId
  - route: PUT /
    anyKey: true
  - route: DELETE /d/{a}/{processId}/
    anyKey: true
    process: processId
  - route: PATCH /p/{processId}/{$}
    anyKey: true
    process: processId
  - route: OPTIONS /o/(x)/!*
    anyKey: true
`

func mustParse(tb testing.TB, yaml string) *Table {
	tb.Helper()
	t, err := Parse("routes.yaml", []byte(yaml), keywarden.MustDefaultCatalogue())
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return t
}

// TestMatchEdgeCases pins what the edge cases match, and that ServeMux
// agrees.
func TestMatchEdgeCases(t *testing.T) {
	const noMatch, unmatched = "(no match)", "(unmatched)"
	tests := []struct {
		method, uri string
		want        string // the pattern, noMatch or unmatched
		process     string
	}{
		{"GET", "/x/", "GET /x/{$}", ""},
		{"GET", "/x", noMatch, ""}, // ServeMux redirects to /x/
		{"GET", "/x/b", unmatched, ""},
		{"GET", "/x/a", "GET /x/a", ""},
		{"GET", "/x/a/", unmatched, ""},
		{"GET", "/t/", "GET /t/", ""},
		{"GET", "/t", noMatch, ""},
		{"GET", "/t/p1/z", "GET /t/{processId}/z", "p1"},
		{"GET", "/t/p1/z/", "GET /t/", ""},
		{"GET", "/t/p1/y", "GET /t/", ""},
		{"GET", "/t/p%2F1/z", "GET /t/{processId}/z", "p/1"},
		{"GET", "/t/p%zz/z", noMatch, ""}, // bad escape
		{"GET", "/e/a%20b", "GET /e/a%20b", ""},
		{"GET", "/e/a b", "GET /e/a%20b", ""}, // raw space: escaped anew
		{"GET", "/e/a%2520b", unmatched, ""},
		{"GET", "/e/%2F", noMatch, ""},   // decoded, an empty segment
		{"GET", "/e/", "GET /e/%2F", ""}, // the trailing slash is the segment "/"
		{"GET", "/e/caf%C3%A9", "GET /e/caf%C3%A9", ""},
		{"GET", "/e/caf\u00e9", "GET /e/caf%C3%A9", ""},
		{"GET", "/e/caf%c3%a9", "GET /e/caf%C3%A9", ""},
		{"POST", "/a/b/z", "POST /a/b/z", ""},
		{"POST", "/a/b/c", "POST /a/{processId}/c", "b"}, // backtracks from b to {processId}
		{"POST", "/a/q/c", "POST /a/{processId}/c", "q"},
		{"POST", "/a/b/y", unmatched, ""},
		{"HEAD", "/h/p1", "HEAD /h/{processId}", "p1"},
		{"GET", "/h/p1", "GET /h/{id}", ""},
		{"POST", "/h/p1", unmatched, ""},
		{"GET", "/r/p1/a/b", "GET /r/{processId}/{rest...}", "p1"},
		{"GET", "/r/p1/", "GET /r/{processId}/{rest...}", "p1"},
		{"GET", "/r/p1", noMatch, ""}, // ServeMux redirects to /r/p1/
		{"HEAD", "/r/p1/a", "GET /r/{processId}/{rest...}", "p1"},
		{"PUT", "/", "PUT /", ""},
		{"PUT", "/any/thing", "PUT /", ""},
		{"PUT", "/any/thing/", "PUT /", ""},
		{"DELETE", "/d/a/p1/", "DELETE /d/{a}/{processId}/", "p1"},
		{"DELETE", "/d/a/p1/more", "DELETE /d/{a}/{processId}/", "p1"},
		{"DELETE", "/d/a/p1", noMatch, ""},
		{"DELETE", "/d/a", unmatched, ""},
		{"PATCH", "/p/p1/", "PATCH /p/{processId}/{$}", "p1"},
		{"PATCH", "/p/p1", noMatch, ""},
		{"PATCH", "/p/p1/x", unmatched, ""},
		{"OPTIONS", "/o/(x)/!*", "OPTIONS /o/(x)/!*", ""},
		{"OPTIONS", "/o/%28x%29/%21%2A", "OPTIONS /o/(x)/!*", ""},
		{"CONNECT", "/x/a", unmatched, ""},
		{"GET", "/x/a?", "GET /x/a", ""},
		{"GET", "/x/a??b", "GET /x/a", ""},
		{"GET", "/x/a#frag", unmatched, ""}, // a request target has no fragment: "#frag" is part of the path
		{"GET", "/x/%2e%2e/a", noMatch, ""},
		{"GET", "/x/a\x7f", noMatch, ""},
		{"GET", "/x/a?\x01", noMatch, ""},
	}
	for _, unm := range []string{"deny", "authenticate"} {
		table := mustParse(t, strings.Replace(edgeTable, "%s", unm, 1))
		mux := newServeMux(table)
		for _, tt := range tests {
			t.Run(unm+"/"+tt.method+" "+tt.uri, func(t *testing.T) {
				m, ok := table.Match(tt.method, tt.uri)
				want := tt.want
				if want == unmatched && unm == "deny" {
					want = noMatch
				}
				got := noMatch
				switch {
				case ok && m.Route.Pattern == "":
					got = unmatched
				case ok:
					got = m.Route.Pattern
				}
				if got != want || m.ProcessID != tt.process {
					t.Errorf("Match(%q, %q) = %s, process %q; want %s, %q", tt.method, tt.uri, got, m.ProcessID, want, tt.process)
				}
				if mm, mok := mux.match(tt.method, tt.uri); mm != m || mok != ok {
					t.Errorf("Match(%q, %q) = %+v, %v; ServeMux says %+v, %v", tt.method, tt.uri, m, ok, mm, mok)
				}
			})
		}
	}
}

// TestMatchAllocations: a match allocates nothing unless the path is
// percent-encoded (its unescaped segments are new strings).
func TestMatchAllocations(t *testing.T) {
	table := mustParse(t, strings.Replace(edgeTable, "%s", "authenticate", 1))
	for _, tt := range []struct{ method, uri string }{
		{"POST", "/a/b/c?x=1"},   // backtracking, a process ID
		{"GET", "/r/p1/a/b"},     // a remainder
		{"GET", "/t/p1/y"},       // a subtree, after a redirect probe
		{"GET", "/t"},            // a redirect
		{"DELETE", "/nothing/x"}, // unmatched
		{"GET", "/x/../a"},       // unclean
	} {
		if n := testing.AllocsPerRun(100, func() { table.Match(tt.method, tt.uri) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times, want 0", tt.method, tt.uri, n)
		}
	}
}

// FuzzMatch checks Match against ServeMux on tables of fuzzed patterns:
// the same route, the same process ID, the same refusals.
func FuzzMatch(f *testing.F) {
	for _, seed := range []struct{ patterns, method, uri string }{
		{"GET /a/{x}\nGET /a/b", "GET", "/a/b"},
		{"GET /a/{x}/\nGET /a/b/{$}", "GET", "/a/b"},
		{"GET /a/\nPOST /a/{x...}", "HEAD", "/a/b/c"},
		{"GET /a%2Fb/{x}\nGET /{y}/c", "GET", "/a%2Fb/c"},
		{"GET /a/b/z\nGET /a/{x}/c", "GET", "/a/b/c"},
		{"GET /{x}/{y}/\nGET /{x}/b/{$}", "GET", "/a/b"},
		{"PUT /%7Bx%7D/{y}", "PUT", "/%7Bx%7D/%7By%7D"},
		{"GET /\xff/{x}", "GET", "/%FF/a"},
		{"DELETE /{x}", "DELETE", "/a%20b c"},
		{"GET /e/%2F", "GET", "/e/"},
		{"HEAD /h/{x}\nGET /h/{y}/", "HEAD", "/h/a/"},
	} {
		f.Add(seed.patterns, seed.method, seed.uri)
	}
	c := keywarden.MustDefaultCatalogue()
	f.Fuzz(func(t *testing.T, patterns, method, uri string) {
		if strings.HasPrefix(uri, "/") && isClean(uri) != cleanAsServeMux(uri) {
			t.Fatalf("isClean(%q) = %v, ServeMux's cleaning says %v", uri, isClean(uri), cleanAsServeMux(uri))
		}
		var yaml strings.Builder
		yaml.WriteString("unmatched: authenticate\nroutes:\n")
		var paths []string
		for p := range strings.SplitSeq(patterns, "\n") {
			yaml.WriteString("  - route: " + quoteYAML(p) + "\n    anyKey: true\n")
			_, path, _ := strings.Cut(p, " ")
			paths = append(paths, path)
			// The first single wildcard, if any, carries the process ID.
			if single, _ := wildcardsOf(p); len(single) > 0 {
				yaml.WriteString("    process: " + quoteYAML(single[0]) + "\n")
			}
		}
		table, err := Parse("routes.yaml", []byte(yaml.String()), c)
		if err != nil {
			return
		}
		mux := newServeMux(table)
		uris := []string{uri, uri + "/", strings.TrimSuffix(uri, "/")}
		for _, p := range paths {
			uris = append(uris, p, strings.NewReplacer("{", "", "}", "", "$", "", ".", "").Replace(p))
		}
		for _, m := range []string{method, "GET", "HEAD", "POST"} {
			for _, u := range uris {
				got, ok := table.Match(m, u)
				want, wok := mux.match(m, u)
				if got != want || ok != wok {
					t.Fatalf("table\n%s\nMatch(%q, %q) = %+v, %v; ServeMux says %+v, %v", yaml.String(), m, u, got, ok, want, wok)
				}
			}
		}
	})
}

// quoteYAML quotes s as a YAML double-quoted string.
func quoteYAML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestLiteralPathsNeedNoEscaping: the paths gateways send pass
// literalPath, and for random paths of the bytes it passes, the shortcut
// answers as the full decode-and-escape does (FuzzMatch and the edge cases
// hold Match, either way, to ServeMux).
func TestLiteralPathsNeedNoEscaping(t *testing.T) {
	for _, uri := range []string{"/v1/processes/39525f060b62a1412b82ab5f910e8884/files", "/v1/things?x=1", "/a/b/", "/"} {
		if raw, _, _ := strings.Cut(uri, "?"); !literalPath(raw) {
			t.Errorf("literalPath(%q) = false", raw)
		}
	}
	alphabet := []byte("aZ9/._~-!$&'()*+,;=:@[]")
	rnd := rand.New(rand.NewPCG(5, 14))
	for range 200000 {
		b := []byte{'/'}
		for range rnd.IntN(12) {
			b = append(b, alphabet[rnd.IntN(len(alphabet))])
		}
		raw := string(b)
		if !literalPath(raw) {
			t.Fatalf("literalPath(%q) = false", raw)
		}
		gotPath, gotOK := requestPath(raw)
		wantPath, wantOK := escapedPath(raw)
		if gotPath != wantPath || gotOK != wantOK {
			t.Fatalf("requestPath(%q) = %q, %v; decoded and escaped: %q, %v", raw, gotPath, gotOK, wantPath, wantOK)
		}
	}
}
