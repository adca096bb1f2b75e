package keywarden

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// APIKey is an organization key (ProcessID empty) or a process key. Its secret
// exists only as SecretHash; the full key is returned once, by MintAPIKey.
type APIKey struct {
	ID         string
	OrgID      string
	ProcessID  string // empty for an organization key
	Name       string
	User       string // the public key ID, e.g. kwo_…
	SecretHash SecretHash
	Scopes     []Scope
	CreatedAt  time.Time
	CreatedBy  Actor
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero when never used
	// LastUsedFrom is the client address of the last recorded use (see
	// UsageStore).
	LastUsedFrom string
	// PreviousSecretHash is the secret a rotation replaced. It keeps
	// working until PreviousSecretExpiresAt, the end of the grace period;
	// both are zero when there is none.
	PreviousSecretHash      SecretHash
	PreviousSecretExpiresAt time.Time
	AllowedIPs              []netip.Prefix // empty: anywhere
	RateLimit               RateLimit      // zero: none
}

// Level reports whether k is an organization or a process key.
func (k *APIKey) Level() Level {
	if k.ProcessID == "" {
		return LevelOrganization
	}
	return LevelProcess
}

// Expired reports whether k has expired at now. A key is valid strictly
// before its expiry instant and never at or after it.
func (k *APIKey) Expired(now time.Time) bool { return !now.Before(k.ExpiresAt) }

// Status is "Active" or "Expired", as the API shows it.
func (k *APIKey) Status(now time.Time) string {
	if k.Expired(now) {
		return "Expired"
	}
	return "Active"
}

// Actor records who did something: a console user, an API key, or the
// operator's command line.
type Actor struct {
	Type string `json:"type"` // "user", "apiKey" or "cli"
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Actor types.
const (
	ActorUser   = "user"
	ActorAPIKey = "apiKey"
	ActorCLI    = "cli"
)

// APIKeyFilter selects keys of one organization at one level; ProcessID
// selects the keys of one process and is required at LevelProcess.
type APIKeyFilter struct {
	OrgID     string
	Level     Level
	ProcessID string
	// NewestFirst reverses the order, for the console, which shows a key
	// just created at the top of its first page. The API lists oldest
	// first, so that its pages stay put while keys are added.
	NewestFirst bool
	Page
}

// APIKeyStore keeps API keys. Changes take the AuditEvent that records them
// (nil: not audited), written in the same transaction.
type APIKeyStore interface {
	Rotator
	Editor
	APIKeyRevoker
	// CreateAPIKey stores k. A taken ID or User is ECONFLICT. Once it
	// returns nil the key is durable.
	CreateAPIKey(ctx context.Context, k *APIKey, e *AuditEvent) error
	// FindAPIKey returns a key of the organization, of either level.
	FindAPIKey(ctx context.Context, orgID, id string) (*APIKey, error)
	// FindAPIKeyByUser returns the key whose public ID is user, of any
	// organization: it is the verification path.
	FindAPIKeyByUser(ctx context.Context, user string) (*APIKey, error)
	// APIKeysAfter returns up to limit keys of every organization whose
	// public ID sorts after afterUser, in that order: the verification
	// cache loads every key with it, so that an unknown ID is answered
	// from memory like a known one.
	APIKeysAfter(ctx context.Context, afterUser string, limit int) ([]*APIKey, error)
	// FindAPIKeys returns one page, oldest first unless f.NewestFirst,
	// and the total count.
	FindAPIKeys(ctx context.Context, f APIKeyFilter) ([]*APIKey, int, error)
	// FindAPIKeysExpiring returns up to limit keys of the organization,
	// of both levels, that expire after from and at or before to, soonest
	// first: the console's expiry reminders.
	FindAPIKeysExpiring(ctx context.Context, orgID string, from, to time.Time, limit int) ([]*APIKey, error)
	// DeleteAPIKey deletes the key ref names and returns it, so that the
	// caller needs no look-up first. e, when not nil, is the deletion's
	// audit event: the store completes it with the deleted key as its
	// target (only the deletion knows it) and writes it in the same
	// transaction. No such key — or one of another organization, level or
	// process — is ENOTFOUND. Once it returns the deletion is durable.
	DeleteAPIKey(ctx context.Context, ref APIKeyRef, e *AuditEvent) (*APIKey, error)
}

// APIKeyRef names one key of an organization. A Level, when set, confines
// it: an organization key, or a key of ProcessID.
type APIKeyRef struct {
	OrgID     string
	ID        string
	Level     Level // empty: either level (the operator's command line)
	ProcessID string
}

// CreateAPIKeyRequest is the body of a create call. Exp is a string so that a
// malformed timestamp is reported against its field.
type CreateAPIKeyRequest struct {
	Name       string            `json:"name"`
	Scopes     []string          `json:"scopes"`
	Exp        string            `json:"exp"`
	AllowedIPs []string          `json:"allowedIps,omitempty"`
	RateLimit  *RateLimitRequest `json:"rateLimit,omitempty"`
}

// MintParams is everything besides the request that decides a new key.
type MintParams struct {
	Org       *Organization
	ProcessID string // empty for an organization key
	Catalogue *Catalogue
	Prefix    string
	Now       time.Time
	Rand      io.Reader // crypto/rand.Reader when nil
	CreatedBy Actor
	// Grantor is the principal asking. It may grant only scopes it holds, and
	// a process-confined grantor only keys of its own process. Nil means the
	// operator's command line, which has the database and may grant anything.
	Grantor *Principal
}

// MintAPIKey validates req (every invalid field at once: EINVALID), enforces
// the organization's lifetime policy and the no-escalation rule (EFORBIDDEN),
// and generates the key. The caller stores the returned APIKey and shows the
// KeyMaterial's Value exactly once.
func MintAPIKey(req CreateAPIKeyRequest, p MintParams) (*APIKey, KeyMaterial, error) {
	level := LevelOrganization
	if p.ProcessID != "" {
		level = LevelProcess
	}
	var v Validation
	name := ValidateName(req.Name, "body: name", &v)
	scopes := p.Catalogue.Resolve(req.Scopes, level, "body: scopes", &v)
	exp := validateExp(req.Exp, p.Now, p.Org.MaxKeyLifetime, &v)
	allowed := ValidateAllowedIPs(req.AllowedIPs, &v)
	limit := ValidateRateLimit(req.RateLimit, &v)
	if err := v.Err(); err != nil {
		return nil, KeyMaterial{}, err
	}
	if err := p.Grantor.mayGrant(p.Org.ID, p.ProcessID, level, scopes); err != nil {
		return nil, KeyMaterial{}, err
	}
	prefix := p.Prefix
	if prefix == "" {
		prefix = DefaultOrgKeyPrefix
		if level == LevelProcess {
			prefix = DefaultProcessKeyPrefix
		}
	}
	km, err := GenerateKey(p.Rand, prefix)
	if err != nil {
		return nil, KeyMaterial{}, err
	}
	id, err := NewID(p.Rand)
	if err != nil {
		return nil, KeyMaterial{}, err
	}
	return &APIKey{
		ID:         id,
		OrgID:      p.Org.ID,
		ProcessID:  p.ProcessID,
		Name:       name,
		User:       km.User,
		SecretHash: km.Hash(),
		Scopes:     slices.Clip(scopes),
		CreatedAt:  p.Now.UTC().Truncate(time.Microsecond),
		CreatedBy:  p.CreatedBy,
		ExpiresAt:  exp,
		AllowedIPs: allowed,
		RateLimit:  limit,
	}, km, nil
}

// mayGrant checks that g may give a key of organization orgID, at level
// and of processID, the scopes: the no-escalation rule. A nil g is the
// operator's command line, which has the database and may grant anything.
func (g *Principal) mayGrant(orgID, processID string, level Level, scopes []Scope) error {
	if g == nil {
		return nil
	}
	if g.OrgID != orgID || !g.CanReachProcess(processID) || g.Level() == LevelProcess && level == LevelOrganization {
		return Errorf(EFORBIDDEN, "A key can only create keys at its own level or narrower.")
	}
	var missing []string
	for _, s := range scopes {
		if !g.HasScopeOn(processID, s) {
			missing = append(missing, string(s))
		}
	}
	if len(missing) > 0 {
		return Errorf(EFORBIDDEN, "You cannot grant scopes you do not hold: %s.", strings.Join(missing, ", "))
	}
	return nil
}

// validateExp parses an RFC 3339 expiry and checks it against the policy.
func validateExp(s string, now time.Time, maxLifetime time.Duration, v *Validation) time.Time {
	const loc = "body: exp"
	if s == "" {
		v.Add(loc, "required", "An expiration date (exp, RFC 3339) is required.")
		return time.Time{}
	}
	exp, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.Add(loc, "invalid", "exp must be an RFC 3339 timestamp, e.g. 2027-01-31T00:00:00Z.")
		return time.Time{}
	}
	exp = exp.UTC().Truncate(time.Second)
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxKeyLifetime
	}
	switch {
	case !exp.After(now):
		v.Add(loc, "in_past", "exp must be in the future.")
	case exp.Sub(now) > maxLifetime:
		v.Add(loc, "beyond_policy", "exp is beyond the organization's maximum key lifetime of %d days.", int(maxLifetime/(24*time.Hour)))
	}
	return exp
}
