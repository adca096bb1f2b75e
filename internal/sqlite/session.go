package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

var sessionMessages = messages{
	notFound: "Session not found.",
	conflict: "A session with that ID already exists.",
}

// CreateSession stores s. A user or organization that does not exist is
// ENOTFOUND.
func (db *DB) CreateSession(ctx context.Context, s *keywarden.Session) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (id, user_id, org_id, csrf_token, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			s.ID, s.UserID, s.OrgID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
		return err
	})
	return storeError("CreateSession", err, messages{
		notFound: "User or organization not found.",
		conflict: sessionMessages.conflict,
	})
}

// FindSession returns the session whose ID (token hash) is id, expired or
// not: the caller checks expiry against its own clock.
func (db *DB) FindSession(ctx context.Context, id string) (*keywarden.Session, error) {
	var (
		s                    keywarden.Session
		createdAt, expiresAt int64
	)
	err := db.db.QueryRowContext(ctx, `
		SELECT id, user_id, org_id, csrf_token, created_at, expires_at FROM sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.UserID, &s.OrgID, &s.CSRFToken, &createdAt, &expiresAt)
	if err != nil {
		return nil, storeError("FindSession", err, sessionMessages)
	}
	s.CreatedAt = fromMicros(createdAt)
	s.ExpiresAt = fromMicros(expiresAt)
	return &s, nil
}

// DeleteSession deletes a session. A session that is already gone is not an
// error: signing out twice is fine.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
	return storeError("DeleteSession", err, messages{})
}

// DeleteExpiredSessions deletes the sessions expired at now: those whose
// expiry is at or before now, as for API keys.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now))
		return err
	})
	return storeError("DeleteExpiredSessions", err, messages{})
}
