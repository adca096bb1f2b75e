package routetable

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Match finds the route for a request's original method and URI (the URI as
// a gateway sends it: path plus optional "?query", still percent-encoded).
// It returns the route and the process ID taken from its wildcard. ok is
// false when no route matches and the table says unmatched: deny. With
// unmatched: authenticate an unmatched request returns a Route with AnyKey
// true and an empty Pattern.
//
// A URI that is not an absolute path, does not parse, or is not clean —
// ServeMux would redirect it, say for "..", "//", an encoded "%2e%2e" or a
// missing trailing slash — never matches, whatever unmatched says: a
// gateway does not send such a URI for a real request, and the service
// behind it may resolve it to another route than the one checked here.
func (t *Table) Match(method, uri string) (m Match, ok bool) {
	u, ok := requestURL(uri)
	if !ok || method == "" {
		return Match{}, false
	}
	w := &recorder{}
	t.mux.ServeHTTP(w, &http.Request{Method: method, URL: u})
	switch {
	case w.route != nil:
		return Match{Route: w.route, ProcessID: w.processID}, true
	case w.status != http.StatusNotFound && w.status != http.StatusMethodNotAllowed:
		// ServeMux answered itself, with a redirect: the path is not one
		// any route was checked for.
		return Match{}, false
	case t.unmatched != nil:
		return Match{Route: t.unmatched}, true
	}
	return Match{}, false
}

// requestURL parses uri as net/http parses a request target, accepting only
// a clean absolute path. The decoded path is checked as well as the escaped
// one, so that "%2e%2e" or "%2F%2F" cannot hide a ".." or "//" from the
// check while a service behind the gateway decodes them.
func requestURL(uri string) (*url.URL, bool) {
	if !strings.HasPrefix(uri, "/") {
		return nil, false
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || !isClean(u.Path) || !isClean(u.EscapedPath()) {
		return nil, false
	}
	return u, true
}

// isClean reports whether p is what ServeMux's path cleaning leaves as is:
// no ".", "..", or empty segments, a trailing slash kept.
func isClean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// routeHandler is registered for one route; it tells Match that the route
// matched, through the recorder Match passed to ServeMux.
type routeHandler struct{ route *Route }

func (h routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec, ok := w.(*recorder)
	if !ok {
		return
	}
	rec.route = h.route
	if h.route.ProcessWildcard != "" {
		rec.processID = r.PathValue(h.route.ProcessWildcard)
	}
}

// recorder is the ResponseWriter of one Match. ServeMux's own handlers
// (not found, method not allowed, redirect) write to it too; their status
// tells a request no route matched from one ServeMux would redirect.
type recorder struct {
	route     *Route
	processID string
	status    int
	header    http.Header
}

func (w *recorder) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
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

// muxSupportsPatterns reports whether ServeMux understands Go 1.22
// patterns. GODEBUG=httpmuxgo121=1 turns them off without an error: every
// request would then fall to unmatched, which with "authenticate" lets any
// key through routes that need scopes.
func muxSupportsPatterns() bool {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc("GET /probe/{x}", func(_ http.ResponseWriter, r *http.Request) { got = r.PathValue("x") })
	mux.ServeHTTP(&recorder{}, &http.Request{Method: "GET", URL: &url.URL{Path: "/probe/ok"}})
	return got == "ok"
}
