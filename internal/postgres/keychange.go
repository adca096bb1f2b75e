package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
)

// KeyChangeChannel is the channel every key change NOTIFYs, with the new
// change's seq as the payload. PostgreSQL delivers a notification only when
// its transaction commits, so a listener never hears of a change before it
// is durable and readable.
const KeyChangeChannel = "keywarden_key_changes"

// recordKeyChange appends to the feed within a change's transaction,
// notifies KeyChangeChannel, and prunes what every reader has long seen
// (rows older than a day by the database's clock). It is the last thing a
// change does before committing, because of its lock.
//
// Readers follow the feed by seq (KeyChangesSince(lastSeen)), so seq order
// must be commit order: if a change with seq 6 committed and was read before
// one with seq 5 committed, the reader would skip 5 for ever. A sequence
// alone hands out numbers in the order transactions ask, not the order they
// commit. So the append takes a lock on the table, which conflicts with
// itself and is held until commit: the next writer gets its seq only after
// this one is committed and visible. Readers (ACCESS SHARE) never wait for
// it. Creating and deleting keys are rare enough, next to verifying them,
// that writers queueing here is cheap.
func recordKeyChange(ctx context.Context, tx pgx.Tx, kind, user, processID string) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE key_changes IN EXCLUSIVE MODE`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		WITH change AS (
			INSERT INTO key_changes (kind, "user", process_id) VALUES ($1, $2, $3) RETURNING seq
		)
		SELECT pg_notify($4, seq::text) FROM change`, kind, user, processID, KeyChangeChannel); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM key_changes WHERE at < now() - interval '1 day'`)
	return err
}

// KeyChangesSince implements keywarden.KeyChangeFeed.
func (db *DB) KeyChangesSince(ctx context.Context, after int64, limit int) ([]keywarden.KeyChange, error) {
	changes, err := findAll(ctx, db, `
		SELECT seq, kind, "user", process_id FROM key_changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
		[]any{after, limit}, func(s scanner) (keywarden.KeyChange, error) {
			var c keywarden.KeyChange
			err := s.Scan(&c.Seq, &c.Kind, &c.User, &c.ProcessID)
			return c, err
		})
	if err != nil {
		return nil, storeError("KeyChangesSince", err, messages{})
	}
	return changes, nil
}

// LatestKeyChange implements keywarden.KeyChangeFeed.
func (db *DB) LatestKeyChange(ctx context.Context) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM key_changes`).Scan(&seq)
	return seq, storeError("LatestKeyChange", err, messages{})
}
