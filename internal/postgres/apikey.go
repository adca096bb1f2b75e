package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
)

var apiKeyMessages = messages{
	notFound: "API key not found.",
	conflict: "An API key with that ID already exists.",
}

// CreateAPIKey stores k and its audit event. A process key whose process is
// not a process of the key's organization is refused by the schema's foreign
// key: ENOTFOUND. The key is durable once the commit returns.
func (db *DB) CreateAPIKey(ctx context.Context, k *keywarden.APIKey, e *keywarden.AuditEvent) error {
	var processID *string
	if k.ProcessID != "" {
		processID = &k.ProcessID
	}
	var lastUsedAt *time.Time
	if !k.LastUsedAt.IsZero() {
		lastUsedAt = &k.LastUsedAt
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO api_keys (id, org_id, process_id, name, "user", secret_hash, scopes,
				created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			k.ID, k.OrgID, processID, k.Name, k.User, k.SecretHash[:], encodeScopes(k.Scopes),
			k.CreatedAt, k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name,
			k.ExpiresAt, lastUsedAt)
		if err != nil {
			return err
		}
		if err := insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return recordKeyChange(ctx, tx, keywarden.KeyChangeCreated, k.User, k.ProcessID)
	})
	msgs := apiKeyMessages
	if k.ProcessID != "" {
		msgs.notFound = "Process not found."
	} else {
		msgs.notFound = "Organization not found."
	}
	return storeError("CreateAPIKey", err, msgs)
}

const apiKeyColumns = `id, org_id, process_id, name, "user", secret_hash, scopes,
	created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at`

func scanAPIKey(s scanner) (*keywarden.APIKey, error) {
	var (
		k          keywarden.APIKey
		processID  *string
		hash       []byte
		scopes     []string
		lastUsedAt *time.Time
	)
	err := s.Scan(&k.ID, &k.OrgID, &processID, &k.Name, &k.User, &hash, &scopes,
		&k.CreatedAt, &k.CreatedBy.Type, &k.CreatedBy.ID, &k.CreatedBy.Name, &k.ExpiresAt, &lastUsedAt)
	if err != nil {
		return nil, err
	}
	// Never put the hash itself in an error.
	if len(hash) != len(k.SecretHash) {
		return nil, fmt.Errorf("api key %s: stored secret hash has %d bytes, want %d", k.ID, len(hash), len(k.SecretHash))
	}
	copy(k.SecretHash[:], hash)
	k.Scopes = decodeScopes(scopes)
	if processID != nil {
		k.ProcessID = *processID
	}
	k.CreatedAt = utc(k.CreatedAt)
	k.ExpiresAt = utc(k.ExpiresAt)
	if lastUsedAt != nil {
		k.LastUsedAt = utc(*lastUsedAt)
	}
	return &k, nil
}

// encodeScopes returns the stored form of scopes: a TEXT[] of names in the
// key's order (never NULL: no scopes is an empty array).
func encodeScopes(scopes []keywarden.Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// decodeScopes is the inverse of encodeScopes; no scopes decode as nil.
func decodeScopes(names []string) []keywarden.Scope {
	if len(names) == 0 {
		return nil
	}
	scopes := make([]keywarden.Scope, len(names))
	for i, n := range names {
		scopes[i] = keywarden.Scope(n)
	}
	return scopes
}

// FindAPIKey returns a key of the organization, of either level; a key of
// another organization is not found.
func (db *DB) FindAPIKey(ctx context.Context, orgID, id string) (*keywarden.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `
		SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		return nil, storeError("FindAPIKey", err, apiKeyMessages)
	}
	return k, nil
}

// FindAPIKeyByUser returns the key whose public ID is user, of any
// organization. It is the verification path: one lookup on a unique index.
func (db *DB) FindAPIKeyByUser(ctx context.Context, user string) (*keywarden.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `
		SELECT `+apiKeyColumns+` FROM api_keys WHERE "user" = $1`, user))
	if err != nil {
		return nil, storeError("FindAPIKeyByUser", err, apiKeyMessages)
	}
	return k, nil
}

// FindAPIKeys returns one page of the keys of one organization at one level,
// oldest first, and the total count. Organization keys are those without a
// process; LevelProcess requires f.ProcessID.
func (db *DB) FindAPIKeys(ctx context.Context, f keywarden.APIKeyFilter) ([]*keywarden.APIKey, int, error) {
	const op = "FindAPIKeys"
	var (
		where string
		args  []any
	)
	switch f.Level {
	case keywarden.LevelOrganization:
		where, args = `WHERE org_id = $1 AND process_id IS NULL`, []any{f.OrgID}
	case keywarden.LevelProcess:
		if f.ProcessID == "" {
			return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "postgres: %s: LevelProcess without a process ID", op)
		}
		where, args = `WHERE org_id = $1 AND process_id = $2`, []any{f.OrgID, f.ProcessID}
	default:
		return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "postgres: %s: unknown level %q", op, f.Level)
	}
	keys, total, err := findPage(ctx, db, "api_keys", apiKeyColumns, where, oldestFirst, args, f.Page, scanAPIKey)
	if err != nil {
		return nil, 0, storeError(op, err, messages{})
	}
	return keys, total, nil
}

// DeleteAPIKey deletes a key of the organization, appends the deletion to
// the key change feed (notifying the other nodes at commit), and records e.
// The deletion is durable once the commit returns.
func (db *DB) DeleteAPIKey(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		var user string
		err := tx.QueryRow(ctx, `DELETE FROM api_keys WHERE org_id = $1 AND id = $2 RETURNING "user"`, orgID, id).Scan(&user)
		if err != nil {
			return err
		}
		if err := insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return recordKeyChange(ctx, tx, keywarden.KeyChangeDeleted, user, "")
	})
	return storeError("DeleteAPIKey", err, apiKeyMessages)
}

// TouchAPIKey records that the key was used at at. It never moves
// last_used_at back: touches may arrive out of order, and GREATEST ignores
// the NULL of a key never used. One statement, so its own transaction.
func (db *DB) TouchAPIKey(ctx context.Context, user string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $1)
		WHERE "user" = $2`, at, user)
	if err == nil {
		err = affectedOne(tag, apiKeyMessages.notFound)
	}
	return storeError("TouchAPIKey", err, apiKeyMessages)
}
