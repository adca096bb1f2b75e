package keywarden

import (
	"context"
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

// APIKeyFinder is the part of the store verification needs.
type APIKeyFinder interface {
	FindAPIKeyByUser(ctx context.Context, user string) (*APIKey, error)
}

// Verification is the result of Verifier.Verify.
type Verification struct {
	Code   VerifyCode
	Reason string  // why it failed, for logs; empty when valid
	User   string  // the public key ID when the key was well-formed, for logs
	Key    *APIKey // set when Code is VerifyValid
}

// Verifier checks presented keys. It holds no state of its own, so a cache is
// added by wrapping Keys, not by changing the Verifier.
type Verifier struct {
	Keys APIKeyFinder
	Now  func() time.Time
}

// Verify checks a presented "user:pass". The error is non-nil only when the
// store failed: callers must then fail closed with a server error, not a 401.
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
	if !hash.Equal(k.SecretHash) {
		return Verification{Code: VerifyInvalid, Reason: ReasonWrongSecret, User: km.User}, nil
	}
	if k.Expired(v.Now()) {
		return Verification{Code: VerifyExpired, Reason: ReasonExpired, User: km.User}, nil
	}
	return Verification{Code: VerifyValid, User: km.User, Key: k}, nil
}
