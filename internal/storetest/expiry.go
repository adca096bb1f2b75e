package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// testExpiryReminders: each key is reminded of once per threshold — the
// most urgent it has reached — and once expired, however many callers
// look at once; keys far from expiry, or long expired, are not.
func testExpiryReminders(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(left time.Duration) *keywarden.APIKey {
		k := NewAPIKey(t, org.ID, "", now.Add(-100*24*time.Hour))
		k.ExpiresAt = now.Add(left)
		if err := s.CreateAPIKey(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		return k
	}
	want := map[string]string{} // key user → the threshold due
	for left, label := range map[time.Duration]string{
		10 * 24 * time.Hour: "14d", 3 * 24 * time.Hour: "7d", 12 * time.Hour: "1d", -time.Hour: "expired",
	} {
		want[mk(left).User] = label
	}
	mk(20 * 24 * time.Hour)  // not yet
	mk(-10 * 24 * time.Hour) // expired long ago
	after := mustLatest(t, s)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		given int
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.RecordExpiryReminders(ctx, now, 100)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			given += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if given != len(want) {
		t.Errorf("three callers gave %d reminders, want %d", given, len(want))
	}
	changes, err := s.KeyChangesSince(ctx, after, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		var d keywarden.ExpiryDetail
		if err := json.Unmarshal([]byte(c.Detail), &d); err != nil {
			t.Fatalf("reminder %+v: detail %q: %v", c, c.Detail, err)
		}
		if (d.Threshold == "expired") != (c.Kind == keywarden.KeyChangeExpired) || c.KeyID == "" || c.OrgID != org.ID || d.ExpiresAt == "" {
			t.Errorf("reminder %+v", c)
		}
		if _, dup := got[c.User]; dup {
			t.Errorf("two reminders for %s", c.User)
		}
		got[c.User] = d.Threshold
	}
	wantEqual(t, "reminders", got, want)
	if n, err := s.RecordExpiryReminders(ctx, now, 100); err != nil || n != 0 {
		t.Errorf("looking again gave %d reminders, %v", n, err)
	}
	// Four days later the 10-day key has reached 7 days: one more.
	if n, err := s.RecordExpiryReminders(ctx, now.Add(4*24*time.Hour), 100); err != nil || n < 1 {
		t.Errorf("four days later: %d reminders, %v", n, err)
	}
}
