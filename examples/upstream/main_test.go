package main

import (
	"slices"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/routetable"
)

// TestEndpointsAgreeWithTheRouteTable: the access the service gives each
// endpoint with the middleware is what examples/routes.yaml tells a
// gateway, route for route, so both ways of running the example enforce
// the same thing.
func TestEndpointsAgreeWithTheRouteTable(t *testing.T) {
	table, err := routetable.Load("../routes.yaml", keywarden.MustDefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	byPattern := map[string]routetable.Route{}
	for _, r := range table.Routes() {
		byPattern[r.Pattern] = r
	}
	endpoints := newService().endpoints()
	if len(endpoints) != len(byPattern) {
		t.Errorf("%d endpoints, %d routes in examples/routes.yaml", len(endpoints), len(byPattern))
	}
	for _, e := range endpoints {
		r, ok := byPattern[e.pattern]
		if !ok {
			t.Errorf("%s is not in examples/routes.yaml", e.pattern)
			continue
		}
		var scopes []string
		for _, s := range r.Scopes {
			scopes = append(scopes, string(s))
		}
		anyKey := !e.public && len(e.scopes) == 0
		if !slices.Equal(scopes, e.scopes) || e.public != r.Public || anyKey != r.AnyKey || e.process != (r.ProcessWildcard == "processId") {
			t.Errorf("%s: the service requires scopes %v, public %v, any key %v, process %v; the table %v, %v, %v, %q",
				e.pattern, e.scopes, e.public, anyKey, e.process, scopes, r.Public, r.AnyKey, r.ProcessWildcard)
		}
	}
}
