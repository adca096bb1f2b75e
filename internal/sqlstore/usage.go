package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
)

// usageChunk is how many rows one statement of RecordKeyUsage writes: at
// four placeholders a row, far below either database's limit (SQLite's
// 32766, PostgreSQL's 65535), and enough that a flush of many keys costs
// a few round trips rather than one per key.
const usageChunk = 500

// pruneBatch is how many rows one statement of PruneKeyUsage deletes.
const pruneBatch = 10_000

var usageMessages = messages{notFound: apiKeyMessages.notFound}

// RecordKeyUsage implements keywarden.UsageStore, in one transaction:
//
//  1. Lock the rows of the keys named, in ID order (LockRows: a no-op on
//     SQLite, whose writers are serialized anyway). A key deleted since
//     its use is simply not found, and cannot be deleted between this
//     read and the writes below, which would break the usage table's
//     foreign key. The one order keeps two nodes that flush the same keys
//     at once from deadlocking: the second waits for the first.
//  2. Move each key's last use forward, never back.
//  3. Add the counts to each key's hours (an upsert).
//
// Steps 2 and 3 write usageChunk rows per statement.
func (s *Store) RecordKeyUsage(ctx context.Context, uses []keywarden.KeyUse, counts []keywarden.KeyUsageCount) (err error) {
	const op = "RecordKeyUsage"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	latest, sums := mergeUsage(uses, counts)
	if len(latest) == 0 && len(sums) == 0 {
		return nil
	}
	users := map[string]bool{}
	for _, u := range latest {
		users[u.User] = true
	}
	for _, c := range sums {
		users[c.User] = true
	}
	list, err := s.d.List(slices.Sorted(maps.Keys(users)))
	if err != nil {
		return s.storeError(op, err, messages{})
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		ids, err := s.lockKeys(ctx, tx, list)
		if err != nil {
			return err
		}
		if err := s.writeLastUses(ctx, tx, ids, latest); err != nil {
			return err
		}
		return s.addUsageCounts(ctx, tx, ids, sums)
	})
	return s.storeError(op, err, messages{})
}

// mergeUsage returns the latest use of each key and the sum of the counts
// of each key and hour (the start of its UTC hour), both in a stable
// order, so that a batch that names a key or an hour twice is written as
// if it had named it once.
func mergeUsage(uses []keywarden.KeyUse, counts []keywarden.KeyUsageCount) ([]keywarden.KeyUse, []keywarden.KeyUsageCount) {
	latest := map[string]keywarden.KeyUse{}
	for _, u := range uses {
		u.At = u.At.UTC().Truncate(time.Microsecond)
		if prev, ok := latest[u.User]; !ok || u.At.After(prev.At) {
			latest[u.User] = u
		}
	}
	type slot struct {
		user string
		hour int64
	}
	sums := map[slot]keywarden.KeyUsageCount{}
	for _, c := range counts {
		if c.Succeeded == 0 && c.Failed == 0 {
			continue
		}
		c.Hour = c.Hour.UTC().Truncate(time.Hour)
		k := slot{c.User, c.Hour.Unix()}
		sum := sums[k]
		sum.User, sum.Hour = c.User, c.Hour
		sum.Succeeded += c.Succeeded
		sum.Failed += c.Failed
		sums[k] = sum
	}
	outUses := slices.SortedFunc(maps.Values(latest), func(a, b keywarden.KeyUse) int { return strings.Compare(a.User, b.User) })
	outCounts := slices.SortedFunc(maps.Values(sums), func(a, b keywarden.KeyUsageCount) int {
		return cmp.Or(strings.Compare(a.User, b.User), a.Hour.Compare(b.Hour))
	})
	return outUses, outCounts
}

// lockKeys returns the IDs of the keys whose public IDs are in list (a
// List of the dialect), by public ID, holding their rows until the
// transaction ends.
func (s *Store) lockKeys(ctx context.Context, tx *sql.Tx, list any) (map[string]string, error) {
	rows, err := s.query(ctx, tx, `SELECT id, "user" FROM api_keys WHERE `+s.d.InList(`"user"`)+` ORDER BY id`+s.d.LockRows(), list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[string]string{}
	for rows.Next() {
		var id, user string
		if err := rows.Scan(&id, &user); err != nil {
			return nil, err
		}
		ids[user] = id
	}
	return ids, rows.Err()
}

// writeLastUses moves each key's last use forward to its use, unless the
// key already has a later one (from another node, or a flush that
// overtook this one).
func (s *Store) writeLastUses(ctx context.Context, tx *sql.Tx, ids map[string]string, uses []keywarden.KeyUse) error {
	var args []any
	for _, u := range uses {
		if id, ok := ids[u.User]; ok {
			args = append(args, id, s.d.Time(u.At), u.From)
		}
	}
	return inChunks(args, 3, func(rows int, args []any) error {
		_, err := s.exec(ctx, tx, `
			UPDATE api_keys SET last_used_at = u.column2, last_used_from = u.column3
			FROM (VALUES `+valuesRows(rows, "(?, "+s.d.TimeValue()+", ?)")+`) AS u
			WHERE api_keys.id = u.column1 AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.column2)`, args...)
		return err
	})
}

// addUsageCounts adds each count to its key's hour.
func (s *Store) addUsageCounts(ctx context.Context, tx *sql.Tx, ids map[string]string, counts []keywarden.KeyUsageCount) error {
	var args []any
	for _, c := range counts {
		if id, ok := ids[c.User]; ok {
			args = append(args, id, s.d.Time(c.Hour), c.Succeeded, c.Failed)
		}
	}
	return inChunks(args, 4, func(rows int, args []any) error {
		_, err := s.exec(ctx, tx, `
			INSERT INTO api_key_usage (key_id, hour, succeeded, failed) VALUES `+valuesRows(rows, "(?, ?, ?, ?)")+`
			ON CONFLICT (key_id, hour) DO UPDATE SET
				succeeded = api_key_usage.succeeded + excluded.succeeded,
				failed = api_key_usage.failed + excluded.failed`, args...)
		return err
	})
}

// inChunks calls fn with the arguments of up to usageChunk rows at a time,
// width arguments a row, and how many rows they are.
func inChunks(args []any, width int, fn func(rows int, args []any) error) error {
	for len(args) > 0 {
		n := min(len(args), usageChunk*width)
		if err := fn(n/width, args[:n]); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

// valuesRows is n copies of row, comma-separated: the rows of a VALUES list.
func valuesRows(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// FindKeyUsage implements keywarden.UsageStore: the key's hours in
// [from, to), in one read transaction with the check that the key is the
// organization's.
func (s *Store) FindKeyUsage(ctx context.Context, orgID, keyID string, from, to time.Time) (_ []keywarden.KeyUsageCount, err error) {
	const op = "FindKeyUsage"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var counts []keywarden.KeyUsageCount
	err = s.read(ctx, func(tx *sql.Tx) error {
		var user string
		if err := s.queryRow(ctx, tx, `SELECT "user" FROM api_keys WHERE org_id = ? AND id = ?`, orgID, keyID).Scan(&user); err != nil {
			return err
		}
		rows, err := s.query(ctx, tx, `
			SELECT hour, succeeded, failed FROM api_key_usage
			WHERE key_id = ? AND hour >= ? AND hour < ? ORDER BY hour`, keyID, s.d.Time(from), s.d.Time(to))
		if err != nil {
			return err
		}
		counts, err = scanAll(rows, func(r scanner) (keywarden.KeyUsageCount, error) {
			c := keywarden.KeyUsageCount{User: user}
			err := r.Scan(TimeDest{&c.Hour}, &c.Succeeded, &c.Failed)
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, s.storeError(op, err, usageMessages)
	}
	return counts, nil
}

// PruneKeyUsage implements keywarden.UsageStore, pruneBatch rows per
// statement, each committed on its own: a backlog of many hours (a cluster
// that was down for weeks) is worked off batch by batch rather than in one
// statement that the deadline would roll back every time. When the
// deadline ends the work, what was deleted stays deleted and is counted.
func (s *Store) PruneKeyUsage(ctx context.Context, before time.Time) (_ int64, err error) {
	const op = "PruneKeyUsage"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var total int64
	for {
		res, err := s.exec(ctx, s.db, `
			DELETE FROM api_key_usage WHERE (key_id, hour) IN
				(SELECT key_id, hour FROM api_key_usage WHERE hour < ? ORDER BY hour LIMIT ?)`, s.d.Time(before), pruneBatch)
		if err != nil {
			return total, s.storeError(op, err, messages{})
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.storeError(op, err, messages{})
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
