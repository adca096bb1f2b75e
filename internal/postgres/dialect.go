package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlstore"
)

// KeyChangeChannel is the channel every key change NOTIFYs, with the new
// change's seq as the payload. PostgreSQL delivers a notification only when
// its transaction commits, so a listener never hears of a change before it
// is durable and readable.
const KeyChangeChannel = "keywarden_key_changes"

// SQLSTATE codes the store maps to domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// dialect is PostgreSQL's part of sqlstore.Store: what PostgreSQL does
// differently from SQLite. It holds the pool for what goes around
// database/sql: COPY, and the migrations' lock ID.
type dialect struct {
	pool *pgxpool.Pool
	// rebound caches Rebind's results: the queries are a small, fixed set.
	rebound *sync.Map
}

var (
	_ sqlstore.Dialect  = dialect{}
	_ sqlstore.Importer = dialect{}
)

func (dialect) Name() string { return "postgres" }

// Rebind numbers the placeholders: $1, $2, …
func (d dialect) Rebind(query string) string {
	if d.rebound == nil {
		return sqlstore.RebindNumbered(query)
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	q := sqlstore.RebindNumbered(query)
	d.rebound.Store(query, q)
	return q
}

// Time is a TIMESTAMPTZ, exact to the microsecond.
func (dialect) Time(t time.Time) any { return t }

// TimeValue casts: an untyped parameter in a VALUES list in FROM would be
// taken for text.
func (dialect) TimeValue() string { return "CAST(? AS TIMESTAMPTZ)" }

// List is a TEXT[] (never NULL: no names is an empty array).
func (dialect) List(names []string) (any, error) {
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// ScanList parses the text form of a TEXT[], in which database/sql receives
// arrays from pgx's stdlib (only intrinsic types come in binary): {a,b},
// with an element in double quotes, and \ escaping, where it holds a comma,
// a quote, a backslash, a brace or white space, or is empty or NULL. The
// stored lists are one-dimensional and hold no NULL.
func (dialect) ScanList(src any) ([]string, error) {
	text, ok := src.(string)
	if !ok {
		return nil, fmt.Errorf("decode list: unexpected %T", src)
	}
	names, err := parseTextArray(text)
	if err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return names, nil
}

func parseTextArray(text string) ([]string, error) {
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return nil, errors.New("not a one-dimensional array")
	}
	body := text[1 : len(text)-1]
	if body == "" {
		return nil, nil
	}
	var names []string
	for i := 0; ; {
		var name string
		if body[i] == '"' {
			var b strings.Builder
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
				if i < len(body) {
					b.WriteByte(body[i])
				}
			}
			if i >= len(body) {
				return nil, errors.New("unterminated quoted element")
			}
			i++ // the closing quote
			name = b.String()
		} else {
			j := strings.IndexByte(body[i:], ',')
			if j < 0 {
				j = len(body) - i
			}
			name = body[i : i+j]
			if name == "NULL" {
				return nil, errors.New("NULL element")
			}
			i += j
		}
		names = append(names, name)
		if i == len(body) {
			return names, nil
		}
		if body[i] != ',' || i+1 == len(body) {
			return nil, errors.New("malformed array")
		}
		i++
	}
}

func (dialect) InList(column string) string { return column + ` = ANY(?::text[])` }

// Constraint reads the SQLSTATE. A PostgreSQL error's text names the
// constraint, never the row: the values are in its Detail, which is not
// used, so a secret hash cannot reach an error.
func (dialect) Constraint(err error) sqlstore.Constraint {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return sqlstore.Unique
		case foreignKeyViolation:
			return sqlstore.ForeignKey
		}
	}
	return sqlstore.NoConstraint
}

// ReadTx is REPEATABLE READ: one snapshot for every statement, so that a
// page and its total count agree. (Under READ COMMITTED, PostgreSQL's
// default, each statement would have its own.)
func (dialect) ReadTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// LockRows locks the rows read until the transaction ends; see
// sqlstore's keepAnOwner for why NO KEY.
func (dialect) LockRows() string { return ` FOR NO KEY UPDATE` }

// SkipLocked claims rows no other transaction holds.
func (dialect) SkipLocked() string { return ` FOR UPDATE SKIP LOCKED` }

// BeginKeyChange makes seq order commit order. A sequence alone hands out
// numbers in the order transactions ask, not the order they commit. So the
// append takes a lock on the table, which conflicts with itself and is held
// until commit: the next writer gets its seq only after this one is
// committed and visible. Readers (ACCESS SHARE) never wait for it. Creating
// and deleting keys are rare enough, next to verifying them, that writers
// queueing here is cheap.
func (dialect) BeginKeyChange(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `LOCK TABLE key_changes IN EXCLUSIVE MODE`)
	return err
}

// AfterKeyChange notifies KeyChangeChannel, delivered at commit.
func (dialect) AfterKeyChange(ctx context.Context, tx *sql.Tx, seq int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, KeyChangeChannel, fmt.Sprint(seq))
	return err
}

// PrepareVerify is false: pgx prepares and caches every statement on each
// connection of the pool itself.
func (dialect) PrepareVerify() bool { return false }

// Migrations returns a goose provider for the embedded migrations. A fresh
// one per call, because a provider remembers a failure to create its version
// table. When locked, the provider takes the schema's advisory lock (on one
// connection, for the whole run), polling for it every second for up to
// five minutes, so that nodes that migrate at once take turns: the first
// applies the migrations, the others find nothing pending.
func (d dialect) Migrations(ctx context.Context, db *sql.DB, locked bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// The global registry holds Go migrations registered by init functions
	// anywhere in the binary; ours are all SQL, embedded here.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locked {
		id, err := d.migrationLockID(ctx)
		if err != nil {
			return nil, err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
}

// migrationLockID is the advisory lock that serializes migrations of the
// schema the connections use: a hash of the database's and the schema's
// names. Two nodes migrating one schema take the same lock; two Keywarden
// installations in different schemas of one database (or parallel tests)
// do not wait for each other, which goose's single default ID would make
// them do.
func (d dialect) migrationLockID(ctx context.Context) (int64, error) {
	var database string
	var schema *string
	if err := d.pool.QueryRow(ctx, `SELECT current_database(), current_schema()`).Scan(&database, &schema); err != nil {
		return 0, err
	}
	if schema == nil {
		return 0, errors.New("no schema on the search_path exists; create it or fix search_path")
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "keywarden migrations\x00%s\x00%s", database, *schema)
	return int64(h.Sum64()), nil
}

// ImportAPIKeys copies the keys in with COPY, in one transaction, natively:
// COPY is many times faster than a prepared INSERT per key, and
// database/sql has no COPY.
func (d dialect) ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"api_keys"},
			[]string{"id", "org_id", "process_id", "name", "user", "secret_hash", "scopes",
				"created_at", "created_by_type", "created_by_id", "created_by_name", "expires_at", "last_used_at",
				"last_used_from", "previous_secret_hash", "previous_secret_expires_at", "allowed_ips",
				"rate_limit", "rate_limit_window_seconds"},
			pgx.CopyFromSlice(len(keys), func(i int) ([]any, error) {
				k := keys[i]
				var processID, lastUsedAt, prevHash, prevUntil any
				if k.ProcessID != "" {
					processID = k.ProcessID
				}
				if !k.LastUsedAt.IsZero() {
					lastUsedAt = k.LastUsedAt
				}
				if !k.PreviousSecretExpiresAt.IsZero() {
					prevHash, prevUntil = k.PreviousSecretHash[:], k.PreviousSecretExpiresAt
				}
				return []any{k.ID, k.OrgID, processID, k.Name, k.User, k.SecretHash[:], sqlstore.ScopeNames(k.Scopes),
					k.CreatedAt, k.CreatedBy.Type, k.CreatedBy.ID, k.CreatedBy.Name, k.ExpiresAt, lastUsedAt,
					k.LastUsedFrom, prevHash, prevUntil, keywarden.NetworkStrings(k.AllowedIPs),
					k.RateLimit.Limit, int64(k.RateLimit.Window / time.Second)}, nil
			}))
		return err
	})
}
