package routetable_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/routetable"
)

// TestExampleFile keeps examples/routes.yaml, the table operators copy,
// loadable and meaning what its comments say.
func TestExampleFile(t *testing.T) {
	table, err := routetable.Load("../../examples/routes.yaml", keywarden.MustDefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(table.Routes()); n != 11 {
		t.Errorf("examples/routes.yaml has %d routes, want 11", n)
	}
	tests := []struct {
		method, uri string
		scopes      []keywarden.Scope // nil for an anyKey or public route
		anyKey      bool
		public      bool
		process     string
	}{
		{method: "POST", uri: "/v1/processes/p-7/files", scopes: []keywarden.Scope{"workspace.file:upload"}, process: "p-7"},
		{method: "GET", uri: "/v1/processes/p-7/files?page=2", scopes: []keywarden.Scope{"workspace.file:download"}, process: "p-7"},
		{method: "HEAD", uri: "/v1/processes/p-7/files/f-1", scopes: []keywarden.Scope{"workspace.file:download"}, process: "p-7"},
		{method: "GET", uri: "/v1/processes/p-7/results", scopes: []keywarden.Scope{"workspace.result:read"}, process: "p-7"},
		{method: "GET", uri: "/v1/processes/p-7/results/r-3", scopes: []keywarden.Scope{"workspace.result:read"}, process: "p-7"},
		{method: "POST", uri: "/v1/processes/p-7/results", scopes: []keywarden.Scope{"workspace.result:create"}, process: "p-7"},
		{method: "POST", uri: "/v1/processes/p-7/exports", scopes: []keywarden.Scope{"workspace.export:create"}, process: "p-7"},
		{method: "DELETE", uri: "/v1/processes/p-7/exports/e-2", scopes: []keywarden.Scope{"workspace.export:delete"}, process: "p-7"},
		{method: "GET", uri: "/v1/destinations", scopes: []keywarden.Scope{"workspace.destination:read"}},
		{method: "GET", uri: "/v1/me", anyKey: true},
		{method: "GET", uri: "/v1/health", public: true},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.uri, func(t *testing.T) {
			m, ok := table.Match(tt.method, tt.uri)
			if !ok {
				t.Fatal("no route matches")
			}
			r := m.Route
			if !slices.Equal(r.Scopes, tt.scopes) || r.AnyKey != tt.anyKey || r.Public != tt.public || m.ProcessID != tt.process {
				t.Errorf("matched %q: scopes %v, anyKey %v, public %v, process %q; want %v, %v, %v, %q",
					r.Pattern, r.Scopes, r.AnyKey, r.Public, m.ProcessID, tt.scopes, tt.anyKey, tt.public, tt.process)
			}
		})
	}
	for _, req := range [][2]string{
		{"DELETE", "/v1/processes/p-7/files/f-1"}, // no route: unmatched: deny
		{"GET", "/v1/processes/p-7/../p-8/files"},
	} {
		if m, ok := table.Match(req[0], req[1]); ok {
			t.Errorf("Match(%q, %q) matched %q, want no match", req[0], req[1], m.Route.Pattern)
		}
	}
}

func ExampleTable_Match() {
	table, err := routetable.Parse("routes.yaml", []byte(`
routes:
  - route: GET /v1/processes/{processId}/files/{fileId}
    scopes: [workspace.file:download]
    process: processId
`), keywarden.MustDefaultCatalogue())
	if err != nil {
		fmt.Println(err)
		return
	}
	m, ok := table.Match("GET", "/v1/processes/p-7/files/f-1?inline=1")
	fmt.Println(ok, m.Route.Scopes, m.ProcessID)
	_, ok = table.Match("GET", "/v1/processes/p-8/../p-7/files/f-1")
	fmt.Println(ok)
	// Output:
	// true [workspace.file:download] p-7
	// false
}

func ExampleParse() {
	_, err := routetable.Parse("routes.yaml", []byte(`unmatched: deny
routes:
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.file:uplod]
    process: processID
`), keywarden.MustDefaultCatalogue())
	fmt.Println(err)
	// Output:
	// routes.yaml:4: unknown scope "workspace.file:uplod"
	// routes.yaml:5: process "processID" is not a wildcard of "POST /v1/processes/{processId}/files" (it has {processId})
}
