package storetest

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden"
)

// testKeyChanges: every deletion of a key or a process's keys is in the
// feed, in order; a failed deletion is not.
func testKeyChanges(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	latest, err := s.LatestKeyChange(ctx)
	if err != nil || latest != 0 {
		t.Fatalf("LatestKeyChange of an empty store = %d, %v", latest, err)
	}
	org, _ := MustCreateOrganization(t, s)
	proc := MustCreateProcess(t, s, org.ID, At(1))
	k1 := MustCreateAPIKey(t, s, org.ID, "", At(2))
	_ = MustCreateAPIKey(t, s, org.ID, proc.ID, At(3))
	if got, _ := s.LatestKeyChange(ctx); got != 0 {
		t.Fatalf("creations appear in the feed (latest %d)", got)
	}
	if err := s.DeleteAPIKey(ctx, org.ID, k1.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(ctx, org.ID, k1.ID, nil); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteProcess(ctx, org.ID, proc.ID, nil); err != nil {
		t.Fatal(err)
	}
	changes, err := s.KeyChangesSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].User != k1.User || changes[0].ProcessID != "" ||
		changes[1].ProcessID != proc.ID || changes[1].User != "" || changes[1].Seq <= changes[0].Seq {
		t.Fatalf("feed = %+v, want the key's deletion then the process's", changes)
	}
	if latest, _ := s.LatestKeyChange(ctx); latest != changes[1].Seq {
		t.Errorf("LatestKeyChange = %d, want %d", latest, changes[1].Seq)
	}
	if after, _ := s.KeyChangesSince(ctx, changes[0].Seq, 10); len(after) != 1 || after[0].Seq != changes[1].Seq {
		t.Errorf("KeyChangesSince(first) = %+v", after)
	}
	if one, _ := s.KeyChangesSince(ctx, 0, 1); len(one) != 1 || one[0].Seq != changes[0].Seq {
		t.Errorf("KeyChangesSince with limit 1 = %+v", one)
	}
}
