package sqlstore

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
// prunes what every reader has long seen. It is the last thing a change
// does before committing, because of the dialect's lock.
//
// Readers follow the feed by seq (KeyChangesSince(lastSeen)), so seq order
// must be commit order: if a change with seq 6 committed and was read before
// one with seq 5 committed, the reader would skip 5 for ever. SQLite has one
// writer at a time, so that holds without a lock; on PostgreSQL the
// dialect's BeginKeyChange takes one (and AfterKeyChange notifies the other
// nodes, at commit).
func (s *Store) recordKeyChange(ctx context.Context, tx *sql.Tx, kind, user, processID string) error {
	if err := s.d.BeginKeyChange(ctx, tx); err != nil {
		return err
	}
	now := s.clock()
	var seq int64
	if err := s.queryRow(ctx, tx, `
		INSERT INTO key_changes (kind, "user", process_id, at) VALUES (?, ?, ?, ?) RETURNING seq`,
		kind, user, processID, s.d.Time(now)).Scan(&seq); err != nil {
		return err
	}
	if err := s.d.AfterKeyChange(ctx, tx, seq); err != nil {
		return err
	}
	_, err := s.exec(ctx, tx, `DELETE FROM key_changes WHERE at < ?`, s.d.Time(now.Add(-keyChangeRetention)))
	return err
}

// KeyChangesSince implements keywarden.KeyChangeFeed.
func (s *Store) KeyChangesSince(ctx context.Context, after int64, limit int) (_ []keywarden.KeyChange, err error) {
	const op = "KeyChangesSince"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	changes, err := findAll(ctx, s, `
		SELECT seq, kind, "user", process_id FROM key_changes WHERE seq > ? ORDER BY seq LIMIT ?`,
		[]any{after, limit}, func(r scanner) (keywarden.KeyChange, error) {
			var c keywarden.KeyChange
			err := r.Scan(&c.Seq, &c.Kind, &c.User, &c.ProcessID)
			return c, err
		})
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return changes, nil
}

// LatestKeyChange implements keywarden.KeyChangeFeed.
func (s *Store) LatestKeyChange(ctx context.Context) (_ int64, err error) {
	const op = "LatestKeyChange"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var seq int64
	err = s.queryRow(ctx, s.db, `SELECT coalesce(max(seq), 0) FROM key_changes`).Scan(&seq)
	return seq, s.storeError(op, err, messages{})
}
