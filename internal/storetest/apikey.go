package storetest

import (
	"cmp"
	"context"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testAPIKeys(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("CreatedRoundTripsExactly", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		for _, tt := range []struct {
			name      string
			processID string
		}{
			{"OrganizationKey", ""},
			{"ProcessKey", p.ID},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k := NewAPIKey(t, org.ID, tt.processID, At(1))
				if err := s.CreateAPIKey(ctx, k, nil); err != nil {
					t.Fatalf("CreateAPIKey: %v", err)
				}
				got, err := s.FindAPIKey(ctx, org.ID, k.ID)
				if err != nil {
					t.Fatalf("FindAPIKey: %v", err)
				}
				wantEqual(t, "FindAPIKey", got, k)
				got, err = s.FindAPIKeyByUser(ctx, k.User)
				if err != nil {
					t.Fatalf("FindAPIKeyByUser: %v", err)
				}
				wantEqual(t, "FindAPIKeyByUser", got, k)
				if !got.LastUsedAt.IsZero() {
					t.Errorf("LastUsedAt = %v, want zero", got.LastUsedAt)
				}
			})
		}
	})

	// A rotated key's previous secret, its allowlist and its rate limit are
	// on its row, read by every lookup.
	t.Run("LifecycleFieldsRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := NewAPIKey(t, org.ID, "", At(1))
		k.PreviousSecretHash = keywarden.HashSecret("the old secret")
		k.PreviousSecretExpiresAt = At(2)
		k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::/32")}
		k.RateLimit = keywarden.RateLimit{Limit: 100, Window: time.Minute}
		k.LastUsedFrom = "2001:db8::1"
		if err := s.CreateAPIKey(ctx, k, nil); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		got, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatalf("FindAPIKeyByUser: %v", err)
		}
		wantEqual(t, "FindAPIKeyByUser", got, k)
		got, err = s.FindAPIKey(ctx, org.ID, k.ID)
		if err != nil {
			t.Fatalf("FindAPIKey: %v", err)
		}
		wantEqual(t, "FindAPIKey", got, k)
	})

	// A store encodes a key's scopes in its own way (a JSON array, a
	// TEXT[]); any name must come back exactly, in order, however that
	// encoding quotes it.
	t.Run("ScopesRoundTripWhateverTheirCharacters", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := NewAPIKey(t, org.ID, "", At(1))
		k.Scopes = []keywarden.Scope{"keys:read", "a,b", `quo"te`, `back\slash`, "{brace}", "sp ace", "NULL", "null", "", "[1]", "ünï"}
		if err := s.CreateAPIKey(ctx, k, nil); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		got, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatalf("FindAPIKeyByUser: %v", err)
		}
		wantEqual(t, "FindAPIKeyByUser", got, k)
		keys, _, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization})
		if err != nil || len(keys) != 1 {
			t.Fatalf("FindAPIKeys = %d keys, %v; want 1", len(keys), err)
		}
		wantEqual(t, "FindAPIKeys", keys[0], k)
	})

	// The verification cache loads every key, of every organization, in
	// pages by public ID.
	t.Run("APIKeysAfterPagesEveryKeyByUser", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		want := map[string]*keywarden.APIKey{}
		for range 2 {
			org, _ := MustCreateOrganization(t, s)
			p := MustCreateProcess(t, s, org.ID, At(1))
			for _, pid := range []string{"", p.ID, ""} {
				k := MustCreateAPIKey(t, s, org.ID, pid, At(1))
				want[k.User] = k
			}
		}
		var got []*keywarden.APIKey
		after := ""
		for {
			page, err := s.APIKeysAfter(ctx, after, 4)
			if err != nil {
				t.Fatalf("APIKeysAfter(%q): %v", after, err)
			}
			got = append(got, page...)
			if len(page) < 4 {
				break
			}
			after = page[len(page)-1].User
		}
		if len(got) != len(want) {
			t.Fatalf("APIKeysAfter paged %d keys, want %d", len(got), len(want))
		}
		for i, k := range got {
			if i > 0 && got[i-1].User >= k.User {
				t.Errorf("APIKeysAfter: %q before %q, want ascending public IDs", got[i-1].User, k.User)
			}
			wantEqual(t, "APIKeysAfter", k, want[k.User])
		}
	})

	t.Run("UnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		MustCreateAPIKey(t, s, org.ID, "", At(1))
		_, err := s.FindAPIKey(ctx, org.ID, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindAPIKeyByUser(ctx, "kwo_00000000000000000000")
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("DuplicateIsConflict", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		first := MustCreateAPIKey(t, s, org.ID, "", At(1))
		for _, tt := range []struct {
			name string
			same func(k *keywarden.APIKey)
		}{
			{"User", func(k *keywarden.APIKey) { k.User = first.User }},
			{"ID", func(k *keywarden.APIKey) { k.ID = first.ID }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k := NewAPIKey(t, org.ID, "", At(2))
				tt.same(k)
				err := s.CreateAPIKey(ctx, k, nil)
				wantCode(t, err, keywarden.ECONFLICT)
				if err != nil {
					msg := err.Error()
					if strings.Contains(msg, hex.EncodeToString(k.SecretHash[:])) || strings.Contains(msg, string(k.SecretHash[:])) {
						t.Errorf("the error contains the secret hash: %v", err)
					}
				}
				got, err := s.FindAPIKeyByUser(ctx, first.User)
				if err != nil {
					t.Fatalf("FindAPIKeyByUser: %v", err)
				}
				wantEqual(t, "the first key, untouched", got, first)
			})
		}
	})

	t.Run("ProcessKeyOutsideItsOrganizationIsRefused", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		othersProcess := MustCreateProcess(t, s, other.ID, At(0))
		for _, tt := range []struct {
			name      string
			processID string
		}{
			{"AnotherOrganizationsProcess", othersProcess.ID},
			{"UnknownProcess", MustNewID(t)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k := NewAPIKey(t, org.ID, tt.processID, At(1))
				wantCode(t, s.CreateAPIKey(ctx, k, nil), keywarden.ENOTFOUND)
				_, err := s.FindAPIKeyByUser(ctx, k.User)
				wantCode(t, err, keywarden.ENOTFOUND)
			})
		}
	})

	t.Run("ListSeparatesOrganizationAndProcessKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p1 := MustCreateProcess(t, s, org.ID, At(0))
		p2 := MustCreateProcess(t, s, org.ID, At(0))
		otherProcess := MustCreateProcess(t, s, other.ID, At(0))
		orgKeys := []*keywarden.APIKey{
			MustCreateAPIKey(t, s, org.ID, "", At(1)),
			MustCreateAPIKey(t, s, org.ID, "", At(4)),
		}
		p1Keys := []*keywarden.APIKey{
			MustCreateAPIKey(t, s, org.ID, p1.ID, At(2)),
			MustCreateAPIKey(t, s, org.ID, p1.ID, At(5)),
		}
		p2Keys := []*keywarden.APIKey{MustCreateAPIKey(t, s, org.ID, p2.ID, At(3))}
		MustCreateAPIKey(t, s, other.ID, "", At(1))
		MustCreateAPIKey(t, s, other.ID, otherProcess.ID, At(1))

		for _, tt := range []struct {
			name   string
			filter keywarden.APIKeyFilter
			want   []*keywarden.APIKey
		}{
			{"OrganizationKeys", keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization}, orgKeys},
			{"FirstProcessKeys", keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: p1.ID}, p1Keys},
			{"SecondProcessKeys", keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: p2.ID}, p2Keys},
			{"ProcessWithoutKeys", keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: MustNewID(t)}, nil},
			{"AnotherOrganizationsProcessIsEmpty", keywarden.APIKeyFilter{OrgID: other.ID, Level: keywarden.LevelProcess, ProcessID: p1.ID}, nil},
			{"AnotherOrganizationsIDWithOurProcessIsEmpty", keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: otherProcess.ID}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				keys, total, err := s.FindAPIKeys(ctx, tt.filter)
				wantPage(t, "FindAPIKeys", keys, total, err, tt.want, len(tt.want))
			})
		}
	})

	t.Run("ListAtProcessLevelWithoutProcessIsAnError", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		MustCreateAPIKey(t, s, org.ID, p.ID, At(1))
		keys, _, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess})
		if err == nil {
			t.Errorf("FindAPIKeys at LevelProcess without a process ID returned %d keys and no error", len(keys))
		}
	})

	t.Run("ListIsPagedInOrderWithTotal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		MustCreateAPIKey(t, s, org.ID, p.ID, At(0)) // a process key, never listed
		// Created newest first, so that insertion order is not list order,
		// and in threes that share a creation time, so that the ID must
		// break the tie for pages to be stable.
		want := make([]*keywarden.APIKey, keywarden.DefaultPageLimit+3)
		for i := len(want) - 1; i >= 0; i-- {
			want[i] = MustCreateAPIKey(t, s, org.ID, "", At(i-i%3))
		}
		slices.SortFunc(want, func(a, b *keywarden.APIKey) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		n := len(want)
		for _, tt := range []struct {
			name string
			page keywarden.Page
			want []*keywarden.APIKey
		}{
			{"ZeroLimitIsDefault", keywarden.Page{}, want[:keywarden.DefaultPageLimit]},
			{"Window", keywarden.Page{Offset: 2, Limit: 3}, want[2:5]},
			{"LastPartialPage", keywarden.Page{Offset: n - 2, Limit: 5}, want[n-2:]},
			{"PastTheEndIsEmpty", keywarden.Page{Offset: n, Limit: 5}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				keys, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization, Page: tt.page})
				wantPage(t, "FindAPIKeys", keys, total, err, tt.want, n)
			})
		}
		t.Run("NewestFirst", func(t *testing.T) {
			newest := slices.Clone(want)
			slices.Reverse(newest)
			keys, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization, NewestFirst: true, Page: keywarden.Page{Offset: 2, Limit: 4}})
			wantPage(t, "FindAPIKeys newest first", keys, total, err, newest[2:6], n)
		})
	})

	t.Run("OtherOrganizationsKeyIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		for _, k := range []*keywarden.APIKey{
			MustCreateAPIKey(t, s, org.ID, "", At(1)),
			MustCreateAPIKey(t, s, org.ID, p.ID, At(1)),
		} {
			_, err := s.FindAPIKey(ctx, other.ID, k.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
			wantCode(t, DeleteAPIKey(ctx, s, other.ID, k.ID, nil), keywarden.ENOTFOUND)
			got, err := s.FindAPIKeyByUser(ctx, k.User)
			if err != nil {
				t.Fatalf("FindAPIKeyByUser after another organization's delete: %v", err)
			}
			wantEqual(t, "the key, untouched", got, k)
		}
	})

	t.Run("DeletedIsGone", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		for _, tt := range []struct {
			name      string
			processID string
			level     keywarden.Level
		}{
			{"OrganizationKey", "", keywarden.LevelOrganization},
			{"ProcessKey", p.ID, keywarden.LevelProcess},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k := MustCreateAPIKey(t, s, org.ID, tt.processID, At(1))
				kept := MustCreateAPIKey(t, s, org.ID, tt.processID, At(2))
				if err := DeleteAPIKey(ctx, s, org.ID, k.ID, nil); err != nil {
					t.Fatalf("DeleteAPIKey: %v", err)
				}
				_, err := s.FindAPIKeyByUser(ctx, k.User)
				wantCode(t, err, keywarden.ENOTFOUND)
				_, err = s.FindAPIKey(ctx, org.ID, k.ID)
				wantCode(t, err, keywarden.ENOTFOUND)
				wantCode(t, DeleteAPIKey(ctx, s, org.ID, k.ID, nil), keywarden.ENOTFOUND)
				keys, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: tt.level, ProcessID: tt.processID})
				wantPage(t, "FindAPIKeys", keys, total, err, []*keywarden.APIKey{kept}, 1)
			})
		}
	})

	t.Run("DeletingProcessDeletesOnlyItsKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		doomed := MustCreateProcess(t, s, org.ID, At(0))
		kept := MustCreateProcess(t, s, org.ID, At(0))
		doomedKeys := []*keywarden.APIKey{
			MustCreateAPIKey(t, s, org.ID, doomed.ID, At(1)),
			MustCreateAPIKey(t, s, org.ID, doomed.ID, At(2)),
		}
		keptKeys := []*keywarden.APIKey{
			MustCreateAPIKey(t, s, org.ID, "", At(1)),
			MustCreateAPIKey(t, s, org.ID, kept.ID, At(1)),
		}
		if err := s.DeleteProcess(ctx, org.ID, doomed.ID, nil); err != nil {
			t.Fatalf("DeleteProcess: %v", err)
		}
		for _, k := range doomedKeys {
			_, err := s.FindAPIKeyByUser(ctx, k.User)
			wantCode(t, err, keywarden.ENOTFOUND)
			_, err = s.FindAPIKey(ctx, org.ID, k.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		keys, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: doomed.ID})
		wantPage(t, "FindAPIKeys of the deleted process", keys, total, err, nil, 0)
		for _, k := range keptKeys {
			got, err := s.FindAPIKeyByUser(ctx, k.User)
			if err != nil {
				t.Fatalf("FindAPIKeyByUser of a kept key: %v", err)
			}
			wantEqual(t, "a kept key", got, k)
		}
	})

	t.Run("ConcurrentCreatesAllSucceed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		const writers, perWriter = 8, 10
		keys := make([]*keywarden.APIKey, writers*perWriter)
		for i := range keys {
			keys[i] = NewAPIKey(t, org.ID, "", At(i))
		}
		errs := make([]error, len(keys))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w * perWriter; i < (w+1)*perWriter; i++ {
					errs[i] = s.CreateAPIKey(ctx, keys[i], nil)
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("CreateAPIKey %d: %v", i, err)
			}
		}
		got, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization, Page: keywarden.Page{Limit: len(keys)}})
		wantPage(t, "FindAPIKeys", got, total, err, keys, len(keys))
	})
}
