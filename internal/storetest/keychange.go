package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/keywarden/keywarden"
)

// testKeyChanges: every creation and deletion of a key, and every
// deletion of a process with its keys, is in the feed, in order, with its
// kind; a change that failed is not.
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
	k2 := MustCreateAPIKey(t, s, org.ID, proc.ID, At(3))
	if err := s.CreateAPIKey(ctx, k1, nil); keywarden.ErrorCode(err) != keywarden.ECONFLICT {
		t.Fatalf("creating a key twice: %v", err)
	}
	if err := DeleteAPIKey(ctx, s, org.ID, k1.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := DeleteAPIKey(ctx, s, org.ID, k1.ID, nil); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteProcess(ctx, org.ID, proc.ID, nil); err != nil {
		t.Fatal(err)
	}
	changes, err := s.KeyChangesSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []keywarden.KeyChange{
		keywarden.ChangeOf(keywarden.KeyChangeCreated, k1),
		keywarden.ChangeOf(keywarden.KeyChangeCreated, k2),
		keywarden.ChangeOf(keywarden.KeyChangeDeleted, k1),
		// A process's deletion logs each of its keys', then its own.
		keywarden.ChangeOf(keywarden.KeyChangeDeleted, k2),
		{Kind: keywarden.KeyChangeProcessDeleted, ProcessID: proc.ID, OrgID: org.ID},
	}
	if len(changes) != len(want) {
		t.Fatalf("feed = %+v, want %+v", changes, want)
	}
	for i, c := range changes {
		if i > 0 && c.Seq <= changes[i-1].Seq {
			t.Errorf("feed entry %d has seq %d after %d", i, c.Seq, changes[i-1].Seq)
		}
		c.Seq = 0
		if c != want[i] {
			t.Errorf("feed entry %d = %+v, want %+v", i, c, want[i])
		}
	}
	last := changes[len(changes)-1].Seq
	if latest, _ := s.LatestKeyChange(ctx); latest != last {
		t.Errorf("LatestKeyChange = %d, want %d", latest, last)
	}
	if after, _ := s.KeyChangesSince(ctx, changes[3].Seq, 10); len(after) != 1 || after[0].Seq != last {
		t.Errorf("KeyChangesSince(fourth) = %+v", after)
	}
	if one, _ := s.KeyChangesSince(ctx, 0, 1); len(one) != 1 || one[0].Seq != changes[0].Seq {
		t.Errorf("KeyChangesSince with limit 1 = %+v", one)
	}
}

// testKeyChangeFollower: a reader that follows the feed by seq, as every
// node's cache does, sees every creation and deletion even while many are
// made at once.
// A store whose writers run concurrently must make seq order commit order:
// were a change with a lower seq to commit after a higher one was read, the
// follower would skip it for ever, and keep honouring a deleted key.
func testKeyChangeFollower(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	const writers, perWriter = 8, 8
	keys := make([]*keywarden.APIKey, writers*perWriter)
	for i := range keys {
		keys[i] = MustCreateAPIKey(t, s, org.ID, "", At(i))
	}
	// Follow from after the creations: the deletions are what must not be
	// missed while the writers race.
	seq, err := s.LatestKeyChange(ctx)
	if err != nil {
		t.Fatal(err)
	}

	seen := make(map[string]bool)
	follow := func() error {
		changes, err := s.KeyChangesSince(ctx, seq, 1000)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if c.Seq <= seq {
				return fmt.Errorf("KeyChangesSince(%d) returned seq %d", seq, c.Seq)
			}
			if c.Kind == keywarden.KeyChangeDeleted {
				seen[c.User] = true
			}
			seq = c.Seq
		}
		return nil
	}
	done := make(chan struct{})
	var followErr error
	var follower sync.WaitGroup
	follower.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if followErr = follow(); followErr != nil {
				return
			}
		}
	})

	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w * perWriter; i < (w+1)*perWriter; i++ {
				errs[i] = DeleteAPIKey(ctx, s, org.ID, keys[i].ID, nil)
			}
		})
	}
	wg.Wait()
	close(done)
	follower.Wait()
	if followErr != nil {
		t.Fatalf("following the feed: %v", followErr)
	}
	// Every deletion has returned: a last read must find the rest.
	if err := follow(); err != nil {
		t.Fatalf("following the feed: %v", err)
	}
	missed := 0
	for i, k := range keys {
		if errs[i] != nil {
			t.Errorf("DeleteAPIKey %d: %v", i, errs[i])
		} else if !seen[k.User] {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("a follower of the feed never saw %d of %d concurrent deletions", missed, len(keys))
	}
}
