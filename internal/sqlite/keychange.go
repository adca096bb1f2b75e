package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

// keyChangeRetention is how long the feed keeps a change: far longer than
// any reader polls, short enough to stay small.
const keyChangeRetention = 24 * time.Hour

// recordKeyChange appends to the feed within a change's transaction and
// prunes what every reader has long seen. SQLite has one writer at a time,
// so seq order is commit order without a lock.
func recordKeyChange(ctx context.Context, tx *sql.Tx, kind, user, processID string) error {
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (kind, "user", process_id, at) VALUES (?, ?, ?, ?)`,
		kind, user, processID, micros(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM key_changes WHERE at < ?`, micros(now.Add(-keyChangeRetention)))
	return err
}

// KeyChangesSince implements keywarden.KeyChangeFeed.
func (db *DB) KeyChangesSince(ctx context.Context, after int64, limit int) ([]keywarden.KeyChange, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT seq, kind, "user", process_id FROM key_changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, storeError("KeyChangesSince", err, messages{})
	}
	defer rows.Close()
	var out []keywarden.KeyChange
	for rows.Next() {
		var c keywarden.KeyChange
		if err := rows.Scan(&c.Seq, &c.Kind, &c.User, &c.ProcessID); err != nil {
			return nil, storeError("KeyChangesSince", err, messages{})
		}
		out = append(out, c)
	}
	return out, storeError("KeyChangesSince", rows.Err(), messages{})
}

// LatestKeyChange implements keywarden.KeyChangeFeed.
func (db *DB) LatestKeyChange(ctx context.Context) (int64, error) {
	var seq int64
	err := db.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM key_changes`).Scan(&seq)
	return seq, storeError("LatestKeyChange", err, messages{})
}
