package metrics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlstore"
	"github.com/keywarden/keywarden/internal/storetest"
)

var _ sqlstore.Observer = (*metrics.Metrics)(nil)

// mustObservedStore returns a migrated SQLite store that reports to m.
func mustObservedStore(tb testing.TB, m *metrics.Metrics) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "keywarden.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	db.ObserveWith(m)
	return db
}

// TestStoreOperationsAreCounted runs real operations of a real store: each
// counts under its method name, and only a failure other than ENOTFOUND
// counts as an error.
func TestStoreOperationsAreCounted(t *testing.T) {
	ctx := context.Background()
	m := metrics.New()
	db := mustObservedStore(t, m)

	org, _ := storetest.MustCreateOrganization(t, db)
	k := storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(1))
	if _, err := db.FindAPIKeyByUser(ctx, k.User); err != nil {
		t.Fatalf("FindAPIKeyByUser: %v", err)
	}
	if _, err := db.FindAPIKeyByUser(ctx, "no-such-user"); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Fatalf("FindAPIKeyByUser(unknown) = %v, want ENOTFOUND", err)
	}
	taken := storetest.NewOrganization(t)
	taken.Name = org.Name
	if err := db.CreateOrganization(ctx, taken, nil, nil); keywarden.ErrorCode(err) != keywarden.ECONFLICT {
		t.Fatalf("CreateOrganization(taken name) = %v, want ECONFLICT", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	if got := m.StoreQueries(); got != 5 {
		t.Errorf("StoreQueries() = %v, want 5 (2 creations, 2 lookups, 1 conflict; no Ping)", got)
	}
	body := MustScrape(t, m)
	assertLines(t, body,
		`keywarden_store_queries_total{op="FindAPIKeyByUser"} 2`,
		`keywarden_store_errors_total{op="FindAPIKeyByUser"} 0`,
		`keywarden_store_query_duration_seconds_count{op="FindAPIKeyByUser"} 2`,
		`keywarden_store_queries_total{op="CreateOrganization"} 2`,
		`keywarden_store_errors_total{op="CreateOrganization"} 1`,
		`keywarden_store_queries_total{op="CreateAPIKey"} 1`,
		`keywarden_store_errors_total{op="CreateAPIKey"} 0`,
	)
	if strings.Contains(body, `op="Ping"`) {
		t.Error("scrape has a series for Ping")
	}
}

// TestStoreInternalErrorsAreCounted: a store whose database is gone fails
// with EINTERNAL, which counts as an error of the operation.
func TestStoreInternalErrorsAreCounted(t *testing.T) {
	m := metrics.New()
	db := mustObservedStore(t, m)
	db.Close()
	_, err := db.FindOrganizationByID(context.Background(), "x")
	if keywarden.ErrorCode(err) != keywarden.EINTERNAL {
		t.Fatalf("FindOrganizationByID on a closed store = %v, want EINTERNAL", err)
	}
	assertLines(t, MustScrape(t, m),
		`keywarden_store_queries_total{op="FindOrganizationByID"} 1`,
		fmt.Sprintf(`keywarden_store_errors_total{op="FindOrganizationByID"} %d`, 1),
	)
}
