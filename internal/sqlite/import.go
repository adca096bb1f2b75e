package sqlite

import (
	"context"
	"database/sql"

	"github.com/keywarden/keywarden"
)

// ImportAPIKeys stores many keys at once, for a bulk migration from another
// system (or a load test's seed): one transaction, one prepared statement
// and one sync to disk for all of them, where CreateAPIKey takes a
// transaction and a sync per key.
//
// It is all or nothing: the first key the schema refuses rolls the whole
// import back. It validates nothing beyond what the schema enforces — unique
// ID and public ID, an existing organization, a process of that same
// organization, a 32-byte hash — so the caller vouches for everything else
// (names, scopes, expiry, prefixes). It writes no audit events, so the
// caller records the import where it needs to; and no key changes, which
// would be one row per key: a verification cache in front of the store
// learns of the new keys on their first lookup, as it does of any key it has
// not seen (an ID presented before its import is refused until the cache's
// negative entry for it expires).
func (db *DB) ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) error {
	const op = "ImportAPIKeys"
	err := db.write(ctx, func(tx *sql.Tx) error {
		// The statement of CreateAPIKey, prepared once for every row.
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO api_keys (id, org_id, process_id, name, "user", secret_hash, scopes,
				created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			scopes, err := encodeScopes(k.Scopes)
			if err != nil {
				return err
			}
			var processID sql.NullString
			if k.ProcessID != "" {
				processID = sql.NullString{String: k.ProcessID, Valid: true}
			}
			var lastUsedAt sql.NullInt64
			if !k.LastUsedAt.IsZero() {
				lastUsedAt = sql.NullInt64{Int64: micros(k.LastUsedAt), Valid: true}
			}
			if _, err := stmt.ExecContext(ctx,
				k.ID, k.OrgID, processID, k.Name, k.User, k.SecretHash[:], scopes,
				micros(k.CreatedAt), k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name,
				micros(k.ExpiresAt), lastUsedAt); err != nil {
				return err
			}
		}
		return nil
	})
	return storeError(op, err, messages{
		notFound: "Organization or process not found.",
		conflict: apiKeyMessages.conflict,
	})
}
