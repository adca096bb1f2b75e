package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keywarden/keywarden"
)

// UpdateAPIKey implements keywarden.Editor: the key is read with its row
// locked (on PostgreSQL FOR UPDATE; SQLite's write transactions exclude
// each other from their start), edited, written back, audited and logged
// in one transaction.
func (s *Store) UpdateAPIKey(ctx context.Context, ref keywarden.APIKeyRef, edit func(*keywarden.APIKey) (*keywarden.APIKey, error), e *keywarden.AuditEvent) (_ *keywarden.APIKey, err error) {
	const op = "UpdateAPIKey"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	where, args, err := s.refWhere(op, ref)
	if err != nil {
		return nil, err
	}
	var k *keywarden.APIKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		current, err := s.scanAPIKey(s.queryRow(ctx, tx, `SELECT `+apiKeyColumns+` FROM api_keys `+where+s.d.LockRows(), args...))
		if err != nil {
			return err
		}
		if k, err = edit(current); err != nil {
			return err
		}
		scopes, err := s.d.List(ScopeNames(k.Scopes))
		if err != nil {
			return fmt.Errorf("encode scopes: %w", err)
		}
		allowed, err := s.d.List(keywarden.NetworkStrings(k.AllowedIPs))
		if err != nil {
			return fmt.Errorf("encode allowed IPs: %w", err)
		}
		if _, err := s.exec(ctx, tx, `
			UPDATE api_keys SET name = ?, scopes = ?, expires_at = ?, allowed_ips = ?, rate_limit = ?, rate_limit_window_seconds = ?
			WHERE id = ?`,
			k.Name, scopes, s.d.Time(k.ExpiresAt), allowed, k.RateLimit.Limit, int64(k.RateLimit.Window/time.Second), current.ID); err != nil {
			return err
		}
		if e != nil {
			e.TargetAPIKey(k)
		}
		if err := s.insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return s.recordKeyChange(ctx, tx, keywarden.ChangeOf(keywarden.KeyChangeUpdated, k))
	})
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages) // edit's own verdict passes through
	}
	return k, nil
}
