package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/storetest"
)

func TestImportAPIKeysStoresEveryKey(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(0))
	keys := []*keywarden.APIKey{
		storetest.NewAPIKey(t, org.ID, "", storetest.At(1)),
		storetest.NewAPIKey(t, org.ID, p.ID, storetest.At(2)),
		storetest.NewAPIKey(t, org.ID, p.ID, storetest.At(3)),
	}
	keys[2].LastUsedAt = storetest.At(4)
	if err := db.ImportAPIKeys(ctx, keys); err != nil {
		t.Fatalf("ImportAPIKeys: %v", err)
	}
	for _, want := range keys {
		got, err := db.FindAPIKeyByUser(ctx, want.User)
		if err != nil {
			t.Fatalf("FindAPIKeyByUser(%s): %v", want.User, err)
		}
		if showKey(got) != showKey(want) {
			t.Errorf("imported key = %s\nwant %s", showKey(got), showKey(want))
		}
	}
	if _, total, err := db.FindAuditEvents(ctx, org.ID, keywarden.Page{}); err != nil || total != 0 {
		t.Errorf("audit events after an import: %d, %v; want none", total, err)
	}
}

func TestImportAPIKeysIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := MustOpenMigrated(t)
	org, _ := storetest.MustCreateOrganization(t, db)
	taken := storetest.MustCreateAPIKey(t, db, org.ID, "", storetest.At(0))
	fresh := storetest.NewAPIKey(t, org.ID, "", storetest.At(1))
	clash := storetest.NewAPIKey(t, org.ID, "", storetest.At(2))
	clash.User = taken.User
	err := db.ImportAPIKeys(ctx, []*keywarden.APIKey{fresh, clash})
	if keywarden.ErrorCode(err) != keywarden.ECONFLICT {
		t.Fatalf("importing a taken public ID: %v, want ECONFLICT", err)
	}
	if _, err := db.FindAPIKeyByUser(ctx, fresh.User); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Errorf("a key imported before the conflict was kept: %v", err)
	}
}

// show prints a key with its times in one form, for comparison.
func showKey(k *keywarden.APIKey) string {
	c := *k
	c.CreatedAt, c.ExpiresAt, c.LastUsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), c.LastUsedAt.UTC()
	return fmt.Sprintf("%+v", c)
}
