package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

// RotateAPIKey implements keywarden.Rotator: one UPDATE … RETURNING
// confined like a deletion, the audit event and the change log's entry, in
// one transaction. The current secret becomes the previous one in the same
// statement (SET reads the row as it was), so two rotations at once cannot
// both keep the same old secret.
func (s *Store) RotateAPIKey(ctx context.Context, ref keywarden.APIKeyRef, rot keywarden.Rotation, e *keywarden.AuditEvent) (_ *keywarden.APIKey, err error) {
	const op = "RotateAPIKey"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	where, args, err := s.refWhere(op, ref)
	if err != nil {
		return nil, err
	}
	set := `SET secret_hash = ?, previous_secret_hash = NULL, previous_secret_expires_at = NULL`
	setArgs := []any{rot.SecretHash[:]}
	if !rot.PreviousSecretExpiresAt.IsZero() {
		set = `SET previous_secret_hash = secret_hash, previous_secret_expires_at = ?, secret_hash = ?`
		setArgs = []any{s.d.Time(rot.PreviousSecretExpiresAt), rot.SecretHash[:]}
	}
	var k *keywarden.APIKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = s.scanAPIKey(s.queryRow(ctx, tx, `UPDATE api_keys `+set+` `+where+` RETURNING `+apiKeyColumns, append(setArgs, args...)...)); err != nil {
			return err
		}
		if e != nil {
			e.TargetAPIKey(k)
		}
		if err := s.insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return s.recordKeyChange(ctx, tx, keywarden.ChangeOf(keywarden.KeyChangeRotated, k))
	})
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages)
	}
	return k, nil
}

// endBatch bounds the previous secrets one EndPreviousSecrets forgets, so
// that its transaction stays short; the next call takes the rest.
const endBatch = 100

// EndPreviousSecrets implements keywarden.Rotator. The UPDATE … RETURNING
// is what makes each ended secret reported once with many nodes: a row
// whose secret another transaction has just forgotten no longer matches
// (PostgreSQL re-checks the condition after waiting for its lock; SQLite
// has one writer).
func (s *Store) EndPreviousSecrets(ctx context.Context, now time.Time, event func(*keywarden.APIKey) (*keywarden.AuditEvent, error)) (_ []*keywarden.APIKey, err error) {
	const op = "EndPreviousSecrets"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var ended []*keywarden.APIKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `
			UPDATE api_keys SET previous_secret_hash = NULL, previous_secret_expires_at = NULL
			WHERE id IN (SELECT id FROM api_keys WHERE previous_secret_expires_at <= ? LIMIT ?)
				AND previous_secret_expires_at <= ?
			RETURNING `+apiKeyColumns, s.d.Time(now), endBatch, s.d.Time(now))
		if err != nil {
			return err
		}
		if ended, err = scanAll(rows, s.scanAPIKey); err != nil {
			return err
		}
		for _, k := range ended {
			if event != nil {
				e, err := event(k)
				if err != nil {
					return err
				}
				e.TargetAPIKey(k)
				if err := s.insertAuditEvent(ctx, tx, e); err != nil {
					return err
				}
			}
			if err := s.recordKeyChange(ctx, tx, keywarden.ChangeOf(keywarden.KeyChangePreviousSecretEnded, k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages)
	}
	return ended, nil
}
