// Package postgres is Keywarden's store for running several nodes: each node
// keeps nothing but a pool of connections to one shared PostgreSQL database,
// through pgx. Its schema migrations are embedded beside it and applied by
// goose under an advisory lock, so that nodes starting at once migrate once.
//
// Its queries are sqlstore's, shared with the SQLite store (both pass
// internal/storetest); this package opens the pool and is the PostgreSQL
// dialect (see dialect). Where SQLite got a rule for free from its single
// writer, this store takes a lock: the last-owner rule locks the
// organization's owner memberships, and the key change feed is appended
// under a table lock so that its order is commit order. Key changes also
// NOTIFY KeyChangeChannel, which ListenKeyChanges turns into wake-ups for
// the verification cache.
//
// Every query runs through database/sql over pgx's stdlib adapter
// (stdlib.OpenDBFromPool), sharing the one pgxpool with the native pgx
// uses, so that a query's logic is written once for both databases. Native
// pgx is used only where it earns its place: COPY (ImportAPIKeys) and
// LISTEN (ListenKeyChanges), which database/sql cannot express.
//
// Encoding choices, which the migrations document too: times are TIMESTAMPTZ
// (exact to the microsecond, read back in UTC), durations are BIGINT
// seconds, and a key's scopes are a TEXT[] in the key's order.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlstore"
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
	*sqlstore.Store
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
	return &DB{Store: sqlstore.New(openSQL(pool), dialect{pool: pool, rebound: new(sync.Map)}), pool: pool, listen: listen, redacted: redacted}, nil
}

// openSQL returns a database/sql handle on pool's connections. Closing it
// leaves the pool open.
//
// OpenDBFromPool keeps no idle connection of its own, so that database/sql
// cannot hold every connection of the pool while COPY or the migrations'
// lock wait for one; but then every query opens and closes a database/sql
// connection around a pooled one, which costs the verification path
// several microseconds. So database/sql may keep all but one of the pool's
// connections, idle or not, and hands them back to the pool on the pool's
// own lifetime and idle limits (where the pool then ages them out).
func openSQL(pool *pgxpool.Pool) *sql.DB {
	db := stdlib.OpenDBFromPool(pool)
	c := pool.Config()
	if n := int(c.MaxConns) - 1; n > 0 {
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxLifetime(c.MaxConnLifetime)
		db.SetConnMaxIdleTime(c.MaxConnIdleTime)
	}
	return db
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

// Close closes the database handle and the pool, waiting for connections
// in use to be returned. Every acknowledged change is already committed.
func (db *DB) Close() error {
	err := db.Store.Close()
	db.pool.Close()
	return err
}
