package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExactRoutesAnswerAsTheMux: for requests of every method to every
// route's path, and to the paths around them (a trailing slash added or
// dropped, a doubled slash, a dot segment, percent-encoding, another
// case), exactRoutes calls the handler the ServeMux calls, with the same
// Pattern and the same path values, and answers what it answers
// (redirects and 404/405s included). And it does answer the hot paths from
// its map.
func TestExactRoutesAnswerAsTheMux(t *testing.T) {
	routes := everyRoute()
	mux := http.NewServeMux()
	var patterns []string
	for _, rt := range routes {
		pattern := rt.pattern
		patterns = append(patterns, pattern)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Route", pattern)
			w.Header().Set("X-Pattern", r.Pattern)
			w.Header().Set("X-Values", r.PathValue("id")+"|"+r.PathValue("processId")+"|"+r.PathValue("name"))
		})
	}
	e := newExactRoutes(mux, patterns)
	if got := len(e.paths["/api/v1/auth/forward"]); got != len(exactMethods) {
		t.Errorf("forward-auth is in the map for %d methods, want %d", got, len(exactMethods))
	}
	for _, p := range []string{"GET /api/v1/me", "POST /api/v1/keys/verify", "GET /healthz"} {
		method, path, _ := strings.Cut(p, " ")
		if !containsMethod(e.paths[path], method) {
			t.Errorf("%s is not in the map", p)
		}
	}

	var paths []string
	for _, rt := range routes {
		_, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			path = rt.pattern
		}
		path = strings.NewReplacer("{$}", "", "{id}", "0123456789abcdef0123456789abcdef", "{processId}", "fedcba9876543210fedcba9876543210",
			"{deliveryId}", "d1", "{name}", "app.css", "{userId}", "u1").Replace(path)
		paths = append(paths, path, path+"/", strings.TrimSuffix(path, "/"), "/"+path, path+"/.", path+"/x",
			strings.Replace(path, "/", "//", 2), strings.ToUpper(path), strings.Replace(path, "e", "%65", 1), path+"%2F")
		if i := strings.LastIndex(path, "/"); i > 0 {
			paths = append(paths, path[:i]+"%2F"+path[i+1:]) // the same Path, one segment fewer to the mux
		}
	}
	methods := append([]string{"CONNECT", "PROPFIND", "get"}, exactMethods...)
	for _, path := range paths {
		for _, method := range methods {
			uri := path
			if uri == "" || !strings.HasPrefix(uri, "/") {
				uri = "/" + uri
			}
			want := httptest.NewRecorder()
			wantReq := httptest.NewRequest(method, "http://keywarden.test"+uri, nil)
			mux.ServeHTTP(want, wantReq)
			got := httptest.NewRecorder()
			gotReq := httptest.NewRequest(method, "http://keywarden.test"+uri, nil)
			e.ServeHTTP(got, gotReq)
			for _, h := range []string{"X-Route", "X-Pattern", "X-Values", "Location", "Allow"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s %s: %s %q, the mux's %q", method, uri, h, got.Header().Get(h), want.Header().Get(h))
				}
			}
			if got.Code != want.Code || gotReq.Pattern != wantReq.Pattern {
				t.Errorf("%s %s: status %d, pattern %q; the mux's %d, %q", method, uri, got.Code, gotReq.Pattern, want.Code, wantReq.Pattern)
			}
		}
	}
}

func containsMethod(rts []exactRoute, method string) bool {
	for _, rt := range rts {
		if rt.method == method {
			return true
		}
	}
	return false
}
