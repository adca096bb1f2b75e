package storetest

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden"
)

func testProcesses(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("CreatedIsFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := NewProcess(t, org.ID, At(1))
		p.UpdatedAt = At(2)
		if err := s.CreateProcess(ctx, p, nil); err != nil {
			t.Fatalf("CreateProcess: %v", err)
		}
		got, err := s.FindProcess(ctx, org.ID, p.ID)
		if err != nil {
			t.Fatalf("FindProcess: %v", err)
		}
		wantEqual(t, "FindProcess", got, p)
	})

	t.Run("CreateInUnknownOrganizationIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		p := NewProcess(t, MustNewID(t), At(1))
		wantCode(t, s.CreateProcess(ctx, p, nil), keywarden.ENOTFOUND)
	})

	t.Run("UnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		MustCreateProcess(t, s, org.ID, At(1))
		_, err := s.FindProcess(ctx, org.ID, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("ListIsPagedOldestFirstWithTotal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		MustCreateProcess(t, s, other.ID, At(0)) // never listed for org
		// Created newest first, so that insertion order is not list order.
		want := make([]*keywarden.Process, keywarden.DefaultPageLimit+3)
		for i := len(want) - 1; i >= 0; i-- {
			want[i] = MustCreateProcess(t, s, org.ID, At(i))
		}
		n := len(want)
		for _, tt := range []struct {
			name string
			page keywarden.Page
			want []*keywarden.Process
		}{
			{"ZeroLimitIsDefault", keywarden.Page{}, want[:keywarden.DefaultPageLimit]},
			{"Window", keywarden.Page{Offset: 2, Limit: 3}, want[2:5]},
			{"LastPartialPage", keywarden.Page{Offset: n - 2, Limit: 5}, want[n-2:]},
			{"PastTheEndIsEmpty", keywarden.Page{Offset: n, Limit: 5}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID, Page: tt.page})
				wantPage(t, "FindProcesses", procs, total, err, tt.want, n)
			})
		}
	})

	t.Run("RestrictedListHasOnlyTheGivenProcesses", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		// Created newest first, so that insertion order is not list order.
		p3 := MustCreateProcess(t, s, org.ID, At(3))
		p2 := MustCreateProcess(t, s, org.ID, At(2))
		p1 := MustCreateProcess(t, s, org.ID, At(1))
		othersProcess := MustCreateProcess(t, s, other.ID, At(0))
		all := []*keywarden.Process{p1, p2, p3}

		for _, tt := range []struct {
			name      string
			filter    keywarden.ProcessFilter
			want      []*keywarden.Process
			wantTotal int
		}{
			{"OneID", keywarden.ProcessFilter{Restricted: true, IDs: []string{p2.ID}}, []*keywarden.Process{p2}, 1},
			{"SeveralAreOldestFirst", keywarden.ProcessFilter{Restricted: true, IDs: []string{p3.ID, p1.ID}}, []*keywarden.Process{p1, p3}, 2},
			{"PagedWithinTheRestriction", keywarden.ProcessFilter{Restricted: true, IDs: []string{p3.ID, p2.ID, p1.ID}, Page: keywarden.Page{Offset: 1, Limit: 1}}, []*keywarden.Process{p2}, 3},
			{"EmptyIsNone", keywarden.ProcessFilter{Restricted: true, IDs: []string{}}, nil, 0},
			{"NilIsNone", keywarden.ProcessFilter{Restricted: true}, nil, 0},
			{"UnknownIDIsIgnored", keywarden.ProcessFilter{Restricted: true, IDs: []string{MustNewID(t), p2.ID}}, []*keywarden.Process{p2}, 1},
			{"AnotherOrganizationsProcessIsNotListed", keywarden.ProcessFilter{Restricted: true, IDs: []string{othersProcess.ID, p1.ID}}, []*keywarden.Process{p1}, 1},
			{"RepeatedIDIsListedOnce", keywarden.ProcessFilter{Restricted: true, IDs: []string{p1.ID, p1.ID}}, []*keywarden.Process{p1}, 1},
			{"UnrestrictedIgnoresIDs", keywarden.ProcessFilter{IDs: []string{p1.ID}}, all, 3},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.filter.OrgID = org.ID
				procs, total, err := s.FindProcesses(ctx, tt.filter)
				wantPage(t, "FindProcesses", procs, total, err, tt.want, tt.wantTotal)
			})
		}
	})

	t.Run("RenameSetsNameAndUpdatedAt", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		want := *p
		want.Name = "Receipts"
		want.UpdatedAt = At(60)

		got, err := s.RenameProcess(ctx, org.ID, p.ID, want.Name, want.UpdatedAt, nil)
		if err != nil {
			t.Fatalf("RenameProcess: %v", err)
		}
		wantEqual(t, "RenameProcess", got, &want)
		got, err = s.FindProcess(ctx, org.ID, p.ID)
		if err != nil {
			t.Fatalf("FindProcess: %v", err)
		}
		wantEqual(t, "FindProcess after rename", got, &want)
	})

	t.Run("DeletedIsGone", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		kept := MustCreateProcess(t, s, org.ID, At(2))
		if err := s.DeleteProcess(ctx, org.ID, p.ID, nil); err != nil {
			t.Fatalf("DeleteProcess: %v", err)
		}
		_, err := s.FindProcess(ctx, org.ID, p.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID})
		wantPage(t, "FindProcesses", procs, total, err, []*keywarden.Process{kept}, 1)
		wantCode(t, s.DeleteProcess(ctx, org.ID, p.ID, nil), keywarden.ENOTFOUND)
		_, err = s.RenameProcess(ctx, org.ID, p.ID, "Receipts", At(3), nil)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("OtherOrganizationsProcessIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		MustCreateProcess(t, s, other.ID, At(2))

		_, err := s.FindProcess(ctx, other.ID, p.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.RenameProcess(ctx, other.ID, p.ID, "Stolen", At(3), nil)
		wantCode(t, err, keywarden.ENOTFOUND)
		wantCode(t, s.DeleteProcess(ctx, other.ID, p.ID, nil), keywarden.ENOTFOUND)

		procs, _, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: other.ID})
		if err != nil {
			t.Fatalf("FindProcesses: %v", err)
		}
		for _, q := range procs {
			if q.ID == p.ID {
				t.Errorf("FindProcesses of another organization lists process %s", p.ID)
			}
		}
		procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: other.ID, Restricted: true, IDs: []string{p.ID}})
		wantPage(t, "FindProcesses of another organization by ID", procs, total, err, nil, 0)

		got, err := s.FindProcess(ctx, org.ID, p.ID)
		if err != nil {
			t.Fatalf("FindProcess: %v", err)
		}
		wantEqual(t, "the process, untouched", got, p)
	})
}
