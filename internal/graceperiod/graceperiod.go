// Package graceperiod ends rotations' grace periods. A replaced secret
// stops verifying at the end of its grace period on every node by itself:
// each verification compares the time with the period's end. This package
// then forgets the old secret's hash in the store and records that it
// ended — an audit event in the key's organization and an entry in the
// ordered change log — exactly once, however many nodes run it.
package graceperiod

import (
	"context"
	"log/slog"
	"time"

	"github.com/keywarden/keywarden"
)

// DefaultInterval is how often a node looks for ended grace periods: the
// query reads a partial index of the periods still running, so it costs
// next to nothing when there are none.
const DefaultInterval = time.Second

// Store is what the sweep needs of a store.
type Store interface {
	EndPreviousSecrets(ctx context.Context, now time.Time, event func(*keywarden.APIKey) (*keywarden.AuditEvent, error)) ([]*keywarden.APIKey, error)
}

// Sweeper ends grace periods.
type Sweeper struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
	// Changed is called after a sweep that ended any (the verification
	// cache's Sync, so that this node reads the new rows at once).
	Changed func(context.Context) error
}

// Sweep ends every grace period over at now and returns how many it ended.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	total := 0
	for {
		ended, err := s.Store.EndPreviousSecrets(ctx, now, func(k *keywarden.APIKey) (*keywarden.AuditEvent, error) {
			id, err := keywarden.NewID(nil)
			if err != nil {
				return nil, err
			}
			return &keywarden.AuditEvent{ID: id, OrgID: k.OrgID, At: now, Action: keywarden.AuditAPIKeyPreviousSecretEnded,
				Actor: keywarden.Actor{Type: keywarden.ActorSystem, Name: "Keywarden"}}, nil
		})
		if err != nil {
			return total, err
		}
		for _, k := range ended {
			s.Logger.Info("api key rotation complete: the previous secret no longer works", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID)
		}
		total += len(ended)
		if len(ended) == 0 {
			break
		}
	}
	if total > 0 && s.Changed != nil {
		if err := s.Changed(ctx); err != nil {
			s.Logger.Error("key change log unreadable after ending grace periods", "error", err)
		}
	}
	return total, nil
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("ending rotations' grace periods failed; trying again", "error", err)
		}
	}
}
