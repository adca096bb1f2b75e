package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testOrganizations(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("CreatedIsFoundByIDAndName", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := NewOrganization(t), NewUser(t)
		org.MaxKeyLifetime = 180 * 24 * time.Hour
		if err := s.CreateOrganization(ctx, org, owner, nil); err != nil {
			t.Fatalf("CreateOrganization: %v", err)
		}
		got, err := s.FindOrganizationByID(ctx, org.ID)
		if err != nil {
			t.Fatalf("FindOrganizationByID: %v", err)
		}
		wantEqual(t, "FindOrganizationByID", got, org)
		got, err = s.FindOrganizationByName(ctx, org.Name)
		if err != nil {
			t.Fatalf("FindOrganizationByName: %v", err)
		}
		wantEqual(t, "FindOrganizationByName", got, org)
	})

	t.Run("WithoutOwnerIsCreatedAlone", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org := NewOrganization(t)
		if err := s.CreateOrganization(ctx, org, nil, nil); err != nil {
			t.Fatalf("CreateOrganization: %v", err)
		}
		orgs, total, err := s.FindOrganizations(ctx, keywarden.Page{})
		wantPage(t, "FindOrganizations", orgs, total, err, []*keywarden.Organization{org}, 1)
	})

	t.Run("DuplicateNameIsConflictAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first, _ := MustCreateOrganization(t, s)
		org, owner := NewOrganization(t), NewUser(t)
		org.Name = first.Name
		wantCode(t, s.CreateOrganization(ctx, org, owner, nil), keywarden.ECONFLICT)
		_, err := s.FindOrganizationByID(ctx, org.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindUserByEmail(ctx, owner.Email)
		wantCode(t, err, keywarden.ENOTFOUND)
		got, err := s.FindOrganizationByName(ctx, first.Name)
		if err != nil {
			t.Fatalf("FindOrganizationByName: %v", err)
		}
		wantEqual(t, "the first organization", got, first)
	})

	t.Run("DuplicateOwnerEmailIsConflictAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first, firstOwner := MustCreateOrganization(t, s)
		org, owner := NewOrganization(t), NewUser(t)
		owner.Email = firstOwner.Email
		wantCode(t, s.CreateOrganization(ctx, org, owner, nil), keywarden.ECONFLICT)

		// The organization insert came first and must have been rolled back.
		_, err := s.FindOrganizationByID(ctx, org.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindOrganizationByName(ctx, org.Name)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindMembership(ctx, org.ID, owner.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		orgs, total, err := s.FindOrganizations(ctx, keywarden.Page{})
		wantPage(t, "FindOrganizations", orgs, total, err, []*keywarden.Organization{first}, 1)
		got, err := s.FindUserByEmail(ctx, firstOwner.Email)
		if err != nil {
			t.Fatalf("FindUserByEmail: %v", err)
		}
		wantEqual(t, "the first owner", got, firstOwner)
	})

	t.Run("UnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		MustCreateOrganization(t, s)
		_, err := s.FindOrganizationByID(ctx, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindOrganizationByName(ctx, "No such organization")
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("NameMustMatchExactly", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		for _, name := range []string{strings.ToUpper(org.Name), org.Name + " ", org.Name[:len(org.Name)-1], "%"} {
			_, err := s.FindOrganizationByName(ctx, name)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
	})

	t.Run("ListIsPagedOldestFirstWithTotal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// Created newest first, so that insertion order is not list order.
		want := make([]*keywarden.Organization, 5)
		for i := len(want) - 1; i >= 0; i-- {
			org := NewOrganization(t)
			org.CreatedAt = At(i)
			if err := s.CreateOrganization(ctx, org, nil, nil); err != nil {
				t.Fatalf("CreateOrganization: %v", err)
			}
			want[i] = org
		}
		for _, tt := range []struct {
			name string
			page keywarden.Page
			want []*keywarden.Organization
		}{
			{"ZeroLimitIsDefault", keywarden.Page{}, want},
			{"Window", keywarden.Page{Offset: 1, Limit: 2}, want[1:3]},
			{"LastPartialPage", keywarden.Page{Offset: 4, Limit: 2}, want[4:]},
			{"PastTheEndIsEmpty", keywarden.Page{Offset: 5, Limit: 2}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				orgs, total, err := s.FindOrganizations(ctx, tt.page)
				wantPage(t, "FindOrganizations", orgs, total, err, tt.want, len(want))
			})
		}
	})

	t.Run("UpdateStoresNameAndKeyPolicyOnly", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		want := *org
		want.Name = "Renamed " + org.ID[:12]
		want.MaxKeyLifetime = 30 * 24 * time.Hour

		update := want
		update.CreatedAt = At(99) // not a field an update changes
		if err := s.UpdateOrganization(ctx, &update, nil); err != nil {
			t.Fatalf("UpdateOrganization: %v", err)
		}
		got, err := s.FindOrganizationByID(ctx, org.ID)
		if err != nil {
			t.Fatalf("FindOrganizationByID: %v", err)
		}
		wantEqual(t, "the updated organization", got, &want)
		got, err = s.FindOrganizationByName(ctx, want.Name)
		if err != nil {
			t.Fatalf("FindOrganizationByName with the new name: %v", err)
		}
		wantEqual(t, "the updated organization by its new name", got, &want)
		_, err = s.FindOrganizationByName(ctx, org.Name)
		wantCode(t, err, keywarden.ENOTFOUND)

		// Keeping its own name is not a conflict with itself.
		want.MaxKeyLifetime = 7 * 24 * time.Hour
		if err := s.UpdateOrganization(ctx, &want, nil); err != nil {
			t.Fatalf("UpdateOrganization keeping the name: %v", err)
		}
		got, err = s.FindOrganizationByID(ctx, org.ID)
		if err != nil {
			t.Fatalf("FindOrganizationByID: %v", err)
		}
		wantEqual(t, "the organization updated again", got, &want)

		got, err = s.FindOrganizationByID(ctx, other.ID)
		if err != nil {
			t.Fatalf("FindOrganizationByID: %v", err)
		}
		wantEqual(t, "another organization, untouched", got, other)
	})

	t.Run("UpdateUnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		MustCreateOrganization(t, s)
		wantCode(t, s.UpdateOrganization(ctx, NewOrganization(t), nil), keywarden.ENOTFOUND)
	})

	t.Run("UpdateToTakenNameIsConflictAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		update := *org
		update.Name = other.Name
		update.MaxKeyLifetime = time.Hour
		wantCode(t, s.UpdateOrganization(ctx, &update, nil), keywarden.ECONFLICT)
		for _, want := range []*keywarden.Organization{org, other} {
			got, err := s.FindOrganizationByID(ctx, want.ID)
			if err != nil {
				t.Fatalf("FindOrganizationByID: %v", err)
			}
			wantEqual(t, "an organization, untouched", got, want)
		}
	})

	t.Run("OwnerIsFoundByEmailWithOwnerRole", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, otherOwner := MustCreateOrganization(t, s)

		got, err := s.FindUserByEmail(ctx, owner.Email)
		if err != nil {
			t.Fatalf("FindUserByEmail: %v", err)
		}
		wantEqual(t, "FindUserByEmail", got, owner)
		m, err := s.FindMembership(ctx, org.ID, owner.ID)
		if err != nil {
			t.Fatalf("FindMembership: %v", err)
		}
		wantEqual(t, "FindMembership", m, &keywarden.Membership{OrgID: org.ID, UserID: owner.ID, Role: keywarden.RoleOwner})

		_, err = s.FindMembership(ctx, other.ID, owner.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindMembership(ctx, org.ID, otherOwner.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindUserByEmail(ctx, "nobody@example.com")
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindUserByEmail(ctx, strings.ToUpper(owner.Email))
		wantCode(t, err, keywarden.ENOTFOUND)
	})
}
