package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlstore"
	"github.com/keywarden/keywarden/internal/storetest"
)

// MustOpen opens a database at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), path)
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

// MustOpenMigrated opens and migrates a new database in a temporary directory.
func MustOpenMigrated(tb testing.TB) *DB {
	tb.Helper()
	db := MustOpen(tb, filepath.Join(tb.TempDir(), "keywarden.db"))
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keywarden.Store {
		db := MustOpenMigrated(t)
		// The suite runs its tests in parallel, under the race detector in
		// CI, on two cores, and tests what the store does, not its
		// deadline (TestDeadline…), which queued writers would exceed.
		db.SetTimeout(time.Minute)
		return db
	})
}

func TestReopenedDatabaseKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keywarden.db")

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	org, _ := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(0))
	k := storetest.MustCreateAPIKey(t, db, org.ID, p.ID, storetest.At(1))
	deleted := storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(2))
	if err := storetest.DeleteAPIKey(ctx, db, org.ID, deleted.ID, nil); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = MustOpen(t, path)
	if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
		t.Fatalf("SchemaCurrent after reopening = %v, %v; want true, nil", ok, err)
	}
	got, err := db.FindAPIKeyByUser(ctx, k.User)
	if err != nil {
		t.Fatalf("FindAPIKeyByUser after reopening: %v", err)
	}
	if got.ID != k.ID || got.SecretHash != k.SecretHash || got.ProcessID != p.ID {
		t.Errorf("key after reopening = %+v, want %+v", got, k)
	}
	if _, err := db.FindAPIKeyByUser(ctx, deleted.User); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Errorf("deleted key after reopening: got error %v, want ENOTFOUND", err)
	}
}

func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keywarden.db")
	db := MustOpen(t, path)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.MustCreateOrganization(t, db)
	// The -wal and -shm files hold recent pages, secret hashes included.
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}

func TestExistingFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keywarden.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // regardless of the umask
		t.Fatal(err)
	}
	MustOpen(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o640 {
		t.Errorf("mode = %v, want the operator's 0640 left alone", perm)
	}
}

func TestSchemaIsCurrentOnlyAfterMigrate(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "keywarden.db"))

	if ok, err := db.SchemaCurrent(ctx); err != nil || ok {
		t.Fatalf("SchemaCurrent before Migrate = %v, %v; want false, nil", ok, err)
	}
	// Open must not have migrated: there is no table to write to.
	org, owner := storetest.NewOrganization(t), storetest.NewUser(t)
	if err := db.CreateOrganization(ctx, org, owner, nil); err == nil {
		t.Fatal("CreateOrganization before Migrate succeeded")
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
		t.Fatalf("SchemaCurrent after Migrate = %v, %v; want true, nil", ok, err)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
		t.Fatalf("SchemaCurrent = %v, %v; want true, nil", ok, err)
	}
	if _, err := db.FindOrganizationByID(ctx, org.ID); err != nil {
		t.Fatalf("FindOrganizationByID after the second Migrate: %v", err)
	}
	var applied int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if n := countMigrations(t); applied != n {
		t.Errorf("%d migrations recorded, want %d", applied, n)
	}
}

// TestMigrationDatesExistingMemberships migrates a database that has data
// in the first schema: its memberships must get their organization's
// creation time, not the column's default of 0.
func TestMigrationDatesExistingMemberships(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "keywarden.db"))
	p, err := dialect{}.Migrations(ctx, db.db, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("UpTo 1: %v", err)
	}
	org, owner := storetest.NewOrganization(t), storetest.NewUser(t)
	org.CreatedAt = storetest.At(7)
	for _, stmt := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO organizations (id, name, max_key_lifetime_seconds, created_at) VALUES (?, ?, 0, ?)`, []any{org.ID, org.Name, org.CreatedAt.UnixMicro()}},
		{`INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, 0)`, []any{owner.ID, owner.Email, owner.PasswordHash}},
		{`INSERT INTO memberships (org_id, user_id, role) VALUES (?, ?, 'owner')`, []any{org.ID, owner.ID}},
	} {
		if _, err := db.db.ExecContext(ctx, stmt.query, stmt.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var createdAt int64
	if err := db.db.QueryRowContext(ctx, `SELECT created_at FROM memberships WHERE org_id = ?`, org.ID).Scan(&createdAt); err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMicro(createdAt).UTC(); !got.Equal(org.CreatedAt) {
		t.Errorf("membership created_at = %v, want the organization's %v", got, org.CreatedAt)
	}
}

// TestMigrationsGoDownAndUpAgain checks the Down sections: every migration
// can be undone on a database with data, and redone.
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, owner := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(1))
	u := storetest.MustAddMember(t, db, org.ID, keywarden.RoleUser, storetest.At(2))
	storetest.MustSetProcessGrant(t, db, p, u, keywarden.ProcessUser)
	storetest.MustCreateInvite(t, db, org.ID, keywarden.RoleAdmin, storetest.At(3))
	storetest.MustCreateSession(t, db, owner.ID, org.ID, storetest.At(4))
	if err := storetest.DeleteAPIKey(ctx, db, org.ID, storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(5)).ID,
		storetest.NewAuditEvent(t, org.ID, keywarden.AuditAPIKeyDeleted, storetest.At(5))); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}

	pr, err := dialect{}.Migrations(ctx, db.db, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.DownTo(ctx, 1); err != nil {
		t.Fatalf("DownTo 1: %v", err)
	}
	if _, err := db.FindMembership(ctx, org.ID, owner.ID); err != nil {
		t.Errorf("FindMembership in the first schema: %v", err)
	}
	if _, err := pr.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo 0: %v", err)
	}
	var tables int
	if err := db.db.QueryRowContext(ctx, `
		SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d tables left after migrating down to 0", tables)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if ok, err := db.SchemaCurrent(ctx); err != nil || !ok {
		t.Fatalf("SchemaCurrent = %v, %v; want true, nil", ok, err)
	}
	storetest.MustCreateOrganization(t, db)
}

// TestDeletingUserOrOrganizationCascades checks the schema's cascades for
// what the Store interface cannot delete: users and organizations. An
// operator may delete them by hand, and nothing of theirs may linger.
func TestDeletingUserOrOrganizationCascades(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, owner := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(1))
	u := storetest.MustAddMember(t, db, org.ID, keywarden.RoleUser, storetest.At(2))
	storetest.MustSetProcessGrant(t, db, p, u, keywarden.ProcessManager)
	userSession := storetest.MustCreateSession(t, db, u.ID, org.ID, storetest.At(3))
	ownerSession := storetest.MustCreateSession(t, db, owner.ID, org.ID, storetest.At(3))
	inv := storetest.MustCreateInvite(t, db, org.ID, keywarden.RoleUser, storetest.At(4))
	if err := db.UpdateOrganization(ctx, org, storetest.NewAuditEvent(t, org.ID, keywarden.AuditOrgUpdated, storetest.At(5))); err != nil {
		t.Fatalf("UpdateOrganization: %v", err)
	}

	if _, err := db.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	_, err := db.FindSession(ctx, userSession.ID)
	wantCode(t, err, keywarden.ENOTFOUND)
	_, err = db.FindMembership(ctx, org.ID, u.ID)
	wantCode(t, err, keywarden.ENOTFOUND)
	if grants, err := db.FindProcessGrants(ctx, org.ID, p.ID); err != nil || len(grants) != 0 {
		t.Errorf("FindProcessGrants after deleting the user = %v, %v; want none", grants, err)
	}

	if _, err := db.db.ExecContext(ctx, `DELETE FROM organizations WHERE id = ?`, org.ID); err != nil {
		t.Fatalf("delete organization: %v", err)
	}
	_, err = db.FindSession(ctx, ownerSession.ID)
	wantCode(t, err, keywarden.ENOTFOUND)
	_, err = db.FindInvite(ctx, inv.ID)
	wantCode(t, err, keywarden.ENOTFOUND)
	if events, total, err := db.FindAuditEvents(ctx, org.ID, keywarden.Page{}); err != nil || total != 0 || len(events) != 0 {
		t.Errorf("FindAuditEvents after deleting the organization = %d events, total %d, %v; want none", len(events), total, err)
	}
	if _, err := db.FindUserByID(ctx, owner.ID); err != nil {
		t.Errorf("FindUserByID of the owner after deleting the organization: %v", err)
	}
}

func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := keywarden.ErrorCode(err); got != want {
		tb.Errorf("got error %v (code %q), want code %q", err, got, want)
	}
}

func countMigrations(tb testing.TB) int {
	tb.Helper()
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		tb.Fatal(err)
	}
	return len(entries)
}

func TestNewerSchemaIsNotCurrent(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	if _, err := db.db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	ok, err := db.SchemaCurrent(ctx)
	if ok || err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("SchemaCurrent = %v, %v; want false and an error saying the schema is newer", ok, err)
	}
}

// TestEveryConnectionHasThePragmas holds several connections at once, so the
// pool must open new ones, and checks each: a pragma set once after Open
// would be missing from all but the first.
func TestEveryConnectionHasThePragmas(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	const n = 4
	for i := range n {
		conn, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tt := range []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"busy_timeout", "10000"},
			{"foreign_keys", "1"},
			{"synchronous", "2"}, // FULL
		} {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, tt.pragma, err)
			}
			if !strings.EqualFold(got, tt.want) {
				t.Errorf("connection %d: %s = %s, want %s", i, tt.pragma, got, tt.want)
			}
		}
	}
}

func TestOpenRefusesNonFilePaths(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"", ":memory:", "file:" + filepath.Join(dir, "x.db"), filepath.Join(dir, "x.db?mode=ro")} {
		if db, err := Open(context.Background(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func TestStoreErrorMapsDriverErrors(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)

	// A constraint that is neither UNIQUE nor a foreign key stays internal.
	k := storetest.NewAPIKey(t, org.ID, "", storetest.At(0))
	_, err := db.db.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, "user", secret_hash, scopes,
		created_at, created_by_type, created_by_id, created_by_name, expires_at)
		VALUES (?, ?, ?, ?, ?, '[]', 0, '', '', '', 0)`, k.ID, org.ID, k.Name, k.User, []byte("short"))
	if err == nil {
		t.Fatal("a 5-byte secret hash was accepted")
	}
	if c := (dialect{}).Constraint(err); c != sqlstore.NoConstraint {
		t.Errorf("CHECK violation classified as constraint %d, want none (internal)", c)
	}
}

// TestDeadlineBoundsAWriteWaitingForTheLock: with another process holding
// the database's write lock (busy_timeout would wait 10 s), a write fails
// with EUNAVAILABLE at the store's deadline, and changes nothing.
func TestDeadlineBoundsAWriteWaitingForTheLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keywarden.db")
	db := MustOpen(t, path)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org, _ := storetest.MustCreateOrganization(t, db)
	other := MustOpen(t, path) // another process on the same file: the command line
	conn, err := other.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")

	db.SetTimeout(200 * time.Millisecond)
	start := time.Now()
	err = db.CreateAPIKey(ctx, storetest.NewAPIKey(t, org.ID, "", storetest.At(1)), nil)
	took := time.Since(start)
	if keywarden.ErrorCode(err) != keywarden.EUNAVAILABLE {
		t.Fatalf("CreateAPIKey behind a held write lock = %v, want EUNAVAILABLE", err)
	}
	if keywarden.ErrorMessage(err) != keywarden.UnavailableMessage {
		t.Errorf("caller-facing message %q reveals more than %q", keywarden.ErrorMessage(err), keywarden.UnavailableMessage)
	}
	if took > 5*time.Second {
		t.Fatalf("the write took %v: the deadline did not bound it", took)
	}
	t.Logf("a write behind a held lock failed after %v (deadline 200ms)", took.Round(time.Millisecond))
}
