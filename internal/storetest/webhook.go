package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// NewWebhook returns a webhook of orgID subscribed to events, not yet
// stored. Its secret stands for a sealed one.
func NewWebhook(tb testing.TB, orgID string, events ...string) *keywarden.Webhook {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.Webhook{ID: id, OrgID: orgID, URL: "https://hooks.example.com/" + id[:8], Description: "CI",
		Events: events, Enabled: true, Secret: "v1:k1:sealed-" + id[:8], CreatedAt: At(0), UpdatedAt: At(0),
		CreatedBy: keywarden.Actor{Type: keywarden.ActorUser, ID: MustNewID(tb), Name: "Ada"}}
}

// MustCreateWebhook stores NewWebhook's webhook.
func MustCreateWebhook(tb testing.TB, s keywarden.Store, orgID string, events ...string) *keywarden.Webhook {
	tb.Helper()
	w := NewWebhook(tb, orgID, events...)
	if err := s.CreateWebhook(context.Background(), w, nil); err != nil {
		tb.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// eventPayload maps key changes to events as a dispatcher would: the
// change's kind is the event type, for the kinds that are events.
func eventPayload(c keywarden.KeyChange) (string, []byte, bool) {
	switch c.Kind {
	case keywarden.KeyChangeCreated, keywarden.KeyChangeDeleted:
		return c.Kind, []byte(`{"key":"` + c.KeyID + `"}`), true
	}
	return "", nil, false
}

func testWebhooks(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("RoundTripAndConfinement", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		w := NewWebhook(t, org.ID, keywarden.EventAPIKeyCreated, keywarden.EventAPIKeyDeleted)
		w.PreviousSecret, w.PreviousSecretExpiresAt = "v1:k1:older", At(60)
		if err := s.CreateWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindWebhook(ctx, org.ID, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "FindWebhook", got, w)
		_, err = s.FindWebhook(ctx, other.ID, w.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		if ws, err := s.FindWebhooks(ctx, other.ID); err != nil || len(ws) != 0 {
			t.Errorf("another organization's webhooks: %v, %v", ws, err)
		}
		w.URL, w.Events, w.Enabled, w.UpdatedAt = "https://hooks.example.com/moved", []string{keywarden.EventAPIKeyRotated}, false, At(5)
		if err := s.UpdateWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		ws, err := s.FindWebhooks(ctx, org.ID)
		if err != nil || len(ws) != 1 {
			t.Fatalf("FindWebhooks = %v, %v", ws, err)
		}
		wantEqual(t, "FindWebhooks after the update", ws[0], w)
		moved := *w
		moved.OrgID = other.ID
		wantCode(t, s.UpdateWebhook(ctx, &moved, nil), keywarden.ENOTFOUND)
		wantCode(t, s.DeleteWebhook(ctx, other.ID, w.ID, nil), keywarden.ENOTFOUND)
		if err := s.DeleteWebhook(ctx, org.ID, w.ID, nil); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindWebhook(ctx, org.ID, w.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	// Each entry of the log is queued once, for every enabled webhook of
	// the key's organization that subscribes to it, however many nodes
	// queue at once.
	t.Run("EnqueueEachEventOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		both := MustCreateWebhook(t, s, org.ID, keywarden.EventAPIKeyCreated, keywarden.EventAPIKeyDeleted)
		created := MustCreateWebhook(t, s, org.ID, keywarden.EventAPIKeyCreated)
		off := NewWebhook(t, org.ID, keywarden.EventAPIKeyCreated)
		off.Enabled = false
		if err := s.CreateWebhook(ctx, off, nil); err != nil {
			t.Fatal(err)
		}
		elsewhere := MustCreateWebhook(t, s, other.ID, keywarden.EventAPIKeyCreated)
		var keys []*keywarden.APIKey
		for i := range 20 {
			keys = append(keys, MustCreateAPIKey(t, s, org.ID, "", At(i)))
		}
		if err := DeleteAPIKey(ctx, s, org.ID, keys[0].ID, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := s.EnqueueWebhookEvents(ctx, time.Now(), 3, eventPayload)
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		count := func(w *keywarden.Webhook) (n int, types map[string]int) {
			ds, total, err := s.FindWebhookDeliveries(ctx, w.OrgID, w.ID, keywarden.Page{Limit: keywarden.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			types = map[string]int{}
			events := map[string]bool{}
			for _, d := range ds {
				types[d.EventType]++
				if events[d.EventID] {
					t.Errorf("event %s queued twice for webhook %s", d.EventID, w.ID)
				}
				events[d.EventID] = true
				if d.State != keywarden.DeliveryPending || d.Attempts != 0 {
					t.Errorf("a new delivery is %s after %d attempts", d.State, d.Attempts)
				}
			}
			return total, types
		}
		if n, types := count(both); n != 21 || types[keywarden.EventAPIKeyCreated] != 20 || types[keywarden.EventAPIKeyDeleted] != 1 {
			t.Errorf("the webhook of both events got %d deliveries: %v", n, types)
		}
		if n, _ := count(created); n != 20 {
			t.Errorf("the webhook of creations got %d deliveries, want 20", n)
		}
		if n, _ := count(off); n != 0 {
			t.Errorf("a disabled webhook got %d deliveries", n)
		}
		if n, _ := count(elsewhere); n != 0 {
			t.Errorf("another organization's webhook got %d deliveries", n)
		}
	})

	// A delivery is held by one claimer at a time; one whose lease ran out
	// is claimed again, and the claimer it passed from can no longer
	// record an outcome.
	t.Run("ClaimsAreLeased", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		w := MustCreateWebhook(t, s, org.ID, keywarden.EventAPIKeyCreated)
		for i := range 10 {
			MustCreateAPIKey(t, s, org.ID, "", At(i))
		}
		if _, err := s.EnqueueWebhookEvents(ctx, time.Now(), 100, eventPayload); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour) // every delivery is due
		var (
			mu  sync.Mutex
			wg  sync.WaitGroup
			ids []string
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ds, err := s.ClaimWebhookDeliveries(ctx, now, time.Minute, 4)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, d := range ds {
					ids = append(ids, d.ID)
				}
			}()
		}
		wg.Wait()
		slices.Sort(ids)
		if len(ids) != 10 || len(slices.Compact(slices.Clone(ids))) != 10 {
			t.Fatalf("4 claimers took %d deliveries (%d distinct), want the 10 once each", len(ids), len(slices.Compact(slices.Clone(ids))))
		}
		if again, err := s.ClaimWebhookDeliveries(ctx, now, time.Minute, 100); err != nil || len(again) != 0 {
			t.Fatalf("deliveries under lease were claimed again: %d, %v", len(again), err)
		}
		// The leases end: claimed again, a second attempt each.
		later := now.Add(2 * time.Minute)
		second, err := s.ClaimWebhookDeliveries(ctx, later, time.Minute, 100)
		if err != nil || len(second) != 10 || second[0].Attempts != 2 {
			t.Fatalf("after the leases ended: %d claimed, %v", len(second), err)
		}
		stale := *second[0]
		stale.LeaseUntil = now.Add(time.Minute) // the first claim's lease
		wantCode(t, s.CompleteWebhookAttempt(ctx, &stale, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: later}, Done: true, Success: true}), keywarden.ECONFLICT)

		// Outcomes: one succeeds, one is retried later, one fails for good.
		ok, retry, failed := second[0], second[1], second[2]
		if err := s.CompleteWebhookAttempt(ctx, ok, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: later, Status: 204, Latency: 3 * time.Millisecond}, Done: true, Success: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteWebhookAttempt(ctx, retry, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: later, Status: 500, Error: "HTTP 500"}, Next: later.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteWebhookAttempt(ctx, failed, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: later, Error: "timeout"}, Done: true}); err != nil {
			t.Fatal(err)
		}
		d, attempts, err := s.FindWebhookDelivery(ctx, org.ID, ok.ID)
		if err != nil || d.State != keywarden.DeliverySucceeded || d.LastStatus != 204 || !d.DeliveredAt.Equal(later) || len(attempts) != 1 || attempts[0].Attempt != 2 || attempts[0].Latency != 3*time.Millisecond {
			t.Errorf("the delivered one: %+v, %+v, %v", d, attempts, err)
		}
		if d, _, _ := s.FindWebhookDelivery(ctx, org.ID, failed.ID); d.State != keywarden.DeliveryFailed || d.LastError != "timeout" {
			t.Errorf("the failed one: %+v", d)
		}
		_, _, err = s.FindWebhookDelivery(ctx, MustNewID(t), ok.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		// The retried one is due again only at its time, with the rest.
		due, err := s.ClaimWebhookDeliveries(ctx, later.Add(2*time.Minute), 2*time.Hour, 100) // held past the retry's time
		if err != nil || len(due) != 7 || slices.ContainsFunc(due, func(d *keywarden.WebhookDelivery) bool { return d.ID == retry.ID }) {
			t.Errorf("before the retry's time: %d due, %v", len(due), err)
		}
		if due, err := s.ClaimWebhookDeliveries(ctx, later.Add(time.Hour), time.Minute, 100); err != nil || len(due) != 1 || due[0].ID != retry.ID {
			t.Errorf("at the retry's time: %d due, %v", len(due), err)
		}
		// Deleting the webhook takes its queue with it.
		if err := s.DeleteWebhook(ctx, org.ID, w.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FindWebhookDelivery(ctx, org.ID, ok.ID); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
			t.Errorf("a deleted webhook's delivery: %v", err)
		}
	})
}
