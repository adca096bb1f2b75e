package keywarden

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
)

// VerifyCode is the outcome of checking a key, as the verify API reports it.
type VerifyCode string

const (
	VerifyValid             VerifyCode = "VALID"
	VerifyInvalid           VerifyCode = "INVALID"
	VerifyExpired           VerifyCode = "EXPIRED"
	VerifyInsufficientScope VerifyCode = "INSUFFICIENT_SCOPE"
	VerifyWrongProcess      VerifyCode = "WRONG_PROCESS"
	VerifyRateLimited       VerifyCode = "RATE_LIMITED"
)

// Reasons a key failed, for the server log only: the HTTP caller always sees
// the same 401.
const (
	ReasonMalformed   = "malformed"
	ReasonBadChecksum = "bad_checksum"
	ReasonUnknownKey  = "unknown_key"
	ReasonWrongSecret = "wrong_secret"
	ReasonExpired     = "expired"
)

// KeyIdentity is what authorization needs to know about a valid key. It is a
// value whose strings are shared, so a cache can hand it out without
// allocating.
type KeyIdentity struct {
	ID         string
	User       string
	OrgID      string
	ProcessID  string // empty for an organization key
	Name       string
	Scopes     ScopeSet
	ExpiresAt  time.Time
	LastUsedAt time.Time
}

// Identity returns what authorization needs to know about k, with its
// scopes as a set of catalogue c.
func (k *APIKey) Identity(c *Catalogue) KeyIdentity {
	return KeyIdentity{ID: k.ID, User: k.User, OrgID: k.OrgID, ProcessID: k.ProcessID, Name: k.Name,
		Scopes: c.SetOf(k.Scopes), ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt}
}

// Verification is the result of checking a key.
type Verification struct {
	Code   VerifyCode
	Reason string      // why it failed, for logs; empty when valid
	User   string      // the public key ID when the key was well-formed, for logs
	Key    KeyIdentity // set when Code is VerifyValid
}

// KeyVerifier checks the credentials of a request. Verifier does it against
// the store; the cache package does it from memory.
type KeyVerifier interface {
	// VerifyAuthorization checks an Authorization header value: "Basic
	// base64(user:pass)" or "Bearer user:pass". The error is non-nil only
	// when the store failed: callers must then fail closed with a server
	// error, not a 401.
	VerifyAuthorization(ctx context.Context, authorization string) (Verification, error)
}

// APIKeyFinder is the part of the store verification needs.
type APIKeyFinder interface {
	FindAPIKeyByUser(ctx context.Context, user string) (*APIKey, error)
}

// Verifier checks presented keys against a store. It holds no state of its
// own; the cache package offers the same in front of the store.
type Verifier struct {
	Keys      APIKeyFinder
	Catalogue *Catalogue
	Now       func() time.Time
}

var _ KeyVerifier = (*Verifier)(nil)

// Credentials returns the key ("user:pass") in an Authorization header
// value, or ok false when the header is not Basic or Bearer or does not
// decode.
func Credentials(authorization string) (key string, ok bool) {
	scheme, param, found := strings.Cut(authorization, " ")
	if !found {
		return "", false
	}
	param = strings.TrimSpace(param)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(param)
		if err != nil {
			return "", false
		}
		return string(raw), true
	case strings.EqualFold(scheme, "Bearer"):
		return param, true
	}
	return "", false
}

// VerifyAuthorization implements KeyVerifier.
func (v *Verifier) VerifyAuthorization(ctx context.Context, authorization string) (Verification, error) {
	key, ok := Credentials(authorization)
	if !ok {
		return Verification{Code: VerifyInvalid, Reason: ReasonMalformed}, nil
	}
	return v.Verify(ctx, key)
}

// Verify checks a presented "user:pass". The error is non-nil only when the
// store failed.
func (v *Verifier) Verify(ctx context.Context, presented string) (Verification, error) {
	km, err := ParseKey(presented)
	switch err {
	case nil:
	case ErrBadChecksum:
		return Verification{Code: VerifyInvalid, Reason: ReasonBadChecksum, User: km.User}, nil
	default:
		return Verification{Code: VerifyInvalid, Reason: ReasonMalformed}, nil
	}
	hash := km.Hash()
	k, err := v.Keys.FindAPIKeyByUser(ctx, km.User)
	if ErrorCode(err) == ENOTFOUND || err == nil && k == nil {
		// Compare anyway, so an unknown ID and a wrong secret take the same work.
		hash.Equal(SecretHash{})
		return Verification{Code: VerifyInvalid, Reason: ReasonUnknownKey, User: km.User}, nil
	} else if err != nil {
		return Verification{}, err
	}
	return Check(k.Identity(v.Catalogue), k.SecretHash, hash, v.Now()), nil
}

// Check decides a well-formed key whose stored record is id and stored,
// given the hash of the presented secret: wrong secret, expired, or valid.
// The hash comparison is constant-time.
func Check(id KeyIdentity, stored, presented SecretHash, now time.Time) Verification {
	if !presented.Equal(stored) {
		return Verification{Code: VerifyInvalid, Reason: ReasonWrongSecret, User: id.User}
	}
	if !now.Before(id.ExpiresAt) {
		return Verification{Code: VerifyExpired, Reason: ReasonExpired, User: id.User}
	}
	return Verification{Code: VerifyValid, User: id.User, Key: id}
}
