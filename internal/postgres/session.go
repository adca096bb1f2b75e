package postgres

import (
	"context"
	"time"

	"github.com/keywarden/keywarden"
)

var sessionMessages = messages{
	notFound: "Session not found.",
	conflict: "A session with that ID already exists.",
}

// Each session change is one statement, which PostgreSQL runs as a
// transaction of its own.

// CreateSession stores s. A user or organization that does not exist is
// ENOTFOUND.
func (db *DB) CreateSession(ctx context.Context, s *keywarden.Session) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO sessions (id, user_id, org_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		s.ID, s.UserID, s.OrgID, s.CSRFToken, s.CreatedAt, s.ExpiresAt)
	return storeError("CreateSession", err, messages{
		notFound: "User or organization not found.",
		conflict: sessionMessages.conflict,
	})
}

// FindSession returns the session whose ID (token hash) is id, expired or
// not: the caller checks expiry against its own clock.
func (db *DB) FindSession(ctx context.Context, id string) (*keywarden.Session, error) {
	var s keywarden.Session
	err := db.pool.QueryRow(ctx, `
		SELECT id, user_id, org_id, csrf_token, created_at, expires_at FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.UserID, &s.OrgID, &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, storeError("FindSession", err, sessionMessages)
	}
	s.CreatedAt = utc(s.CreatedAt)
	s.ExpiresAt = utc(s.ExpiresAt)
	return &s, nil
}

// DeleteSession deletes a session. A session that is already gone is not an
// error: signing out twice is fine.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return storeError("DeleteSession", err, messages{})
}

// DeleteExpiredSessions deletes the sessions expired at now: those whose
// expiry is at or before now, as for API keys.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	return storeError("DeleteExpiredSessions", err, messages{})
}
