package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
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
func (s *Store) recordKeyChange(ctx context.Context, tx *sql.Tx, c keywarden.KeyChange) error {
	return s.recordKeyChanges(ctx, tx, []keywarden.KeyChange{c})
}

// keyChangeBatch is how many changes one INSERT of recordKeyChanges
// appends: few statements for a revocation of thousands of keys, far
// below either database's limit of bound parameters.
const keyChangeBatch = 100

// recordKeyChanges is recordKeyChange for many changes of one transaction,
// appended in order: one lock, keyChangeBatch rows per INSERT, one
// notification and one pruning for all of them, so that a change of many
// keys at once (RevokeAPIKeys) costs a few statements, not four per key.
func (s *Store) recordKeyChanges(ctx context.Context, tx *sql.Tx, changes []keywarden.KeyChange) error {
	if len(changes) == 0 {
		return nil
	}
	if err := s.d.BeginKeyChange(ctx, tx); err != nil {
		return err
	}
	now := s.clock()
	at := s.d.Time(now)
	var last int64
	for batch := range slices.Chunk(changes, keyChangeBatch) {
		args := make([]any, 0, 8*len(batch))
		for _, c := range batch {
			args = append(args, c.Kind, c.User, c.ProcessID, c.OrgID, c.KeyID, c.Name, c.Detail, at)
		}
		rows, err := s.query(ctx, tx, `
		INSERT INTO key_changes (kind, "user", process_id, org_id, key_id, key_name, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`+
			strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?)`, len(batch)-1)+` RETURNING seq`, args...)
		if err != nil {
			return err
		}
		seqs, err := scanAll(rows, func(r scanner) (seq int64, err error) { return seq, r.Scan(&seq) })
		if err != nil {
			return err
		}
		if len(seqs) != len(batch) {
			return fmt.Errorf("appending %d key changes returned %d sequence numbers", len(batch), len(seqs))
		}
		last = max(last, slices.Max(seqs))
	}
	if err := s.d.AfterKeyChange(ctx, tx, last); err != nil {
		return err
	}
	// What the webhook queue has not read yet stays, however old.
	_, err := s.exec(ctx, tx, `DELETE FROM key_changes WHERE at < ? AND seq <= (SELECT seq FROM webhook_cursor WHERE id = 1)`,
		s.d.Time(now.Add(-keyChangeRetention)))
	return err
}

const keyChangeColumns = `seq, kind, "user", process_id, org_id, key_id, key_name, detail`

func scanKeyChange(r scanner) (keywarden.KeyChange, error) {
	var c keywarden.KeyChange
	err := r.Scan(&c.Seq, &c.Kind, &c.User, &c.ProcessID, &c.OrgID, &c.KeyID, &c.Name, &c.Detail)
	return c, err
}

// KeyChangesSince implements keywarden.KeyChangeFeed.
func (s *Store) KeyChangesSince(ctx context.Context, after int64, limit int) (_ []keywarden.KeyChange, err error) {
	const op = "KeyChangesSince"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	changes, err := findAll(ctx, s, `
		SELECT `+keyChangeColumns+` FROM key_changes WHERE seq > ? ORDER BY seq LIMIT ?`,
		[]any{after, limit}, scanKeyChange)
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
