package keywarden

import (
	"context"
	"slices"
	"time"
)

// Principal is whoever a request acts for, after authentication. Handlers
// decide with it alone, whether the caller came with an API key or (in the
// console) with a session.
type Principal struct {
	OrgID string
	// ProcessID confines the principal to one process when non-empty.
	ProcessID string
	Scopes    []Scope
	Actor     Actor
	// KeyID, KeyUser and ExpiresAt describe the API key, when a key
	// authenticated the request.
	KeyID     string
	KeyUser   string
	ExpiresAt time.Time
}

// PrincipalForKey returns the principal an authenticated key acts as.
func PrincipalForKey(k *APIKey) *Principal {
	return &Principal{
		OrgID:     k.OrgID,
		ProcessID: k.ProcessID,
		Scopes:    k.Scopes,
		Actor:     Actor{Type: ActorAPIKey, ID: k.ID, Name: k.Name},
		KeyID:     k.ID,
		KeyUser:   k.User,
		ExpiresAt: k.ExpiresAt,
	}
}

// Level reports whether the principal reaches the organization or one process.
func (p *Principal) Level() Level {
	if p.ProcessID == "" {
		return LevelOrganization
	}
	return LevelProcess
}

// HasScope reports whether the principal holds s.
func (p *Principal) HasScope(s Scope) bool { return slices.Contains(p.Scopes, s) }

// CanReachProcess reports whether the principal may see process id: an
// organization-level principal reaches every process of its organization, a
// process-level one only its own. An empty id (the organization itself) is
// reachable only at organization level.
func (p *Principal) CanReachProcess(id string) bool {
	return p.ProcessID == "" || p.ProcessID == id
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
