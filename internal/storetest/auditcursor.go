package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// testAuditEventsAfter: paging through an organization's audit log by
// cursor returns every event once, newest first (ties on the time broken
// by ID), narrowed by each filter, and never another organization's; an
// event written while a client pages does not shift the pages.
func testAuditEventsAfter(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	other, _ := MustCreateOrganization(t, s)

	// Seven events, two of them at the same instant, over three actions;
	// each recorded with a change, as the server records them.
	var all []*keywarden.AuditEvent
	record := func(orgID, action string, at time.Time) *keywarden.AuditEvent {
		e := NewAuditEvent(t, orgID, action, at)
		if err := s.CreateProcess(ctx, NewProcess(t, orgID, at), e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	for i, action := range []string{keywarden.AuditProcessCreated, keywarden.AuditAPIKeyCreated, keywarden.AuditAPIKeyDeleted,
		keywarden.AuditProcessCreated, keywarden.AuditAPIKeyCreated, keywarden.AuditAPIKeyDeleted} {
		all = append(all, record(org.ID, action, At(i)))
	}
	all = append(all, record(org.ID, keywarden.AuditAPIKeyCreated, At(5))) // the same instant as the sixth
	record(other.ID, keywarden.AuditAPIKeyCreated, At(3))
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b *keywarden.AuditEvent) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})

	pages := func(f keywarden.AuditFilter) (ids []string, n int) {
		t.Helper()
		for {
			events, next, err := s.FindAuditEventsAfter(ctx, f)
			if err != nil {
				t.Fatalf("FindAuditEventsAfter(%+v): %v", f, err)
			}
			if len(events) > max(f.Limit, 0) && f.Limit != 0 {
				t.Fatalf("a page of %d events for limit %d", len(events), f.Limit)
			}
			n++
			for _, e := range events {
				ids = append(ids, e.ID)
			}
			if next.IsZero() {
				return ids, n
			}
			if n > 20 {
				t.Fatal("the pages do not end")
			}
			f.After = next
		}
	}
	idsOf := func(events []*keywarden.AuditEvent) []string {
		var ids []string
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		return ids
	}

	t.Run("pages of two return every event once, newest first", func(t *testing.T) {
		ids, n := pages(keywarden.AuditFilter{OrgID: org.ID, Limit: 2})
		if !slices.Equal(ids, idsOf(want)) || n != 4 {
			t.Errorf("%d pages gave %v, want 4 pages with %v", n, ids, idsOf(want))
		}
	})
	t.Run("the default page holds them all", func(t *testing.T) {
		ids, n := pages(keywarden.AuditFilter{OrgID: org.ID})
		if !slices.Equal(ids, idsOf(want)) || n != 1 {
			t.Errorf("%d pages gave %v", n, ids)
		}
	})
	t.Run("filters narrow", func(t *testing.T) {
		var created []*keywarden.AuditEvent
		for _, e := range want {
			if e.Action == keywarden.AuditAPIKeyCreated {
				created = append(created, e)
			}
		}
		if ids, _ := pages(keywarden.AuditFilter{OrgID: org.ID, Action: keywarden.AuditAPIKeyCreated, Limit: 1}); !slices.Equal(ids, idsOf(created)) {
			t.Errorf("action filter gave %v, want %v", ids, idsOf(created))
		}
		one := want[3]
		for name, f := range map[string]keywarden.AuditFilter{
			"target":  {OrgID: org.ID, TargetID: one.TargetID},
			"actor":   {OrgID: org.ID, ActorID: one.Actor.ID},
			"process": {OrgID: org.ID, ProcessID: one.ProcessID, TargetType: "process"},
		} {
			if ids, _ := pages(f); !slices.Equal(ids, []string{one.ID}) {
				t.Errorf("%s filter gave %v, want [%s]", name, ids, one.ID)
			}
		}
		ids, _ := pages(keywarden.AuditFilter{OrgID: org.ID, Since: At(1), Until: At(3)})
		if want := []string{all[2].ID, all[1].ID}; !slices.Equal(ids, want) {
			t.Errorf("since/until gave %v, want %v", ids, want)
		}
	})
	t.Run("an event written while paging does not shift the pages", func(t *testing.T) {
		first, next, err := s.FindAuditEventsAfter(ctx, keywarden.AuditFilter{OrgID: org.ID, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		newer := record(org.ID, keywarden.AuditAPIKeyDeleted, At(10))
		ids, _ := pages(keywarden.AuditFilter{OrgID: org.ID, Limit: 3, After: next})
		if got := append(idsOf(first), ids...); !slices.Equal(got, idsOf(want)) {
			t.Errorf("paging while %s was written gave %v, want %v", newer.ID, got, idsOf(want))
		}
	})
	t.Run("a limit beyond the maximum is refused", func(t *testing.T) {
		if _, _, err := s.FindAuditEventsAfter(ctx, keywarden.AuditFilter{OrgID: org.ID, Limit: keywarden.MaxPageLimit + 1}); keywarden.ErrorCode(err) != keywarden.EINVALID {
			t.Errorf("limit %d: %v, want EINVALID", keywarden.MaxPageLimit+1, err)
		}
	})
}
