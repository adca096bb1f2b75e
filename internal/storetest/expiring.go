package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testFindAPIKeysExpiring(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	other, _ := MustCreateOrganization(t, s)
	p := MustCreateProcess(t, s, org.ID, At(0))
	mk := func(orgID, processID string, expires time.Time) *keywarden.APIKey {
		k := NewAPIKey(t, orgID, processID, At(0))
		k.ExpiresAt = expires
		if err := s.CreateAPIKey(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := At(100)
	mk(org.ID, "", now)                                 // expired at now: not "expiring"
	later := mk(org.ID, p.ID, now.Add(10*24*time.Hour)) // a process key
	soon := mk(org.ID, "", now.Add(time.Hour))
	edge := mk(org.ID, "", now.Add(14*24*time.Hour))
	mk(org.ID, "", now.Add(15*24*time.Hour)) // beyond the window
	mk(other.ID, "", now.Add(time.Hour))     // another organization's
	got, err := s.FindAPIKeysExpiring(ctx, org.ID, now, now.Add(14*24*time.Hour), 10)
	wantPage(t, "FindAPIKeysExpiring", got, len(got), err, []*keywarden.APIKey{soon, later, edge}, 3)
	got, err = s.FindAPIKeysExpiring(ctx, org.ID, now, now.Add(14*24*time.Hour), 2)
	wantPage(t, "FindAPIKeysExpiring with a limit", got, len(got), err, []*keywarden.APIKey{soon, later}, 2)
}
