package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/keywarden/keywarden"
)

func testRotation(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()
	rotation := func(secret string, graceEnds int) keywarden.Rotation {
		r := keywarden.Rotation{SecretHash: keywarden.HashSecret(secret)}
		if graceEnds != 0 {
			r.PreviousSecretExpiresAt = At(graceEnds)
		}
		return r
	}

	t.Run("KeepsTheOldSecretUntilTheGracePeriodEnds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(0))
		got, err := s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID, Level: keywarden.LevelOrganization}, rotation("second", 60), nil)
		if err != nil {
			t.Fatalf("RotateAPIKey: %v", err)
		}
		want := *k
		want.SecretHash, want.PreviousSecretHash, want.PreviousSecretExpiresAt = keywarden.HashSecret("second"), k.SecretHash, At(60)
		wantEqual(t, "RotateAPIKey", got, &want)
		stored, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "FindAPIKeyByUser after the rotation", stored, &want)

		// A second rotation keeps only the secret it replaces: at most two
		// live secrets.
		got, err = s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, rotation("third", 90), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.SecretHash != keywarden.HashSecret("third") || got.PreviousSecretHash != keywarden.HashSecret("second") || !got.PreviousSecretExpiresAt.Equal(At(90)) {
			t.Errorf("the second rotation kept %+v", got)
		}

		// Without a grace period the old secret stops at once.
		got, err = s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, rotation("fourth", 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.SecretHash != keywarden.HashSecret("fourth") || got.PreviousSecretHash != (keywarden.SecretHash{}) || !got.PreviousSecretExpiresAt.IsZero() {
			t.Errorf("a rotation without a grace period kept a previous secret: %+v", got)
		}
	})

	t.Run("IsConfinedLikeADeletion", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		orgKey := MustCreateAPIKey(t, s, org.ID, "", At(0))
		procKey := MustCreateAPIKey(t, s, org.ID, p.ID, At(0))
		for _, ref := range []keywarden.APIKeyRef{
			{OrgID: other.ID, ID: orgKey.ID},
			{OrgID: org.ID, ID: orgKey.ID, Level: keywarden.LevelProcess, ProcessID: p.ID},
			{OrgID: org.ID, ID: procKey.ID, Level: keywarden.LevelOrganization},
			{OrgID: org.ID, ID: MustNewID(t)},
		} {
			_, err := s.RotateAPIKey(ctx, ref, rotation("x", 60), nil)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		for _, k := range []*keywarden.APIKey{orgKey, procKey} {
			got, err := s.FindAPIKeyByUser(ctx, k.User)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "a key after refused rotations", got, k)
		}
	})

	t.Run("EndsEachGracePeriodOnceAcrossCallers", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		var ending []*keywarden.APIKey
		for i := range 5 {
			k := MustCreateAPIKey(t, s, org.ID, "", At(0))
			if _, err := s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, rotation("new", 10+i), nil); err != nil {
				t.Fatal(err)
			}
			ending = append(ending, k)
		}
		running := MustCreateAPIKey(t, s, org.ID, "", At(0))
		if _, err := s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: running.ID}, rotation("new", 100), nil); err != nil {
			t.Fatal(err)
		}

		// Four callers at once, as four nodes: every ended secret is
		// reported by exactly one, and the running grace period by none.
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			count = map[string]int{}
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ended, err := s.EndPreviousSecrets(ctx, At(14), func(k *keywarden.APIKey) (*keywarden.AuditEvent, error) {
					return NewAuditEvent(t, org.ID, keywarden.AuditAPIKeyPreviousSecretEnded, At(14)), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, k := range ended {
					count[k.User]++
				}
			}()
		}
		wg.Wait()
		for _, k := range ending {
			if count[k.User] != 1 {
				t.Errorf("the grace period of %s was reported ended %d times, want once", k.User, count[k.User])
			}
			got, err := s.FindAPIKeyByUser(ctx, k.User)
			if err != nil {
				t.Fatal(err)
			}
			if got.PreviousSecretHash != (keywarden.SecretHash{}) || !got.PreviousSecretExpiresAt.IsZero() || got.SecretHash != keywarden.HashSecret("new") {
				t.Errorf("after its grace period %s still has a previous secret, or lost its new one", k.User)
			}
		}
		if count[running.User] != 0 {
			t.Error("a grace period still running was ended")
		}
		events, _, err := s.FindAuditEvents(ctx, org.ID, keywarden.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Action == keywarden.AuditAPIKeyPreviousSecretEnded {
				n++
			}
		}
		if n != len(ending) {
			t.Errorf("%d audit events for %d ended grace periods", n, len(ending))
		}
	})
}
