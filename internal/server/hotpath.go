package server

import (
	"encoding/json"
	"hash/maphash"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/metrics"
)

// The request path allocates nothing of its own on a cached valid request
// to the hot paths (GET /api/v1/me, the verify API, forward-auth): the
// per-request state is pooled (requestState) and reaches the handlers
// through the ResponseWriter rather than a context value (which would copy
// the request), the metrics' series are resolved when the routes are
// registered, client addresses and scope lists are rendered once and
// remembered, fixed-shape answers are appended to pooled buffers, and so
// is the request log line (requestlog.go).
// TestHotPathAllocations holds this.

// requestState is what one request needs beyond the request itself,
// pooled: its info and the recorder of its response.
type requestState struct {
	info requestInfo
	rec  statusRecorder
}

var requestStates = sync.Pool{New: func() any {
	st := &requestState{}
	st.rec.info = &st.info
	return st
}}

// infoOf returns the info of the request whose response w writes: the
// recorder logRequests put in front of every handler holds it. A writer
// that does not lead to one (a handler called on its own, in tests) gets
// an info of its own, which nothing reads.
func infoOf(w http.ResponseWriter) *requestInfo {
	for {
		switch t := w.(type) {
		case *statusRecorder:
			return t.info
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return &requestInfo{}
		}
	}
}

// clientIP is s.clientIP(r), computed once per request.
func (s *server) clientIPOf(r *http.Request, info *requestInfo) string {
	if !info.ipDone {
		info.ipDone = true
		if a := s.ClientIPs.ClientIP(r); a.IsValid() {
			info.ip = a
			info.ipText = s.ipTexts.text(a)
		} else {
			info.ipText = r.RemoteAddr
		}
	}
	return info.ipText
}

// clientAddr is s.ClientIPs.ClientIP(r), computed once per request.
func (s *server) clientAddrOf(r *http.Request, info *requestInfo) netip.Addr {
	s.clientIPOf(r, info)
	return info.ip
}

// memoSlots is the size of the direct-mapped memos below: a miss costs one
// rendering and one allocation, a hit neither, and nothing ever locks.
const memoSlots = 1 << 10

// memoSeed seeds the memos' hashes: maphash, the runtime's own map hash
// (AES where the CPU has it), hashes an address in 14 ns and a key ID in
// 6 where a byte-at-a-time FNV took 32 and 25; and, seeded anew in each
// process, it leaves nobody able to pick inputs that share a slot.
var memoSeed = maphash.MakeSeed()

// memoSlot is the slot of k in a memo.
func memoSlot[K comparable](k K) uint64 { return maphash.Comparable(memoSeed, k) % memoSlots }

// ipTexts remembers the text of recent client addresses.
type ipTexts struct {
	slots [memoSlots]atomic.Pointer[ipText]
}

type ipText struct {
	addr netip.Addr
	text string
}

func (m *ipTexts) text(a netip.Addr) string {
	slot := &m.slots[memoSlot(a)]
	if e := slot.Load(); e != nil && e.addr == a {
		return e.text
	}
	e := &ipText{addr: a, text: a.String()}
	slot.Store(e)
	return e.text
}

// texts remembers recent strings by their bytes: a hit returns the string
// made on the first miss, without an allocation.
type texts struct {
	slots [memoSlots]atomic.Pointer[string]
}

func (m *texts) text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := &m.slots[maphash.Bytes(memoSeed, b)%memoSlots]
	if e := slot.Load(); e != nil && *e == string(b) {
		return *e
	}
	e := string(b)
	slot.Store(&e)
	return e
}

// scopeRendering is a scope set as the answers spell it.
type scopeRendering struct {
	set    keywarden.ScopeSet
	names  []keywarden.Scope // catalogue order, nil when empty; shared, never modified
	json   []byte            // names as a JSON array, [] when empty
	spaced string            // names separated by spaces
}

type scopeRenderings struct {
	slots [memoSlots]atomic.Pointer[scopeRendering]
}

// scopesOf returns the rendering of set in s's catalogue.
func (s *server) scopesOf(set keywarden.ScopeSet) *scopeRendering {
	slot := &s.scopeTexts.slots[memoSlot(set)]
	if e := slot.Load(); e != nil && e.set == set {
		return e
	}
	names := s.Catalogue.ScopesOf(set)
	e := &scopeRendering{set: set, names: names[:len(names):len(names)], spaced: joinScopes(names, " ")}
	if names == nil {
		e.names = nil
	}
	e.json = appendScopes(nil, names, false)
	slot.Store(e)
	return e
}

// appendScopes appends names as a JSON array: null when nil and
// nullWhenNil, as encoding/json writes a nil slice.
func appendScopes(b []byte, names []keywarden.Scope, nullWhenNil bool) []byte {
	if names == nil && nullWhenNil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(n))
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string, byte for byte as
// encoding/json.Marshal writes it (HTML-safe, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced): the common case here, plain printable ASCII,
// is copied, with a backslash before a quote or a backslash; anything
// else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	escapes := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case jsonPlain[c]:
		case c == '"' || c == '\\':
			escapes = true
		default:
			q, err := json.Marshal(s)
			if err != nil { // cannot happen for a string
				panic(err)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	for escapes {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, '\\', s[i])
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// isJSONPlain reports whether encoding/json copies s into a string as it is.
func isJSONPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			return false
		}
	}
	return true
}

// jsonPlain tells the bytes encoding/json copies into a string as they
// are: printable ASCII but for the quote, the backslash and <, >, &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONTime appends timestamp(t) as a JSON string: RFC 3339 needs no
// escaping.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// buffers holds the buffers fixed-shape answers are appended to, and
// the verify API reads its bodies into.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// putBuffer returns a buffer to buffers, unless a large body grew it: the
// pool is not to hold on to megabytes.
func putBuffer(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		buffers.Put(bp)
	}
}

// putSecretBuffer is putBuffer for a buffer that held a secret (a verify
// request's body): its bytes are zeroed first, so that the key does not
// linger in the pool until the buffer's next use overwrites it.
func putSecretBuffer(bp *[]byte) {
	clear(*bp)
	putBuffer(bp)
}

// Header values that never change, shared by every response: http.Header
// holds a slice per name, and Set would allocate one each time. Each has
// its capacity at its length, so that an Add elsewhere copies it.
var (
	headerJSON    = []string{"application/json"}
	headerNosniff = []string{"nosniff"}
	headerNoStore = []string{"no-store"}
)

// writeJSON writes body, a JSON value without its final newline, as
// encode does: same headers, same bytes.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeJSONLine(w, status, append(body, '\n'))
}

// writeJSONLine is writeJSON for a body that ends in its newline already
// (and may be shared: it is only read).
func writeJSONLine(w http.ResponseWriter, status int, line []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["X-Content-Type-Options"] = headerNosniff
	w.WriteHeader(status)
	_, _ = w.Write(line)
}

// routeSeries returns the request series of a route pattern, nil without metrics.
func (s *server) routeSeries(pattern string) *metrics.Route {
	if s.Metrics == nil {
		return nil
	}
	return s.Metrics.Route(pattern)
}

// unsafeString views b as a string, for as long as b is neither modified
// nor reused: only for values that do not outlive the request.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// keyFields are the fields of a valid key that the hot paths' answers
// show. A rendering remembered for a key (keyMemo) answers only for the
// same fields, so a key renamed, narrowed, extended or moved gets its new
// answer at once. A key's ID is public: nothing secret is compared here.
type keyFields struct {
	id, user, orgID, processID, name string
	set                              keywarden.ScopeSet
	exp                              time.Time
}

func fieldsOf(k *keywarden.KeyIdentity) keyFields {
	return keyFields{id: k.ID, user: k.User, orgID: k.OrgID, processID: k.ProcessID, name: k.Name, set: k.Scopes, exp: k.ExpiresAt}
}

// keyMemo remembers one rendering per key: a key in use is answered the
// same again and again.
type keyMemo[T any] struct {
	slots [memoSlots]atomic.Pointer[keyRendering[T]]
}

type keyRendering[T any] struct {
	key   keyFields
	value T // shared, never modified
}

// of returns the rendering for k, made by render on a miss.
func (m *keyMemo[T]) of(k keyFields, render func() T) *T {
	slot := &m.slots[memoSlot(k.id)]
	if e := slot.Load(); e != nil && e.key == k {
		return &e.value
	}
	e := &keyRendering[T]{key: k, value: render()}
	slot.Store(e)
	return &e.value
}

// identityOf returns the values of forward-auth's identity headers for k:
// key ID, user, organization, process and scopes. The slices of them that
// a response holds have their capacity at their length, so that an Add
// elsewhere copies rather than writes into them.
func (s *server) identityOf(k *keywarden.KeyIdentity) *[5]string {
	return s.identities.of(fieldsOf(k), func() [5]string {
		return [5]string{k.ID, k.User, k.OrgID, k.ProcessID, s.scopesOf(k.Scopes).spaced}
	})
}

// meOf returns GET /api/v1/me's answer for p, a key's principal
// (principalForKey), its newline included.
func (s *server) meOf(p *keywarden.Principal) []byte {
	k := keyFields{id: p.KeyID, user: p.KeyUser, orgID: p.OrgID, processID: p.ProcessID, name: p.Actor.Name, set: p.Set, exp: p.ExpiresAt}
	return *s.meAnswers.of(k, func() []byte { return append(appendMe(nil, p, s.scopesOf(p.Set)), '\n') })
}

// verifiedOf returns the verify API's answer for a valid key k, its
// newline included.
func (s *server) verifiedOf(k *keywarden.KeyIdentity) []byte {
	return *s.verifyAnswers.of(fieldsOf(k), func() []byte { return append(s.appendVerified(nil, k), '\n') })
}
