package keywarden

import (
	"context"
	"time"
)

// Session is a signed-in console user. ID is the SHA-256 (hex) of the
// cookie's token, so a copy of the database does not yield live sessions.
type Session struct {
	ID        string
	UserID    string
	OrgID     string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionStore keeps console sessions server-side, so signing out or
// removing a member ends their sessions at once.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	FindSession(ctx context.Context, id string) (*Session, error)
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions removes sessions expired at now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) error
}
