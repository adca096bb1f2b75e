// Package sqlite is Keywarden's default store: one SQLite file in the data
// directory, through the pure-Go modernc.org/sqlite driver, so a build needs
// no C compiler. Its schema migrations are embedded beside it and applied by
// goose.
//
// The queries are sqlstore's, shared with the PostgreSQL store; this package
// opens the file and is the SQLite dialect (see dialect). Encoding choices,
// which the migrations document too: times are INTEGER microseconds since
// the Unix epoch in UTC (a time.Time round-trips exactly to the
// microsecond), durations are INTEGER seconds, and a key's scopes are a JSON
// array of scope names in the key's order.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a keywarden.Store kept in one SQLite file. It is safe for concurrent
// use.
type DB struct {
	*sqlstore.Store
	db *sql.DB // the Store's, for tests
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
	return &DB{Store: sqlstore.New(db, dialect{}), db: db}, nil
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

// dialect is SQLite's part of sqlstore.Store: what SQLite does differently
// from PostgreSQL.
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Name() string { return "sqlite" }

// Rebind keeps the `?` placeholders, which SQLite reads as they are.
func (dialect) Rebind(query string) string { return query }

// Time is microseconds since the Unix epoch.
func (dialect) Time(t time.Time) any { return t.UnixMicro() }

// TimeValue needs no cast: a time is an INTEGER wherever it goes.
func (dialect) TimeValue() string { return "?" }

// List is a JSON array of the names, in order. JSON rather than a separated
// list so that no scope name can ever be mistaken for two, and so that SQL
// can look inside with json_each (InList).
func (dialect) List(names []string) (any, error) {
	if names == nil {
		names = []string{}
	}
	b, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (dialect) ScanList(src any) ([]string, error) {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return nil, fmt.Errorf("decode list: unexpected %T", src)
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return names, nil
}

func (dialect) InList(column string) string {
	return column + ` IN (SELECT value FROM json_each(?))`
}

// Constraint reads the extended result code, which the driver turns on, so
// a constraint violation says which kind of constraint it was.
func (dialect) Constraint(err error) sqlstore.Constraint {
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return sqlstore.Unique
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.ForeignKey
		}
	}
	return sqlstore.NoConstraint
}

// ReadTx begins DEFERRED (see dsn): a read transaction reads one snapshot.
func (dialect) ReadTx() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// LockRows is nothing: every write transaction holds the database's write
// lock from its start (BEGIN IMMEDIATE, see dsn).
func (dialect) LockRows() string { return "" }

// SkipLocked is empty for the same reason.
func (dialect) SkipLocked() string { return "" }

// BeginKeyChange and AfterKeyChange do nothing: with one writer at a time,
// seq order is commit order, and no other process needs a notification.
func (dialect) BeginKeyChange(context.Context, *sql.Tx) error        { return nil }
func (dialect) AfterKeyChange(context.Context, *sql.Tx, int64) error { return nil }

// PrepareVerify is true: the driver caches no statements, so a cache miss
// would compile the same SELECT again.
func (dialect) PrepareVerify() bool { return true }

// Migrations returns a goose provider for the embedded migrations. A fresh
// one per call, because a provider remembers a failure to create its version
// table. It needs no lock: SQLite's write lock serializes migrators.
func (dialect) Migrations(_ context.Context, db *sql.DB, _ bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// The global registry holds Go migrations registered by init functions
	// anywhere in the binary; ours are all SQL, embedded here.
	return goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
}
