package postgres

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/storetest"
)

func TestImportAPIKeys(t *testing.T) {
	db := MustOpenMigrated(t)
	ctx := context.Background()
	org, _ := storetest.MustCreateOrganization(t, db)
	p := storetest.MustCreateProcess(t, db, org.ID, storetest.At(0))
	var keys []*keywarden.APIKey
	for i, processID := range []string{"", p.ID, ""} {
		k := storetest.NewAPIKey(t, org.ID, processID, storetest.At(i))
		keys = append(keys, k)
	}
	if err := db.ImportAPIKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	for _, want := range keys {
		got, err := db.FindAPIKeyByUser(ctx, want.User)
		if err != nil || got.ID != want.ID || got.ProcessID != want.ProcessID || got.SecretHash != want.SecretHash {
			t.Errorf("imported key %s: %+v, %v", want.User, got, err)
		}
	}
	// All or nothing: a batch with one duplicate stores none of its keys.
	fresh := storetest.NewAPIKey(t, org.ID, "", storetest.At(9))
	if err := db.ImportAPIKeys(ctx, []*keywarden.APIKey{fresh, keys[0]}); keywarden.ErrorCode(err) != keywarden.ECONFLICT {
		t.Fatalf("importing a duplicate: %v, want a conflict", err)
	}
	if _, err := db.FindAPIKeyByUser(ctx, fresh.User); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Fatalf("a refused import stored a key: %v", err)
	}
}
