// Package routetable tells forward-auth what a request to another service
// needs. A gateway (nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth) hands Keywarden only the original method and URI; the route
// table, a YAML file the operator writes, maps them to the scopes the
// caller's key must hold and to the wildcard that carries the process ID.
//
// The table is validated completely when it is loaded, and every problem is
// reported with its line, so that a typo in a scope name fails the boot
// instead of silently denying (or allowing) requests. Patterns are
// http.ServeMux's, which parses them and refuses conflicting ones when the
// table loads, and Match answers as ServeMux routes, walking the same
// decision tree without building a request per match; a differential test
// (match_test.go) holds the two to the same answers, so that syntax and
// precedence do not drift from a Go service behind the gateway.
//
// The package neither verifies keys nor serves HTTP.
package routetable

import (
	"errors"
	"os"
	"slices"

	"github.com/keywarden/keywarden"
)

// Route is one entry of the table.
type Route struct {
	Pattern         string             // as written, e.g. "POST /v1/processes/{processId}/files"
	Line            int                // line of the route: value (of unmatched: for the unmatched route)
	Scopes          []keywarden.Scope  // required scopes, in file order
	Set             keywarden.ScopeSet // the same, as catalogue bits
	ProcessWildcard string             // "" when the route names no process
	AnyKey, Public  bool
}

// Table is a loaded, validated route table. It is immutable and safe for
// concurrent use.
type Table struct {
	source string
	routes []Route
	// unmatched is what a request no route matches gets: nil to deny it, or
	// an AnyKey route with an empty Pattern for "unmatched: authenticate".
	unmatched *Route
	tree      tree
}

// Match is the outcome of Table.Match. Route points into the table, so a
// match allocates no copy of it; read it, never modify it.
type Match struct {
	Route     *Route
	ProcessID string // the value of Route.ProcessWildcard, unescaped as ServeMux does
}

// Load reads and parses the route table at path. Errors name path as given.
func Load(path string, c *keywarden.Catalogue) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // an *fs.PathError, which names path
	}
	return Parse(path, data, c)
}

// Parse parses and validates a route table; name is used in error messages.
// It reports every problem of the file at once, as one error whose message
// has one "name:line: message" per line, in line order.
func Parse(name string, data []byte, c *keywarden.Catalogue) (*Table, error) {
	if c == nil {
		return nil, errors.New("routetable: nil catalogue")
	}
	p := &parser{name: name, cat: c}
	t := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// Source returns the name the table was loaded from.
func (t *Table) Source() string { return t.source }

// Routes returns a copy of the table's routes, in file order.
func (t *Table) Routes() []Route {
	out := slices.Clone(t.routes)
	for i := range out {
		out[i].Scopes = slices.Clone(out[i].Scopes)
	}
	return out
}
