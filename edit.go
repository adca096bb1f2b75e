package keywarden

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
)

// An edit (PATCH) changes what a key is called and how it is fenced — its
// name, allowlist and rate limit — freely, and what it may do only towards
// less: scopes can only be narrowed, never widened, and the expiry only
// brought forward, or extended within the organization's policy by someone
// who could create such a key (who holds every one of its scopes). The ID
// and secret never change: a new secret is a rotation.

// UpdateAPIKeyRequest is the body of an edit. An absent field is left
// unchanged; allowedIps [] and rateLimit null remove them.
type UpdateAPIKeyRequest struct {
	Name       *string                    `json:"name"`
	Scopes     *[]string                  `json:"scopes"`
	Exp        *string                    `json:"exp"`
	AllowedIPs *[]string                  `json:"allowedIps"`
	RateLimit  Nullable[RateLimitRequest] `json:"rateLimit"`
}

// Nullable is a field of an edit that may be absent (leave it), null
// (remove it) or a value (set it).
type Nullable[T any] struct {
	Set   bool // present in the body
	Value *T   // nil when null
}

// WrappedType is T, so that a strict decoder can check the field names of
// what a Nullable holds.
func (Nullable[T]) WrappedType() reflect.Type { return reflect.TypeFor[T]() }

// UnmarshalJSON implements json.Unmarshaler; encoding/json calls it for a
// null too, and not at all for an absent field.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	// Field names (unknown ones, other cases) are checked by the server's
	// strict decoder, which walks WrappedType.
	n.Value = new(T)
	return json.Unmarshal(b, n.Value)
}

// EditParams is everything besides the request that decides an edit.
type EditParams struct {
	Org       *Organization
	Catalogue *Catalogue
	Now       time.Time
	// Grantor is the principal asking; nil is the operator's command line.
	Grantor *Principal
}

// EditAPIKey validates req against k (every invalid field at once:
// EINVALID; a widening: EFORBIDDEN) and returns the edited key, leaving k
// as it was.
func EditAPIKey(k *APIKey, req UpdateAPIKeyRequest, p EditParams) (*APIKey, error) {
	out := *k
	var v Validation
	if req.Name != nil {
		out.Name = ValidateName(*req.Name, "body: name", &v)
	}
	widened := false
	if req.Scopes != nil {
		scopes := p.Catalogue.Resolve(*req.Scopes, k.Level(), "body: scopes", &v)
		var extra []string
		for _, s := range scopes {
			if !slices.Contains(k.Scopes, s) {
				extra = append(extra, string(s))
			}
		}
		if len(extra) > 0 {
			v.Add("body: scopes", "widening", "Scopes can only be narrowed; the key does not hold %s. Create a new key for more.", strings.Join(extra, ", "))
		}
		out.Scopes = slices.Clip(scopes)
	}
	if req.Exp != nil {
		out.ExpiresAt = validateExp(*req.Exp, p.Now, p.Org.MaxKeyLifetime, &v)
		widened = out.ExpiresAt.After(k.ExpiresAt)
	}
	if req.AllowedIPs != nil {
		out.AllowedIPs = ValidateAllowedIPs(*req.AllowedIPs, &v)
	}
	if req.RateLimit.Set {
		out.RateLimit = ValidateRateLimit(req.RateLimit.Value, &v)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if widened {
		// A longer life is a new grant: only for someone who could
		// create this key today.
		if err := p.Grantor.mayGrant(p.Org.ID, k.ProcessID, k.Level(), out.Scopes); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// Editor is the part of a store that edits keys.
type Editor interface {
	// UpdateAPIKey reads the key ref names, locked until its transaction
	// ends, has edit decide its new name, scopes, expiry, allowlist and rate
	// limit (an error from edit is returned and changes nothing), and stores
	// them with e (completed with the key as its target) and the change
	// log's entry (KeyChangeUpdated). Deciding on the locked row means that
	// two edits at once cannot widen a key between them. No such key is
	// ENOTFOUND.
	UpdateAPIKey(ctx context.Context, ref APIKeyRef, edit func(current *APIKey) (*APIKey, error), e *AuditEvent) (*APIKey, error)
}
