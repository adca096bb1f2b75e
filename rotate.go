package keywarden

import (
	"context"
	"io"
	"time"
)

// Rotation ("roll", as Stripe calls it) gives a key a new secret and keeps
// its ID, scopes and expiry, so that whatever uses it changes one value.
// The old secret keeps working for a grace period, so that the new one can
// be deployed without downtime; then it stops on every node, because each
// verification compares the presented secret with both hashes and honours
// the old one only before its end. A key has at most two live secrets: a
// rotation during a grace period ends the older secret at once.

// MaxRotationGracePeriod bounds how long a replaced secret keeps working.
const MaxRotationGracePeriod = 7 * 24 * time.Hour

// RotateAPIKeyRequest is the body of a rotate call.
type RotateAPIKeyRequest struct {
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
}

// Rotation is a validated rotation of one key: its new secret's hash and
// when the replaced secret stops working (zero: at once).
type Rotation struct {
	SecretHash              SecretHash
	PreviousSecretExpiresAt time.Time
}

// RotateAPIKey validates req for key k at now and generates k's new secret,
// drawing from r (crypto/rand.Reader when nil). An expired key is not
// rotated (ECONFLICT): its holder needs a new key, within today's policy.
// The grace period ends at the key's expiry at the latest. The caller
// stores the Rotation and shows the KeyMaterial's Value exactly once.
func RotateAPIKey(k *APIKey, req RotateAPIKeyRequest, now time.Time, r io.Reader) (Rotation, KeyMaterial, error) {
	var v Validation
	const loc = "body: gracePeriodSeconds"
	var grace time.Duration
	switch g := req.GracePeriodSeconds; {
	case g == nil:
		v.Add(loc, "required", "gracePeriodSeconds is required: how long the current secret keeps working, 0 to %d seconds.", int64(MaxRotationGracePeriod/time.Second))
	case *g < 0 || *g > int64(MaxRotationGracePeriod/time.Second):
		v.Add(loc, "invalid", "gracePeriodSeconds must be from 0 to %d (7 days).", int64(MaxRotationGracePeriod/time.Second))
	default:
		grace = time.Duration(*g) * time.Second
	}
	if err := v.Err(); err != nil {
		return Rotation{}, KeyMaterial{}, err
	}
	if k.Expired(now) {
		return Rotation{}, KeyMaterial{}, Errorf(ECONFLICT, "This key has expired and cannot be rotated. Create a new key.")
	}
	km, err := NewSecret(r, k.User)
	if err != nil {
		return Rotation{}, KeyMaterial{}, err
	}
	rot := Rotation{SecretHash: km.Hash()}
	if grace > 0 {
		rot.PreviousSecretExpiresAt = earliest(now.Add(grace), k.ExpiresAt).UTC().Truncate(time.Microsecond)
	}
	return rot, km, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// PreviousSecretLive reports whether k's replaced secret still works at now.
func (k *APIKey) PreviousSecretLive(now time.Time) bool {
	return !k.PreviousSecretExpiresAt.IsZero() && now.Before(k.PreviousSecretExpiresAt)
}

// Rotator is the part of a store that rotates keys.
type Rotator interface {
	// RotateAPIKey replaces the secret of the key ref names with rot's, keeps
	// the current one as the previous secret until
	// rot.PreviousSecretExpiresAt (none when zero), and returns the key as
	// stored. e, the rotation's audit event, is completed with the key as
	// its target; it, the change log's entry (KeyChangeRotated) and the
	// update commit together. No such key is ENOTFOUND.
	RotateAPIKey(ctx context.Context, ref APIKeyRef, rot Rotation, e *AuditEvent) (*APIKey, error)
	// EndPreviousSecrets forgets every previous secret whose grace period
	// ended at or before now, with an audit event (from event) and a
	// change log entry (KeyChangePreviousSecretEnded) for each, and returns
	// the keys. Many nodes may call it at once: each ended secret is
	// reported by exactly one call.
	EndPreviousSecrets(ctx context.Context, now time.Time, event func(*APIKey) (*AuditEvent, error)) ([]*APIKey, error)
}
