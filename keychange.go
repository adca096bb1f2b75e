package keywarden

import "context"

// KeyChange records that keys stopped being valid: one key (User set) or
// every key of a process (ProcessID set). Stores write one in the same
// transaction as the deletion, so that every node — and every process
// sharing the database, such as the command line — can drop what it has
// cached, however the change was made.
type KeyChange struct {
	Seq       int64
	User      string
	ProcessID string
}

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
