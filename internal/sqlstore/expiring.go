package sqlstore

import (
	"context"
	"time"

	"github.com/keywarden/keywarden"
)

// FindAPIKeysExpiring implements keywarden.APIKeyStore. It reads the
// organization's keys by its index and filters on the expiry: an
// organization's keys are few enough, and the reminders are shown only on
// console pages.
func (s *Store) FindAPIKeysExpiring(ctx context.Context, orgID string, from, to time.Time, limit int) (_ []*keywarden.APIKey, err error) {
	const op = "FindAPIKeysExpiring"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	if limit <= 0 || limit > keywarden.MaxPageLimit {
		limit = keywarden.MaxPageLimit
	}
	keys, err := findAll(ctx, s, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE org_id = ? AND expires_at > ? AND expires_at <= ?
		ORDER BY expires_at, id LIMIT ?`, []any{orgID, s.d.Time(from), s.d.Time(to), limit}, s.scanAPIKey)
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return keys, nil
}
