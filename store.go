package keywarden

import "context"

// Store is everything Keywarden keeps. The SQLite and PostgreSQL stores both
// implement it and pass the same conformance suite (internal/storetest); a
// cache implements it too, by wrapping another Store.
type Store interface {
	OrganizationStore
	MemberStore
	ProcessStore
	APIKeyStore
	UsageStore
	SessionStore
	AuditStore
	KeyChangeFeed
	WebhookStore
	// Ping reports whether the database is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
