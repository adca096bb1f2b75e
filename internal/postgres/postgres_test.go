package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/storetest"
	"github.com/keywarden/keywarden/internal/testenv"
)

// serverURL returns the test server's URL, or skips the test (fails it
// under CI) when there is none.
func serverURL(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresURL(tb, "the PostgreSQL store's tests need a server")
}

// randomName returns prefix followed by 16 random hex digits: a name no
// other test uses.
func randomName(tb testing.TB, prefix string) string {
	tb.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// mustExec runs sql on a connection of its own to rawURL.
func mustExec(tb testing.TB, rawURL, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// withParam returns rawURL with the query parameter key set to value.
func withParam(tb testing.TB, rawURL, key, value string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", testenv.PostgresURLVar, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustCreateSchema creates an empty schema with a random name, drops it
// when the test ends, and returns a URL whose connections use it: pgx sends
// the search_path parameter to the server as a run-time parameter.
func MustCreateSchema(tb testing.TB) (rawURL, schema string) {
	tb.Helper()
	base := serverURL(tb)
	schema = randomName(tb, "kwtest_")
	ident := pgx.Identifier{schema}.Sanitize()
	mustExec(tb, base, `CREATE SCHEMA `+ident)
	tb.Cleanup(func() { mustExec(tb, base, `DROP SCHEMA `+ident+` CASCADE`) })
	return withParam(tb, base, "search_path", schema), schema
}

// MustCreateDatabase creates an empty database with a random name, drops it
// when the test ends, and returns its URL. Notifications are per database,
// so a test that counts them needs one of its own.
func MustCreateDatabase(tb testing.TB) string {
	tb.Helper()
	base := serverURL(tb)
	name := randomName(tb, "kwtest_")
	ident := pgx.Identifier{name}.Sanitize()
	mustExec(tb, base, `CREATE DATABASE `+ident)
	tb.Cleanup(func() { mustExec(tb, base, `DROP DATABASE `+ident+` WITH (FORCE)`) })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", testenv.PostgresURLVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// MustOpen opens the database at cfg.URL and closes it when the test ends.
func MustOpen(tb testing.TB, cfg Config) *DB {
	tb.Helper()
	db, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// MustOpenMigrated opens and migrates a store in a new schema of its own.
func MustOpenMigrated(tb testing.TB) *DB {
	tb.Helper()
	rawURL, schema := MustCreateSchema(tb)
	db := MustOpen(tb, Config{URL: rawURL})
	var current string
	if err := db.Pool().QueryRow(context.Background(), `SELECT current_schema()`).Scan(&current); err != nil {
		tb.Fatalf("current_schema: %v", err)
	}
	if current != schema {
		tb.Fatalf("current_schema() = %q, want the test's %q: search_path did not reach the server", current, schema)
	}
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	serverURL(t) // one skip, not one per subtest
	storetest.Run(t, func(t *testing.T) keywarden.Store {
		db := MustOpenMigrated(t)
		// The suite runs its tests in parallel, under the race detector in
		// CI, on two cores, and tests what the store does, not its
		// deadline (TestDeadline…), which queued writers would exceed.
		db.SetTimeout(time.Minute)
		return db
	})
}

// appliedVersions returns how many times goose recorded each version as
// applied in the schema db uses.
func appliedVersions(tb testing.TB, db *DB) map[int64]int {
	tb.Helper()
	rows, err := db.Pool().Query(context.Background(), `
		SELECT version_id, count(*) FROM goose_db_version WHERE is_applied GROUP BY version_id`)
	if err != nil {
		tb.Fatalf("read goose_db_version: %v", err)
	}
	defer rows.Close()
	got := map[int64]int{}
	for rows.Next() {
		var v int64
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			tb.Fatal(err)
		}
		got[v] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return got
}

// wantEachMigrationOnce fails tb unless every embedded migration (and
// goose's version 0) is recorded exactly once.
func wantEachMigrationOnce(tb testing.TB, db *DB) {
	tb.Helper()
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		tb.Fatal(err)
	}
	got := appliedVersions(tb, db)
	if len(got) != len(entries)+1 {
		tb.Errorf("goose_db_version has versions %v, want 0 and the %d migrations", got, len(entries))
	}
	for v, n := range got {
		if n != 1 {
			tb.Errorf("version %d is recorded %d times, want once (all: %v)", v, n, got)
		}
	}
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	wantEachMigrationOnce(t, db)
	if _, err := db.FindOrganizationByID(ctx, org.ID); err != nil {
		t.Errorf("FindOrganizationByID after the second Migrate: %v", err)
	}
}

func TestSchemaIsCurrentOnlyAfterMigrate(t *testing.T) {
	ctx := context.Background()
	rawURL, _ := MustCreateSchema(t)
	db := MustOpen(t, Config{URL: rawURL})
	if ok, err := db.SchemaCurrent(ctx); err != nil || ok {
		t.Fatalf("SchemaCurrent of an empty schema = %v, %v; want false, nil", ok, err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
		t.Fatalf("SchemaCurrent after Migrate = %v, %v; want true, nil", ok, err)
	}

	// A schema migrated by a newer keywarden is not current, and says so.
	if _, err := db.Pool().Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
		t.Fatal(err)
	}
	ok, err := db.SchemaCurrent(ctx)
	if ok || err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("SchemaCurrent of a newer schema = %v, %v; want false and an error saying it is newer", ok, err)
	}
}

// Ten nodes starting at once on an empty schema: every Migrate succeeds and
// each migration is applied once, under goose's advisory lock.
func TestConcurrentMigrationsApplyEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	rawURL, _ := MustCreateSchema(t)
	const nodes = 10
	dbs := make([]*DB, nodes)
	for i := range dbs {
		dbs[i] = MustOpen(t, Config{URL: rawURL, MaxConns: 2})
	}
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on node %d: %v", i, err)
		}
	}
	wantEachMigrationOnce(t, dbs[0])
	for i, db := range dbs {
		if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
			t.Errorf("SchemaCurrent on node %d = %v, %v; want true, nil", i, ok, err)
		}
	}
	// The lock was released: nobody holds an advisory lock any more.
	var held int
	if err := dbs[0].Pool().QueryRow(ctx, `
		SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::bigint & 4294967295)::oid`,
		mustLockID(t, dbs[0])).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d sessions still hold the migration lock", held)
	}
}

func mustLockID(tb testing.TB, db *DB) int64 {
	tb.Helper()
	id, err := dialect{pool: db.Pool()}.migrationLockID(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestMigrationLockIsPerSchema(t *testing.T) {
	a := MustOpenMigrated(t)
	b := MustOpenMigrated(t)
	if mustLockID(t, a) == mustLockID(t, b) {
		t.Error("two schemas share a migration lock")
	}
	sameSchema := MustOpen(t, Config{URL: a.Pool().Config().ConnString()})
	if mustLockID(t, a) != mustLockID(t, sameSchema) {
		t.Error("two nodes on one schema have different migration locks")
	}
}

func TestOpenAppliesPoolLimits(t *testing.T) {
	base := serverURL(t)
	for _, tt := range []struct {
		name     string
		cfg      Config
		max, min int32
	}{
		{"Defaults", Config{URL: base}, DefaultMaxConns, 0},
		{"Configured", Config{URL: base, MaxConns: 3, MinConns: 1}, 3, 1},
		{"FromTheURL", Config{URL: withParam(t, base, "pool_max_conns", "4")}, 4, 0},
		{"ConfigOverridesTheURL", Config{URL: withParam(t, base, "pool_max_conns", "4"), MaxConns: 5}, 5, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpen(t, tt.cfg)
			c := db.Pool().Config()
			if c.MaxConns != tt.max || c.MinConns != tt.min {
				t.Errorf("pool limits = max %d, min %d; want max %d, min %d", c.MaxConns, c.MinConns, tt.max, tt.min)
			}
		})
	}
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"MinAboveMax", Config{URL: base, MaxConns: 2, MinConns: 3}},
		{"Negative", Config{URL: base, MaxConns: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if db, err := Open(context.Background(), tt.cfg); err == nil {
				db.Close()
				t.Errorf("Open with %+v succeeded", tt.cfg)
			}
		})
	}
}

func TestRedactedHidesThePassword(t *testing.T) {
	const password = "Sw0rdfish-s3cret"
	base := serverURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	user := "postgres"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if _, set := u.User.Password(); !set {
		// A server that trusts local connections ignores the password.
		u.User = url.UserPassword(user, password)
		db := MustOpen(t, Config{URL: u.String()})
		got := db.Redacted()
		if strings.Contains(got, password) {
			t.Errorf("Redacted() = %q contains the password", got)
		}
		port := u.Port()
		if port == "" {
			port = "5432"
		}
		if want := user + "@" + net.JoinHostPort(u.Hostname(), port) + u.Path; got != want {
			t.Errorf("Redacted() = %q, want %q", got, want)
		}
	}

	// Errors do not show it either: not a connection refused, nor a URL
	// that does not parse.
	for _, bad := range []string{
		"postgres://keywarden:" + password + "@127.0.0.1:1/keywarden?sslmode=disable&connect_timeout=2",
		"postgres://keywarden:" + password + "@127.0.0.1:notaport/keywarden",
		"postgres://keywarden:" + password + "@127.0.0.1/keywarden?sslmode=nonsense",
	} {
		db, err := Open(context.Background(), Config{URL: bad})
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open's error shows the password: %v", err)
		}
	}
}

// listenerEvent is one report of ListenKeyChanges.
type listenerEvent struct {
	msg string
	err error
}

// startListener runs db.ListenKeyChanges until the test ends, and returns
// its wake-ups and reports. It waits for the first "listening" and drains
// the wake-up that follows it.
func startListener(t *testing.T, db *DB) (wake chan struct{}, events chan listenerEvent, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wake = make(chan struct{}, 1)
	events = make(chan listenerEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.ListenKeyChanges(ctx, wake, func(msg string, err error) { events <- listenerEvent{msg, err} })
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ListenKeyChanges did not return within 5 s of its context ending")
		}
	}
	t.Cleanup(stop)
	wantEvent(t, events, "listening")
	wantWake(t, wake, "right after listening")
	return wake, events, stop
}

func wantEvent(t *testing.T, events <-chan listenerEvent, msg string) listenerEvent {
	t.Helper()
	select {
	case e := <-events:
		if e.msg != msg {
			t.Fatalf("listener reported %q (%v), want %q", e.msg, e.err, msg)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("listener did not report %q within 10 s", msg)
	}
	return listenerEvent{}
}

func wantWake(t *testing.T, wake <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up %s within 10 s", when)
	}
}

// wantNoWake fails t if a wake-up comes within a while. Its database is the
// test's own, so nothing else notifies it.
func wantNoWake(t *testing.T, wake <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-wake:
		t.Fatalf("a wake-up %s", when)
	case <-time.After(300 * time.Millisecond):
	}
}

// terminate kills the backends named name and returns how many there were.
func terminate(t *testing.T, db *DB, name string) int {
	t.Helper()
	var n int
	err := db.Pool().QueryRow(context.Background(), `
		SELECT count(*) FROM (
			SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()
		) AS killed`, name).Scan(&n)
	if err != nil {
		t.Fatalf("pg_terminate_backend: %v", err)
	}
	return n
}

func TestListenKeyChanges(t *testing.T) {
	ctx := context.Background()
	name := randomName(t, "keywarden-listener-test-")
	db := MustOpen(t, Config{URL: MustCreateDatabase(t), ListenerName: name})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	org, _ := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(0))
	keys := make([]*keywarden.APIKey, 3)
	for i := range keys {
		keys[i] = storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(i))
	}
	storetest.MustCreateAPIKey(t, db, org.ID, p.ID, storetest.At(1))

	wake, events, stop := startListener(t, db)
	wantNoWake(t, wake, "while nothing changed")

	// wantChange changes keys with change and wants a wake-up after which
	// the change is already readable: the notification came at commit, not
	// before.
	seen, err := db.LatestKeyChange(ctx) // after the creations above
	if err != nil {
		t.Fatal(err)
	}
	wantChange := func(what string, change func() error, want keywarden.KeyChange) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		wantWake(t, wake, "after "+what)
		changes, err := db.KeyChangesSince(ctx, seen, 10)
		if err != nil {
			t.Fatalf("KeyChangesSince: %v", err)
		}
		// The last change is the one asked for (a process's deletion logs
		// each of its keys' first).
		if len(changes) == 0 {
			t.Fatalf("after %s's wake-up, the feed has nothing new", what)
		}
		last := changes[len(changes)-1]
		if last.Kind != want.Kind || last.User != want.User || last.ProcessID != want.ProcessID {
			t.Fatalf("after %s's wake-up, the feed has %+v, want it to end with %+v", what, changes, want)
		}
		seen = last.Seq
	}
	created := storetest.NewAPIKey(t, org.ID, "", storetest.At(2))
	wantChange("CreateAPIKey", func() error { return db.CreateAPIKey(ctx, created, nil) },
		keywarden.KeyChange{Kind: keywarden.KeyChangeCreated, User: created.User})
	wantChange("DeleteAPIKey", func() error { return storetest.DeleteAPIKey(ctx, db, org.ID, keys[0].ID, nil) },
		keywarden.KeyChange{Kind: keywarden.KeyChangeDeleted, User: keys[0].User})
	wantChange("DeleteProcess", func() error { return db.DeleteProcess(ctx, org.ID, p.ID, nil) },
		keywarden.KeyChange{Kind: keywarden.KeyChangeProcessDeleted, ProcessID: p.ID})

	// A deletion that fails changes nothing and wakes nobody.
	if err := storetest.DeleteAPIKey(ctx, db, org.ID, keys[0].ID, nil); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Fatalf("deleting a deleted key: %v", err)
	}
	wantNoWake(t, wake, "after a failed deletion")

	// Killed, the listener says so, reconnects, and wakes the reader to
	// catch up on what it may have missed.
	if n := terminate(t, db, name); n != 1 {
		t.Fatalf("terminated %d listener backends, want 1", n)
	}
	if e := wantEvent(t, events, "listener lost"); e.err == nil {
		t.Error(`"listener lost" came without its error`)
	}
	wantEvent(t, events, "listening")
	wantWake(t, wake, "after reconnecting")
	wantChange("DeleteAPIKey after reconnecting", func() error { return storetest.DeleteAPIKey(ctx, db, org.ID, keys[1].ID, nil) },
		keywarden.KeyChange{Kind: keywarden.KeyChangeDeleted, User: keys[1].User})

	// Cancelled, it returns promptly and lets go of its connection.
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listener connections left 5 s after ListenKeyChanges returned", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A listener whose server is unreachable keeps trying, reporting each
// failure, and stops when cancelled.
func TestListenKeyChangesRetriesUntilCancelled(t *testing.T) {
	db := MustOpenMigrated(t)
	unreachable := *db
	cfg, err := pgx.ParseConfig("postgres://keywarden@127.0.0.1:1/keywarden?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	unreachable.listen = cfg
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan listenerEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		unreachable.ListenKeyChanges(ctx, make(chan struct{}, 1), func(msg string, err error) { events <- listenerEvent{msg, err} })
	}()
	for range 3 {
		if e := wantEvent(t, events, "listener lost"); e.err == nil {
			t.Error(`"listener lost" came without its error`)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ListenKeyChanges did not return within 5 s of its context ending")
	}
}

// A deletion prunes the feed's changes older than a day, by the database's
// clock, that the webhook queue has read, and keeps the rest.
func TestKeyChangesOlderThanADayArePruned(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)
	k := storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(0))
	if _, err := db.Pool().Exec(ctx, `
		INSERT INTO key_changes ("user", at)
		VALUES ('kwo_old', now() - interval '25 hours'), ('kwo_recent', now() - interval '23 hours')`); err != nil {
		t.Fatal(err)
	}
	// The webhook queue has read all of it, then one more old change
	// comes that it has not.
	if _, err := db.Pool().Exec(ctx, `UPDATE webhook_cursor SET seq = (SELECT max(seq) FROM key_changes)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO key_changes ("user", at) VALUES ('kwo_unqueued', now() - interval '25 hours')`); err != nil {
		t.Fatal(err)
	}
	if err := storetest.DeleteAPIKey(ctx, db, org.ID, k.ID, nil); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	changes, err := db.KeyChangesSince(ctx, 0, 10)
	if err != nil {
		t.Fatalf("KeyChangesSince: %v", err)
	}
	var users []string
	for _, c := range changes {
		users = append(users, c.User)
	}
	// The key's creation (now) and deletion stay, with the recent row and
	// the old one the webhook queue has not read.
	if want := []string{k.User, "kwo_recent", "kwo_unqueued", k.User}; !slices.Equal(users, want) {
		t.Errorf("feed after the deletion = %v, want %v", users, want)
	}
}
