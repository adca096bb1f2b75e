package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keywarden/keywarden"
)

var apiKeyMessages = messages{
	notFound: "API key not found.",
	conflict: "An API key with that ID already exists.",
}

// CreateAPIKey stores k and its audit event. A process key whose process is
// not a process of the key's organization is refused by the schema's foreign
// key: ENOTFOUND. With synchronous=FULL, the key is on disk once this
// returns nil.
func (db *DB) CreateAPIKey(ctx context.Context, k *keywarden.APIKey, e *keywarden.AuditEvent) error {
	const op = "CreateAPIKey"
	scopes, err := encodeScopes(k.Scopes)
	if err != nil {
		return storeError(op, err, messages{})
	}
	var processID sql.NullString
	if k.ProcessID != "" {
		processID = sql.NullString{String: k.ProcessID, Valid: true}
	}
	var lastUsedAt sql.NullInt64
	if !k.LastUsedAt.IsZero() {
		lastUsedAt = sql.NullInt64{Int64: micros(k.LastUsedAt), Valid: true}
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO api_keys (id, org_id, process_id, name, "user", secret_hash, scopes,
				created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.OrgID, processID, k.Name, k.User, k.SecretHash[:], scopes,
			micros(k.CreatedAt), k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name,
			micros(k.ExpiresAt), lastUsedAt)
		if err != nil {
			return err
		}
		if err := recordKeyChange(ctx, tx, keywarden.KeyChangeCreated, k.User, k.ProcessID); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	msgs := apiKeyMessages
	if k.ProcessID != "" {
		msgs.notFound = "Process not found."
	} else {
		msgs.notFound = "Organization not found."
	}
	return storeError(op, err, msgs)
}

const apiKeyColumns = `id, org_id, process_id, name, "user", secret_hash, scopes,
	created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at`

func scanAPIKey(s scanner) (*keywarden.APIKey, error) {
	var (
		k          keywarden.APIKey
		processID  sql.NullString
		hash       []byte
		scopes     string
		createdAt  int64
		expiresAt  int64
		lastUsedAt sql.NullInt64
	)
	err := s.Scan(&k.ID, &k.OrgID, &processID, &k.Name, &k.User, &hash, &scopes,
		&createdAt, &k.CreatedBy.Type, &k.CreatedBy.ID, &k.CreatedBy.Name, &expiresAt, &lastUsedAt)
	if err != nil {
		return nil, err
	}
	// Never put the hash itself in an error.
	if len(hash) != len(k.SecretHash) {
		return nil, fmt.Errorf("api key %s: stored secret hash has %d bytes, want %d", k.ID, len(hash), len(k.SecretHash))
	}
	copy(k.SecretHash[:], hash)
	if k.Scopes, err = decodeScopes(scopes); err != nil {
		return nil, fmt.Errorf("api key %s: %w", k.ID, err)
	}
	k.ProcessID = processID.String
	k.CreatedAt = fromMicros(createdAt)
	k.ExpiresAt = fromMicros(expiresAt)
	if lastUsedAt.Valid {
		k.LastUsedAt = fromMicros(lastUsedAt.Int64)
	}
	return &k, nil
}

// encodeScopes returns the stored form of scopes: a JSON array of names in
// the key's order. JSON rather than a separated list so that no scope name
// can ever be mistaken for two, and so that SQL can look inside with
// json_each if it ever needs to.
func encodeScopes(scopes []keywarden.Scope) (string, error) {
	if scopes == nil {
		scopes = []keywarden.Scope{}
	}
	b, err := json.Marshal(scopes)
	if err != nil {
		return "", fmt.Errorf("encode scopes: %w", err)
	}
	return string(b), nil
}

// decodeScopes is the inverse of encodeScopes; no scopes decode as nil.
func decodeScopes(s string) ([]keywarden.Scope, error) {
	var scopes []keywarden.Scope
	if err := json.Unmarshal([]byte(s), &scopes); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	return scopes, nil
}

// FindAPIKey returns a key of the organization, of either level; a key of
// another organization is not found.
func (db *DB) FindAPIKey(ctx context.Context, orgID, id string) (*keywarden.APIKey, error) {
	k, err := scanAPIKey(db.db.QueryRowContext(ctx, `
		SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, storeError("FindAPIKey", err, apiKeyMessages)
	}
	return k, nil
}

// FindAPIKeyByUser returns the key whose public ID is user, of any
// organization. It is the verification path: one lookup on a unique index.
func (db *DB) FindAPIKeyByUser(ctx context.Context, user string) (*keywarden.APIKey, error) {
	st := db.byUser.Load()
	if st == nil {
		prepared, err := db.db.PrepareContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE "user" = ?`)
		if err != nil {
			return nil, storeError("FindAPIKeyByUser", err, apiKeyMessages)
		}
		if !db.byUser.CompareAndSwap(nil, prepared) {
			prepared.Close() // another caller prepared it first
		}
		st = db.byUser.Load()
	}
	k, err := scanAPIKey(st.QueryRowContext(ctx, user))
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
		where, args = `WHERE org_id = ? AND process_id IS NULL`, []any{f.OrgID}
	case keywarden.LevelProcess:
		if f.ProcessID == "" {
			return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "sqlite: %s: LevelProcess without a process ID", op)
		}
		where, args = `WHERE org_id = ? AND process_id = ?`, []any{f.OrgID, f.ProcessID}
	default:
		return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "sqlite: %s: unknown level %q", op, f.Level)
	}
	keys, total, err := findPage(ctx, db, "api_keys", apiKeyColumns, where, oldestFirst, args, f.Page, scanAPIKey)
	if err != nil {
		return nil, 0, storeError(op, err, messages{})
	}
	return keys, total, nil
}

// DeleteAPIKey deletes a key of the organization and records e. With
// synchronous=FULL, the deletion is on disk once this returns nil.
func (db *DB) DeleteAPIKey(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var user string
		err := tx.QueryRowContext(ctx, `DELETE FROM api_keys WHERE org_id = ? AND id = ? RETURNING "user"`, orgID, id).Scan(&user)
		if err == sql.ErrNoRows {
			return keywarden.Errorf(keywarden.ENOTFOUND, "%s", apiKeyMessages.notFound)
		} else if err != nil {
			return err
		}
		if err := recordKeyChange(ctx, tx, keywarden.KeyChangeDeleted, user, ""); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("DeleteAPIKey", err, apiKeyMessages)
}

// TouchAPIKey records that the key was used at at. It never moves
// last_used_at back: touches may arrive out of order.
func (db *DB) TouchAPIKey(ctx context.Context, user string, at time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1)
			WHERE "user" = ?2`, micros(at), user)
		if err != nil {
			return err
		}
		return affectedOne(res, apiKeyMessages.notFound)
	})
	return storeError("TouchAPIKey", err, apiKeyMessages)
}
