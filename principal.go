package keywarden

import (
	"context"
	"slices"
	"sort"
	"time"
)

// Principal is whoever a request acts for, after authentication. Handlers
// decide with it alone, whether the caller came with an API key or (in the
// console) with a session.
//
// Three shapes exist: an organization-wide principal (an organization key,
// or an owner or admin) holds Scopes everywhere in its organization; a
// process key holds Scopes on ProcessID only; a user-role member holds, per
// process, the scopes in Grants and nothing at organization level.
type Principal struct {
	OrgID string
	// ProcessID confines the principal to one process when non-empty.
	ProcessID string
	Scopes    []Scope
	// Set holds Scopes as bits, for HasScopeBit on the request path.
	Set ScopeSet
	// Grants, when non-nil, confines the principal to the processes it maps,
	// each with its own scopes.
	Grants map[string][]Scope
	Actor  Actor
	// KeyID, KeyUser and ExpiresAt describe the API key, when a key
	// authenticated the request.
	KeyID     string
	KeyUser   string
	ExpiresAt time.Time
	// UserID and Role describe the console user, when a session
	// authenticated the request.
	UserID string
	Role   Role
}

// PrincipalForKey returns the principal an authenticated key acts as.
func PrincipalForKey(k KeyIdentity, c *Catalogue) *Principal {
	return &Principal{
		OrgID:     k.OrgID,
		ProcessID: k.ProcessID,
		Scopes:    c.ScopesOf(k.Scopes),
		Set:       k.Scopes,
		Actor:     Actor{Type: ActorAPIKey, ID: k.ID, Name: k.Name},
		KeyID:     k.ID,
		KeyUser:   k.User,
		ExpiresAt: k.ExpiresAt,
	}
}

// PrincipalForMember returns the principal a signed-in console user acts as.
// Owners and admins hold every organization-level scope; user-role members
// hold, on each process granted to them, the scopes of their process role.
func PrincipalForMember(u *User, m *Membership, grants []*ProcessGrant, c *Catalogue) *Principal {
	p := &Principal{
		OrgID:  m.OrgID,
		Actor:  Actor{Type: ActorUser, ID: u.ID, Name: u.Email},
		UserID: u.ID,
		Role:   m.Role,
	}
	if m.Role == RoleOwner || m.Role == RoleAdmin {
		p.Scopes = c.ForLevel(LevelOrganization)
		p.Set = c.SetOf(p.Scopes)
		return p
	}
	p.Grants = make(map[string][]Scope, len(grants))
	for _, g := range grants {
		p.Grants[g.ProcessID] = c.ProcessScopes(g.Role)
	}
	return p
}

// Level reports whether the principal reaches the whole organization or only
// some of its processes.
func (p *Principal) Level() Level {
	if p.ProcessID == "" && p.Grants == nil {
		return LevelOrganization
	}
	return LevelProcess
}

// IsAdmin reports whether the principal is an owner or admin of its
// organization (a console user, not a key).
func (p *Principal) IsAdmin() bool { return p.Role == RoleOwner || p.Role == RoleAdmin }

// ScopesOn returns the scopes the principal holds on process id; an empty id
// means the organization itself.
func (p *Principal) ScopesOn(id string) []Scope {
	if !p.CanReachProcess(id) {
		return nil
	}
	if p.Grants != nil {
		return p.Grants[id]
	}
	return p.Scopes
}

// HasScopeOn reports whether the principal holds s on process id (or, with
// an empty id, on the organization).
func (p *Principal) HasScopeOn(id string, s Scope) bool { return slices.Contains(p.ScopesOn(id), s) }

// HasScopeBit is HasScopeOn for the scope at catalogue index i, checked as
// a bit for principals that hold one set of scopes (keys, admins); members
// with per-process grants are checked by name.
func (p *Principal) HasScopeBit(id string, i int, s Scope) bool {
	if p.Grants != nil {
		return p.HasScopeOn(id, s)
	}
	return p.CanReachProcess(id) && p.Set.Has(i)
}

// HasScope reports whether the principal holds s at its own level: on the
// organization, or on its one process for a process key.
func (p *Principal) HasScope(s Scope) bool { return p.HasScopeOn(p.ProcessID, s) }

// HoldsAnywhere reports whether the principal holds s on something: its
// organization, its process, or any process granted to it.
func (p *Principal) HoldsAnywhere(s Scope) bool {
	if p.Grants == nil {
		return slices.Contains(p.Scopes, s)
	}
	for _, scopes := range p.Grants {
		if slices.Contains(scopes, s) {
			return true
		}
	}
	return false
}

// CanReachProcess reports whether the principal may see process id: an
// organization-wide principal reaches every process of its organization, a
// process key only its own, a member only those granted. An empty id (the
// organization itself) is reachable only organization-wide.
func (p *Principal) CanReachProcess(id string) bool {
	switch {
	case p.ProcessID != "":
		return p.ProcessID == id
	case p.Grants != nil:
		_, ok := p.Grants[id]
		return ok && id != ""
	}
	return true
}

// VisibleProcesses returns the processes a confined principal may see, in a
// stable order; restricted is false for an organization-wide principal.
func (p *Principal) VisibleProcesses() (ids []string, restricted bool) {
	switch {
	case p.ProcessID != "":
		return []string{p.ProcessID}, true
	case p.Grants != nil:
		ids = make([]string, 0, len(p.Grants))
		for id := range p.Grants {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return ids, true
	}
	return nil, false
}

type principalKey struct{}

// NewContextWithPrincipal returns a copy of ctx carrying p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal of ctx, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
