package storetest

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden"
)

// testDeleteAPIKeyIsConfined: a deletion names its key's organization and,
// when it gives one, its level and process; a key that does not match
// stays, whatever its ID, and the deletion returns what it deleted.
func testDeleteAPIKeyIsConfined(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	other, _ := MustCreateOrganization(t, s)
	p := MustCreateProcess(t, s, org.ID, At(0))
	q := MustCreateProcess(t, s, org.ID, At(0))
	orgKey := MustCreateAPIKey(t, s, org.ID, "", At(1))
	procKey := MustCreateAPIKey(t, s, org.ID, p.ID, At(1))

	for _, tt := range []struct {
		name string
		ref  keywarden.APIKeyRef
	}{
		{"another organization", keywarden.APIKeyRef{OrgID: other.ID, ID: orgKey.ID}},
		{"an organization key as a process key", keywarden.APIKeyRef{OrgID: org.ID, ID: orgKey.ID, Level: keywarden.LevelProcess, ProcessID: p.ID}},
		{"a process key as an organization key", keywarden.APIKeyRef{OrgID: org.ID, ID: procKey.ID, Level: keywarden.LevelOrganization}},
		{"a process key as another process's", keywarden.APIKeyRef{OrgID: org.ID, ID: procKey.ID, Level: keywarden.LevelProcess, ProcessID: q.ID}},
	} {
		t.Run(tt.name+" deletes nothing", func(t *testing.T) {
			if k, err := s.DeleteAPIKey(ctx, tt.ref, nil); keywarden.ErrorCode(err) != keywarden.ENOTFOUND || k != nil {
				t.Fatalf("DeleteAPIKey(%+v) = %v, %v; want ENOTFOUND", tt.ref, k, err)
			}
			for _, k := range []*keywarden.APIKey{orgKey, procKey} {
				if _, err := s.FindAPIKeyByUser(ctx, k.User); err != nil {
					t.Errorf("key %s is gone: %v", k.ID, err)
				}
			}
		})
	}
	t.Run("the right reference deletes and returns the key", func(t *testing.T) {
		for _, tt := range []struct {
			k   *keywarden.APIKey
			ref keywarden.APIKeyRef
		}{
			{procKey, keywarden.APIKeyRef{OrgID: org.ID, ID: procKey.ID, Level: keywarden.LevelProcess, ProcessID: p.ID}},
			{orgKey, keywarden.APIKeyRef{OrgID: org.ID, ID: orgKey.ID, Level: keywarden.LevelOrganization}},
		} {
			got, err := s.DeleteAPIKey(ctx, tt.ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "DeleteAPIKey", got, tt.k)
		}
	})
}
