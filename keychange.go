package keywarden

import "context"

// KeyChange is one entry of the ordered log of changes to keys: a key
// created (User set), a key deleted (User set), or a process deleted with
// every key of it (ProcessID set). Stores write it in the same transaction
// as the change, so that every node — and every process sharing the
// database, such as the command line — learns of it however the change
// was made: a deletion drops the key from each node's cache, a creation
// drops what a node remembered of its ID as unknown.
type KeyChange struct {
	Seq       int64
	Kind      string // one of the KeyChange… kinds; empty in entries written before kinds existed (deletions)
	User      string
	ProcessID string
	// OrgID, KeyID and Name are the key's organization, object ID and
	// name at the time of the change, for what follows the log beyond the
	// caches (webhooks); empty in entries written before they were kept,
	// and for a process's deletion, which names the process instead.
	OrgID, KeyID, Name string
	// Detail is what the entry says beyond its kind, as JSON: an expiry
	// reminder's threshold and the key's expiry. Empty for most kinds.
	Detail string
}

// ChangeOf is the log entry of a change of kind to key k.
func ChangeOf(kind string, k *APIKey) KeyChange {
	return KeyChange{Kind: kind, User: k.User, ProcessID: k.ProcessID, OrgID: k.OrgID, KeyID: k.ID, Name: k.Name}
}

// Kinds of KeyChange. The names are those of the events webhooks will
// carry.
const (
	KeyChangeCreated = "api_key.created"
	KeyChangeDeleted = "api_key.deleted"
	// KeyChangeLeaked is a deletion on a report that the key's full value
	// is public (revoke-leaked): a deletion to the caches, its own event
	// to webhooks.
	KeyChangeLeaked  = "api_key.leaked"
	KeyChangeRotated = "api_key.rotated"
	KeyChangeUpdated = "api_key.updated"
	// KeyChangePreviousSecretEnded: a rotation's grace period is over and
	// the replaced secret is forgotten.
	KeyChangePreviousSecretEnded = "api_key.previous_secret_ended"
	KeyChangeProcessDeleted      = "process.deleted"
	// KeyChangeExpiring and KeyChangeExpired are reminders, not changes:
	// the key verifies as before (or, expired, no longer does by its own
	// clock); they are in the log for webhooks.
	KeyChangeExpiring = "api_key.expiring"
	KeyChangeExpired  = "api_key.expired"
)

// KeyChangeFeed is the ordered log of key changes.
type KeyChangeFeed interface {
	// KeyChangesSince returns up to limit changes with Seq > after, oldest
	// first. Seq order is commit order: a reader that has seen Seq n never
	// later finds a change numbered below n (readers rely on it to follow
	// the feed by its last Seq).
	KeyChangesSince(ctx context.Context, after int64, limit int) ([]KeyChange, error)
	// LatestKeyChange returns the Seq of the newest change, 0 when none.
	LatestKeyChange(ctx context.Context) (int64, error)
}
