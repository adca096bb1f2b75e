package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
)

// ImportAPIKeys stores many keys at once with COPY, for a bulk migration from
// another system (or a benchmark's seed), in one transaction.
//
// It is all or nothing. Like the SQLite store's, it validates nothing beyond
// what the schema enforces — unique ID and public ID, an existing
// organization, a process of that same organization, a 32-byte hash — and
// writes no audit events and no key changes (one row per key; a cache
// learns of new keys on their first lookup, as the SQLite store's
// ImportAPIKeys says).
func (db *DB) ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"api_keys"},
			[]string{"id", "org_id", "process_id", "name", "user", "secret_hash", "scopes",
				"created_at", "created_by_type", "created_by_id", "created_by_name", "expires_at", "last_used_at"},
			pgx.CopyFromSlice(len(keys), func(i int) ([]any, error) {
				k := keys[i]
				var processID, lastUsedAt any
				if k.ProcessID != "" {
					processID = k.ProcessID
				}
				if !k.LastUsedAt.IsZero() {
					lastUsedAt = k.LastUsedAt
				}
				return []any{k.ID, k.OrgID, processID, k.Name, k.User, k.SecretHash[:], encodeScopes(k.Scopes),
					k.CreatedAt, k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name, k.ExpiresAt, lastUsedAt}, nil
			}))
		return err
	})
	return storeError("ImportAPIKeys", err, apiKeyMessages)
}
