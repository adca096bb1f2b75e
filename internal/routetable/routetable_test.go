package routetable_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/routetable"
)

// MustParse parses a route table named routes.yaml or fails the test.
func MustParse(tb testing.TB, yaml string) *routetable.Table {
	tb.Helper()
	t, err := routetable.Parse("routes.yaml", []byte(yaml), keywarden.MustDefaultCatalogue())
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return t
}

// at is one expected error: its line and a part of its message.
type at struct {
	line int
	msg  string
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []at // in order; 0 as line means the message has none
	}{
		{
			name: "unknown top-level key",
			yaml: `unmatched: deny
rutes: []
routes:
  - route: GET /v1/me
    anyKey: true
`,
			want: []at{{2, `unknown key "rutes" (want one of unmatched, routes)`}},
		},
		{
			name: "unknown route key",
			yaml: `routes:
  - route: POST /v1/files
    scope: [workspace.file:upload]
`,
			want: []at{
				{2, `route "POST /v1/files" needs one of scopes: [...], anyKey: true or public: true`},
				{3, `unknown key "scope" (want one of route, scopes, process, anyKey, public)`},
			},
		},
		{
			name: "route missing",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
  - scopes: [workspace.file:upload]
`,
			want: []at{{4, `route is missing`}},
		},
		{
			name: "route not a string",
			yaml: `routes:
  - route: [GET, /v1/me]
    anyKey: true
`,
			want: []at{{2, `route must be a string, not a list`}},
		},
		{
			name: "method not allowed",
			yaml: `routes:
  - route: FETCH /v1/me
    anyKey: true
`,
			want: []at{{2, `route "FETCH /v1/me": method "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`}},
		},
		{
			name: "method in lower case",
			yaml: `routes:
  - route: get /v1/me
    anyKey: true
`,
			want: []at{{2, `method "get" is not one of`}},
		},
		{
			name: "method missing",
			yaml: `routes:
  - route: /v1/me
    anyKey: true
`,
			want: []at{{2, `route "/v1/me" must be "METHOD /path"`}},
		},
		{
			name: "path without leading slash",
			yaml: `routes:
  - route: GET v1/me
    anyKey: true
`,
			want: []at{{2, `route "GET v1/me": the path must follow the method after one space and start with "/" (no host part)`}},
		},
		{
			name: "host in pattern",
			yaml: `routes:
  - route: GET api.example.com/v1/me
    anyKey: true
`,
			want: []at{{2, `route "GET api.example.com/v1/me": the path must follow the method after one space and start with "/"`}},
		},
		{
			name: "pattern ServeMux rejects",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
  - route: GET /a/{b
    anyKey: true
`,
			want: []at{{4, `bad pattern "GET /a/{b": at offset`}},
		},
		{
			name: "unclean pattern ServeMux rejects",
			yaml: `routes:
  - route: GET /a/../b
    anyKey: true
`,
			want: []at{{2, `bad pattern "GET /a/../b": at offset 4: non-CONNECT pattern with unclean path can never match`}},
		},
		{
			name: "conflicting patterns",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
  - route: GET /a/{x}
    anyKey: true
  - route: GET /{y}/b
    anyKey: true
`,
			want: []at{{6, `conflicting pattern "GET /{y}/b": it conflicts with "GET /a/{x}" at line 4: GET /{y}/b and GET /a/{x} both match some paths, like "/a/b".`}},
		},
		{
			name: "equivalent patterns",
			yaml: `routes:
  - route: GET /p/{a}
    anyKey: true
  - route: GET /p/{b}
    public: true
`,
			want: []at{{4, `conflicting pattern "GET /p/{b}": it conflicts with "GET /p/{a}" at line 2: GET /p/{b} matches the same requests as GET /p/{a}`}},
		},
		{
			name: "conflict with a route that has another problem",
			yaml: `routes:
  - route: GET /p/{a}
    scopes: [nope.x:y]
  - route: GET /p/{b}
    public: true
`,
			want: []at{
				{3, `unknown scope "nope.x:y"`},
				{4, `conflicting pattern "GET /p/{b}": it conflicts with "GET /p/{a}" at line 2`},
			},
		},
		{
			name: "duplicate pattern",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
  - route: GET /v1/me
    public: true
`,
			want: []at{{4, `duplicate route "GET /v1/me" (also at line 2)`}},
		},
		{
			name: "unknown scope at its own line",
			yaml: `routes:
  - route: POST /v1/files
    scopes:
      - workspace.file:upload
      - workspace.file:uplod
`,
			want: []at{{5, `unknown scope "workspace.file:uplod"`}},
		},
		{
			name: "scope listed twice",
			yaml: `routes:
  - route: POST /v1/files
    scopes:
      - workspace.file:upload
      - workspace.file:upload
`,
			want: []at{{5, `scope "workspace.file:upload" is listed twice (first at line 4)`}},
		},
		{
			name: "scope not a string",
			yaml: `routes:
  - route: POST /v1/files
    scopes: [[workspace.file:upload]]
`,
			want: []at{{3, `a scope must be a string, not a list`}},
		},
		{
			name: "scopes not a list",
			yaml: `routes:
  - route: POST /v1/files
    scopes: workspace.file:upload
`,
			want: []at{{3, `scopes must be a list of scope names, e.g. [workspace.file:upload], not "workspace.file:upload"`}},
		},
		{
			name: "empty scopes",
			yaml: `routes:
  - route: POST /v1/files
    scopes: []
`,
			want: []at{{3, `scopes is empty; write anyKey: true for a route any valid key may call`}},
		},
		{
			name: "null scopes",
			yaml: `routes:
  - route: POST /v1/files
    scopes:
`,
			want: []at{{3, `scopes is empty`}},
		},
		{
			name: "scopes and anyKey",
			yaml: `routes:
  - route: POST /v1/files
    scopes: [workspace.file:upload]
    anyKey: true
`,
			want: []at{{2, `route "POST /v1/files" has scopes and anyKey: true; give exactly one of scopes, anyKey: true or public: true`}},
		},
		{
			name: "anyKey and public",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
    public: true
`,
			want: []at{{2, `has anyKey: true and public: true`}},
		},
		{
			name: "neither scopes nor anyKey nor public",
			yaml: `routes:
  - route: GET /v1/me
`,
			want: []at{{2, `route "GET /v1/me" needs one of scopes: [...], anyKey: true or public: true`}},
		},
		{
			name: "anyKey false counts as neither",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: false
`,
			want: []at{{2, `needs one of`}},
		},
		{
			name: "anyKey not a boolean",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: yes
`,
			want: []at{
				{2, `needs one of`},
				{3, `anyKey must be true or false, not "yes"`},
			},
		},
		{
			name: "key given twice",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
    anyKey: true
`,
			want: []at{{4, `anyKey is given twice (first at line 3)`}},
		},
		{
			name: "process names an unknown wildcard",
			yaml: `routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: procId
`,
			want: []at{{4, `process "procId" is not a wildcard of "GET /v1/processes/{processId}/files" (it has {processId})`}},
		},
		{
			name: "process on a route without wildcards",
			yaml: `routes:
  - route: GET /v1/destinations
    scopes: [workspace.destination:read]
    process: processId
`,
			want: []at{{4, `process "processId" is not a wildcard of "GET /v1/destinations" (it has none)`}},
		},
		{
			name: "process names a remainder wildcard",
			yaml: `routes:
  - route: GET /v1/processes/{rest...}
    scopes: [workspace.file:download]
    process: rest
`,
			want: []at{{4, `process "rest" is the remainder wildcard {rest...}, which can span several segments`}},
		},
		{
			name: "process on a public route",
			yaml: `routes:
  - route: GET /v1/processes/{processId}/logo
    public: true
    process: processId
`,
			want: []at{{4, `process on a public route`}},
		},
		{
			name: "empty process",
			yaml: `routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: ""
`,
			want: []at{{4, `process must name a wildcard of the route`}},
		},
		{
			name: "bad unmatched value",
			yaml: `unmatched: allow
routes:
  - route: GET /v1/me
    anyKey: true
`,
			want: []at{{1, `unmatched must be "deny" or "authenticate", not "allow"`}},
		},
		{
			name: "unmatched not a string",
			yaml: `unmatched: [deny]
routes:
  - route: GET /v1/me
    anyKey: true
`,
			want: []at{{1, `unmatched must be "deny" or "authenticate", not a list`}},
		},
		{
			name: "YAML syntax error",
			yaml: `routes:
  - route: GET /v1/me
    scopes: [workspace.file:upload,
`,
			want: []at{{3, `invalid YAML: did not find expected node content`}},
		},
		{
			name: "YAML error without a line",
			yaml: "\troutes: []\n",
			want: []at{{0, `invalid YAML: found character that cannot start any token`}},
		},
		{
			name: "YAML alias",
			yaml: `routes:
  - route: POST /v1/a
    scopes: &upload [workspace.file:upload]
  - route: POST /v1/b
    scopes: *upload
`,
			want: []at{{5, `YAML aliases (*upload) are not supported`}},
		},
		{
			name: "second YAML document",
			yaml: `routes:
  - route: GET /v1/me
    anyKey: true
---
routes: []
`,
			want: []at{{4, `a route table is one YAML document`}},
		},
		{
			name: "empty file",
			yaml: ``,
			want: []at{{1, `no routes: the file is empty`}},
		},
		{
			name: "only comments",
			yaml: "# nothing yet\n",
			want: []at{{1, `no routes: the file is empty`}},
		},
		{
			name: "empty document",
			yaml: "---\n",
			want: []at{{2, `no routes: the file is empty`}},
		},
		{
			name: "no routes key",
			yaml: "unmatched: deny\n",
			want: []at{{1, `no routes: the file needs a routes: list`}},
		},
		{
			name: "empty routes",
			yaml: "routes: []\n",
			want: []at{{1, `no routes: the routes: list is empty`}},
		},
		{
			name: "routes not a list",
			yaml: "routes:\n  route: GET /v1/me\n",
			want: []at{{2, `routes must be a list of routes, not a mapping`}},
		},
		{
			name: "route not a mapping",
			yaml: "routes:\n  - GET /v1/me\n",
			want: []at{{2, `each route must be a mapping`}},
		},
		{
			name: "top level not a mapping",
			yaml: "- route: GET /v1/me\n  anyKey: true\n",
			want: []at{{1, `a route table is a mapping with routes:`}},
		},
		{
			name: "every error of the file, in line order",
			yaml: `unmatched: sometimes
colour: blue
routes:
  - route: GET /a/{x}
    anyKey: true
  - route: GET /{y}/b
    anyKey: true
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.file:uplod]
    process: pid
  - route: GET /v1/me
  - route: get /v1/you
    public: true
`,
			want: []at{
				{1, `unmatched must be "deny" or "authenticate", not "sometimes"`},
				{2, `unknown key "colour"`},
				{6, `conflicting pattern "GET /{y}/b": it conflicts with "GET /a/{x}" at line 4`},
				{9, `unknown scope "workspace.file:uplod"`},
				{10, `process "pid" is not a wildcard`},
				{11, `route "GET /v1/me" needs one of`},
				{12, `method "get" is not one of`},
			},
		},
	}
	c := keywarden.MustDefaultCatalogue()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := routetable.Parse("routes.yaml", []byte(tt.yaml), c)
			if err == nil {
				t.Fatalf("Parse succeeded with %d routes, want errors", len(table.Routes()))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				prefix := "routes.yaml: "
				if w.line > 0 {
					prefix = "routes.yaml:" + strconv.Itoa(w.line) + ": "
				}
				if !strings.HasPrefix(lines[i], prefix) || !strings.Contains(lines[i], w.msg) {
					t.Errorf("error %d is\n\t%s\nwant it to start %q and contain %q", i, lines[i], prefix, w.msg)
				}
			}
		})
	}
}

// TestParseErrorFormat pins the whole message of one error: the format a
// person reads in a failed boot.
func TestParseErrorFormat(t *testing.T) {
	_, err := routetable.Parse("conf/routes.yaml", []byte(`routes:
  - route: POST /v1/files
    scopes: [workspace.file:uplod]
  - route: GET /v1/me
`), keywarden.MustDefaultCatalogue())
	want := `conf/routes.yaml:3: unknown scope "workspace.file:uplod"
conf/routes.yaml:4: route "GET /v1/me" needs one of scopes: [...], anyKey: true or public: true`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error is\n%v\nwant\n%s", err, want)
	}
}

func TestParseNilCatalogue(t *testing.T) {
	if _, err := routetable.Parse("routes.yaml", []byte("routes: []\n"), nil); err == nil {
		t.Error("Parse with a nil catalogue succeeded")
	}
}

func TestParseRoutes(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	table := MustParse(t, `# comment
routes:
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.result:read, workspace.file:upload]
    process: processId
  - anyKey: true
    route: GET /v1/me
  - route: GET /v1/health
    public: true
`)
	if got := table.Source(); got != "routes.yaml" {
		t.Errorf("Source() = %q, want routes.yaml", got)
	}
	want := []routetable.Route{
		{
			Pattern:         "POST /v1/processes/{processId}/files",
			Line:            3,
			Scopes:          []keywarden.Scope{"workspace.result:read", "workspace.file:upload"},
			Set:             c.SetOf([]keywarden.Scope{"workspace.file:upload", "workspace.result:read"}),
			ProcessWildcard: "processId",
		},
		{Pattern: "GET /v1/me", Line: 7, AnyKey: true},
		{Pattern: "GET /v1/health", Line: 8, Public: true},
	}
	got := table.Routes()
	if len(got) != len(want) {
		t.Fatalf("Routes() has %d routes, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Pattern != w.Pattern || g.Line != w.Line || !slices.Equal(g.Scopes, w.Scopes) || g.Set != w.Set ||
			g.ProcessWildcard != w.ProcessWildcard || g.AnyKey != w.AnyKey || g.Public != w.Public {
			t.Errorf("route %d is\n\t%+v\nwant\n\t%+v", i, g, w)
		}
	}
	if i, _ := c.Index("workspace.file:upload"); !got[0].Set.Has(i) {
		t.Error("the scope set lacks workspace.file:upload")
	}

	// Routes returns a copy: changing it leaves the table as it was.
	got[0].Scopes[0] = "workspace.admin.api_key:manage"
	got[0].Pattern = "changed"
	again := table.Routes()
	if again[0].Scopes[0] != "workspace.result:read" || again[0].Pattern != want[0].Pattern {
		t.Errorf("changing the result of Routes() changed the table: %+v", again[0])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c := keywarden.MustDefaultCatalogue()

	t.Run("missing file names the path", func(t *testing.T) {
		path := filepath.Join(dir, "absent.yaml")
		_, err := routetable.Load(path, c)
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) error = %v, want a not-exist error naming the path", path, err)
		}
	})

	t.Run("errors name the path as given", func(t *testing.T) {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte("routes:\n  - route: GET /v1/me\n    scopes: [nope.x:y]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := routetable.Load(path, c)
		if want := path + `:3: unknown scope "nope.x:y"`; err == nil || err.Error() != want {
			t.Errorf("Load error = %v, want %s", err, want)
		}
	})

	t.Run("loads a valid file", func(t *testing.T) {
		path := filepath.Join(dir, "good.yaml")
		if err := os.WriteFile(path, []byte("routes:\n  - route: GET /v1/me\n    anyKey: true\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		table, err := routetable.Load(path, c)
		if err != nil {
			t.Fatal(err)
		}
		if table.Source() != path || len(table.Routes()) != 1 {
			t.Errorf("Load gave source %q and %d routes, want %q and 1", table.Source(), len(table.Routes()), path)
		}
	})
}

// matchTable is the table the matching tests use, with unmatched: filled in.
const matchTable = `unmatched: %s
routes:
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.file:upload]
    process: processId
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: processId
  - route: GET /v1/processes/{processId}/files/{fileId}
    scopes: [workspace.file:download]
    process: processId
  - route: GET /v1/processes/archive/files
    scopes: [workspace.admin.process:manage]
  - route: GET /v1/docs/{page...}
    public: true
  - route: GET /v1/dir/
    anyKey: true
  - route: GET /v1/me
    anyKey: true
`

func TestMatch(t *testing.T) {
	const (
		noMatch   = "(no match)"
		unmatched = "(unmatched)" // no route; ok only with unmatched: authenticate
	)
	tests := []struct {
		name        string
		method, uri string
		want        string // the pattern, noMatch or unmatched
		process     string
	}{
		{"exact route and process ID", "POST", "/v1/processes/p1/files", "POST /v1/processes/{processId}/files", "p1"},
		{"method selects the route", "GET", "/v1/processes/p1/files", "GET /v1/processes/{processId}/files", "p1"},
		{"deeper route", "GET", "/v1/processes/p1/files/f9", "GET /v1/processes/{processId}/files/{fileId}", "p1"},
		{"literal beats wildcard", "GET", "/v1/processes/archive/files", "GET /v1/processes/archive/files", ""},
		{"HEAD matches GET", "HEAD", "/v1/processes/p1/files", "GET /v1/processes/{processId}/files", "p1"},
		{"query ignored", "GET", "/v1/processes/p1/files?processId=p2&x=/v1/me", "GET /v1/processes/{processId}/files", "p1"},
		{"empty query ignored", "GET", "/v1/me?", "GET /v1/me", ""},
		{"remainder wildcard", "GET", "/v1/docs/a/b/c", "GET /v1/docs/{page...}", ""},
		{"trailing-slash subtree", "GET", "/v1/dir/x/y", "GET /v1/dir/", ""},
		{"escaped slash stays in its segment", "GET", "/v1/processes/a%2Fb/files", "GET /v1/processes/{processId}/files", "a/b"},
		{"escaped slash in a deeper route", "GET", "/v1/processes/a%2Fb/files/c", "GET /v1/processes/{processId}/files/{fileId}", "a/b"},
		{"escaped space unescaped", "GET", "/v1/processes/p%20q/files", "GET /v1/processes/{processId}/files", "p q"},
		{"unknown path", "GET", "/v1/nothing", unmatched, ""},
		{"method no route has", "DELETE", "/v1/processes/p1/files", unmatched, ""},
		{"POST where only GET is routed", "POST", "/v1/me", unmatched, ""},
		{"method case matters", "get", "/v1/me", unmatched, ""},
		{"dot-dot", "GET", "/v1/processes/A/../B/files", noMatch, ""},
		{"dot-dot at the end", "GET", "/v1/processes/p1/files/..", noMatch, ""},
		{"encoded dot-dot", "GET", "/v1/processes/A/%2e%2e/B/files", noMatch, ""},
		{"encoded slash making an empty segment", "GET", "/v1/processes/%2F/files", noMatch, ""},
		{"dot", "GET", "/v1/./me", noMatch, ""},
		{"double slash", "GET", "//v1/me", noMatch, ""},
		{"double slash inside", "GET", "/v1//me", noMatch, ""},
		{"missing trailing slash redirects", "GET", "/v1/dir", noMatch, ""},
		{"no leading slash", "GET", "v1/me", noMatch, ""},
		{"absolute URI", "GET", "http://api.example.com/v1/me", noMatch, ""},
		{"asterisk", "OPTIONS", "*", noMatch, ""},
		{"empty URI", "GET", "", noMatch, ""},
		{"bad percent-encoding", "GET", "/v1/%zz", noMatch, ""},
		{"control character", "GET", "/v1/me\n", noMatch, ""},
		{"empty method", "", "/v1/me", noMatch, ""},
	}
	for _, unm := range []string{"deny", "authenticate"} {
		table := MustParse(t, strings.Replace(matchTable, "%s", unm, 1))
		for _, tt := range tests {
			t.Run(unm+"/"+tt.name, func(t *testing.T) {
				t.Parallel() // with -race: Match is safe for concurrent use
				m, ok := table.Match(tt.method, tt.uri)
				want := tt.want
				if want == unmatched && unm == "deny" {
					want = noMatch
				}
				switch want {
				case noMatch:
					if ok {
						t.Errorf("Match(%q, %q) = %+v, %v; want no match", tt.method, tt.uri, m.Route, m.ProcessID)
					}
				case unmatched:
					if !ok || m.Route == nil || m.Route.Pattern != "" || !m.Route.AnyKey || len(m.Route.Scopes) != 0 || m.Route.Line != 1 || m.ProcessID != "" {
						t.Errorf("Match(%q, %q) = %+v, %q, %v; want the unmatched AnyKey route of line 1", tt.method, tt.uri, m.Route, m.ProcessID, ok)
					}
				default:
					if !ok || m.Route == nil || m.Route.Pattern != want || m.ProcessID != tt.process {
						t.Errorf("Match(%q, %q) = %+v, %q, %v; want %q, %q", tt.method, tt.uri, m.Route, m.ProcessID, ok, want, tt.process)
					}
				}
			})
		}
	}
}

// TestMatchRouteIsTheTables checks that a match reports the table's own
// route, with its scopes, not a lookalike.
func TestMatchRouteIsTheTables(t *testing.T) {
	table := MustParse(t, strings.Replace(matchTable, "%s", "deny", 1))
	m, ok := table.Match("POST", "/v1/processes/p1/files")
	if !ok {
		t.Fatal("no match")
	}
	want := table.Routes()[0]
	if m.Route.Line != want.Line || !slices.Equal(m.Route.Scopes, want.Scopes) || m.Route.Set != want.Set {
		t.Errorf("matched %+v, want %+v", *m.Route, want)
	}
}

func BenchmarkMatch(b *testing.B) {
	table := MustParse(b, strings.Replace(matchTable, "%s", "deny", 1))
	for b.Loop() {
		if _, ok := table.Match("GET", "/v1/processes/p1/files/f9?x=1"); !ok {
			b.Fatal("no match")
		}
	}
}

// TestProcessMustNameARealWildcard: a segment that only ends in a brace is
// a literal, not a wildcard, so process cannot name it (found by FuzzParse).
func TestProcessMustNameARealWildcard(t *testing.T) {
	_, err := routetable.Parse("routes.yaml", []byte("routes:\n  - route: GET /processId}\n    process: processId\n    scopes: [workspace.process:read]\n"), keywarden.MustDefaultCatalogue())
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:3:") {
		t.Fatalf("Parse = %v, want an error at line 3 for a process that names no wildcard", err)
	}
}
