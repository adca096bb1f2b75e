// Package sqlite is Keywarden's default store: one SQLite file in the data
// directory, through the pure-Go modernc.org/sqlite driver, so a build needs
// no C compiler. Its schema migrations are embedded beside it and applied by
// goose.
//
// Encoding choices, which the migrations document too: times are INTEGER
// microseconds since the Unix epoch in UTC (a time.Time round-trips exactly to
// the microsecond), durations are INTEGER seconds, and a key's scopes are a
// JSON array of scope names in the key's order.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keywarden/keywarden"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a keywarden.Store kept in one SQLite file. It is safe for concurrent
// use.
type DB struct {
	db *sql.DB
	// byUser is the verification path's query, prepared once (on first use:
	// before the first migration its table does not exist) so that a cache
	// miss does not compile the same SELECT again.
	byUser atomic.Pointer[sql.Stmt]
}

var _ keywarden.Store = (*DB)(nil)

// maxConns bounds the connection pool. Each connection has its own page
// cache, so the pool must not grow without bound under a flood of requests;
// keeping as many idle as open saves re-running the pragmas per request.
// Readers share the file freely in WAL mode; writers queue on SQLite's write
// lock (busy_timeout).
const maxConns = 16

// Open opens the database file at path, creating it with mode 0600 when it
// does not exist. It does not migrate: call Migrate, then SchemaCurrent.
func Open(ctx context.Context, path string) (*DB, error) {
	// The driver treats everything after the first '?' as parameters, and a
	// "file:" or ":memory:" name as something other than a plain file.
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || strings.HasPrefix(path, ":") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}

	// The file holds secret hashes, so only the owner may read it. SQLite
	// would create it with 0644 (less the umask); creating it first with 0600
	// also makes SQLite create the -wal and -shm files with 0600, as it gives
	// them the database file's permissions. The file is closed again before
	// SQLite opens it, so this cannot disturb SQLite's POSIX locks.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}

	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)

	// Connect now, so a path that is not a usable database fails at start-up
	// rather than on the first request, and make sure WAL took: SQLite keeps
	// the old journal mode, without an error, where it cannot use WAL.
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", path, mode)
	}
	return &DB{db: db}, nil
}

// dsn returns the driver's data source name for the file at path. The
// pragmas are in the DSN, not run once after Open, because database/sql opens
// connections as it needs them and each new connection must get them all:
//
//   - busy_timeout(10000): a writer waits up to 10 s for another writer to
//     finish instead of failing at once with SQLITE_BUSY.
//   - journal_mode(WAL): readers never block the writer, nor it them.
//   - foreign_keys(1): SQLite enforces foreign keys (and their ON DELETE
//     CASCADE) only on connections that ask for it.
//   - synchronous(FULL): in WAL mode, NORMAL may lose the last transactions
//     on a power loss. An acknowledged key creation or deletion must survive
//     a crash or power loss (a deleted key must never come back), so every
//     commit is synced to disk.
//
// _txlock=immediate makes every write transaction BEGIN IMMEDIATE: it takes
// the write lock up front, where busy_timeout applies, instead of upgrading a
// read lock mid-transaction, which fails with SQLITE_BUSY regardless of the
// timeout when another writer got in between. Read-only transactions still
// begin DEFERRED. _dqs=0 makes a mistyped "column" an error rather than a
// string literal.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	q.Set("_dqs", "0")
	return path + "?" + q.Encode()
}

// provider returns a goose provider for the embedded migrations. A fresh one
// per call, because a provider remembers a failure to create its version table.
func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// The global registry holds Go migrations registered by init functions
	// anywhere in the binary; ours are all SQL, embedded here.
	return goose.NewProvider(goose.DialectSQLite3, db.db, fsys, goose.WithDisableGlobalRegistry(true))
}

// Migrate applies every pending migration, each in its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// SchemaCurrent reports whether the database schema is the one this binary
// was built for: no migration pending. A database migrated by a newer
// Keywarden is not current either, and is reported with an error, because
// this binary does not know its schema.
func (db *DB) SchemaCurrent(ctx context.Context) (bool, error) {
	p, err := db.provider()
	if err != nil {
		return false, fmt.Errorf("sqlite: schema version: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if pending {
		return false, nil
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if current > target {
		return false, fmt.Errorf("sqlite: database schema version %d is newer than this keywarden's %d; upgrade keywarden", current, target)
	}
	return true, nil
}

// Ping reports whether the database can be reached.
func (db *DB) Ping(ctx context.Context) error {
	return storeError("Ping", db.db.PingContext(ctx), messages{})
}

// Close closes the database. Every committed transaction is already on disk.
func (db *DB) Close() error {
	if st := db.byUser.Load(); st != nil {
		st.Close()
	}
	return db.db.Close()
}

// write runs fn in a write transaction (BEGIN IMMEDIATE, see dsn) and commits
// it when fn returns nil. Its errors are raw; the caller maps them.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only transaction (BEGIN DEFERRED), so that a page
// and its total count come from the same snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// messages are the caller-safe texts of the domain errors one operation can
// fail with. An empty text means the case cannot happen in that operation,
// and the error stays internal.
type messages struct {
	notFound string // no such row (sql.ErrNoRows), or a missing parent row (a foreign key)
	conflict string // a UNIQUE or PRIMARY KEY constraint
}

// storeError maps an error of the driver to a domain error. It is the only
// place that does. Domain errors pass through unchanged; anything unexpected
// becomes EINTERNAL, whose message the server logs and never shows. SQLite
// messages name the constraint's columns, never the bound values, so a
// secret hash cannot reach an error.
func storeError(op string, err error, m messages) error {
	if err == nil {
		return nil
	}
	var kerr *keywarden.Error
	if errors.As(err, &kerr) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) && m.notFound != "" {
		return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
	}
	// The driver turns on extended result codes, so a constraint violation
	// says which kind of constraint it was.
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			if m.conflict != "" {
				return keywarden.Errorf(keywarden.ECONFLICT, "%s", m.conflict)
			}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			if m.notFound != "" {
				return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
			}
		}
	}
	return keywarden.Errorf(keywarden.EINTERNAL, "sqlite: %s: %v", op, err)
}

// affectedOne returns a not-found error unless res changed a row.
func affectedOne(res sql.Result, notFound string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return keywarden.Errorf(keywarden.ENOTFOUND, "%s", notFound)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// micros is the stored form of a time: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// pageBounds returns the LIMIT and OFFSET of page: a limit of 0 (or less)
// means keywarden.DefaultPageLimit.
func pageBounds(page keywarden.Page) (limit, offset int) {
	limit, offset = page.Limit, page.Offset
	if limit <= 0 {
		limit = keywarden.DefaultPageLimit
	}
	if offset < 0 {
		offset = 0
	}
	return limit, offset
}

// oldestFirst is the order of most lists: creation time, with the ID to
// break ties so that pages are stable.
const oldestFirst = `created_at, id`

// findPage reads one page of the rows of from that match where, in orderBy
// order, and the total count, in one read transaction so that both come from
// the same snapshot. orderBy must end in a unique column, so that pages
// neither repeat nor skip rows. Its errors are raw; the caller maps them.
func findPage[T any](ctx context.Context, db *DB, from, columns, where, orderBy string, args []any, page keywarden.Page, scan func(scanner) (T, error)) ([]T, int, error) {
	limit, offset := pageBounds(page)
	var (
		items []T
		total int
	)
	err := db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+from+` `+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM `+from+` `+where+`
			ORDER BY `+orderBy+` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
		if err != nil {
			return err
		}
		items, err = scanAll(rows, scan)
		return err
	})
	return items, total, err
}

// findAll reads every row of a query that returns a short, bounded list
// (a user's memberships, a process's grants). Its errors are raw; the caller
// maps them.
func findAll[T any](ctx context.Context, db *DB, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var items []T
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, rows.Err()
}
