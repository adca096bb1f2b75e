package routetable

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden"
	"go.yaml.in/yaml/v3"
)

// methodList names the methods a route may name, for messages.
const methodList = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// validMethod reports whether a route may name method. ServeMux accepts any
// token; the list is closed so that a typo ("GTE") is an error rather than
// a route that never matches.
func validMethod(method string) bool {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// problem is one error of a file, reported at line (0 when YAML gave none).
type problem struct {
	line int
	msg  string
}

// parser collects every problem of one file, so that the operator fixes
// them in one go rather than one boot at a time.
type parser struct {
	name     string
	cat      *keywarden.Catalogue
	problems []problem
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.problems = append(p.problems, problem{line, fmt.Sprintf(format, args...)})
}

// err returns the problems as one error, in line order, or nil.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(p.problems, func(a, b problem) int { return a.line - b.line })
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		if pr.line > 0 {
			errs[i] = fmt.Errorf("%s:%d: %s", p.name, pr.line, pr.msg)
		} else {
			errs[i] = fmt.Errorf("%s: %s", p.name, pr.msg)
		}
	}
	return errors.Join(errs...) // one per line
}

// parse decodes data into YAML nodes — not into structs, so that every
// problem can name its line — and builds the table. It returns nil after
// recording at least one problem.
func (p *parser) parse(data []byte) *Table {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errorf(1, "no routes: the file is empty")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(extra.Line, "a route table is one YAML document; remove this second one")
	} else if err != io.EOF {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		p.errorf(1, "no routes: the file is empty")
		return nil
	}
	p.noAliases(doc.Content[0])
	t := p.table(doc.Content[0])
	if t == nil || len(p.problems) > 0 {
		return nil
	}
	if !muxSupportsPatterns() {
		p.errorf(0, "net/http's ServeMux runs with GODEBUG=httpmuxgo121=1, which does not understand method and wildcard patterns; unset it")
		return nil
	}
	return t
}

// yamlError reports a YAML syntax error at the line yaml.v3 puts in its
// message ("yaml: line 3: ..."), when it gives one.
func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				p.errorf(line, "invalid YAML: %s", text)
				return
			}
		}
	}
	p.errorf(0, "invalid YAML: %s", msg)
}

// noAliases refuses YAML aliases (*name). A route table is short enough to
// write out, and an alias would make the line a value came from ambiguous.
// The check functions below stay silent about alias nodes, reported here.
func (p *parser) noAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.errorf(n.Line, "YAML aliases (*%s) are not supported in a route table; write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		p.noAliases(c)
	}
}

// field is one key: value pair of a mapping.
type field struct{ key, val *yaml.Node }

// fields returns the pairs of mapping m by key, reporting keys not in
// allowed and keys given twice (yaml.v3 does not, when decoding to nodes).
func (p *parser) fields(m *yaml.Node, allowed ...string) map[string]field {
	out := make(map[string]field, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			if k.Kind != yaml.AliasNode {
				p.errorf(k.Line, "keys must be plain names, one of %s", strings.Join(allowed, ", "))
			}
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.errorf(k.Line, "unknown key %q (want one of %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := out[k.Value]; dup {
			p.errorf(k.Line, "%s is given twice (first at line %d)", k.Value, first.key.Line)
			continue
		}
		out[k.Value] = field{k, v}
	}
	return out
}

// str returns the string value of n, reporting what (e.g. "route") when n
// is not a string.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return n.Value, true
	}
	if n.Kind != yaml.AliasNode {
		p.errorf(n.Line, "%s must be a string, not %s", what, describe(n))
	}
	return "", false
}

// boolean returns the value of a true/false node.
func (p *parser) boolean(n *yaml.Node, what string) (value, ok bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && n.Decode(&value) == nil {
		return value, true
	}
	if n.Kind != yaml.AliasNode {
		p.errorf(n.Line, "%s must be true or false, not %s", what, describe(n))
	}
	return false, false
}

// describe names what n is, for messages: `"yes"`, a list, a mapping.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return strconv.Quote(n.Value)
	}
	return "this"
}

// table checks the top-level mapping and each route, then registers the
// routes with a ServeMux.
func (p *parser) table(top *yaml.Node) *Table {
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		p.errorf(top.Line, "no routes: the file is empty")
		return nil
	}
	if top.Kind != yaml.MappingNode {
		p.errorf(top.Line, "a route table is a mapping with routes: (and optionally unmatched:), not %s", describe(top))
		return nil
	}
	f := p.fields(top, "unmatched", "routes")
	t := &Table{source: p.name}
	if u, ok := f["unmatched"]; ok {
		v := u.val
		isStr := v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str"
		switch {
		case isStr && v.Value == "deny":
		case isStr && v.Value == "authenticate":
			t.unmatched = &Route{Line: v.Line, AnyKey: true}
		case v.Kind == yaml.AliasNode:
		default:
			p.errorf(v.Line, `unmatched must be "deny" or "authenticate", not %s`, describe(v))
		}
	}
	rs, ok := f["routes"]
	switch {
	case !ok:
		p.errorf(top.Line, "no routes: the file needs a routes: list")
		return nil
	case rs.val.Kind == yaml.ScalarNode && rs.val.ShortTag() == "!!null",
		rs.val.Kind == yaml.SequenceNode && len(rs.val.Content) == 0:
		p.errorf(rs.val.Line, "no routes: the routes: list is empty")
		return nil
	case rs.val.Kind != yaml.SequenceNode:
		if rs.val.Kind != yaml.AliasNode {
			p.errorf(rs.val.Line, "routes must be a list of routes, not %s", describe(rs.val))
		}
		return nil
	}
	// A route with other problems is still registered when its pattern is
	// valid, so that its conflicts are reported in the same run.
	for _, item := range rs.val.Content {
		if r, ok := p.route(item); ok {
			t.routes = append(t.routes, r)
		}
	}
	p.register(t.routes)
	t.tree = newTree(t.routes)
	return t
}

// route checks one entry of routes:. ok reports whether its pattern is
// valid; its problems are recorded either way.
func (p *parser) route(m *yaml.Node) (_ Route, ok bool) {
	if m.Kind != yaml.MappingNode {
		if m.Kind != yaml.AliasNode {
			p.errorf(m.Line, "each route must be a mapping with route: and one of scopes:, anyKey: or public:, not %s", describe(m))
		}
		return Route{}, false
	}
	f := p.fields(m, "route", "scopes", "process", "anyKey", "public")
	r := Route{Line: m.Line}

	var wildcards []string // single-segment wildcards of a valid pattern
	var remainder string   // its {name...} wildcard, if any
	validPattern := false
	if rf, ok := f["route"]; !ok {
		p.errorf(m.Line, `route is missing: each entry needs route: "METHOD /path"`)
	} else if s, ok := p.str(rf.val, "route"); ok {
		r.Pattern, r.Line = s, rf.val.Line
		if msg := checkPattern(s); msg != "" {
			p.errorf(r.Line, "%s", msg)
		} else {
			validPattern = true
			wildcards, remainder = wildcardsOf(s)
		}
	}
	name := r.Pattern // for messages
	if name == "" {
		name = fmt.Sprintf("at line %d", m.Line)
	} else {
		name = strconv.Quote(name)
	}

	var kinds []string // which of scopes, anyKey, public are given
	if sf, ok := f["scopes"]; ok {
		kinds = append(kinds, "scopes")
		r.Scopes, r.Set = p.scopes(sf.val)
	}
	if af, ok := f["anyKey"]; ok {
		if v, _ := p.boolean(af.val, "anyKey"); v {
			r.AnyKey = true
			kinds = append(kinds, "anyKey: true")
		}
	}
	if pf, ok := f["public"]; ok {
		if v, _ := p.boolean(pf.val, "public"); v {
			r.Public = true
			kinds = append(kinds, "public: true")
		}
	}
	switch len(kinds) {
	case 0:
		p.errorf(m.Line, "route %s needs one of scopes: [...], anyKey: true or public: true", name)
	case 1:
	default:
		p.errorf(m.Line, "route %s has %s; give exactly one of scopes, anyKey: true or public: true", name, strings.Join(kinds, " and "))
	}

	if pf, ok := f["process"]; ok {
		if w, ok := p.str(pf.val, "process"); ok {
			switch {
			case r.Public:
				p.errorf(pf.val.Line, "process on a public route: a public request carries no key to check against the process")
			case w == "":
				p.errorf(pf.val.Line, "process must name a wildcard of the route, e.g. processId for {processId}")
			case !validPattern:
				// Which wildcards the pattern has is unknown; its error is reported.
			case w == remainder:
				p.errorf(pf.val.Line, "process %q is the remainder wildcard {%s...}, which can span several segments; a process ID is one segment", w, w)
			case !slices.Contains(wildcards, w):
				p.errorf(pf.val.Line, "process %q is not a wildcard of %s (%s)", w, name, listWildcards(wildcards))
			default:
				r.ProcessWildcard = w
			}
		}
	}
	return r, validPattern
}

// scopes checks a scopes: list, reporting each unknown scope at its own line.
func (p *parser) scopes(n *yaml.Node) ([]keywarden.Scope, keywarden.ScopeSet) {
	var set keywarden.ScopeSet
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null",
		n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		p.errorf(n.Line, "scopes is empty; write anyKey: true for a route any valid key may call")
		return nil, set
	case n.Kind != yaml.SequenceNode:
		if n.Kind != yaml.AliasNode {
			p.errorf(n.Line, "scopes must be a list of scope names, e.g. [workspace.file:upload], not %s", describe(n))
		}
		return nil, set
	}
	var out []keywarden.Scope
	seen := make(map[keywarden.Scope]int, len(n.Content))
	for _, item := range n.Content {
		s, ok := p.str(item, "a scope")
		if !ok {
			continue
		}
		scope := keywarden.Scope(s)
		i, known := p.cat.Index(scope)
		if !known {
			p.errorf(item.Line, "unknown scope %q", s)
			continue
		}
		if first, dup := seen[scope]; dup {
			p.errorf(item.Line, "scope %q is listed twice (first at line %d)", s, first)
			continue
		}
		seen[scope] = item.Line
		set.Add(i)
		out = append(out, scope)
	}
	return out, set
}

// checkPattern returns why route cannot be a pattern of the table, or "".
// Beyond what ServeMux checks, the method is required and one of methods,
// and there is no host: a gateway's request is matched by path alone.
func checkPattern(route string) string {
	method, path, found := strings.Cut(route, " ")
	if !found {
		return fmt.Sprintf(`route %q must be "METHOD /path", e.g. "GET /v1/me"`, route)
	}
	if !validMethod(method) {
		return fmt.Sprintf("route %q: method %q is not one of %s", route, method, methodList)
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Sprintf(`route %q: the path must follow the method after one space and start with "/" (no host part)`, route)
	}
	if err := tryRegister(http.NewServeMux(), route); err != nil {
		msg, _ := strings.CutPrefix(err.Error(), fmt.Sprintf("parsing %q: ", route))
		return fmt.Sprintf("bad pattern %q: %s", route, msg)
	}
	return ""
}

// wildcardsOf returns the single-segment wildcard names of a pattern that
// ServeMux accepted, and its {name...} remainder wildcard. ServeMux's
// syntax makes a wildcard a whole segment, so splitting on "/" suffices.
func wildcardsOf(pattern string) (single []string, remainder string) {
	_, path, _ := strings.Cut(pattern, " ")
	for seg := range strings.SplitSeq(path, "/") {
		inner, open := strings.CutPrefix(seg, "{")
		name, closed := strings.CutSuffix(inner, "}")
		if !open || !closed || name == "$" {
			continue
		}
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			remainder = rest
		} else {
			single = append(single, name)
		}
	}
	return single, remainder
}

func listWildcards(names []string) string {
	if len(names) == 0 {
		return "it has none"
	}
	return "it has {" + strings.Join(names, "}, {") + "}"
}

// register adds every route to one ServeMux, which refuses conflicting
// patterns: Match's tree relies on there being none. ServeMux panics on a
// pattern that conflicts with one already registered, naming neither line
// of ours; the panic is recovered, and the earlier route it conflicts with
// is found by registering the two alone.
func (p *parser) register(routes []Route) {
	mux := http.NewServeMux()
	firstAt := make(map[string]int, len(routes)) // pattern → line
	var registered []*Route
	for i := range routes {
		r := &routes[i]
		if line, dup := firstAt[r.Pattern]; dup {
			p.errorf(r.Line, "duplicate route %q (also at line %d)", r.Pattern, line)
			continue
		}
		firstAt[r.Pattern] = r.Line
		if err := tryRegister(mux, r.Pattern); err == nil {
			registered = append(registered, r)
			continue
		}
		for _, earlier := range registered {
			pair := http.NewServeMux()
			_ = tryRegister(pair, earlier.Pattern)
			if err := tryRegister(pair, r.Pattern); err != nil {
				p.errorf(r.Line, "conflicting pattern %q: it conflicts with %q at line %d: %s", r.Pattern, earlier.Pattern, earlier.Line, conflictReason(err))
				break
			}
		}
	}
}

// conflictReason returns the first line of ServeMux's explanation
// ("GET /a/{x} and GET /{y}/b both match some paths, like "/a/b"."), which
// follows its own message naming Go source lines.
func conflictReason(err error) string {
	_, reason, ok := strings.Cut(err.Error(), ":\n")
	if !ok {
		return err.Error()
	}
	reason, _, _ = strings.Cut(reason, "\n")
	return reason
}

// tryRegister registers pattern with a handler that does nothing, turning
// ServeMux's panic on a bad or conflicting pattern into an error. A refused
// pattern leaves mux as it was: ServeMux checks before it adds.
func tryRegister(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", v)
			}
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}
