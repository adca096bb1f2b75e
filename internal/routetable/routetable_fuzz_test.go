package routetable_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/routetable"
)

// fuzzURIs are matched against every table the fuzzer gets to load.
var fuzzURIs = []string{
	"/", "/v1/me", "/v1/processes/p1/files", "/v1/processes/p1/files?x=1",
	"/a/b/c/", "/a/../b", "//x", "/%2e%2e/x", "/%zz", "*", "", "http://host/x",
}

// FuzzParse checks the route-table loader. Whatever the file: nothing
// panics; a refused file yields only "routes.yaml:line: message" or
// "routes.yaml: message" lines, in line order; an accepted one has routes
// with a pattern, exactly one kind of access, scopes of the catalogue each
// once, a process wildcard the pattern has, and a Match that never panics
// and only returns the table's own routes.
func FuzzParse(f *testing.F) {
	const name = "routes.yaml"
	c := keywarden.MustDefaultCatalogue()
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := routetable.Parse(name, data, c)
		if err != nil {
			if table != nil {
				t.Fatalf("Parse(%q) = a table and error %v", data, err)
			}
			checkErrorLines(t, data, name, err.Error())
			return
		}
		routes := table.Routes()
		if len(routes) == 0 {
			t.Fatalf("Parse(%q) accepted a table without routes", data)
		}
		patterns := make(map[string]routetable.Route, len(routes))
		for _, r := range routes {
			checkRoute(t, data, c, r)
			patterns[r.Pattern] = r
		}
		uris := slices.Clone(fuzzURIs)
		for _, r := range routes {
			_, path, _ := strings.Cut(r.Pattern, " ")
			uris = append(uris, path, strings.NewReplacer("{", "", "}", "", ".", "").Replace(path))
		}
		for _, method := range []string{"GET", "HEAD", "POST", "DELETE", ""} {
			for _, uri := range uris {
				m, ok := table.Match(method, uri)
				if !ok {
					if m != (routetable.Match{}) {
						t.Fatalf("Match(%q, %q) = %+v, not ok", method, uri, m)
					}
					continue
				}
				if m.Route == nil {
					t.Fatalf("Match(%q, %q) ok without a route", method, uri)
				}
				if m.Route.Pattern == "" {
					if !m.Route.AnyKey || m.ProcessID != "" {
						t.Fatalf("Match(%q, %q) = unmatched route %+v", method, uri, *m.Route)
					}
					continue
				}
				if _, mine := patterns[m.Route.Pattern]; !mine {
					t.Fatalf("Match(%q, %q) = route %q, not one of the table", method, uri, m.Route.Pattern)
				}
				if m.Route.ProcessWildcard == "" && m.ProcessID != "" {
					t.Fatalf("Match(%q, %q) = process %q from a route without a process wildcard", method, uri, m.ProcessID)
				}
			}
		}
	})
}

// checkErrorLines checks that every line of a Parse error names the file,
// and that the lines with a line number come in order.
func checkErrorLines(t *testing.T, data []byte, name, msg string) {
	t.Helper()
	last := 0
	for line := range strings.SplitSeq(msg, "\n") {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			t.Fatalf("Parse(%q) error line %q does not start with %q; the error:\n%s", data, line, name+":", msg)
		}
		if strings.HasPrefix(rest, " ") {
			if last > 0 {
				t.Fatalf("Parse(%q) error line %q without a line number after one with; the error:\n%s", data, line, msg)
			}
			continue
		}
		num, _, ok := strings.Cut(rest, ": ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 {
			t.Fatalf("Parse(%q) error line %q has no line number; the error:\n%s", data, line, msg)
		}
		if n < last {
			t.Fatalf("Parse(%q) error line %q out of line order; the error:\n%s", data, line, msg)
		}
		last = n
	}
}

// checkRoute checks one route of an accepted table.
func checkRoute(t *testing.T, data []byte, c *keywarden.Catalogue, r routetable.Route) {
	t.Helper()
	if r.Pattern == "" || r.Line < 1 {
		t.Fatalf("Parse(%q) accepted route %+v without a pattern or line", data, r)
	}
	kinds := 0
	for _, k := range []bool{len(r.Scopes) > 0, r.AnyKey, r.Public} {
		if k {
			kinds++
		}
	}
	if kinds != 1 {
		t.Fatalf("Parse(%q) accepted route %+v with %d kinds of access, want 1", data, r, kinds)
	}
	for i, s := range r.Scopes {
		if _, ok := c.Index(s); !ok {
			t.Fatalf("Parse(%q) accepted route %q with scope %q, unknown to the catalogue", data, r.Pattern, s)
		}
		if slices.Contains(r.Scopes[:i], s) {
			t.Fatalf("Parse(%q) accepted route %q with scope %q twice", data, r.Pattern, s)
		}
	}
	if r.Set != c.SetOf(r.Scopes) {
		t.Fatalf("Parse(%q) accepted route %q whose Set is not its Scopes", data, r.Pattern)
	}
	if w := r.ProcessWildcard; w != "" && (r.Public || !strings.Contains(r.Pattern, "{"+w+"}")) {
		t.Fatalf("Parse(%q) accepted route %q with process %q, not a wildcard of it (or public)", data, r.Pattern, w)
	}
}
