package storetest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// auditedChange is one change a store must record with its audit event.
// do prepares what the change needs (without events) in org, whose owner is
// owner, then makes the change, recording e.
type auditedChange struct {
	name string
	do   func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error
	// deleted, for a change that names its event's target itself
	// (DeleteAPIKey, RotateAPIKey), is set by do to the key it changed.
	deleted **keywarden.APIKey
}

// failingChange is a change that fails with wantCode, and so must record no
// event.
type failingChange struct {
	auditedChange
	wantCode string
}

// auditedChanges lists a successful call of every method that takes an
// audit event.
func auditedChanges(ctx context.Context) []auditedChange {
	return []auditedChange{
		{name: "CreateOrganizationKey", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			return s.CreateAPIKey(ctx, NewAPIKey(t, org.ID, "", At(1)), e)
		}},
		{name: "CreateProcessKey", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			return s.CreateAPIKey(ctx, NewAPIKey(t, org.ID, p.ID, At(1)), e)
		}},
		func() auditedChange {
			var deleted *keywarden.APIKey
			return auditedChange{name: "DeleteAPIKey", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
				p := MustCreateProcess(t, s, org.ID, At(1))
				k := MustCreateAPIKey(t, s, org.ID, p.ID, At(1))
				var err error
				deleted, err = s.DeleteAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID, Level: keywarden.LevelProcess, ProcessID: p.ID}, e)
				if err == nil && (deleted.ID != k.ID || deleted.User != k.User || deleted.Name != k.Name) {
					t.Errorf("DeleteAPIKey returned %+v, not the key it deleted", deleted)
				}
				return err
			}, deleted: &deleted}
		}(),
		func() auditedChange {
			var rotated *keywarden.APIKey
			return auditedChange{name: "RotateAPIKey", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
				k := MustCreateAPIKey(t, s, org.ID, "", At(1))
				var err error
				rotated, err = s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, keywarden.Rotation{SecretHash: keywarden.HashSecret("new"), PreviousSecretExpiresAt: At(60)}, e)
				return err
			}, deleted: &rotated}
		}(),
		func() auditedChange {
			var edited *keywarden.APIKey
			return auditedChange{name: "UpdateAPIKey", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
				k := MustCreateAPIKey(t, s, org.ID, "", At(1))
				var err error
				edited, err = s.UpdateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
					out := *cur
					out.Name = "renamed"
					return &out, nil
				}, e)
				return err
			}, deleted: &edited}
		}(),
		{name: "CreateProcess", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			return s.CreateProcess(ctx, NewProcess(t, org.ID, At(1)), e)
		}},
		{name: "RenameProcess", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			_, err := s.RenameProcess(ctx, org.ID, p.ID, "Receipts", At(2), e)
			return err
		}},
		{name: "DeleteProcess", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			MustCreateAPIKey(t, s, org.ID, p.ID, At(1))
			return s.DeleteProcess(ctx, org.ID, p.ID, e)
		}},
		{name: "UpdateOrganization", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			update := *org
			update.Name += " renamed"
			return s.UpdateOrganization(ctx, &update, e)
		}},
		{name: "SetMemberRole", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.SetMemberRole(ctx, org.ID, u.ID, keywarden.RoleAdmin, e)
		}},
		{name: "RemoveMember", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.RemoveMember(ctx, org.ID, u.ID, e)
		}},
		{name: "SetUserPassword", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error {
			return s.SetUserPassword(ctx, owner.ID, "another hash", []*keywarden.AuditEvent{e})
		}},
		{name: "CreateInvite", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			return s.CreateInvite(ctx, NewInvite(t, org.ID, keywarden.RoleAdmin, At(1)), e)
		}},
		{name: "AcceptInvite", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			inv := MustCreateInvite(t, s, org.ID, keywarden.RoleAdmin, At(1))
			return s.AcceptInvite(ctx, inv.ID, NewUser(t), At(2), e)
		}},
		{name: "SetProcessGrant", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.SetProcessGrant(ctx, &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: p.ID, UserID: u.ID, Role: keywarden.ProcessUser}, e)
		}},
		{name: "RemoveProcessGrant", do: func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			MustSetProcessGrant(t, s, p, u, keywarden.ProcessManager)
			return s.RemoveProcessGrant(ctx, org.ID, p.ID, u.ID, e)
		}},
	}
}

// failingChanges lists failing calls of the methods that take an audit
// event, one for each way they fail.
func failingChanges(ctx context.Context) []failingChange {
	fail := func(name, code string, do func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error) failingChange {
		return failingChange{auditedChange{name: name, do: do}, code}
	}
	return []failingChange{
		fail("CreateAPIKeyWithTakenUser", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			first := MustCreateAPIKey(t, s, org.ID, "", At(1))
			k := NewAPIKey(t, org.ID, "", At(2))
			k.User = first.User
			return s.CreateAPIKey(ctx, k, e)
		}),
		fail("CreateAPIKeyForAnotherOrganizationsProcess", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			q := MustCreateProcess(t, s, other.ID, At(1))
			return s.CreateAPIKey(ctx, NewAPIKey(t, org.ID, q.ID, At(2)), e)
		}),
		fail("DeleteUnknownAPIKey", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			MustCreateAPIKey(t, s, org.ID, "", At(1))
			return DeleteAPIKey(ctx, s, org.ID, MustNewID(t), e)
		}),
		fail("DeleteAnotherOrganizationsAPIKey", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			k := MustCreateAPIKey(t, s, other.ID, "", At(1))
			return DeleteAPIKey(ctx, s, org.ID, k.ID, e)
		}),
		fail("CreateProcessWithTakenID", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			first := MustCreateProcess(t, s, org.ID, At(1))
			p := NewProcess(t, org.ID, At(2))
			p.ID = first.ID
			return s.CreateProcess(ctx, p, e)
		}),
		fail("RenameAnotherOrganizationsProcess", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			q := MustCreateProcess(t, s, other.ID, At(1))
			_, err := s.RenameProcess(ctx, org.ID, q.ID, "Stolen", At(2), e)
			return err
		}),
		fail("DeleteUnknownProcess", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			MustCreateProcess(t, s, org.ID, At(1))
			return s.DeleteProcess(ctx, org.ID, MustNewID(t), e)
		}),
		fail("UpdateOrganizationToTakenName", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			update := *org
			update.Name = other.Name
			return s.UpdateOrganization(ctx, &update, e)
		}),
		fail("DemoteLastOwner", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error {
			return s.SetMemberRole(ctx, org.ID, owner.ID, keywarden.RoleAdmin, e)
		}),
		fail("SetRoleOfAnotherOrganizationsMember", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
			return s.SetMemberRole(ctx, org.ID, v.ID, keywarden.RoleAdmin, e)
		}),
		fail("SetUnknownUsersPassword", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			return s.SetUserPassword(ctx, MustNewID(t), "another hash", []*keywarden.AuditEvent{e})
		}),
		fail("RemoveLastOwner", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error {
			return s.RemoveMember(ctx, org.ID, owner.ID, e)
		}),
		fail("RemoveAnotherOrganizationsMember", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
			return s.RemoveMember(ctx, org.ID, v.ID, e)
		}),
		fail("CreateInviteWithTakenID", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			first := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
			inv := NewInvite(t, org.ID, keywarden.RoleUser, At(2))
			inv.ID = first.ID
			return s.CreateInvite(ctx, inv, e)
		}),
		fail("AcceptExpiredInvite", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.AcceptInvite(ctx, inv.ID, NewUser(t), inv.ExpiresAt, e)
		}),
		fail("AcceptInviteAsMember", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error {
			inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.AcceptInvite(ctx, inv.ID, owner, At(2), e)
		}),
		fail("AcceptInviteWithTakenEmail", keywarden.ECONFLICT, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) error {
			inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
			u := NewUser(t)
			u.Email = owner.Email
			return s.AcceptInvite(ctx, inv.ID, u, At(2), e)
		}),
		fail("GrantAnotherOrganizationsMember", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			p := MustCreateProcess(t, s, org.ID, At(1))
			v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
			return s.SetProcessGrant(ctx, &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: p.ID, UserID: v.ID, Role: keywarden.ProcessUser}, e)
		}),
		fail("GrantAnotherOrganizationsProcess", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			other, _ := MustCreateOrganization(t, s)
			q := MustCreateProcess(t, s, other.ID, At(1))
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.SetProcessGrant(ctx, &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: q.ID, UserID: u.ID, Role: keywarden.ProcessUser}, e)
		}),
		fail("RemoveUnknownGrant", keywarden.ENOTFOUND, func(t *testing.T, s keywarden.Store, org *keywarden.Organization, _ *keywarden.User, e *keywarden.AuditEvent) error {
			p := MustCreateProcess(t, s, org.ID, At(1))
			u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
			return s.RemoveProcessGrant(ctx, org.ID, p.ID, u.ID, e)
		}),
	}
}

func testAudit(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	t.Run("EveryChangeWritesItsEvent", func(t *testing.T) {
		t.Parallel()
		for _, c := range auditedChanges(ctx) {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				org, owner := MustCreateOrganization(t, s)
				e := NewAuditEvent(t, org.ID, "test."+c.name, At(50))
				want := *e // the store must store e as given, not as it may have changed it
				if err := c.do(t, s, org, owner, e); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if c.deleted != nil {
					want.TargetAPIKey(*c.deleted) // … completed with what it deleted
				}
				wantAuditEvents(t, s, org.ID, &want)
			})
		}
	})

	t.Run("ChangeWithoutEventWritesNone", func(t *testing.T) {
		t.Parallel()
		for _, c := range auditedChanges(ctx) {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				org, owner := MustCreateOrganization(t, s)
				if err := c.do(t, s, org, owner, nil); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				wantAuditEvents(t, s, org.ID)
			})
		}
	})

	t.Run("FailedChangeWritesNoEvent", func(t *testing.T) {
		t.Parallel()
		for _, c := range failingChanges(ctx) {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				org, owner := MustCreateOrganization(t, s)
				e := NewAuditEvent(t, org.ID, "test."+c.name, At(50))
				wantCode(t, c.do(t, s, org, owner, e), c.wantCode)
				wantAuditEvents(t, s, org.ID)
			})
		}
	})

	t.Run("EventRoundTripsExactly", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		full := NewAuditEvent(t, org.ID, keywarden.AuditProcessCreated, At(1))
		wantFull := *full
		p := NewProcess(t, org.ID, At(1))
		if err := s.CreateProcess(ctx, p, full); err != nil {
			t.Fatalf("CreateProcess: %v", err)
		}
		// The operator's command line has no ID nor address, and an
		// organization key no process.
		sparse := &keywarden.AuditEvent{
			ID:         MustNewID(t),
			OrgID:      org.ID,
			At:         At(2),
			Actor:      keywarden.Actor{Type: keywarden.ActorCLI},
			Action:     keywarden.AuditAPIKeyCreated,
			TargetType: "api_key",
		}
		k := NewAPIKey(t, org.ID, "", At(2))
		sparse.TargetID, sparse.TargetName = k.ID, k.Name
		wantSparse := *sparse
		if err := s.CreateAPIKey(ctx, k, sparse); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		wantAuditEvents(t, s, org.ID, &wantSparse, &wantFull)
	})

	t.Run("ListIsPagedNewestFirstWithTotal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(0))
		q := MustCreateProcess(t, s, other.ID, At(0))
		if _, err := s.RenameProcess(ctx, other.ID, q.ID, "Theirs", At(500), NewAuditEvent(t, other.ID, keywarden.AuditProcessRenamed, At(500))); err != nil {
			t.Fatalf("RenameProcess: %v", err) // never listed for org
		}
		// Written oldest first, so that insertion order is not list order,
		// and in threes that share a time, so that the ID must break the
		// tie for pages to be stable.
		want := make([]*keywarden.AuditEvent, keywarden.DefaultPageLimit+3)
		for i := range want {
			want[i] = NewAuditEvent(t, org.ID, keywarden.AuditProcessRenamed, At(i-i%3))
			if _, err := s.RenameProcess(ctx, org.ID, p.ID, "Invoices", At(i), want[i]); err != nil {
				t.Fatalf("RenameProcess: %v", err)
			}
		}
		slices.SortFunc(want, func(a, b *keywarden.AuditEvent) int {
			return cmp.Or(b.At.Compare(a.At), strings.Compare(b.ID, a.ID))
		})
		n := len(want)
		for _, tt := range []struct {
			name string
			page keywarden.Page
			want []*keywarden.AuditEvent
		}{
			{"ZeroLimitIsDefault", keywarden.Page{}, want[:keywarden.DefaultPageLimit]},
			{"Window", keywarden.Page{Offset: 2, Limit: 3}, want[2:5]},
			{"LastPartialPage", keywarden.Page{Offset: n - 2, Limit: 5}, want[n-2:]},
			{"PastTheEndIsEmpty", keywarden.Page{Offset: n, Limit: 5}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				events, total, err := s.FindAuditEvents(ctx, org.ID, tt.page)
				wantPage(t, "FindAuditEvents", events, total, err, tt.want, n)
			})
		}
		events, total, err := s.FindAuditEvents(ctx, MustNewID(t), keywarden.Page{})
		wantPage(t, "FindAuditEvents of an unknown organization", events, total, err, nil, 0)
	})

	t.Run("CreateOrganizationWritesItsEvent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, withOwner := range []bool{true, false} {
			org, owner := NewOrganization(t), NewUser(t)
			if !withOwner {
				owner = nil
			}
			e := NewAuditEvent(t, org.ID, keywarden.AuditOrgCreated, At(1))
			want := *e
			if err := s.CreateOrganization(ctx, org, owner, e); err != nil {
				t.Fatalf("CreateOrganization (owner %v): %v", withOwner, err)
			}
			wantAuditEvents(t, s, org.ID, &want)
		}
	})

	t.Run("FailedCreateOrganizationWritesNoEvent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first, firstOwner := MustCreateOrganization(t, s)
		for name, clash := range map[string]func(*keywarden.Organization, *keywarden.User){
			"TakenName":  func(o *keywarden.Organization, _ *keywarden.User) { o.Name = first.Name },
			"TakenEmail": func(_ *keywarden.Organization, u *keywarden.User) { u.Email = firstOwner.Email },
		} {
			org, owner := NewOrganization(t), NewUser(t)
			clash(org, owner)
			wantCode(t, s.CreateOrganization(ctx, org, owner, NewAuditEvent(t, org.ID, keywarden.AuditOrgCreated, At(1))), keywarden.ECONFLICT)
			_, err := s.FindOrganizationByID(ctx, org.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
			wantAuditEvents(t, s, org.ID)
			if t.Failed() {
				t.Fatalf("%s: the failed creation left something behind", name)
			}
		}
		wantAuditEvents(t, s, first.ID)
	})

	t.Run("RecordAuditEventAppendsOnItsOwn", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		signedIn := NewAuditEvent(t, org.ID, keywarden.AuditSignedIn, At(1))
		// A throttled burst: an anonymous actor, no ID nor process.
		throttled := &keywarden.AuditEvent{
			ID: MustNewID(t), OrgID: org.ID, At: At(2), Actor: keywarden.Actor{Type: keywarden.ActorAnonymous},
			Action: keywarden.AuditAuthThrottled, TargetType: "api_key", TargetName: "kwo_abc",
			RemoteAddr: "2001:db8::1", UserAgent: "curl/8.5.0",
		}
		want := []keywarden.AuditEvent{*throttled, *signedIn}
		for _, e := range []*keywarden.AuditEvent{signedIn, throttled} {
			if err := s.RecordAuditEvent(ctx, e); err != nil {
				t.Fatalf("RecordAuditEvent(%s): %v", e.Action, err)
			}
		}
		wantAuditEvents(t, s, org.ID, &want[0], &want[1])
		wantAuditEvents(t, s, other.ID)
		events, _, err := s.FindAuditEventsAfter(ctx, keywarden.AuditFilter{OrgID: org.ID, Action: keywarden.AuditSignedIn})
		wantPage(t, "FindAuditEventsAfter(action)", events, len(events), err, []*keywarden.AuditEvent{&want[1]}, 1)
	})

	t.Run("RecordAuditEventRefusesAWrongEvent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		first := NewAuditEvent(t, org.ID, keywarden.AuditSignInFailed, At(1))
		if err := s.RecordAuditEvent(ctx, first); err != nil {
			t.Fatalf("RecordAuditEvent: %v", err)
		}
		want := *first
		taken := NewAuditEvent(t, org.ID, keywarden.AuditSignInFailed, At(2))
		taken.ID = first.ID
		wantCode(t, s.RecordAuditEvent(ctx, taken), keywarden.ECONFLICT)
		wantCode(t, s.RecordAuditEvent(ctx, NewAuditEvent(t, MustNewID(t), keywarden.AuditSignInFailed, At(3))), keywarden.ENOTFOUND)
		wantCode(t, s.RecordAuditEvent(ctx, nil), keywarden.EINVALID)
		wantAuditEvents(t, s, org.ID, &want)
	})

	t.Run("UserAgentRoundTripsAtItsBound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		e := NewAuditEvent(t, org.ID, keywarden.AuditSignedIn, At(1))
		e.UserAgent = keywarden.CleanUserAgent(strings.Repeat("Mozilla/5.0 ☃ ", 100))
		if len(e.UserAgent) < keywarden.MaxUserAgentBytes-3 {
			t.Fatalf("the test's user agent is %d bytes, want it at the bound", len(e.UserAgent))
		}
		want := *e
		if err := s.RecordAuditEvent(ctx, e); err != nil {
			t.Fatalf("RecordAuditEvent: %v", err)
		}
		wantAuditEvents(t, s, org.ID, &want)
	})

	t.Run("EventsOutliveWhatTheyMention", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		var want []*keywarden.AuditEvent
		event := func(action string) *keywarden.AuditEvent {
			e := NewAuditEvent(t, org.ID, action, At(len(want)))
			want = append([]*keywarden.AuditEvent{e}, want...) // newest first
			return e
		}
		p := NewProcess(t, org.ID, At(0))
		if err := s.CreateProcess(ctx, p, event(keywarden.AuditProcessCreated)); err != nil {
			t.Fatalf("CreateProcess: %v", err)
		}
		k := NewAPIKey(t, org.ID, p.ID, At(1))
		if err := s.CreateAPIKey(ctx, k, event(keywarden.AuditAPIKeyCreated)); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(2))
		g := &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: p.ID, UserID: u.ID, Role: keywarden.ProcessManager}
		if err := s.SetProcessGrant(ctx, g, event(keywarden.AuditProcessGrantSet)); err != nil {
			t.Fatalf("SetProcessGrant: %v", err)
		}
		if err := DeleteAPIKey(ctx, s, org.ID, k.ID, event(keywarden.AuditAPIKeyDeleted)); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		if err := s.RemoveMember(ctx, org.ID, u.ID, event(keywarden.AuditMemberRemoved)); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		if err := s.DeleteProcess(ctx, org.ID, p.ID, event(keywarden.AuditProcessDeleted)); err != nil {
			t.Fatalf("DeleteProcess: %v", err)
		}
		wantAuditEvents(t, s, org.ID, want...)
	})
}
