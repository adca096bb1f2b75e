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
		if err := s.CreateProcess(ctx, p); err != nil {
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
		wantCode(t, s.CreateProcess(ctx, p), keywarden.ENOTFOUND)
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

	t.Run("ListFilteredByIDHasOnlyThatProcess", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		MustCreateProcess(t, s, org.ID, At(1))
		p := MustCreateProcess(t, s, org.ID, At(2))
		MustCreateProcess(t, s, org.ID, At(3))

		procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID, ID: p.ID})
		wantPage(t, "FindProcesses by ID", procs, total, err, []*keywarden.Process{p}, 1)
		procs, total, err = s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID, ID: MustNewID(t)})
		wantPage(t, "FindProcesses by unknown ID", procs, total, err, nil, 0)
	})

	t.Run("RenameSetsNameAndUpdatedAt", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		want := *p
		want.Name = "Receipts"
		want.UpdatedAt = At(60)

		got, err := s.RenameProcess(ctx, org.ID, p.ID, want.Name, want.UpdatedAt)
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
		if err := s.DeleteProcess(ctx, org.ID, p.ID); err != nil {
			t.Fatalf("DeleteProcess: %v", err)
		}
		_, err := s.FindProcess(ctx, org.ID, p.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID})
		wantPage(t, "FindProcesses", procs, total, err, []*keywarden.Process{kept}, 1)
		wantCode(t, s.DeleteProcess(ctx, org.ID, p.ID), keywarden.ENOTFOUND)
		_, err = s.RenameProcess(ctx, org.ID, p.ID, "Receipts", At(3))
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
		_, err = s.RenameProcess(ctx, other.ID, p.ID, "Stolen", At(3))
		wantCode(t, err, keywarden.ENOTFOUND)
		wantCode(t, s.DeleteProcess(ctx, other.ID, p.ID), keywarden.ENOTFOUND)

		procs, _, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: other.ID})
		if err != nil {
			t.Fatalf("FindProcesses: %v", err)
		}
		for _, q := range procs {
			if q.ID == p.ID {
				t.Errorf("FindProcesses of another organization lists process %s", p.ID)
			}
		}
		procs, total, err := s.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: other.ID, ID: p.ID})
		wantPage(t, "FindProcesses of another organization by ID", procs, total, err, nil, 0)

		got, err := s.FindProcess(ctx, org.ID, p.ID)
		if err != nil {
			t.Fatalf("FindProcess: %v", err)
		}
		wantEqual(t, "the process, untouched", got, p)
	})
}
