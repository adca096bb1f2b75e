// Package sqlstore is the one implementation of keywarden.Store over
// database/sql that both the SQLite and the PostgreSQL stores are: every
// query and every transaction's logic is written here once, with `?`
// placeholders, and a Dialect supplies what differs because SQL itself
// differs — placeholders, how a time and a list of names are stored, how a
// constraint violation is told apart, the row and table locks PostgreSQL
// needs where SQLite has a single writer, its notification of key changes,
// and the migrations. The packages sqlite and postgres each hold a Dialect,
// the migrations and the opening of their database; nothing else.
//
// Every operation reports its duration and error to an Observer under its
// method name (the metrics), at the one place the operation runs.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/keywarden/keywarden"
)

// Constraint is the kind of constraint a driver error says was violated.
type Constraint int

// The constraints the store maps to domain errors; any other is internal.
const (
	NoConstraint Constraint = iota
	Unique                  // UNIQUE or PRIMARY KEY: ECONFLICT
	ForeignKey              // a missing parent row: ENOTFOUND
)

// Dialect is everything the two databases do differently. A method is here
// only when the SQL, the stored encoding or the locking differs; the rest
// is in Store.
type Dialect interface {
	// Name prefixes internal error messages: "sqlite", "postgres".
	Name() string
	// Rebind rewrites a query written with `?` placeholders into the
	// dialect's (PostgreSQL's $1, $2, …). The queries have no `?` in a
	// literal.
	Rebind(query string) string
	// Time is the stored form of a time (read back by scanning into
	// TimeDest, which accepts either form).
	Time(t time.Time) any
	// TimeValue is the placeholder of a time in a VALUES list in FROM,
	// where no column gives the value its type: PostgreSQL needs a cast to
	// know that it is a time at all.
	TimeValue() string
	// List is the stored form of a list of names (a key's scopes, the IDs a
	// query is restricted to); ScanList is its inverse, of what the
	// driver scans into an any (the text of either).
	List(names []string) (any, error)
	ScanList(src any) ([]string, error)
	// InList is the condition that column is one of the names of a List
	// bound to its single placeholder.
	InList(column string) string
	// Constraint says which kind of constraint err violated, if any.
	Constraint(err error) Constraint
	// ReadTx are the options of a read transaction: one snapshot for every
	// statement in it.
	ReadTx() *sql.TxOptions
	// LockRows is appended to a SELECT whose rows a write transaction
	// must hold until it ends (the last-owner rule): "" where writers are
	// serialized anyway.
	LockRows() string
	// SkipLocked is appended to a SELECT of rows to claim (a queue's): it
	// locks them and passes over rows another transaction holds, so that
	// concurrent claimers take different rows; "" where writers are
	// serialized anyway.
	SkipLocked() string
	// BeginKeyChange runs before a change is appended to the key change
	// feed, AfterKeyChange after, both in the change's transaction: they
	// make seq order commit order and notify other nodes where that needs
	// doing.
	BeginKeyChange(ctx context.Context, tx *sql.Tx) error
	AfterKeyChange(ctx context.Context, tx *sql.Tx, seq int64) error
	// PrepareVerify says whether FindAPIKeyByUser, the verification path,
	// uses a statement prepared once (a driver that does not cache
	// statements itself).
	PrepareVerify() bool
	// Migrations returns a goose provider for the embedded migrations over
	// db; locked, one that serializes migrators where several nodes may
	// start at once.
	Migrations(ctx context.Context, db *sql.DB, locked bool) (*goose.Provider, error)
}

// Importer is a Dialect with a faster bulk import than a prepared INSERT
// per key (PostgreSQL's COPY). It returns driver errors; Store maps them.
type Importer interface {
	ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) error
}

// Observer is told of every store operation: its method name, how long it
// took, and its (domain) error. *metrics.Metrics is one.
type Observer interface {
	ObserveQuery(op string, d time.Duration, err error)
}

// Observable is a store that reports its operations to an Observer: both
// stores, through Store.
type Observable interface {
	ObserveWith(o Observer)
}

// Store is a keywarden.Store over a database/sql handle in one dialect. It
// is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  Dialect
	// observer is set once at start-up (ObserveWith), possibly while the
	// store already answers.
	observer atomic.Pointer[Observer]
	// byUser is the verification query, prepared on first use (before the
	// first migration its table does not exist), when the dialect asks.
	byUser atomic.Pointer[sql.Stmt]
	// now is the clock of the times the store makes itself (the change
	// log's); every other time comes with the change it belongs to.
	now atomic.Pointer[func() time.Time]
	// timeout bounds each operation (SetTimeout); 0 is DefaultTimeout.
	timeout atomic.Int64
}

var (
	_ keywarden.Store = (*Store)(nil)
	_ Observable      = (*Store)(nil)
)

// New returns the store over db in dialect d. Close closes db.
func New(db *sql.DB, d Dialect) *Store {
	return &Store{db: db, d: d}
}

// ObserveWith makes every later operation report to o.
func (s *Store) ObserveWith(o Observer) { s.observer.Store(&o) }

// UseClock makes the store take the times it makes itself from now (the
// server's clock, which tests control) instead of time.Now.
func (s *Store) UseClock(now func() time.Time) { s.now.Store(&now) }

// clock returns the store's clock.
func (s *Store) clock() time.Time {
	if now := s.now.Load(); now != nil {
		return (*now)()
	}
	return time.Now()
}

// DefaultTimeout bounds every database call (SetTimeout changes it): a
// stalled or partitioned database makes a call fail with EUNAVAILABLE
// within it instead of hanging the request, and with it the node.
const DefaultTimeout = 2 * time.Second

// SetTimeout makes every later operation fail with EUNAVAILABLE when the
// database has not answered within d (DefaultTimeout when d <= 0).
func (s *Store) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultTimeout
	}
	s.timeout.Store(int64(d))
}

// deadline is how long one operation may take.
func (s *Store) deadline() time.Duration {
	if d := time.Duration(s.timeout.Load()); d > 0 {
		return d
	}
	return DefaultTimeout
}

// begin starts operation op, as the first statement of every operation:
// ctx gets the store's deadline, and the function it returns, which the
// operation defers, releases it and reports op's duration and final error
// (through errp) to the observer.
func (s *Store) begin(ctx context.Context, op string, errp *error) (context.Context, func()) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.deadline())
	return ctx, func() {
		cancel()
		if o := s.observer.Load(); o != nil {
			(*o).ObserveQuery(op, time.Since(start), *errp)
		}
	}
}

// Migrate applies every pending migration, each in its own transaction.
func (s *Store) Migrate(ctx context.Context) error {
	_, _, err := s.ApplyMigrations(ctx)
	return err
}

// ApplyMigrations is Migrate reporting what it did: the versions it applied,
// in order (none when the schema was current), and the schema version after.
func (s *Store) ApplyMigrations(ctx context.Context) (applied []int64, version int64, err error) {
	p, err := s.d.Migrations(ctx, s.db, true)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: migrate: %w", s.d.Name(), err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: migrate: %w", s.d.Name(), err)
	}
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	if version, err = p.GetDBVersion(ctx); err != nil {
		return nil, 0, fmt.Errorf("%s: schema version: %w", s.d.Name(), err)
	}
	return applied, version, nil
}

// SchemaCurrent reports whether the database schema is the one this binary
// was built for: no migration pending. A database migrated by a newer
// Keywarden is not current either, and is reported with an error, because
// this binary does not know its schema.
func (s *Store) SchemaCurrent(ctx context.Context) (bool, error) {
	current, target, pending, err := s.versions(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: schema version: %w", s.d.Name(), err)
	}
	if pending {
		return false, nil
	}
	if current > target {
		return false, fmt.Errorf("%s: database schema version %d is newer than this keywarden's %d; upgrade keywarden", s.d.Name(), current, target)
	}
	return true, nil
}

func (s *Store) versions(ctx context.Context) (current, target int64, pending bool, err error) {
	p, err := s.d.Migrations(ctx, s.db, false)
	if err != nil {
		return 0, 0, false, err
	}
	if pending, err = p.HasPending(ctx); err != nil || pending {
		return 0, 0, pending, err
	}
	current, target, err = p.GetVersions(ctx)
	return current, target, false, err
}

// Ping reports whether the database can be reached. It is not observed: it
// is no query of Keywarden's data, and counting the /readyz probe would
// skew the queries-per-request figure the load test reads.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.deadline())
	defer cancel()
	return s.storeError("Ping", s.db.PingContext(ctx), messages{})
}

// Close closes the database handle.
func (s *Store) Close() error {
	if st := s.byUser.Load(); st != nil {
		st.Close()
	}
	return s.db.Close()
}

// write runs fn in a write transaction and commits it when fn returns nil.
// Its errors are raw; the caller maps them.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, nil, fn)
}

// read runs fn in a read-only transaction of one snapshot, so that a page
// and its total count agree.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, s.d.ReadTx(), fn)
}

func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// exec, queryRow and query run a `?` query, rebound, on q.
func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, s.d.Rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.Rebind(query), args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.d.Rebind(query), args...)
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
// becomes EINTERNAL, whose message the server logs and never shows. Neither
// driver's message quotes the bound values (SQLite names the constraint's
// columns, PostgreSQL the constraint; its Detail, with the row, is not
// used), so a secret hash cannot reach an error.
func (s *Store) storeError(op string, err error, m messages) error {
	if err == nil {
		return nil
	}
	var kerr *keywarden.Error
	if errors.As(err, &kerr) {
		return err
	}
	if unavailable(err) {
		return keywarden.Errorf(keywarden.EUNAVAILABLE, "%s: %s: the database did not answer: %v", s.d.Name(), op, err)
	}
	if errors.Is(err, sql.ErrNoRows) && m.notFound != "" {
		return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
	}
	switch s.d.Constraint(err) {
	case Unique:
		if m.conflict != "" {
			return keywarden.Errorf(keywarden.ECONFLICT, "%s", m.conflict)
		}
	case ForeignKey:
		if m.notFound != "" {
			return keywarden.Errorf(keywarden.ENOTFOUND, "%s", m.notFound)
		}
	}
	return keywarden.Errorf(keywarden.EINTERNAL, "%s: %s: %v", s.d.Name(), op, err)
}

// unavailable reports whether err says the database could not be reached
// or did not answer within the deadline, rather than refused the query.
func unavailable(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr)
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

// nullTime is the stored form of an optional time: NULL when zero.
func (s *Store) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.Time(t)
}

// nullString is the stored form of an optional ID: NULL when empty.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// TimeDest is a scan destination for a time in either stored form: INTEGER
// microseconds since the Unix epoch (SQLite) or a TIMESTAMPTZ (PostgreSQL,
// read back in the local zone). It sets *t in UTC, as every store returns
// times; NULL leaves the zero time.
type TimeDest struct{ T *time.Time }

// Scan implements sql.Scanner.
func (d TimeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.T = time.Time{}
	case int64:
		*d.T = time.UnixMicro(v).UTC()
	case time.Time:
		*d.T = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// RebindNumbered rewrites `?` placeholders as $1, $2, … in order.
func RebindNumbered(query string) string {
	n := strings.Count(query, "?")
	if n == 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 2*n)
	i := 0
	for {
		j := strings.IndexByte(query, '?')
		if j < 0 {
			b.WriteString(query)
			return b.String()
		}
		i++
		b.WriteString(query[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		query = query[j+1:]
	}
}

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

// newestFirst is oldestFirst reversed.
const newestFirst = `created_at DESC, id DESC`

// findPage reads one page of the rows of from that match where, in orderBy
// order, and the total count, in one read transaction so that both come from
// the same snapshot. orderBy must end in a unique column, so that pages
// neither repeat nor skip rows. Its errors are raw; the caller maps them.
func findPage[T any](ctx context.Context, s *Store, from, columns, where, orderBy string, args []any, page keywarden.Page, scan func(scanner) (T, error)) ([]T, int, error) {
	limit, offset := pageBounds(page)
	var (
		items []T
		total int
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := s.queryRow(ctx, tx, `SELECT count(*) FROM `+from+` `+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := s.query(ctx, tx, `SELECT `+columns+` FROM `+from+` `+where+`
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
func findAll[T any](ctx context.Context, s *Store, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := s.query(ctx, s.db, query, args...)
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
