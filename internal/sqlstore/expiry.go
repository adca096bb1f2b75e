package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/keywarden/keywarden"
)

// RecordExpiryReminders implements keywarden.ExpiryReminders: in one
// transaction, for up to limit keys expiring within the first threshold,
// or expired within keywarden.ExpiredReminderWindow, it notes the most
// urgent threshold reached and logs a reminder for each note that is new.
// The notes' primary key makes each reminder given once, however many
// nodes look at once (the INSERT … ON CONFLICT DO NOTHING RETURNING of a
// second finds the row and returns nothing).
func (s *Store) RecordExpiryReminders(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	const op = "RecordExpiryReminders"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	given := 0
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE expires_at <= ? AND expires_at > ? ORDER BY expires_at, id LIMIT ?`,
			s.d.Time(now.Add(keywarden.ExpiryThresholds[0])), s.d.Time(now.Add(-keywarden.ExpiredReminderWindow)), limit)
		if err != nil {
			return err
		}
		keys, err := scanAll(rows, s.scanAPIKey)
		if err != nil {
			return err
		}
		var changes []keywarden.KeyChange
		for _, k := range keys {
			label, kind := keywarden.ExpiryThreshold(k.ExpiresAt, now)
			var inserted string
			err := s.queryRow(ctx, tx, `
				INSERT INTO key_expiry_notices (key_id, threshold, at) VALUES (?, ?, ?)
				ON CONFLICT (key_id, threshold) DO NOTHING RETURNING key_id`, k.ID, label, s.d.Time(now)).Scan(&inserted)
			if err == sql.ErrNoRows {
				continue // given already
			} else if err != nil {
				return err
			}
			detail, err := json.Marshal(keywarden.ExpiryDetail{Threshold: label, ExpiresAt: k.ExpiresAt.UTC().Format(time.RFC3339)})
			if err != nil {
				return err
			}
			c := keywarden.ChangeOf(kind, k)
			c.Detail = string(detail)
			changes = append(changes, c)
		}
		given = len(changes)
		return s.recordKeyChanges(ctx, tx, changes)
	})
	if err != nil {
		return 0, s.storeError(op, err, messages{})
	}
	return given, nil
}
