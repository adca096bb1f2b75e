// Package postgres is Keywarden's store for running several nodes: each node
// keeps nothing but a pool of connections to one shared PostgreSQL database,
// through pgx. Its schema migrations are embedded beside it and applied by
// goose under an advisory lock, so that nodes starting at once migrate once.
//
// It behaves exactly as the SQLite store (both pass internal/storetest).
// Where SQLite got a rule for free from its single writer, this store takes
// a lock: the last-owner rule locks the organization's owner memberships,
// and the key change feed is appended under a table lock so that its order
// is commit order. Deletions of keys also NOTIFY KeyChangeChannel, which
// ListenKeyChanges turns into wake-ups for the verification cache.
//
// Encoding choices, which the migrations document too: times are TIMESTAMPTZ
// (exact to the microsecond, read back in UTC), durations are BIGINT
// seconds, and a key's scopes are a TEXT[] in the key's order.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keywarden/keywarden"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultMaxConns bounds the pool when neither Config nor the URL's
// pool_max_conns does.
const DefaultMaxConns = 10

// DefaultListenerName is the application_name of the connection
// ListenKeyChanges holds, as pg_stat_activity shows it.
const DefaultListenerName = "keywarden-listener"

// Config says which database to use and how many connections to keep.
type Config struct {
	// URL is a PostgreSQL connection string (postgres://user:pass@host:port/db?…
	// or key=value form). Query parameters that are not connection settings,
	// such as search_path, are sent to the server as run-time parameters.
	URL string
	// MaxConns bounds the pool: the URL's pool_max_conns when zero, or
	// DefaultMaxConns when the URL does not set it either.
	MaxConns int32
	// MinConns is how many connections the pool keeps open even when idle:
	// the URL's pool_min_conns (pgx's default: none) when zero.
	MinConns int32
	// ListenerName is the application_name of the listening connection:
	// DefaultListenerName when empty. Operators (and tests) find it in
	// pg_stat_activity by this name.
	ListenerName string
}

// DB is a keywarden.Store kept in PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool     *pgxpool.Pool
	listen   *pgx.ConnConfig // the listening connection's, apart from the pool
	redacted string
}

var _ keywarden.Store = (*DB)(nil)

// Open connects to the database cfg.URL names and checks that it answers. It
// does not migrate: call Migrate, then SchemaCurrent. Its errors never
// contain the URL's password.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", withoutPassword(err, cfg.URL))
	}
	if cfg.MaxConns < 0 || cfg.MinConns < 0 {
		return nil, fmt.Errorf("postgres: pool limits must not be negative (max %d, min %d)", cfg.MaxConns, cfg.MinConns)
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		pc.MaxConns = DefaultMaxConns
	}
	if cfg.MinConns > 0 {
		pc.MinConns = cfg.MinConns
	}
	if pc.MinConns > pc.MaxConns {
		return nil, fmt.Errorf("postgres: pool minimum %d is above its maximum %d", pc.MinConns, pc.MaxConns)
	}

	listen := pc.ConnConfig.Copy()
	name := cfg.ListenerName
	if name == "" {
		name = DefaultListenerName
	}
	listen.RuntimeParams["application_name"] = name
	// The listening connection only ever waits, so without keepalives a
	// peer that vanished without a word (a partitioned network, a crashed
	// host) would leave it waiting for hours, believing it listens. Probes
	// after 5 s of silence declare it lost within about 20 s.
	listen.DialFunc = (&net.Dialer{
		Timeout:         listen.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3},
	}).DialContext

	c := pc.ConnConfig
	redacted := fmt.Sprintf("%s@%s/%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.Database)

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", redacted, err)
	}
	// Connect now, so that a wrong URL or an unreachable server fails at
	// start-up rather than on the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", redacted, err)
	}
	return &DB{pool: pool, listen: listen, redacted: redacted}, nil
}

// withoutPassword returns err with every copy of rawURL's password masked.
// pgx masks the password in the connection string it quotes, but an error it
// wraps (net/url's, say) may quote the string whole.
func withoutPassword(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	msg := err.Error()
	for _, s := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return errors.New(msg)
}

// Pool returns the connection pool, for metrics and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Redacted names the database as user@host:port/database, without the
// password, for the start-up log.
func (db *DB) Redacted() string { return db.redacted }

// migrationLockID is the advisory lock that serializes migrations of the
// schema the connections use: a hash of the database's and the schema's
// names. Two nodes migrating one schema take the same lock; two Keywarden
// installations in different schemas of one database (or parallel tests)
// do not wait for each other, which goose's single default ID would make
// them do.
func (db *DB) migrationLockID(ctx context.Context) (int64, error) {
	var database string
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_database(), current_schema()`).Scan(&database, &schema); err != nil {
		return 0, err
	}
	if schema == nil {
		return 0, errors.New("no schema on the search_path exists; create it or fix search_path")
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "keywarden migrations\x00%s\x00%s", database, *schema)
	return int64(h.Sum64()), nil
}

// withProvider calls fn with a goose provider for the embedded migrations,
// over a database/sql handle on the pool. A fresh provider per call, because
// a provider remembers a failure to create its version table. When locked,
// the provider takes the schema's advisory lock (on one connection, for the
// whole run), polling for it every second for up to five minutes.
func (db *DB) withProvider(ctx context.Context, locked bool, fn func(p *goose.Provider) error) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	// The global registry holds Go migrations registered by init functions
	// anywhere in the binary; ours are all SQL, embedded here.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locked {
		id, err := db.migrationLockID(ctx)
		if err != nil {
			return err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// Closing it returns its connections to the pool; the pool stays open.
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, opts...)
	if err != nil {
		return err
	}
	return fn(p)
}

// Migrate applies every pending migration, each in its own transaction, to
// the first schema on the search_path. Nodes that migrate at once take turns
// under an advisory lock: the first applies the migrations, the others find
// nothing pending.
func (db *DB) Migrate(ctx context.Context) error {
	err := db.withProvider(ctx, true, func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// SchemaCurrent reports whether the database schema is the one this binary
// was built for: no migration pending. A database migrated by a newer
// Keywarden is not current either, and is reported with an error, because
// this binary does not know its schema.
func (db *DB) SchemaCurrent(ctx context.Context) (bool, error) {
	var current, target int64
	pending := false
	err := db.withProvider(ctx, false, func(p *goose.Provider) error {
		var err error
		if pending, err = p.HasPending(ctx); err != nil || pending {
			return err
		}
		current, target, err = p.GetVersions(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: schema version: %w", err)
	}
	if pending {
		return false, nil
	}
	if current > target {
		return false, fmt.Errorf("postgres: database schema version %d is newer than this keywarden's %d; upgrade keywarden", current, target)
	}
	return true, nil
}

// Ping reports whether the database can be reached.
func (db *DB) Ping(ctx context.Context) error {
	return storeError("Ping", db.pool.Ping(ctx), messages{})
}

// Close closes the pool, waiting for connections in use to be returned.
// Every acknowledged change is already committed.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// write runs fn in a transaction and commits it when fn returns nil. Its
// errors are raw; the caller maps them. A change that is one statement
// runs as that statement alone, which PostgreSQL makes a transaction of its
// own, saving the BEGIN and COMMIT round trips.
func (db *DB) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// read runs fn in a read-only REPEATABLE READ transaction: one snapshot for
// every statement, so that a page and its total count agree. (Under READ
// COMMITTED, PostgreSQL's default, each statement would have its own.)
func (db *DB) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// SQLSTATE codes the store maps to domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// messages are the caller-safe texts of the domain errors one operation can
// fail with. An empty text means the case cannot happen in that operation,
// and the error stays internal.
type messages struct {
	notFound string // no such row (pgx.ErrNoRows), or a missing parent row (a foreign key)
	conflict string // a UNIQUE or PRIMARY KEY constraint
}

// storeError maps an error of the driver to a domain error. It is the only
// place that does. Domain errors pass through unchanged; anything unexpected
// becomes EINTERNAL, whose message the server logs and never shows. A
// PostgreSQL error's text (what pgconn.PgError.Error returns) names the
// constraint, never the row: the values are in its Detail, which is not
// used, so a secret hash cannot reach an error.
func storeError(op string, err error, m messages) error {
	if err == nil {
		return nil
	}
	var kerr *keywarden.Error
	if errors.As(err, &kerr) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) && m.notFound != "" {
		return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			if m.conflict != "" {
				return keywarden.Errorf(keywarden.ECONFLICT, "%s", m.conflict)
			}
		case foreignKeyViolation:
			if m.notFound != "" {
				return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
			}
		}
	}
	return keywarden.Errorf(keywarden.EINTERNAL, "postgres: %s: %v", op, err)
}

// affectedOne returns a not-found error unless tag says a row changed.
func affectedOne(tag pgconn.CommandTag, notFound string) error {
	if tag.RowsAffected() == 0 {
		return keywarden.Errorf(keywarden.ENOTFOUND, "%s", notFound)
	}
	return nil
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// utc returns a time read from a TIMESTAMPTZ column, which pgx returns in
// the local time zone, in UTC, as every store returns times.
func utc(t time.Time) time.Time { return t.UTC() }

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
// the same snapshot. where's placeholders are $1…$len(args). orderBy must end
// in a unique column, so that pages neither repeat nor skip rows. Its errors
// are raw; the caller maps them.
func findPage[T any](ctx context.Context, db *DB, from, columns, where, orderBy string, args []any, page keywarden.Page, scan func(scanner) (T, error)) ([]T, int, error) {
	limit, offset := pageBounds(page)
	var (
		items []T
		total int
	)
	err := db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+from+` `+where, args...).Scan(&total); err != nil {
			return err
		}
		n := len(args)
		rows, err := tx.Query(ctx, `SELECT `+columns+` FROM `+from+` `+where+`
			ORDER BY `+orderBy+` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
			append(args, limit, offset)...)
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
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans and closes rows.
func scanAll[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
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
