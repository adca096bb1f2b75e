package storetest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testUpdateAPIKey(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("StoresWhatTheEditDecides", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(0))
		var seen *keywarden.APIKey
		got, err := s.UpdateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID, Level: keywarden.LevelOrganization}, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
			seen = cur
			out := *cur
			out.Name, out.Scopes, out.ExpiresAt = "renamed", cur.Scopes[:1], At(60)
			out.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			out.RateLimit = keywarden.RateLimit{Limit: 5, Window: time.Minute}
			return &out, nil
		}, nil)
		if err != nil {
			t.Fatalf("UpdateAPIKey: %v", err)
		}
		wantEqual(t, "the key the edit was given", seen, k)
		want := *k
		want.Name, want.Scopes, want.ExpiresAt = "renamed", k.Scopes[:1], At(60)
		want.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		want.RateLimit = keywarden.RateLimit{Limit: 5, Window: time.Minute}
		wantEqual(t, "UpdateAPIKey", got, &want)
		stored, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "FindAPIKeyByUser after the edit", stored, &want)
	})

	t.Run("ARefusedEditChangesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(0))
		after := mustLatest(t, s)
		refusal := keywarden.Errorf(keywarden.EFORBIDDEN, "no")
		_, err := s.UpdateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
			return nil, refusal
		}, NewAuditEvent(t, org.ID, "test.refused", At(1)))
		wantCode(t, err, keywarden.EFORBIDDEN)
		stored, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "the key after a refused edit", stored, k)
		if changes, err := s.KeyChangesSince(ctx, after, 10); err != nil || len(changes) != 0 {
			t.Errorf("a refused edit logged %v, %v", changes, err)
		}
		wantAuditEvents(t, s, org.ID)
	})

	t.Run("IsConfinedLikeADeletion", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		k := MustCreateAPIKey(t, s, org.ID, p.ID, At(0))
		for _, ref := range []keywarden.APIKeyRef{
			{OrgID: other.ID, ID: k.ID},
			{OrgID: org.ID, ID: k.ID, Level: keywarden.LevelOrganization},
			{OrgID: org.ID, ID: k.ID, Level: keywarden.LevelProcess, ProcessID: MustNewID(t)},
		} {
			_, err := s.UpdateAPIKey(ctx, ref, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
				t.Errorf("the edit was given another organization's or level's key for %+v", ref)
				return cur, nil
			}, nil)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
	})
}
