package server

import (
	"net/http"
	"net/url"
	"strings"
)

// exactRoutes serves the requests for the paths of routes without a
// wildcard — /api/v1/me, the verify API, forward-auth, the health checks —
// from a map, and hands every other request to the ServeMux. For those
// paths the ServeMux walks its tree, and for forward-auth, a route of any
// method, it first tries the wildcard routes of the request's method and
// allocates while it does: about 1.5% of a /me request's server CPU and
// 2.3% of a forward-auth's (docs/performance.md).
//
// The map holds only the answers the ServeMux itself gives: at build time,
// for each such path and each common method, it asks the mux which route
// serves a request for them (ServeMux.Handler), and keeps the pair only
// when that route is the path's own. A request is answered from the map
// only for exactly that method and path, as a client sent it: clean, and
// not percent-encoded (RawPath empty), so that the ServeMux would neither
// redirect nor match it otherwise. TestExactRoutesAnswerAsTheMux holds the
// two the same.
type exactRoutes struct {
	mux   *http.ServeMux
	paths map[string][]exactRoute
}

// exactRoute is the route that serves one method of a path.
type exactRoute struct {
	method, pattern string
	handler         http.Handler
}

// exactMethods are the methods the map is built for; others go to the mux.
var exactMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// newExactRoutes builds the map for mux, whose routes are patterns.
func newExactRoutes(mux *http.ServeMux, patterns []string) *exactRoutes {
	e := &exactRoutes{mux: mux, paths: map[string][]exactRoute{}}
	for _, pattern := range patterns {
		path := pattern
		if _, p, ok := strings.Cut(pattern, " "); ok {
			path = p
		}
		// A wildcard, a subtree ("/api/v1/"), "{$}", a host, or a path
		// that a URL would escape: the mux decides.
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{}") || strings.HasSuffix(path, "/") ||
			(&url.URL{Path: path}).EscapedPath() != path {
			continue
		}
		for _, method := range exactMethods {
			probe := &http.Request{Method: method, Host: "keywarden.invalid", URL: &url.URL{Path: path}, Header: http.Header{}}
			if h, p := mux.Handler(probe); p == pattern {
				e.paths[path] = append(e.paths[path], exactRoute{method: method, pattern: pattern, handler: h})
			}
		}
	}
	return e
}

func (e *exactRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawPath == "" {
		for _, rt := range e.paths[r.URL.Path] {
			if rt.method == r.Method {
				r.Pattern = rt.pattern // as the mux sets it; the path has no wildcard to set
				rt.handler.ServeHTTP(w, r)
				return
			}
		}
	}
	e.mux.ServeHTTP(w, r)
}
