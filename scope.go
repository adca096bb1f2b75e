package keywarden

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Scope is a permission, written namespace.resource:action.
type Scope string

// ScopeAll is the create-request shorthand for every scope the key's level
// allows. It is expanded at creation; stored keys list their scopes explicitly,
// so adding a scope to the catalogue later never widens an existing key.
const ScopeAll = "all"

// Scopes of the endpoints Keywarden serves itself.
const (
	ScopeProcessCreate       Scope = "workspace.process:create"
	ScopeProcessRead         Scope = "workspace.process:read"
	ScopeProcessUpdate       Scope = "workspace.process:update"
	ScopeProcessDelete       Scope = "workspace.process:delete"
	ScopeProcessAPIKeyManage Scope = "workspace.process.api_key:manage"
	ScopeAdminAPIKeyManage   Scope = "workspace.admin.api_key:manage"
	ScopeAdminAuditRead      Scope = "workspace.admin.audit:read"
	ScopeAdminWebhookManage  Scope = "workspace.admin.webhook:manage"
)

// Level says what a key reaches: a whole organization or one process.
type Level string

const (
	LevelOrganization Level = "organization"
	LevelProcess      Level = "process"
)

// ScopeInfo describes one scope of the catalogue.
type ScopeInfo struct {
	Name        Scope  `json:"name"`
	Description string `json:"description"`
	// Resource groups scopes in the console's checklist, e.g. "process".
	Resource string `json:"resource"`
	// ProcessLevel is true when a process key may hold the scope.
	ProcessLevel bool `json:"processLevel"`
}

// DefaultScopes is the workspace's scope catalogue (DESIGN.md §3).
func DefaultScopes() []ScopeInfo {
	s := func(name, desc string, processLevel bool) ScopeInfo {
		return ScopeInfo{Name: Scope(name), Description: desc, ProcessLevel: processLevel}
	}
	return []ScopeInfo{
		s("workspace.process:create", "Create processes.", false),
		s("workspace.process:read", "List and read processes.", true),
		s("workspace.process:update", "Rename and configure processes.", true),
		s("workspace.process:delete", "Delete processes and everything in them.", false),
		s("workspace.process.api_key:manage", "Create, list and delete a process's API keys.", true),
		s("workspace.collection:create", "Create collections.", true),
		s("workspace.collection:read", "Read collections.", true),
		s("workspace.collection:update", "Update collections.", true),
		s("workspace.collection:delete", "Delete collections.", true),
		s("workspace.collection_editor:override", "Override a collection's editor lock.", true),
		s("workspace.file:upload", "Upload files.", true),
		s("workspace.file:download", "Download files.", true),
		s("workspace.result:create", "Create results.", true),
		s("workspace.result:read", "Read results.", true),
		s("workspace.result:update", "Update results.", true),
		s("workspace.result:delete", "Delete results.", true),
		s("workspace.export:create", "Create exports.", true),
		s("workspace.export:delete", "Delete exports.", true),
		s("workspace.destination:create", "Create export destinations.", false),
		s("workspace.destination:read", "Read export destinations.", false),
		s("workspace.destination:delete", "Delete export destinations.", false),
		s("workspace.admin.user:read", "List the organization's members.", false),
		s("workspace.admin.user:invite", "Invite members.", false),
		s("workspace.admin.user:manage", "Change members' roles and remove members.", false),
		s("workspace.admin.collection:manage", "Manage all collections of the organization.", false),
		s("workspace.admin.process:manage", "Manage all processes of the organization.", false),
		s("workspace.admin.api_key:manage", "Create, list and delete organization API keys.", false),
		s("workspace.admin.subscriptions:manage", "Manage the organization's subscriptions.", false),
		s("workspace.admin.audit:read", "Read the organization's audit log.", false),
		s("workspace.admin.webhook:manage", "Manage the organization's webhooks.", false),
	}
}

// ValidScopeName reports whether s is written namespace.resource:action in
// lower-case letters, digits, underscores and dots.
func ValidScopeName(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || colon == len(s)-1 || strings.Count(s, ":") != 1 || len(s) > 128 {
		return false
	}
	name, action := s[:colon], s[colon+1:]
	if !strings.Contains(name, ".") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return false
	}
	ok := func(str string, dot bool) bool {
		for i := 0; i < len(str); i++ {
			c := str[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || dot && c == '.') {
				return false
			}
		}
		return true
	}
	return ok(name, true) && ok(action, false)
}

// resourceOf returns the part between the namespace and the action:
// "workspace.process.api_key:manage" → "process.api_key".
func resourceOf(s Scope) string {
	name, _, _ := strings.Cut(string(s), ":")
	_, res, found := strings.Cut(name, ".")
	if !found {
		return name
	}
	return res
}

// Catalogue is the set of scopes a deployment knows: the defaults plus the
// operator's own. It is immutable once built and safe for concurrent use.
type Catalogue struct {
	scopes      []ScopeInfo
	index       map[Scope]int
	fingerprint string
}

// MaxScopes bounds a catalogue, so that any set of its scopes fits in a
// ScopeSet.
const MaxScopes = 256

// ScopeSet is a set of scopes of one catalogue as bits, indexed by catalogue
// position: checking a scope on the request path is a shift and a mask, not
// string comparisons. It is a value, so copying it allocates nothing.
//
// A set means something only with the catalogue that built it: bit i is
// whatever scope that catalogue holds at index i, and another catalogue (a
// release that adds a default scope, an edited --scopes-file) may hold a
// different scope there. So a set is never stored or sent: keys store scope
// names, each process turns them into bits with its one catalogue (SetOf,
// which leaves out names it does not know rather than guess), and everything
// in a process that builds or reads sets — the key cache, the server, the
// route table — is handed that same catalogue. Catalogue.Fingerprint tells
// whether two catalogues read every bit alike.
type ScopeSet [MaxScopes / 64]uint64

// Has reports whether the scope at catalogue index i is in the set.
func (s ScopeSet) Has(i int) bool {
	return i >= 0 && i < MaxScopes && s[i/64]&(1<<(uint(i)%64)) != 0
}

// Add puts the scope at catalogue index i in the set.
func (s *ScopeSet) Add(i int) {
	if i >= 0 && i < MaxScopes {
		s[i/64] |= 1 << (uint(i) % 64)
	}
}

// Minus returns the scopes of s that are not in other.
func (s ScopeSet) Minus(other ScopeSet) ScopeSet {
	for i := range s {
		s[i] &^= other[i]
	}
	return s
}

// Empty reports whether the set holds no scope.
func (s ScopeSet) Empty() bool { return s == ScopeSet{} }

// NewCatalogue builds a catalogue from scopes, rejecting malformed or duplicate
// names and more than MaxScopes.
func NewCatalogue(scopes []ScopeInfo) (*Catalogue, error) {
	if len(scopes) > MaxScopes {
		return nil, Errorf(EINVALID, "a catalogue holds at most %d scopes, not %d", MaxScopes, len(scopes))
	}
	c := &Catalogue{index: make(map[Scope]int, len(scopes))}
	for _, s := range scopes {
		if !ValidScopeName(string(s.Name)) {
			return nil, Errorf(EINVALID, "scope %q is not of the form namespace.resource:action", s.Name)
		}
		if _, dup := c.index[s.Name]; dup {
			return nil, Errorf(EINVALID, "scope %q is listed twice", s.Name)
		}
		if s.Resource == "" {
			s.Resource = resourceOf(s.Name)
		}
		c.index[s.Name] = len(c.scopes)
		c.scopes = append(c.scopes, s)
	}
	h := sha256.New()
	for _, s := range c.scopes {
		h.Write([]byte(s.Name))
		h.Write([]byte{'\n'}) // no scope name holds a newline
	}
	c.fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	return c, nil
}

// Fingerprint identifies the catalogue's scopes and their order, and so
// what each bit of its ScopeSets means: two catalogues with the same
// fingerprint read every set alike, and two with different ones must never
// share a set. Descriptions do not count. The server logs it at start, so
// that the nodes of a cluster can be checked to run one catalogue.
func (c *Catalogue) Fingerprint() string { return c.fingerprint }

// MustDefaultCatalogue returns the default catalogue; it cannot fail.
func MustDefaultCatalogue() *Catalogue {
	c, err := NewCatalogue(DefaultScopes())
	if err != nil {
		panic(err)
	}
	return c
}

// All returns every scope of the catalogue, in catalogue order.
func (c *Catalogue) All() []ScopeInfo { return slices.Clone(c.scopes) }

// Lookup returns the scope named s.
func (c *Catalogue) Lookup(s Scope) (ScopeInfo, bool) {
	i, ok := c.index[s]
	if !ok {
		return ScopeInfo{}, false
	}
	return c.scopes[i], true
}

// Index returns the catalogue position of s, its bit in a ScopeSet.
func (c *Catalogue) Index(s Scope) (int, bool) {
	i, ok := c.index[s]
	return i, ok
}

// SetOf returns scopes as a ScopeSet; scopes unknown to the catalogue (say,
// removed from the configuration since) are left out.
func (c *Catalogue) SetOf(scopes []Scope) ScopeSet {
	var set ScopeSet
	for _, s := range scopes {
		if i, ok := c.index[s]; ok {
			set.Add(i)
		}
	}
	return set
}

// ScopesOf returns the scopes of set, in catalogue order.
func (c *Catalogue) ScopesOf(set ScopeSet) []Scope {
	var out []Scope
	for i, info := range c.scopes {
		if set.Has(i) {
			out = append(out, info.Name)
		}
	}
	return out
}

// AllowedAt reports whether a key of level may hold s.
func (c *Catalogue) AllowedAt(s Scope, level Level) bool {
	info, ok := c.Lookup(s)
	return ok && (level == LevelOrganization || info.ProcessLevel)
}

// ForLevel returns every scope a key of level may hold, in catalogue order.
func (c *Catalogue) ForLevel(level Level) []Scope {
	var out []Scope
	for _, s := range c.scopes {
		if level == LevelOrganization || s.ProcessLevel {
			out = append(out, s.Name)
		}
	}
	return out
}

// Resolve turns the scopes of a create request into the explicit, ordered,
// de-duplicated list a key stores. ["all"] expands to everything level allows.
// Every unknown scope or scope the level may not hold is reported, each under
// location (e.g. "body: scopes[2]").
func (c *Catalogue) Resolve(requested []string, level Level, location string, v *Validation) []Scope {
	if len(requested) == 0 {
		v.Add(location, "required", "At least one scope is required (or \"all\").")
		return nil
	}
	if slices.Contains(requested, ScopeAll) {
		if len(requested) != 1 {
			v.Add(location, "invalid_scope", "\"all\" cannot be combined with other scopes.")
			return nil
		}
		return c.ForLevel(level)
	}
	want := make(map[Scope]bool, len(requested))
	for i, r := range requested {
		s := Scope(r)
		loc := location + "[" + strconv.Itoa(i) + "]"
		switch info, ok := c.Lookup(s); {
		case !ok:
			v.Add(loc, "unknown_scope", "Unknown scope %q.", r)
		case level == LevelProcess && !info.ProcessLevel:
			v.Add(loc, "scope_not_allowed", "Scope %q cannot be held by a process key.", r)
		default:
			want[s] = true
		}
	}
	// Catalogue order, so the same set always stores and prints the same way.
	var out []Scope
	for _, s := range c.scopes {
		if want[s.Name] {
			out = append(out, s.Name)
		}
	}
	return out
}
