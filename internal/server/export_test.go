package server

import "github.com/keywarden/keywarden"

// RouteInfo is one route's declared access, for tests outside the package.
type RouteInfo struct {
	Pattern  string
	Public   bool
	AnyKey   bool
	OrgLevel bool
	Console  bool // a console page, not part of the REST API
	// ChecksKey routes take the key they check as their credential.
	ChecksKey bool
	// Fallback is a catch-all (/api/v1/ or /), answering only 404 and 405.
	Fallback bool
	Scope    keywarden.Scope
}

// Routes returns the route table as NewHandler registers it, with every
// optional route (GET /metrics) in it.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range everyRoute() {
		a := rt.access
		out = append(out, RouteInfo{Pattern: rt.pattern, Public: a.public, AnyKey: a.anyKey, OrgLevel: a.orgLevel, Console: a.console, Scope: a.scope, ChecksKey: a.checksKey, Fallback: a.fallback})
	}
	return out
}
