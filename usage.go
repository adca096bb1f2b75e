package keywarden

import (
	"context"
	"time"
)

// KeyUse is the latest use of a key that a node saw: when, and from which
// client address (the trusted-proxy rule of --trusted-proxies). It becomes
// the key's LastUsedAt and LastUsedFrom.
type KeyUse struct {
	User string // the key's public ID
	At   time.Time
	From string
}

// KeyUsageCount is how many authentications with a key succeeded and
// failed within one hour. Hour is the start of a UTC hour. A failure counts
// only where the key ID named a real key (a wrong secret, an expired key):
// an unknown ID has no key to count against.
type KeyUsageCount struct {
	User      string // the key's public ID
	Hour      time.Time
	Succeeded int64
	Failed    int64
}

// Key usage is kept for KeyUsageRetention; a query spans at most
// MaxKeyUsageRange, and DefaultKeyUsageRange when it names no range.
const (
	KeyUsageRetention    = 90 * 24 * time.Hour
	MaxKeyUsageRange     = KeyUsageRetention
	DefaultKeyUsageRange = 30 * 24 * time.Hour
)

// UsageStore keeps when each key was last used, from where, and how often
// per hour. It is advice for the people who rotate and delete keys, never
// part of verification: a key's use is written in the background, a batch
// at a time, and not at all when the database cannot take it.
type UsageStore interface {
	// RecordKeyUsage writes one batch in one transaction: each use moves
	// its key's LastUsedAt and LastUsedFrom forward, never back (uses may
	// arrive out of order, from several nodes), and each count is added
	// to its key's hour. Uses and counts of keys that no longer exist are
	// skipped, not errors: a key may be deleted between its use and the
	// write.
	RecordKeyUsage(ctx context.Context, uses []KeyUse, counts []KeyUsageCount) error
	// FindKeyUsage returns the counts of the key of the organization
	// whose object ID is keyID, for the hours in [from, to), oldest first;
	// hours without use are absent. A key of another organization, or none,
	// is ENOTFOUND.
	FindKeyUsage(ctx context.Context, orgID, keyID string, from, to time.Time) ([]KeyUsageCount, error)
	// PruneKeyUsage deletes the counts of the hours before before and
	// returns how many it deleted.
	PruneKeyUsage(ctx context.Context, before time.Time) (int64, error)
}
