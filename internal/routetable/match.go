package routetable

import (
	"net/http"
	"net/url"
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
//
// The answer is the one ServeMux gives a request for uri (match_test.go
// holds them the same), found without building the request: Match
// allocates nothing unless the path is percent-encoded.
func (t *Table) Match(method, uri string) (m Match, ok bool) {
	p, ok := requestPath(uri)
	if !ok || method == "" {
		return Match{}, false
	}
	n := t.tree.match(method, p, false)
	if !n.exactMatch(p, false) && !strings.HasSuffix(p, "/") {
		// ServeMux redirects to p + "/" when that matches exactly: the
		// path is not one any route was checked for.
		if n2 := t.tree.match(method, p, true); n2.exactMatch(p, true) {
			return Match{}, false
		}
	}
	switch {
	case n != nil:
		return Match{Route: n.route, ProcessID: n.processID(p)}, true
	case t.unmatched != nil:
		return Match{Route: t.unmatched}, true
	}
	return Match{}, false
}

// requestPath returns the escaped path ServeMux routes a request for uri
// by (its URL's EscapedPath), accepting only what url.ParseRequestURI
// parses as a clean absolute path. The decoded path is checked as well as
// the escaped one, so that "%2e%2e" or "%2F%2F" cannot hide a ".." or "//"
// from the check while a service behind the gateway decodes them.
func requestPath(uri string) (string, bool) {
	if !strings.HasPrefix(uri, "/") {
		return "", false
	}
	for i := 0; i < len(uri); i++ {
		if uri[i] < 0x20 || uri[i] == 0x7f { // as url.Parse refuses them
			return "", false
		}
	}
	// Nearly every URI a gateway sends holds no escape and nothing to
	// escape: its path is then both the decoded and the escaped one.
	raw, _, _ := strings.Cut(uri, "?")
	if !literalPath(raw) {
		return escapedPath(raw)
	}
	if !isClean(raw) {
		return "", false
	}
	return raw, true
}

// literalPath reports whether each byte of p is one a URL path holds as it
// is — unreserved, a sub-delimiter, ':', '@', '/', '[' or ']' — so that
// url.PathUnescape and URL.EscapedPath would both return p unchanged.
func literalPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if !literalPathByte[p[i]] {
			return false
		}
	}
	return true
}

var literalPathByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/[]") {
		t[c] = true
	}
	return t
}()

// escapedPath is requestPath for any raw path: decoded, checked and
// escaped again as net/url does.
func escapedPath(raw string) (string, bool) {
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	// As url.URL.setPath and EscapedPath would have it: raw when it is a
	// valid encoding, else decoded escaped anew.
	u := url.URL{Path: decoded, RawPath: raw}
	escaped := u.EscapedPath()
	if !isClean(decoded) || !isClean(escaped) {
		return "", false
	}
	return escaped, true
}

// isClean reports whether p, an absolute path, is what ServeMux's path
// cleaning (path.Clean, a trailing slash kept) leaves as is: no ".", ".."
// or empty segment but the last, the trailing slash. It allocates nothing,
// whatever p.
func isClean(p string) bool {
	rest := p[1:]
	for {
		seg, next, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." || seg == "" && more {
			return false
		}
		if !more {
			return true
		}
		rest = next
	}
}

// node is a node of the decision tree ServeMux builds from the table's
// patterns (net/http's routing_tree.go), for a table whose patterns all
// name a method and no host: the root branches on the method, each level
// below on one segment of the path. ServeMux refused any two patterns
// that conflict, so the first leaf found, literals tried before a
// wildcard and a wildcard before a remainder, is the most specific.
type node struct {
	route    *Route           // a leaf's route, nil inside the tree
	segments int              // a leaf's pattern's segments, for exactMatch
	multi    bool             // a leaf's pattern ends in a {name...} or a trailing slash
	process  int              // a leaf's segment holding the process ID; -1 for none
	children map[string]*node // by literal segment, unescaped; "/" is a trailing slash ({$})
	wild     *node            // a {name} segment
	rest     *node            // a {name...} segment or a trailing slash: a leaf
}

// tree is the root: a node per method.
type tree map[string]*node

// segment is one segment of a pattern, as ServeMux parses it.
type segment struct {
	s           string // literal, unescaped; the wildcard's name; "/" for {$}
	wild, multi bool
}

// segmentsOf parses the path of a pattern ServeMux accepted, as its
// parsePattern does.
func segmentsOf(p string) []segment {
	var segs []segment
	for len(p) > 0 {
		p = p[1:]
		if p == "" { // a trailing slash: an anonymous remainder
			segs = append(segs, segment{wild: true, multi: true})
			break
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			i = len(p)
		}
		var seg string
		seg, p = p[:i], p[i:]
		if !strings.Contains(seg, "{") {
			segs = append(segs, segment{s: pathUnescape(seg)})
			continue
		}
		name := seg[1 : len(seg)-1] // ServeMux checked the braces
		if name == "$" {
			segs = append(segs, segment{s: "/"})
			break
		}
		name, multi := strings.CutSuffix(name, "...")
		segs = append(segs, segment{s: name, wild: true, multi: multi})
	}
	return segs
}

// newTree builds the tree of routes, whose patterns ServeMux accepted
// together.
func newTree(routes []Route) tree {
	t := tree{}
	for i := range routes {
		r := &routes[i]
		method, p, _ := strings.Cut(r.Pattern, " ")
		n := t[method]
		if n == nil {
			n = &node{}
			t[method] = n
		}
		segs := segmentsOf(p)
		leaf := &node{route: r, segments: len(segs), process: -1}
		for i, s := range segs {
			if s.wild && s.s != "" && s.s == r.ProcessWildcard {
				leaf.process = i
			}
		}
		leaf.multi = segs[len(segs)-1].multi
		for _, s := range segs[:len(segs)-1] {
			n = n.child(s)
		}
		if last := segs[len(segs)-1]; last.multi {
			n.rest = leaf
		} else {
			n.child(last).set(leaf)
		}
	}
	return t
}

// child returns n's child for s, added if n has none.
func (n *node) child(s segment) *node {
	if s.wild {
		if n.wild == nil {
			n.wild = &node{}
		}
		return n.wild
	}
	if n.children == nil {
		n.children = map[string]*node{}
	}
	c := n.children[s.s]
	if c == nil {
		c = &node{}
		n.children[s.s] = c
	}
	return c
}

// set makes n the leaf of l, keeping n's children.
func (n *node) set(l *node) {
	n.route, n.segments, n.multi, n.process = l.route, l.segments, l.multi, l.process
}

// match is routingNode.match for a request without a host: the routes of
// method, then for HEAD those of GET. slash matches p + "/" instead of p,
// without building it.
func (t tree) match(method, p string, slash bool) *node {
	if n := t[method].matchPath(p, slash); n != nil {
		return n
	}
	if method == http.MethodHead {
		return t[http.MethodGet].matchPath(p, slash)
	}
	return nil
}

// matchPath is routingNode.matchPath for p, followed by a "/" when slash.
func (n *node) matchPath(p string, slash bool) *node {
	if n == nil {
		return nil
	}
	if p == "" && !slash {
		if n.route == nil {
			return nil
		}
		return n
	}
	seg, rest, restSlash := "/", "", false
	if p == "" {
		// The appended slash.
	} else if p != "/" {
		seg, rest = p[1:], ""
		if i := strings.IndexByte(seg, '/'); i >= 0 {
			seg, rest = seg[:i], seg[i:]
		}
		seg = pathUnescape(seg)
		restSlash = slash
	}
	if c := n.children[seg].matchPath(rest, restSlash); c != nil {
		return c
	}
	if seg != "/" {
		if c := n.wild.matchPath(rest, restSlash); c != nil {
			return c
		}
	}
	return n.rest
}

// exactMatch is ServeMux's exactMatch for n and p, followed by a "/" when
// slash: whether n matched all of the path, not a part that a remainder
// wildcard or a trailing slash then took.
func (n *node) exactMatch(p string, slash bool) bool {
	if n == nil {
		return false
	}
	if !n.multi {
		return true
	}
	if !slash && !strings.HasSuffix(p, "/") {
		return false
	}
	slashes := strings.Count(p, "/")
	if slash {
		slashes++
	}
	return n.segments == slashes
}

// processID returns the process ID that leaf n's wildcard takes from p, as
// ServeMux's PathValue does: the segment at its place, unescaped.
func (n *node) processID(p string) string {
	if n.process < 0 {
		return ""
	}
	seg := p[1:]
	for range n.process {
		seg = seg[strings.IndexByte(seg, '/')+1:]
	}
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	return pathUnescape(seg)
}

// pathUnescape is ServeMux's: an invalid escape leaves the segment as it is.
// A segment without '%', nearly every one, is returned at once: it is its
// own unescaping (url.PathUnescape returns it unchanged).
func pathUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// muxSupportsPatterns reports whether ServeMux understands Go 1.22
// patterns. GODEBUG=httpmuxgo121=1 turns them off without an error: it
// would then neither refuse bad patterns nor conflicting ones, and the
// tree's order relies on that.
func muxSupportsPatterns() bool {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc("GET /probe/{x}", func(_ http.ResponseWriter, r *http.Request) { got = r.PathValue("x") })
	mux.ServeHTTP(discard{}, &http.Request{Method: "GET", URL: &url.URL{Path: "/probe/ok"}})
	return got == "ok"
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) WriteHeader(int)             {}
func (discard) Write(b []byte) (int, error) { return len(b), nil }
