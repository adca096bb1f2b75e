package graceperiod_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/graceperiod"
)

// fakeStore ends batches of grace periods, then none.
type fakeStore struct {
	batches [][]*keywarden.APIKey
	events  []*keywarden.AuditEvent
	err     error
}

func (f *fakeStore) EndPreviousSecrets(_ context.Context, _ time.Time, event func(*keywarden.APIKey) (*keywarden.AuditEvent, error)) ([]*keywarden.APIKey, error) {
	if f.err != nil {
		return nil, f.err
	}
	if len(f.batches) == 0 {
		return nil, nil
	}
	b := f.batches[0]
	f.batches = f.batches[1:]
	for _, k := range b {
		e, err := event(k)
		if err != nil {
			return nil, err
		}
		f.events = append(f.events, e)
	}
	return b, nil
}

// TestSweepEndsEveryBatchAndSyncsOnce: a sweep takes batches until the
// store has none left, audits each ended period in its key's organization
// as Keywarden's own doing, and has the cache read the change log once.
func TestSweepEndsEveryBatchAndSyncsOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	store := &fakeStore{batches: [][]*keywarden.APIKey{{{OrgID: "a"}, {OrgID: "b"}}, {{OrgID: "a"}}}}
	syncs := 0
	s := &graceperiod.Sweeper{Store: store, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
		Changed: func(context.Context) error { syncs++; return nil }}
	n, err := s.Sweep(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3", n, err)
	}
	if syncs != 1 {
		t.Errorf("the cache read the change log %d times, want once", syncs)
	}
	for i, e := range store.events {
		if e.ID == "" || e.Action != keywarden.AuditAPIKeyPreviousSecretEnded || e.Actor.Type != keywarden.ActorSystem || !e.At.Equal(now) {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	if store.events[1].OrgID != "b" {
		t.Error("an event is not in its key's organization")
	}
	if n, err := s.Sweep(context.Background()); n != 0 || err != nil || syncs != 1 {
		t.Errorf("a sweep with nothing to end: %d, %v, %d syncs", n, err, syncs)
	}
	store.err = errors.New("database down")
	if _, err := s.Sweep(context.Background()); !errors.Is(err, store.err) {
		t.Errorf("a failed sweep returns %v", err)
	}
}
