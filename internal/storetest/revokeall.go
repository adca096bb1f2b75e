package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/keywarden/keywarden"
)

// testRevokeAPIKeys: an emergency revocation deletes every key of one
// process, or of one organization at both levels, and nothing else;
// writes an audit event per key and the summary, and a change-log entry
// per key, so that every node's cache drops them; and is all or nothing.
func testRevokeAPIKeys(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	other, _ := MustCreateOrganization(t, s)
	p := MustCreateProcess(t, s, org.ID, At(0))
	q := MustCreateProcess(t, s, org.ID, At(0))
	r := MustCreateProcess(t, s, other.ID, At(0))
	orgKeys := []*keywarden.APIKey{MustCreateAPIKey(t, s, org.ID, "", At(1)), MustCreateAPIKey(t, s, org.ID, "", At(2))}
	pKeys := []*keywarden.APIKey{MustCreateAPIKey(t, s, org.ID, p.ID, At(3)), MustCreateAPIKey(t, s, org.ID, p.ID, At(4)), MustCreateAPIKey(t, s, org.ID, p.ID, At(5))}
	qKeys := []*keywarden.APIKey{MustCreateAPIKey(t, s, org.ID, q.ID, At(6))}
	otherKeys := []*keywarden.APIKey{MustCreateAPIKey(t, s, other.ID, "", At(7)), MustCreateAPIKey(t, s, other.ID, r.ID, At(8))}

	// audited returns a RevokeAll of scope whose events it keeps, and the
	// count its summary was given.
	type record struct {
		events  []*keywarden.AuditEvent
		summary *keywarden.AuditEvent
		count   int
	}
	audited := func(orgID, processID string) (keywarden.RevokeAll, *record) {
		rec := &record{count: -1}
		return keywarden.RevokeAll{OrgID: orgID, ProcessID: processID,
			KeyEvent: func(k *keywarden.APIKey) (*keywarden.AuditEvent, error) {
				e := NewAuditEvent(t, orgID, keywarden.AuditAPIKeyDeleted, At(20))
				rec.events = append(rec.events, e)
				return e, nil
			},
			Summary: func(n int) (*keywarden.AuditEvent, error) {
				rec.count = n
				rec.summary = NewAuditEvent(t, orgID, keywarden.AuditAPIKeysRevokedAll, At(20))
				rec.summary.TargetType, rec.summary.TargetID, rec.summary.ProcessID = "process", processID, processID
				if processID == "" {
					rec.summary.TargetType, rec.summary.TargetID = "organization", orgID
				}
				return rec.summary, nil
			},
		}, rec
	}
	// wantRevoked checks what one revocation returned and wrote.
	wantRevoked := func(t *testing.T, after int64, got []*keywarden.APIKey, rec *record, want []*keywarden.APIKey) {
		t.Helper()
		if len(got) > 0 || len(want) > 0 {
			wantEqual(t, "RevokeAPIKeys", got, want)
		}
		if rec.count != len(want) {
			t.Errorf("the summary was told of %d keys, want %d", rec.count, len(want))
		}
		for _, k := range want {
			if _, err := s.FindAPIKeyByUser(ctx, k.User); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
				t.Errorf("revoked key %s: FindAPIKeyByUser = %v, want ENOTFOUND", k.User, err)
			}
		}
		var wantChanges []keywarden.KeyChange
		for _, k := range want {
			wantChanges = append(wantChanges, keywarden.ChangeOf(keywarden.KeyChangeDeleted, k))
		}
		wantSameChanges(t, changesSince(t, s, after), wantChanges)
		if len(rec.events) != len(want) {
			t.Fatalf("%d key events made for %d keys", len(rec.events), len(want))
		}
		for i, e := range rec.events {
			k := want[i]
			if e.TargetType != "api_key" || e.TargetID != k.ID || e.TargetName != k.Name+" ("+k.User+")" || e.ProcessID != k.ProcessID {
				t.Errorf("the event of %s has target %s %s %q, process %q", k.ID, e.TargetType, e.TargetID, e.TargetName, e.ProcessID)
			}
		}
		for _, e := range append(slices.Clone(rec.events), rec.summary) {
			stored, _, err := s.FindAuditEventsAfter(ctx, keywarden.AuditFilter{OrgID: e.OrgID, TargetID: e.TargetID, Action: e.Action, Limit: keywarden.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(stored, func(got *keywarden.AuditEvent) bool { return got.ID == e.ID }); i < 0 {
				t.Errorf("audit event %s (%s of %s) was not written", e.ID, e.Action, e.TargetID)
			} else {
				wantEqual(t, "the stored audit event", stored[i], e)
			}
		}
	}
	wantKept := func(t *testing.T, keys ...*keywarden.APIKey) {
		t.Helper()
		for _, k := range keys {
			got, err := s.FindAPIKeyByUser(ctx, k.User)
			if err != nil {
				t.Errorf("key %s, which the revocation does not name, is gone: %v", k.User, err)
				continue
			}
			wantEqual(t, "a kept key", got, k)
		}
	}

	t.Run("NotFoundRevokesNothing", func(t *testing.T) {
		after := mustLatest(t, s)
		for _, tt := range []struct {
			name string
			r    keywarden.RevokeAll
		}{
			{"a process of another organization", keywarden.RevokeAll{OrgID: org.ID, ProcessID: r.ID}},
			{"a process that does not exist", keywarden.RevokeAll{OrgID: org.ID, ProcessID: MustNewID(t)}},
			{"an organization that does not exist", keywarden.RevokeAll{OrgID: MustNewID(t)}},
		} {
			got, err := s.RevokeAPIKeys(ctx, tt.r)
			if keywarden.ErrorCode(err) != keywarden.ENOTFOUND || got != nil {
				t.Errorf("%s: RevokeAPIKeys = %d keys, %v; want ENOTFOUND", tt.name, len(got), err)
			}
		}
		wantKept(t, slices.Concat(orgKeys, pKeys, qKeys, otherKeys)...)
		wantSameChanges(t, changesSince(t, s, after), nil)
	})

	t.Run("AFailedEventRevokesNothing", func(t *testing.T) {
		after := mustLatest(t, s)
		events := mustCountAuditEvents(t, s, org.ID)
		boom := errors.New("no randomness")
		calls := 0
		_, err := s.RevokeAPIKeys(ctx, keywarden.RevokeAll{OrgID: org.ID, ProcessID: p.ID,
			KeyEvent: func(k *keywarden.APIKey) (*keywarden.AuditEvent, error) {
				if calls++; calls == 2 {
					return nil, boom
				}
				return NewAuditEvent(t, org.ID, keywarden.AuditAPIKeyDeleted, At(20)), nil
			}})
		if err == nil {
			t.Fatal("RevokeAPIKeys succeeded although an event could not be made")
		}
		wantKept(t, pKeys...)
		wantSameChanges(t, changesSince(t, s, after), nil)
		if n := mustCountAuditEvents(t, s, org.ID); n != events {
			t.Errorf("the audit log has %d events after a failed revocation, %d before", n, events)
		}
	})

	t.Run("AProcessLosesEveryKeyAndOnlyItsOwn", func(t *testing.T) {
		after := mustLatest(t, s)
		req, rec := audited(org.ID, p.ID)
		got, err := s.RevokeAPIKeys(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, after, got, rec, pKeys)
		wantKept(t, slices.Concat(orgKeys, qKeys, otherKeys)...)
	})

	t.Run("AgainRevokesNone", func(t *testing.T) {
		after := mustLatest(t, s)
		req, rec := audited(org.ID, p.ID)
		got, err := s.RevokeAPIKeys(ctx, req)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("RevokeAPIKeys of a process without keys = %v, %v; want an empty list", got, err)
		}
		wantRevoked(t, after, got, rec, nil)
	})

	t.Run("TheOrganizationLosesEveryKeyAtBothLevels", func(t *testing.T) {
		after := mustLatest(t, s)
		req, rec := audited(org.ID, "")
		got, err := s.RevokeAPIKeys(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, after, got, rec, slices.Concat(orgKeys, qKeys))
		wantKept(t, otherKeys...)
		// The processes stay: only their keys go.
		if _, err := s.FindProcess(ctx, org.ID, q.ID); err != nil {
			t.Errorf("process %s after the revocation: %v", q.ID, err)
		}
	})

	// More keys than one statement writes events or log entries for.
	t.Run("ManyKeys", func(t *testing.T) {
		big := MustCreateProcess(t, s, other.ID, At(0))
		var keys []*keywarden.APIKey
		for i := range 130 {
			keys = append(keys, MustCreateAPIKey(t, s, other.ID, big.ID, At(100+i)))
		}
		after := mustLatest(t, s)
		req, rec := audited(other.ID, big.ID)
		got, err := s.RevokeAPIKeys(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		wantRevoked(t, after, got, rec, keys)
		wantKept(t, otherKeys...)
	})
}

// changesSince returns every change after seq, without their Seq, after
// checking that the log numbers them in increasing order.
func changesSince(t *testing.T, s keywarden.Store, after int64) []keywarden.KeyChange {
	t.Helper()
	changes, err := s.KeyChangesSince(context.Background(), after, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range changes {
		if i > 0 && changes[i].Seq <= changes[i-1].Seq {
			t.Errorf("key change %d has seq %d after %d", i, changes[i].Seq, changes[i-1].Seq)
		}
		changes[i].Seq = 0
	}
	return changes
}

// wantSameChanges fails unless got holds want's changes, in any order: the
// changes of one transaction become visible together.
func wantSameChanges(t *testing.T, got, want []keywarden.KeyChange) {
	t.Helper()
	key := func(c keywarden.KeyChange) string { return fmt.Sprintf("%s %s %s", c.Kind, c.User, c.ProcessID) }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, c := range got {
		g[i] = key(c)
	}
	for i, c := range want {
		w[i] = key(c)
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("the key change log holds %d changes, want %d:\n got  %v\n want %v", len(g), len(w), g, w)
	}
}

func mustCountAuditEvents(t *testing.T, s keywarden.Store, orgID string) int {
	t.Helper()
	_, total, err := s.FindAuditEvents(context.Background(), orgID, keywarden.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
