package sqlstore

import (
	"context"
	"time"

	"github.com/keywarden/keywarden"
)

var sessionMessages = messages{
	notFound: "Session not found.",
	conflict: "A session with that ID already exists.",
}

// Each session change is one statement, run on its own: both databases
// make a transaction of a lone statement (on SQLite a write statement takes
// the write lock when it starts, where busy_timeout applies), which saves
// PostgreSQL the BEGIN and COMMIT round trips.

// CreateSession stores sn. A user or organization that does not exist is
// ENOTFOUND.
func (s *Store) CreateSession(ctx context.Context, sn *keywarden.Session) (err error) {
	const op = "CreateSession"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	_, err = s.exec(ctx, s.db, `
		INSERT INTO sessions (id, user_id, org_id, csrf_token, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		sn.ID, sn.UserID, sn.OrgID, sn.CSRFToken, s.d.Time(sn.CreatedAt), s.d.Time(sn.ExpiresAt))
	return s.storeError(op, err, messages{
		notFound: "User or organization not found.",
		conflict: sessionMessages.conflict,
	})
}

// FindSession returns the session whose ID (token hash) is id, expired or
// not: the caller checks expiry against its own clock.
func (s *Store) FindSession(ctx context.Context, id string) (_ *keywarden.Session, err error) {
	const op = "FindSession"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var sn keywarden.Session
	err = s.queryRow(ctx, s.db, `
		SELECT id, user_id, org_id, csrf_token, created_at, expires_at FROM sessions WHERE id = ?`, id).
		Scan(&sn.ID, &sn.UserID, &sn.OrgID, &sn.CSRFToken, TimeDest{&sn.CreatedAt}, TimeDest{&sn.ExpiresAt})
	if err != nil {
		return nil, s.storeError(op, err, sessionMessages)
	}
	return &sn, nil
}

// DeleteSession deletes a session. A session that is already gone is not an
// error: signing out twice is fine.
func (s *Store) DeleteSession(ctx context.Context, id string) (err error) {
	const op = "DeleteSession"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	_, err = s.exec(ctx, s.db, `DELETE FROM sessions WHERE id = ?`, id)
	return s.storeError(op, err, messages{})
}

// DeleteExpiredSessions deletes the sessions expired at now: those whose
// expiry is at or before now, as for API keys.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (err error) {
	const op = "DeleteExpiredSessions"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	_, err = s.exec(ctx, s.db, `DELETE FROM sessions WHERE expires_at <= ?`, s.d.Time(now))
	return s.storeError(op, err, messages{})
}
