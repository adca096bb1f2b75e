package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// hourAt returns the start of the UTC hour n hours after the suite's base.
func hourAt(n int) time.Time { return At(0).Truncate(time.Hour).Add(time.Duration(n) * time.Hour) }

// testKeyUsage: a key's last use only moves forward, counts of several
// batches add up per hour, a key's usage is its organization's only and
// goes with the key, and pruning drops only older hours.
func testKeyUsage(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LastUseNeverMovesBack", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(1))
		other := MustCreateAPIKey(t, s, org.ID, "", At(1))
		for _, tt := range []struct {
			name     string
			uses     []keywarden.KeyUse
			wantAt   int
			wantFrom string
		}{
			{"First", []keywarden.KeyUse{{User: k.User, At: At(10), From: "192.0.2.1"}}, 10, "192.0.2.1"},
			{"Later", []keywarden.KeyUse{{User: k.User, At: At(20), From: "2001:db8::2"}}, 20, "2001:db8::2"},
			{"EarlierIsIgnored", []keywarden.KeyUse{{User: k.User, At: At(15), From: "198.51.100.3"}}, 20, "2001:db8::2"},
			{"TheLatestOfOneBatch", []keywarden.KeyUse{
				{User: k.User, At: At(40), From: "192.0.2.40"},
				{User: k.User, At: At(30), From: "192.0.2.30"},
			}, 40, "192.0.2.40"},
			{"InAnotherZone", []keywarden.KeyUse{{User: k.User, At: At(50).In(time.FixedZone("CET", 3600)), From: "192.0.2.50"}}, 50, "192.0.2.50"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.RecordKeyUsage(ctx, tt.uses, nil); err != nil {
					t.Fatalf("RecordKeyUsage: %v", err)
				}
				want := *k
				want.LastUsedAt, want.LastUsedFrom = At(tt.wantAt), tt.wantFrom
				got, err := s.FindAPIKeyByUser(ctx, k.User)
				if err != nil {
					t.Fatalf("FindAPIKeyByUser: %v", err)
				}
				wantEqual(t, "the used key", got, &want)
			})
		}
		got, err := s.FindAPIKey(ctx, org.ID, other.ID)
		if err != nil {
			t.Fatalf("FindAPIKey: %v", err)
		}
		wantEqual(t, "another key, unused", got, other)
	})

	t.Run("CountsAddUpAcrossBatches", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		k := MustCreateAPIKey(t, s, org.ID, p.ID, At(1))
		other := MustCreateAPIKey(t, s, org.ID, "", At(1))
		first := []keywarden.KeyUsageCount{
			{User: k.User, Hour: hourAt(1), Succeeded: 40, Failed: 2},
			{User: k.User, Hour: hourAt(2), Succeeded: 1},
			{User: other.User, Hour: hourAt(1), Succeeded: 7, Failed: 7},
		}
		second := []keywarden.KeyUsageCount{
			// Inside hour 1, in another zone: still hour 1.
			{User: k.User, Hour: hourAt(1).Add(25 * time.Minute).In(time.FixedZone("CET", 3600)), Succeeded: 2, Failed: 1},
			{User: k.User, Hour: hourAt(1), Failed: 1},
			{User: k.User, Hour: hourAt(3), Failed: 5},
			{User: k.User, Hour: hourAt(5)}, // nothing to count
		}
		for i, batch := range [][]keywarden.KeyUsageCount{first, second} {
			if err := s.RecordKeyUsage(ctx, nil, batch); err != nil {
				t.Fatalf("RecordKeyUsage, batch %d: %v", i+1, err)
			}
		}
		got, err := s.FindKeyUsage(ctx, org.ID, k.ID, hourAt(0), hourAt(24))
		wantUsage(t, "the key's hours", got, err, []keywarden.KeyUsageCount{
			{User: k.User, Hour: hourAt(1), Succeeded: 42, Failed: 4},
			{User: k.User, Hour: hourAt(2), Succeeded: 1},
			{User: k.User, Hour: hourAt(3), Failed: 5},
		})
		got, err = s.FindKeyUsage(ctx, org.ID, k.ID, hourAt(2), hourAt(3))
		wantUsage(t, "[hour 2, hour 3)", got, err, []keywarden.KeyUsageCount{
			{User: k.User, Hour: hourAt(2), Succeeded: 1},
		})
		got, err = s.FindKeyUsage(ctx, org.ID, k.ID, hourAt(6), hourAt(24))
		wantUsage(t, "hours without use", got, err, nil)
		got, err = s.FindKeyUsage(ctx, org.ID, other.ID, hourAt(0), hourAt(24))
		wantUsage(t, "the other key's hours", got, err, []keywarden.KeyUsageCount{
			{User: other.User, Hour: hourAt(1), Succeeded: 7, Failed: 7},
		})
		// Counts say nothing of the last use.
		if got, err := s.FindAPIKey(ctx, org.ID, k.ID); err != nil || !got.LastUsedAt.IsZero() || got.LastUsedFrom != "" {
			t.Errorf("after counts only, the key = %+v, %v; want no last use", got, err)
		}
	})

	t.Run("AnotherOrganizationsKeyIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		otherOrg, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(1))
		if err := s.RecordKeyUsage(ctx, nil, []keywarden.KeyUsageCount{{User: k.User, Hour: hourAt(1), Succeeded: 3}}); err != nil {
			t.Fatal(err)
		}
		for name, ref := range map[string][2]string{
			"the key, asked by another organization": {otherOrg.ID, k.ID},
			"a key that never existed":               {org.ID, MustNewID(t)},
		} {
			got, err := s.FindKeyUsage(ctx, ref[0], ref[1], hourAt(0), hourAt(24))
			if keywarden.ErrorCode(err) != keywarden.ENOTFOUND || got != nil {
				t.Errorf("%s: FindKeyUsage = %v, %v; want ENOTFOUND", name, got, err)
			}
		}
	})

	t.Run("DeletedKeysUsageIsGoneAndRecordingItIsNoError", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		doomed := MustCreateAPIKey(t, s, org.ID, "", At(1))
		kept := MustCreateAPIKey(t, s, org.ID, "", At(1))
		if err := s.RecordKeyUsage(ctx, nil, []keywarden.KeyUsageCount{
			{User: doomed.User, Hour: hourAt(1), Succeeded: 3},
			{User: doomed.User, Hour: hourAt(2), Failed: 1},
		}); err != nil {
			t.Fatal(err)
		}
		if err := DeleteAPIKey(ctx, s, org.ID, doomed.ID, nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindKeyUsage(ctx, org.ID, doomed.ID, hourAt(0), hourAt(24))
		wantCode(t, err, keywarden.ENOTFOUND)
		// A batch written after the deletion, with the uses of a key that
		// never existed and of a live one: only the live key's are written.
		err = s.RecordKeyUsage(ctx, []keywarden.KeyUse{
			{User: doomed.User, At: At(10), From: "192.0.2.1"},
			{User: "kwo_NoSuchKeyAAAAAAAAAAA", At: At(10), From: "192.0.2.1"},
			{User: kept.User, At: At(11), From: "192.0.2.2"},
		}, []keywarden.KeyUsageCount{
			{User: doomed.User, Hour: hourAt(3), Succeeded: 1},
			{User: "kwo_NoSuchKeyAAAAAAAAAAA", Hour: hourAt(3), Succeeded: 1},
			{User: kept.User, Hour: hourAt(3), Succeeded: 2},
		})
		if err != nil {
			t.Fatalf("RecordKeyUsage with a deleted key: %v, want no error", err)
		}
		got, err := s.FindKeyUsage(ctx, org.ID, kept.ID, hourAt(0), hourAt(24))
		wantUsage(t, "the kept key's hours", got, err, []keywarden.KeyUsageCount{{User: kept.User, Hour: hourAt(3), Succeeded: 2}})
		if k, err := s.FindAPIKey(ctx, org.ID, kept.ID); err != nil || !k.LastUsedAt.Equal(At(11)) || k.LastUsedFrom != "192.0.2.2" {
			t.Errorf("the kept key = %+v, %v; want its last use written", k, err)
		}
		// Gone, not hidden: the deleted key's rows are not there to prune.
		if n, err := s.PruneKeyUsage(ctx, hourAt(1000)); err != nil || n != 1 {
			t.Errorf("PruneKeyUsage of every hour = %d, %v; want the kept key's 1 row only", n, err)
		}
	})

	t.Run("PruneRemovesOnlyOlderHours", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		k := MustCreateAPIKey(t, s, org.ID, "", At(1))
		other := MustCreateAPIKey(t, s, org.ID, "", At(1))
		if err := s.RecordKeyUsage(ctx, nil, []keywarden.KeyUsageCount{
			{User: k.User, Hour: hourAt(0), Succeeded: 1},
			{User: k.User, Hour: hourAt(1), Succeeded: 2},
			{User: k.User, Hour: hourAt(2), Succeeded: 3},
			{User: other.User, Hour: hourAt(0), Failed: 4},
		}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneKeyUsage(ctx, hourAt(1))
		if err != nil || n != 2 {
			t.Fatalf("PruneKeyUsage(hour 1) = %d, %v; want 2 rows of hour 0", n, err)
		}
		got, err := s.FindKeyUsage(ctx, org.ID, k.ID, hourAt(0), hourAt(24))
		wantUsage(t, "after pruning", got, err, []keywarden.KeyUsageCount{
			{User: k.User, Hour: hourAt(1), Succeeded: 2},
			{User: k.User, Hour: hourAt(2), Succeeded: 3},
		})
		if n, err := s.PruneKeyUsage(ctx, hourAt(1)); err != nil || n != 0 {
			t.Errorf("PruneKeyUsage again = %d, %v; want nothing left to prune", n, err)
		}
	})

	t.Run("ManyKeysInOneBatch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		imp, ok := s.(Importer)
		if !ok {
			t.Fatal("the store cannot import keys in bulk (storetest.Importer): both stores must")
		}
		org, _ := MustCreateOrganization(t, s)
		// More than one statement's worth of rows (usageChunk) of each kind.
		keys := make([]*keywarden.APIKey, 1234)
		for i := range keys {
			keys[i] = NewAPIKey(t, org.ID, "", At(1))
		}
		if err := imp.ImportAPIKeys(ctx, keys); err != nil {
			t.Fatal(err)
		}
		var uses []keywarden.KeyUse
		var counts []keywarden.KeyUsageCount
		for i, k := range keys {
			uses = append(uses, keywarden.KeyUse{User: k.User, At: At(i), From: fmt.Sprintf("10.0.%d.%d", i/256, i%256)})
			counts = append(counts, keywarden.KeyUsageCount{User: k.User, Hour: hourAt(i % 3), Succeeded: int64(i)})
		}
		if err := s.RecordKeyUsage(ctx, uses, counts); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 499, 500, 1233} {
			k, err := s.FindAPIKey(ctx, org.ID, keys[i].ID)
			if err != nil || !k.LastUsedAt.Equal(At(i)) || k.LastUsedFrom != uses[i].From {
				t.Errorf("key %d = %+v, %v; want last used at %v from %s", i, k, err, At(i), uses[i].From)
			}
			got, err := s.FindKeyUsage(ctx, org.ID, keys[i].ID, hourAt(0), hourAt(24))
			var want []keywarden.KeyUsageCount
			if i > 0 {
				want = []keywarden.KeyUsageCount{{User: keys[i].User, Hour: hourAt(i % 3), Succeeded: int64(i)}}
			}
			wantUsage(t, fmt.Sprintf("key %d", i), got, err, want)
		}
	})

	t.Run("ImportKeepsEveryField", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		imp := s.(Importer)
		org, _ := MustCreateOrganization(t, s)
		k := NewAPIKey(t, org.ID, "", At(1))
		k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
		k.RateLimit = keywarden.RateLimit{Limit: 100, Window: time.Minute}
		k.PreviousSecretHash = keywarden.HashSecret("previous")
		k.PreviousSecretExpiresAt = At(5)
		k.LastUsedAt, k.LastUsedFrom = At(2), "192.0.2.7"
		if err := imp.ImportAPIKeys(ctx, []*keywarden.APIKey{k}); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindAPIKeyByUser(ctx, k.User)
		if err != nil {
			t.Fatal(err)
		}
		// An allowlist or a limit lost in the import would leave the key
		// working from anywhere, as often as anyone likes.
		if !slices.Equal(got.AllowedIPs, k.AllowedIPs) || got.RateLimit != k.RateLimit ||
			got.PreviousSecretHash != k.PreviousSecretHash || !got.PreviousSecretExpiresAt.Equal(k.PreviousSecretExpiresAt) ||
			!got.LastUsedAt.Equal(k.LastUsedAt) || got.LastUsedFrom != k.LastUsedFrom {
			t.Errorf("imported %+v, read back %+v", k, got)
		}
	})

	t.Run("ConcurrentBatchesAddUp", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		keys := make([]*keywarden.APIKey, 12)
		for i := range keys {
			keys[i] = MustCreateAPIKey(t, s, org.ID, "", At(1))
		}
		// Several nodes flushing the same keys at once, each in its own
		// order: none may fail (a deadlock, say), and nothing is lost.
		const writers, batches = 6, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*batches)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for b := range batches {
					var uses []keywarden.KeyUse
					var counts []keywarden.KeyUsageCount
					for _, i := range rng.Perm(len(keys)) {
						uses = append(uses, keywarden.KeyUse{User: keys[i].User, At: At(100*b + w), From: fmt.Sprint("192.0.2.", w)})
						counts = append(counts, keywarden.KeyUsageCount{User: keys[i].User, Hour: hourAt(1), Succeeded: 1, Failed: 2})
					}
					errs <- s.RecordKeyUsage(ctx, uses, counts)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("RecordKeyUsage: %v", err)
			}
		}
		for _, k := range keys {
			got, err := s.FindKeyUsage(ctx, org.ID, k.ID, hourAt(0), hourAt(24))
			wantUsage(t, "a key used by every writer", got, err, []keywarden.KeyUsageCount{
				{User: k.User, Hour: hourAt(1), Succeeded: writers * batches, Failed: 2 * writers * batches},
			})
			latest := At(100*(batches-1) + writers - 1)
			if got, err := s.FindAPIKey(ctx, org.ID, k.ID); err != nil || !got.LastUsedAt.Equal(latest) {
				t.Errorf("last use = %+v, %v; want the latest of every writer, %v", got, err, latest)
			}
		}
	})
}

// wantUsage fails tb unless FindKeyUsage returned exactly want.
func wantUsage(tb testing.TB, what string, got []keywarden.KeyUsageCount, err error, want []keywarden.KeyUsageCount) {
	tb.Helper()
	if err != nil {
		tb.Errorf("%s: FindKeyUsage: %v", what, err)
		return
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	wantEqual(tb, what, got, want)
}
