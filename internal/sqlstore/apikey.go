package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/keywarden/keywarden"
)

var apiKeyMessages = messages{
	notFound: "API key not found.",
	conflict: "An API key with that ID already exists.",
}

// errAPIKeyNotFound is FindAPIKeyByUser's not-found error.
var errAPIKeyNotFound = keywarden.Errorf(keywarden.ENOTFOUND, "%s", apiKeyMessages.notFound)

// insertAPIKey is the statement of CreateAPIKey and of the prepared bulk
// import; apiKeyArgs are its arguments for k.
const insertAPIKey = `
	INSERT INTO api_keys (id, org_id, process_id, name, "user", secret_hash, scopes,
		created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at,
		last_used_from, previous_secret_hash, previous_secret_expires_at, allowed_ips,
		rate_limit, rate_limit_window_seconds)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *Store) apiKeyArgs(k *keywarden.APIKey) ([]any, error) {
	scopes, err := s.d.List(ScopeNames(k.Scopes))
	if err != nil {
		return nil, fmt.Errorf("encode scopes: %w", err)
	}
	allowed, err := s.d.List(keywarden.NetworkStrings(k.AllowedIPs))
	if err != nil {
		return nil, fmt.Errorf("encode allowed IPs: %w", err)
	}
	prevHash, prevUntil := s.previousSecret(k)
	return []any{k.ID, k.OrgID, nullString(k.ProcessID), k.Name, k.User, k.SecretHash[:], scopes,
		s.d.Time(k.CreatedAt), k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name,
		s.d.Time(k.ExpiresAt), s.nullTime(k.LastUsedAt), k.LastUsedFrom, prevHash, prevUntil, allowed,
		k.RateLimit.Limit, int64(k.RateLimit.Window / time.Second)}, nil
}

// previousSecret is the stored form of k's previous secret: both NULL when
// it has none.
func (s *Store) previousSecret(k *keywarden.APIKey) (hash, until any) {
	if k.PreviousSecretExpiresAt.IsZero() {
		return nil, nil
	}
	return k.PreviousSecretHash[:], s.d.Time(k.PreviousSecretExpiresAt)
}

// ScopeNames returns the names of scopes, in order.
func ScopeNames(scopes []keywarden.Scope) []string {
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = string(sc)
	}
	return names
}

// CreateAPIKey stores k and its audit event. A process key whose process is
// not a process of the key's organization is refused by the schema's foreign
// key: ENOTFOUND. The key is durable once this returns nil (SQLite syncs
// every commit: synchronous=FULL).
func (s *Store) CreateAPIKey(ctx context.Context, k *keywarden.APIKey, e *keywarden.AuditEvent) (err error) {
	const op = "CreateAPIKey"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	args, err := s.apiKeyArgs(k)
	if err != nil {
		return s.storeError(op, err, messages{})
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, insertAPIKey, args...); err != nil {
			return err
		}
		if err := s.insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return s.recordKeyChange(ctx, tx, keywarden.ChangeOf(keywarden.KeyChangeCreated, k))
	})
	msgs := apiKeyMessages
	if k.ProcessID != "" {
		msgs.notFound = "Process not found."
	} else {
		msgs.notFound = "Organization not found."
	}
	return s.storeError(op, err, msgs)
}

const apiKeyColumns = `id, org_id, process_id, name, "user", secret_hash, scopes,
	created_at, created_by_type, created_by_id, created_by_name, expires_at, last_used_at,
	last_used_from, previous_secret_hash, previous_secret_expires_at, allowed_ips,
	rate_limit, rate_limit_window_seconds`

func (s *Store) scanAPIKey(r scanner) (*keywarden.APIKey, error) {
	var (
		k              keywarden.APIKey
		processID      sql.NullString
		hash, prevHash []byte
		scopes         any // a List of the dialect
		allowed        any
		window         int64
	)
	err := r.Scan(&k.ID, &k.OrgID, &processID, &k.Name, &k.User, &hash, &scopes,
		TimeDest{&k.CreatedAt}, &k.CreatedBy.Type, &k.CreatedBy.ID, &k.CreatedBy.Name,
		TimeDest{&k.ExpiresAt}, TimeDest{&k.LastUsedAt}, &k.LastUsedFrom, &prevHash,
		TimeDest{&k.PreviousSecretExpiresAt}, &allowed, &k.RateLimit.Limit, &window)
	if err != nil {
		return nil, err
	}
	// Never put a hash itself in an error.
	if len(hash) != len(k.SecretHash) {
		return nil, fmt.Errorf("api key %s: stored secret hash has %d bytes, want %d", k.ID, len(hash), len(k.SecretHash))
	}
	copy(k.SecretHash[:], hash)
	if prevHash != nil {
		if len(prevHash) != len(k.PreviousSecretHash) {
			return nil, fmt.Errorf("api key %s: stored previous secret hash has %d bytes, want %d", k.ID, len(prevHash), len(k.PreviousSecretHash))
		}
		copy(k.PreviousSecretHash[:], prevHash)
	}
	k.RateLimit.Window = time.Duration(window) * time.Second
	nets, err := s.d.ScanList(allowed)
	if err != nil {
		return nil, fmt.Errorf("api key %s: allowed IPs: %w", k.ID, err)
	}
	for _, n := range nets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("api key %s: allowed IPs: %w", k.ID, err)
		}
		k.AllowedIPs = append(k.AllowedIPs, p)
	}
	names, err := s.d.ScanList(scopes)
	if err != nil {
		return nil, fmt.Errorf("api key %s: %w", k.ID, err)
	}
	if len(names) > 0 { // no scopes decode as nil
		k.Scopes = make([]keywarden.Scope, len(names))
		for i, n := range names {
			k.Scopes[i] = keywarden.Scope(n)
		}
	}
	k.ProcessID = processID.String
	return &k, nil
}

// FindAPIKey returns a key of the organization, of either level; a key of
// another organization is not found.
func (s *Store) FindAPIKey(ctx context.Context, orgID, id string) (_ *keywarden.APIKey, err error) {
	const op = "FindAPIKey"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	k, err := s.scanAPIKey(s.queryRow(ctx, s.db, `
		SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages)
	}
	return k, nil
}

// findAPIKeyByUser reads the key whose public ID is the argument or, when
// there is none, the next one by public ID (the first one past the last):
// one index seek and one row either way, so that an unknown ID costs the
// database what a known one does and the response time does not tell them
// apart (reading no row is about 40% faster on SQLite). Only
// FindAPIKeyByUser runs it, and it returns the row only when its ID is the
// one asked for.
const findAPIKeyByUser = `SELECT * FROM (SELECT ` + apiKeyColumns + ` FROM api_keys WHERE "user" >= ? ORDER BY "user" LIMIT 1) AS at_or_after
	UNION ALL SELECT * FROM (SELECT ` + apiKeyColumns + ` FROM api_keys ORDER BY "user" LIMIT 1) AS first LIMIT 1`

// FindAPIKeyByUser returns the key whose public ID is user, of any
// organization. It is the verification path: one lookup on a unique index,
// with a statement prepared once where the dialect asks for it (pgx caches
// the statements of every connection itself), costing the same whether the
// key exists or not.
func (s *Store) FindAPIKeyByUser(ctx context.Context, user string) (_ *keywarden.APIKey, err error) {
	const op = "FindAPIKeyByUser"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var row *sql.Row
	if s.d.PrepareVerify() {
		st, err := s.verifyStmt(ctx)
		if err != nil {
			return nil, s.storeError(op, err, apiKeyMessages)
		}
		row = st.QueryRowContext(ctx, user)
	} else {
		row = s.queryRow(ctx, s.db, findAPIKeyByUser, user)
	}
	k, err := s.scanAPIKey(row)
	if err == nil && k.User != user || errors.Is(err, sql.ErrNoRows) {
		// Another key, read for its cost only, or none at all. One
		// prebuilt error: formatting a new one would cost an unknown ID
		// more than a known one.
		return nil, errAPIKeyNotFound
	}
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages)
	}
	return k, nil
}

// APIKeysAfter implements keywarden.APIKeyStore: one page of every key, by
// public ID (its unique index).
func (s *Store) APIKeysAfter(ctx context.Context, afterUser string, limit int) (_ []*keywarden.APIKey, err error) {
	const op = "APIKeysAfter"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	keys, err := findAll(ctx, s, `SELECT `+apiKeyColumns+` FROM api_keys WHERE "user" > ? ORDER BY "user" LIMIT ?`,
		[]any{afterUser, limit}, s.scanAPIKey)
	return keys, s.storeError(op, err, apiKeyMessages)
}

// verifyStmt returns the prepared FindAPIKeyByUser statement, preparing it
// on first use: before the first migration its table does not exist.
func (s *Store) verifyStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := s.byUser.Load(); st != nil {
		return st, nil
	}
	prepared, err := s.db.PrepareContext(ctx, s.d.Rebind(findAPIKeyByUser))
	if err != nil {
		return nil, err
	}
	if !s.byUser.CompareAndSwap(nil, prepared) {
		prepared.Close() // another caller prepared it first
	}
	return s.byUser.Load(), nil
}

// FindAPIKeys returns one page of the keys of one organization at one level,
// oldest first unless f.NewestFirst, and the total count. Organization keys are those without a
// process; LevelProcess requires f.ProcessID.
func (s *Store) FindAPIKeys(ctx context.Context, f keywarden.APIKeyFilter) (_ []*keywarden.APIKey, _ int, err error) {
	const op = "FindAPIKeys"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var (
		where string
		args  []any
	)
	switch f.Level {
	case keywarden.LevelOrganization:
		where, args = `WHERE org_id = ? AND process_id IS NULL`, []any{f.OrgID}
	case keywarden.LevelProcess:
		if f.ProcessID == "" {
			return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "%s: %s: LevelProcess without a process ID", s.d.Name(), op)
		}
		where, args = `WHERE org_id = ? AND process_id = ?`, []any{f.OrgID, f.ProcessID}
	default:
		return nil, 0, keywarden.Errorf(keywarden.EINTERNAL, "%s: %s: unknown level %q", s.d.Name(), op, f.Level)
	}
	order := oldestFirst
	if f.NewestFirst {
		order = newestFirst
	}
	keys, total, err := findPage(ctx, s, "api_keys", apiKeyColumns, where, order, args, f.Page, s.scanAPIKey)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return keys, total, nil
}

// refWhere is the condition that selects the one key ref names, confined
// to its organization, and to its level and process when set.
func (s *Store) refWhere(op string, ref keywarden.APIKeyRef) (string, []any, error) {
	where, args := `WHERE org_id = ? AND id = ?`, []any{ref.OrgID, ref.ID}
	switch ref.Level {
	case "":
	case keywarden.LevelOrganization:
		where += ` AND process_id IS NULL`
	case keywarden.LevelProcess:
		where += ` AND process_id = ?`
		args = append(args, ref.ProcessID)
	default:
		return "", nil, keywarden.Errorf(keywarden.EINTERNAL, "%s: %s: unknown level %q", s.d.Name(), op, ref.Level)
	}
	return where, args, nil
}

// DeleteAPIKey implements keywarden.APIKeyStore: one DELETE … RETURNING
// confined to the reference's organization, level and process, the audit
// event completed with the deleted key, and the change log's entry, in one
// transaction.
func (s *Store) DeleteAPIKey(ctx context.Context, ref keywarden.APIKeyRef, e *keywarden.AuditEvent) (_ *keywarden.APIKey, err error) {
	const op = "DeleteAPIKey"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	where, args, err := s.refWhere(op, ref)
	if err != nil {
		return nil, err
	}
	var k *keywarden.APIKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = s.scanAPIKey(s.queryRow(ctx, tx, `DELETE FROM api_keys `+where+` RETURNING `+apiKeyColumns, args...)); err != nil {
			return err
		}
		if e != nil {
			e.TargetAPIKey(k)
		}
		if err := s.insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		kind := keywarden.KeyChangeDeleted
		if e != nil && e.Action == keywarden.AuditAPIKeyLeaked {
			kind = keywarden.KeyChangeLeaked
		}
		return s.recordKeyChange(ctx, tx, keywarden.ChangeOf(kind, k))
	})
	if err != nil {
		return nil, s.storeError(op, err, apiKeyMessages)
	}
	return k, nil
}

// ImportAPIKeys stores many keys at once, for a bulk migration from another
// system (or a load test's seed), in one transaction: with the dialect's
// bulk path (PostgreSQL's COPY), or else one prepared statement and one
// sync to disk for all of them, where CreateAPIKey takes a transaction and
// a sync per key.
//
// It is all or nothing: the first key the schema refuses rolls the whole
// import back. It validates nothing beyond what the schema enforces — unique
// ID and public ID, an existing organization, a process of that same
// organization, a 32-byte hash — so the caller vouches for everything else
// (names, scopes, expiry, prefixes). It writes no audit events, so the
// caller records the import where it needs to; and no key changes, which
// would be one row per key. So import before starting the nodes: a running
// node's cache holds every key it loaded and learns of new ones only from
// the change log, and refuses imported keys until it restarts.
func (s *Store) ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) (err error) {
	const op = "ImportAPIKeys"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	if im, ok := s.d.(Importer); ok {
		err = im.ImportAPIKeys(ctx, keys)
	} else {
		err = s.write(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, s.d.Rebind(insertAPIKey))
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, k := range keys {
				args, err := s.apiKeyArgs(k)
				if err != nil {
					return err
				}
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return s.storeError(op, err, messages{
		notFound: "Organization or process not found.",
		conflict: apiKeyMessages.conflict,
	})
}
