package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// testRedeliverWebhookDelivery: a redelivery queues a finished delivery
// again, due at once, with its event ID, its attempt count and its log of
// attempts, so that the next attempt is numbered after them; it leaves a
// delivery in a node's hands to that node, and is confined to the
// delivery's organization.
func testRedeliverWebhookDelivery(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	other, _ := MustCreateOrganization(t, s)
	w := MustCreateWebhook(t, s, org.ID, keywarden.EventAPIKeyCreated)
	d := &keywarden.WebhookDelivery{ID: MustNewID(t), WebhookID: w.ID, OrgID: org.ID, EventID: "evt_redeliver",
		EventType: keywarden.EventPing, Payload: []byte(`{"type":"ping"}`), CreatedAt: At(0), NextAttempt: At(0)}
	if err := s.EnqueueWebhookDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	claim := func(at time.Time) *keywarden.WebhookDelivery {
		t.Helper()
		ds, err := s.ClaimWebhookDeliveries(ctx, at, time.Minute, 10)
		if err != nil || len(ds) != 1 || ds[0].ID != d.ID {
			t.Fatalf("ClaimWebhookDeliveries at %v = %d deliveries, %v; want the one", at, len(ds), err)
		}
		return ds[0]
	}
	find := func() (*keywarden.WebhookDelivery, []*keywarden.WebhookAttempt) {
		t.Helper()
		got, attempts, err := s.FindWebhookDelivery(ctx, org.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got, attempts
	}

	// Held by a node: its lease decides, not the redelivery.
	held := claim(At(10))
	wantCode(t, s.RedeliverWebhookDelivery(ctx, org.ID, d.ID, At(20)), keywarden.ECONFLICT)
	if err := s.CompleteWebhookAttempt(ctx, held, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: At(30), Error: "timeout"}, Done: true}); err != nil {
		t.Fatalf("the holder's outcome after a refused redelivery: %v", err)
	}

	// Failed for good, then sent again.
	if err := s.RedeliverWebhookDelivery(ctx, org.ID, d.ID, At(100)); err != nil {
		t.Fatal(err)
	}
	got, attempts := find()
	if got.State != keywarden.DeliveryPending || !got.NextAttempt.Equal(At(100)) || !got.LeaseUntil.IsZero() || !got.DeliveredAt.IsZero() ||
		got.Attempts != 1 || got.EventID != d.EventID || len(attempts) != 1 || got.LastError != "timeout" {
		t.Errorf("a failed delivery sent again: %+v, %d attempts logged", got, len(attempts))
	}
	if ds, err := s.ClaimWebhookDeliveries(ctx, At(99), time.Minute, 10); err != nil || len(ds) != 0 {
		t.Errorf("claimed before the redelivery is due: %d, %v", len(ds), err)
	}
	second := claim(At(100))
	if second.Attempts != 2 {
		t.Errorf("the redelivery's attempt is number %d, want 2", second.Attempts)
	}
	if err := s.CompleteWebhookAttempt(ctx, second, keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: At(101), Status: 204}, Done: true, Success: true}); err != nil {
		t.Fatal(err)
	}
	got, attempts = find()
	if got.State != keywarden.DeliverySucceeded || !got.DeliveredAt.Equal(At(101)) || len(attempts) != 2 || attempts[1].Attempt != 2 || attempts[1].Status != 204 {
		t.Errorf("the redelivery delivered: %+v, attempts %+v", got, attempts)
	}

	// Delivered, then sent again; and a node's lease that ran out (its
	// node died) does not hold a redelivery back.
	if err := s.RedeliverWebhookDelivery(ctx, org.ID, d.ID, At(200)); err != nil {
		t.Fatal(err)
	}
	if got, _ := find(); got.State != keywarden.DeliveryPending || !got.DeliveredAt.IsZero() || got.LastStatus != 204 {
		t.Errorf("a delivered delivery sent again: %+v", got)
	}
	claim(At(200)) // leased until At(200) + 1 min, and never completed
	wantCode(t, s.RedeliverWebhookDelivery(ctx, org.ID, d.ID, At(259)), keywarden.ECONFLICT)
	if err := s.RedeliverWebhookDelivery(ctx, org.ID, d.ID, At(261)); err != nil {
		t.Errorf("a delivery whose lease ran out: %v", err)
	}
	if got, _ := find(); got.Attempts != 3 || !got.LeaseUntil.IsZero() || !got.NextAttempt.Equal(At(261)) {
		t.Errorf("after the lease ran out and a redelivery: %+v", got)
	}

	// Confined to its organization.
	wantCode(t, s.RedeliverWebhookDelivery(ctx, other.ID, d.ID, At(300)), keywarden.ENOTFOUND)
	wantCode(t, s.RedeliverWebhookDelivery(ctx, org.ID, MustNewID(t), At(300)), keywarden.ENOTFOUND)
}
