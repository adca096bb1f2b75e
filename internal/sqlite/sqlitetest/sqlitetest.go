// Package sqlitetest opens migrated SQLite stores for tests: in its own
// package so that the server's in-package tests, which cannot import
// servertest (it imports the server), share it with everyone else.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keywarden/keywarden/internal/sqlite"
)

// MustOpen returns a migrated SQLite store in a temporary directory, closed
// when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "keywarden.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}
