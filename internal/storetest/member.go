package storetest

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testMembers(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	// wantRole fails t unless userID is a member of orgID with role.
	wantRole := func(t *testing.T, s keywarden.Store, orgID, userID string, role keywarden.Role) {
		t.Helper()
		m, err := s.FindMembership(ctx, orgID, userID)
		if err != nil {
			t.Fatalf("FindMembership: %v", err)
		}
		wantEqual(t, "FindMembership", m, &keywarden.Membership{OrgID: orgID, UserID: userID, Role: role})
	}
	wantInvite := func(t *testing.T, s keywarden.Store, want *keywarden.Invite) {
		t.Helper()
		got, err := s.FindInvite(ctx, want.ID)
		if err != nil {
			t.Fatalf("FindInvite: %v", err)
		}
		wantEqual(t, "FindInvite", got, want)
	}
	wantUser := func(t *testing.T, s keywarden.Store, want *keywarden.User) {
		t.Helper()
		got, err := s.FindUserByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("FindUserByID: %v", err)
		}
		wantEqual(t, "FindUserByID", got, want)
	}
	wantGrants := func(t *testing.T, what string, got []*keywarden.ProcessGrant, err error, want ...*keywarden.ProcessGrant) {
		t.Helper()
		wantPage(t, what, got, len(got), err, want, len(want))
	}

	t.Run("UserIsFoundByID", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, owner := MustCreateOrganization(t, s)
		wantUser(t, s, owner)
		_, err := s.FindUserByID(ctx, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("UserMembershipsAreOldestFirst", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// IDs in the opposite order to the joining times, so that neither
		// ID nor insertion order can pass for time order.
		ids := []string{MustNewID(t), MustNewID(t), MustNewID(t)}
		slices.Sort(ids)
		newOrg := func(id string) *keywarden.Organization {
			org := NewOrganization(t)
			org.ID = id
			return org
		}
		early, org, late := newOrg(ids[2]), newOrg(ids[1]), newOrg(ids[0])
		for _, o := range []*keywarden.Organization{early, late} {
			if err := s.CreateOrganization(ctx, o, NewUser(t), nil); err != nil {
				t.Fatalf("CreateOrganization: %v", err)
			}
		}
		// The owner's membership dates from the organization's creation.
		u := NewUser(t)
		org.CreatedAt = At(5)
		if err := s.CreateOrganization(ctx, org, u, nil); err != nil {
			t.Fatalf("CreateOrganization: %v", err)
		}
		MustJoin(t, s, late.ID, u, keywarden.RoleUser, At(9))
		MustJoin(t, s, early.ID, u, keywarden.RoleAdmin, At(1))
		MustAddMember(t, s, early.ID, keywarden.RoleUser, At(2)) // somebody else

		ms, err := s.FindUserMemberships(ctx, u.ID)
		wantPage(t, "FindUserMemberships", ms, len(ms), err, []*keywarden.Membership{
			{OrgID: early.ID, UserID: u.ID, Role: keywarden.RoleAdmin},
			{OrgID: org.ID, UserID: u.ID, Role: keywarden.RoleOwner},
			{OrgID: late.ID, UserID: u.ID, Role: keywarden.RoleUser},
		}, 3)
		ms, err = s.FindUserMemberships(ctx, MustNewID(t))
		wantPage(t, "FindUserMemberships of an unknown user", ms, len(ms), err, nil, 0)
	})

	t.Run("MembersArePagedOldestFirstWithEmailAndTotal", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		MustAddMember(t, s, other.ID, keywarden.RoleAdmin, At(1)) // never listed for org
		roles := []keywarden.Role{keywarden.RoleAdmin, keywarden.RoleUser, keywarden.RoleOwner}
		want := []*keywarden.Member{{UserID: owner.ID, Email: owner.Email, Role: keywarden.RoleOwner}}
		// Joined newest first, so that insertion order is not list order,
		// and in pairs that share a time, so that the user ID must break
		// the tie for pages to be stable.
		joined := make([]*keywarden.Member, 7)
		for i := len(joined) - 1; i >= 0; i-- {
			role := roles[i%len(roles)]
			u := MustAddMember(t, s, org.ID, role, At(1+i-i%2))
			joined[i] = &keywarden.Member{UserID: u.ID, Email: u.Email, Role: role}
		}
		for i := 0; i < len(joined); i += 2 {
			pair := joined[i:min(i+2, len(joined))]
			slices.SortFunc(pair, func(a, b *keywarden.Member) int { return strings.Compare(a.UserID, b.UserID) })
		}
		want = append(want, joined...)
		n := len(want)
		for _, tt := range []struct {
			name string
			page keywarden.Page
			want []*keywarden.Member
		}{
			{"ZeroLimitIsDefault", keywarden.Page{}, want},
			{"Window", keywarden.Page{Offset: 2, Limit: 3}, want[2:5]},
			{"LastPartialPage", keywarden.Page{Offset: n - 2, Limit: 5}, want[n-2:]},
			{"PastTheEndIsEmpty", keywarden.Page{Offset: n, Limit: 5}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				members, total, err := s.FindMembers(ctx, org.ID, tt.page)
				wantPage(t, "FindMembers", members, total, err, tt.want, n)
			})
		}
		members, total, err := s.FindMembers(ctx, MustNewID(t), keywarden.Page{})
		wantPage(t, "FindMembers of an unknown organization", members, total, err, nil, 0)
	})

	t.Run("SetMemberRoleChangesOnlyThatMembership", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		MustJoin(t, s, other.ID, u, keywarden.RoleUser, At(1))
		for _, role := range []keywarden.Role{keywarden.RoleAdmin, keywarden.RoleOwner, keywarden.RoleUser} {
			if err := s.SetMemberRole(ctx, org.ID, u.ID, role, nil); err != nil {
				t.Fatalf("SetMemberRole %s: %v", role, err)
			}
			wantRole(t, s, org.ID, u.ID, role)
		}
		wantRole(t, s, other.ID, u.ID, keywarden.RoleUser)
		wantRole(t, s, org.ID, owner.ID, keywarden.RoleOwner)
	})

	t.Run("SetMemberRoleOfNonMemberIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, otherOwner := MustCreateOrganization(t, s)
		v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
		for _, tt := range []struct {
			name, orgID, userID string
		}{
			{"AnotherOrganizationsMember", org.ID, v.ID},
			{"AnotherOrganizationsOwner", org.ID, otherOwner.ID},
			{"OwnerInAnotherOrganization", other.ID, owner.ID},
			{"UnknownUser", org.ID, MustNewID(t)},
			{"UnknownOrganization", MustNewID(t), owner.ID},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, s.SetMemberRole(ctx, tt.orgID, tt.userID, keywarden.RoleAdmin, nil), keywarden.ENOTFOUND)
				_, err := s.FindMembership(ctx, tt.orgID, tt.userID)
				wantCode(t, err, keywarden.ENOTFOUND)
			})
		}
		wantRole(t, s, other.ID, v.ID, keywarden.RoleUser)
		wantRole(t, s, other.ID, otherOwner.ID, keywarden.RoleOwner)
		wantRole(t, s, org.ID, owner.ID, keywarden.RoleOwner)
	})

	t.Run("LastOwnerIsKept", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		// Owners of another organization do not count, not even the same
		// user's ownership there.
		other, _ := MustCreateOrganization(t, s)
		MustJoin(t, s, other.ID, owner, keywarden.RoleOwner, At(1))
		admin := MustAddMember(t, s, org.ID, keywarden.RoleAdmin, At(1))

		for _, role := range []keywarden.Role{keywarden.RoleAdmin, keywarden.RoleUser} {
			wantCode(t, s.SetMemberRole(ctx, org.ID, owner.ID, role, nil), keywarden.ECONFLICT)
		}
		wantCode(t, s.RemoveMember(ctx, org.ID, owner.ID, nil), keywarden.ECONFLICT)
		wantRole(t, s, org.ID, owner.ID, keywarden.RoleOwner)
		if err := s.SetMemberRole(ctx, org.ID, owner.ID, keywarden.RoleOwner, nil); err != nil {
			t.Errorf("SetMemberRole of the last owner to owner: %v", err)
		}

		// With a second owner, the first may step down; then the second is
		// the last.
		if err := s.SetMemberRole(ctx, org.ID, admin.ID, keywarden.RoleOwner, nil); err != nil {
			t.Fatalf("SetMemberRole to a second owner: %v", err)
		}
		if err := s.SetMemberRole(ctx, org.ID, owner.ID, keywarden.RoleAdmin, nil); err != nil {
			t.Fatalf("SetMemberRole demoting one of two owners: %v", err)
		}
		wantCode(t, s.SetMemberRole(ctx, org.ID, admin.ID, keywarden.RoleUser, nil), keywarden.ECONFLICT)
		wantCode(t, s.RemoveMember(ctx, org.ID, admin.ID, nil), keywarden.ECONFLICT)
		wantRole(t, s, org.ID, admin.ID, keywarden.RoleOwner)

		// Removing one of two owners is allowed too.
		if err := s.SetMemberRole(ctx, org.ID, owner.ID, keywarden.RoleOwner, nil); err != nil {
			t.Fatalf("SetMemberRole back to owner: %v", err)
		}
		if err := s.RemoveMember(ctx, org.ID, admin.ID, nil); err != nil {
			t.Fatalf("RemoveMember of one of two owners: %v", err)
		}
		wantCode(t, s.RemoveMember(ctx, org.ID, owner.ID, nil), keywarden.ECONFLICT)
		wantRole(t, s, org.ID, owner.ID, keywarden.RoleOwner)
	})

	t.Run("ConcurrentDemotionsKeepAnOwner", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		second := MustAddMember(t, s, org.ID, keywarden.RoleOwner, At(1))
		owners := []*keywarden.User{owner, second}
		errs := make([]error, len(owners))
		var wg sync.WaitGroup
		for i, u := range owners {
			wg.Go(func() {
				if i == 0 {
					errs[i] = s.SetMemberRole(ctx, org.ID, u.ID, keywarden.RoleAdmin, nil)
				} else {
					errs[i] = s.RemoveMember(ctx, org.ID, u.ID, nil)
				}
			})
		}
		wg.Wait()
		succeeded := 0
		for _, err := range errs {
			if err == nil {
				succeeded++
			} else {
				wantCode(t, err, keywarden.ECONFLICT)
			}
		}
		if succeeded != 1 {
			t.Errorf("%d of 2 concurrent changes to the only two owners succeeded, want 1", succeeded)
		}
		members, _, err := s.FindMembers(ctx, org.ID, keywarden.Page{})
		if err != nil {
			t.Fatalf("FindMembers: %v", err)
		}
		var left int
		for _, m := range members {
			if m.Role == keywarden.RoleOwner {
				left++
			}
		}
		if left != 1 {
			t.Errorf("%d owners left, want 1: %s", left, show(members))
		}
	})

	t.Run("RemoveMemberTakesTheirGrantsAndSessionsOfThatOrganization", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		MustJoin(t, s, other.ID, u, keywarden.RoleUser, At(1))
		w := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(2))
		p := MustCreateProcess(t, s, org.ID, At(1))
		q := MustCreateProcess(t, s, other.ID, At(1))
		MustSetProcessGrant(t, s, p, u, keywarden.ProcessManager)
		keptGrant := MustSetProcessGrant(t, s, p, w, keywarden.ProcessUser)
		otherGrant := MustSetProcessGrant(t, s, q, u, keywarden.ProcessUser)
		doomedSession := MustCreateSession(t, s, u.ID, org.ID, At(3))
		keptSessions := []*keywarden.Session{
			MustCreateSession(t, s, u.ID, other.ID, At(3)),
			MustCreateSession(t, s, w.ID, org.ID, At(3)),
		}

		if err := s.RemoveMember(ctx, org.ID, u.ID, nil); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		_, err := s.FindMembership(ctx, org.ID, u.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		members, total, err := s.FindMembers(ctx, org.ID, keywarden.Page{})
		wantPage(t, "FindMembers", members, total, err, []*keywarden.Member{
			{UserID: owner.ID, Email: owner.Email, Role: keywarden.RoleOwner},
			{UserID: w.ID, Email: w.Email, Role: keywarden.RoleUser},
		}, 2)
		grants, err := s.FindUserGrants(ctx, org.ID, u.ID)
		wantGrants(t, "FindUserGrants of the removed member", grants, err)
		grants, err = s.FindProcessGrants(ctx, org.ID, p.ID)
		wantGrants(t, "FindProcessGrants", grants, err, keptGrant)
		_, err = s.FindSession(ctx, doomedSession.ID)
		wantCode(t, err, keywarden.ENOTFOUND)

		// The user, and everything of theirs in the other organization, stays.
		wantUser(t, s, u)
		wantRole(t, s, other.ID, u.ID, keywarden.RoleUser)
		grants, err = s.FindUserGrants(ctx, other.ID, u.ID)
		wantGrants(t, "FindUserGrants in the other organization", grants, err, otherGrant)
		for _, want := range keptSessions {
			got, err := s.FindSession(ctx, want.ID)
			if err != nil {
				t.Fatalf("FindSession of a kept session: %v", err)
			}
			wantEqual(t, "a kept session", got, want)
		}
		wantCode(t, s.RemoveMember(ctx, org.ID, u.ID, nil), keywarden.ENOTFOUND)
	})

	t.Run("SetUserPasswordEndsEverySessionOfTheUserOnly", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		MustJoin(t, s, other.ID, u, keywarden.RoleAdmin, At(1))
		w := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(2))
		doomed := []*keywarden.Session{MustCreateSession(t, s, u.ID, org.ID, At(3)), MustCreateSession(t, s, u.ID, other.ID, At(3))}
		kept := MustCreateSession(t, s, w.ID, org.ID, At(3))

		if err := s.SetUserPassword(ctx, u.ID, "a new hash", nil); err != nil {
			t.Fatalf("SetUserPassword: %v", err)
		}
		want := *u
		want.PasswordHash = "a new hash"
		wantUser(t, s, &want)
		wantUser(t, s, w)
		for _, d := range doomed {
			_, err := s.FindSession(ctx, d.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		if _, err := s.FindSession(ctx, kept.ID); err != nil {
			t.Errorf("FindSession of another user's session: %v", err)
		}
		wantRole(t, s, org.ID, u.ID, keywarden.RoleUser)
		wantRole(t, s, other.ID, u.ID, keywarden.RoleAdmin)
		wantCode(t, s.SetUserPassword(ctx, MustNewID(t), "a hash", nil), keywarden.ENOTFOUND)
	})

	t.Run("RemoveNonMemberIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
		session := MustCreateSession(t, s, v.ID, other.ID, At(2))
		wantCode(t, s.RemoveMember(ctx, org.ID, v.ID, nil), keywarden.ENOTFOUND)
		wantCode(t, s.RemoveMember(ctx, org.ID, MustNewID(t), nil), keywarden.ENOTFOUND)
		wantCode(t, s.RemoveMember(ctx, MustNewID(t), owner.ID, nil), keywarden.ENOTFOUND)
		wantRole(t, s, other.ID, v.ID, keywarden.RoleUser)
		if _, err := s.FindSession(ctx, session.ID); err != nil {
			t.Errorf("FindSession of a member of another organization: %v", err)
		}
	})

	t.Run("InviteIsFoundByID", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		inv := NewInvite(t, org.ID, keywarden.RoleAdmin, At(1))
		if err := s.CreateInvite(ctx, inv, nil); err != nil {
			t.Fatalf("CreateInvite: %v", err)
		}
		wantInvite(t, s, inv)
		_, err := s.FindInvite(ctx, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("InviteToUnknownOrganizationIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		inv := NewInvite(t, MustNewID(t), keywarden.RoleUser, At(1))
		wantCode(t, s.CreateInvite(ctx, inv, nil), keywarden.ENOTFOUND)
		_, err := s.FindInvite(ctx, inv.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("DuplicateInviteIsConflict", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		first := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		inv := NewInvite(t, org.ID, keywarden.RoleOwner, At(2))
		inv.ID = first.ID
		wantCode(t, s.CreateInvite(ctx, inv, nil), keywarden.ECONFLICT)
		wantInvite(t, s, first)
	})

	t.Run("AcceptedInviteMakesANewUserAMemberOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleAdmin, At(1))
		u := NewUser(t)
		u.CreatedAt = At(2)
		if err := s.AcceptInvite(ctx, inv.ID, u, At(3), nil); err != nil {
			t.Fatalf("AcceptInvite: %v", err)
		}
		wantUser(t, s, u)
		wantRole(t, s, org.ID, u.ID, keywarden.RoleAdmin)
		members, total, err := s.FindMembers(ctx, org.ID, keywarden.Page{})
		wantPage(t, "FindMembers", members, total, err, []*keywarden.Member{
			{UserID: owner.ID, Email: owner.Email, Role: keywarden.RoleOwner},
			{UserID: u.ID, Email: u.Email, Role: keywarden.RoleAdmin},
		}, 2)

		// The invite is used up.
		_, err = s.FindInvite(ctx, inv.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		late := NewUser(t)
		wantCode(t, s.AcceptInvite(ctx, inv.ID, late, At(4), nil), keywarden.ENOTFOUND)
		_, err = s.FindUserByID(ctx, late.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindMembership(ctx, org.ID, late.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("AcceptedInviteKeepsAnExistingUserAsTheyAre", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		_, u := MustCreateOrganization(t, s)
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		changed := *u
		changed.Email = "changed-" + u.Email
		changed.PasswordHash = "$argon2id$v=19$m=65536,t=1,p=4$b3RoZXJzYWx0$b3RoZXJoYXNo"
		changed.CreatedAt = At(9)
		if err := s.AcceptInvite(ctx, inv.ID, &changed, At(2), nil); err != nil {
			t.Fatalf("AcceptInvite: %v", err)
		}
		wantUser(t, s, u)
		wantRole(t, s, org.ID, u.ID, keywarden.RoleUser)
		_, err := s.FindUserByEmail(ctx, changed.Email)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("ExpiredInviteIsNotAcceptedButStillFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		for _, tt := range []struct {
			name string
			now  time.Time
		}{
			{"AtExpiry", inv.ExpiresAt},
			{"AfterExpiry", inv.ExpiresAt.Add(time.Hour)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				u := NewUser(t)
				wantCode(t, s.AcceptInvite(ctx, inv.ID, u, tt.now, nil), keywarden.ENOTFOUND)
				_, err := s.FindUserByID(ctx, u.ID)
				wantCode(t, err, keywarden.ENOTFOUND)
				_, err = s.FindMembership(ctx, org.ID, u.ID)
				wantCode(t, err, keywarden.ENOTFOUND)
				// The caller decides what an expired invite shows.
				wantInvite(t, s, inv)
			})
		}
		u := NewUser(t)
		if err := s.AcceptInvite(ctx, inv.ID, u, inv.ExpiresAt.Add(-time.Microsecond), nil); err != nil {
			t.Fatalf("AcceptInvite a microsecond before expiry: %v", err)
		}
		wantRole(t, s, org.ID, u.ID, keywarden.RoleUser)
	})

	t.Run("ConcurrentAcceptsUseTheInviteOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		users := make([]*keywarden.User, 8)
		errs := make([]error, len(users))
		var wg sync.WaitGroup
		for i := range users {
			users[i] = NewUser(t)
			wg.Go(func() { errs[i] = s.AcceptInvite(ctx, inv.ID, users[i], At(2), nil) })
		}
		wg.Wait()
		accepted := 0
		for i, err := range errs {
			if err == nil {
				accepted++
				wantRole(t, s, org.ID, users[i].ID, keywarden.RoleUser)
				continue
			}
			wantCode(t, err, keywarden.ENOTFOUND)
			_, err := s.FindMembership(ctx, org.ID, users[i].ID)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		if accepted != 1 {
			t.Errorf("%d of %d concurrent accepts succeeded, want 1", accepted, len(users))
		}
	})

	t.Run("UnknownInviteIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		u := NewUser(t)
		wantCode(t, s.AcceptInvite(ctx, MustNewID(t), u, At(2), nil), keywarden.ENOTFOUND)
		_, err := s.FindUserByID(ctx, u.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("AlreadyMemberIsConflictAndKeepsTheInvite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleOwner, At(2))
		for _, tt := range []struct {
			name string
			user *keywarden.User
			role keywarden.Role
		}{
			{"Member", u, keywarden.RoleUser},
			{"Owner", owner, keywarden.RoleOwner},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, s.AcceptInvite(ctx, inv.ID, tt.user, At(3), nil), keywarden.ECONFLICT)
				wantInvite(t, s, inv)
				wantRole(t, s, org.ID, tt.user.ID, tt.role)
			})
		}
	})

	t.Run("TakenEmailIsConflictAndKeepsTheInvite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		_, stranger := MustCreateOrganization(t, s)
		inv := MustCreateInvite(t, s, org.ID, keywarden.RoleUser, At(1))
		u := NewUser(t)
		u.Email = stranger.Email
		wantCode(t, s.AcceptInvite(ctx, inv.ID, u, At(2), nil), keywarden.ECONFLICT)
		wantInvite(t, s, inv)
		_, err := s.FindUserByID(ctx, u.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindMembership(ctx, org.ID, u.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		_, err = s.FindMembership(ctx, org.ID, stranger.ID)
		wantCode(t, err, keywarden.ENOTFOUND)
		wantUser(t, s, stranger)
	})

	t.Run("GrantIsSetReplacedAndRemoved", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		want := &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: p.ID, UserID: u.ID, Email: u.Email}
		for _, role := range []keywarden.ProcessRole{keywarden.ProcessUser, keywarden.ProcessManager} {
			// The email is the store's to fill in, from the user.
			g := &keywarden.ProcessGrant{OrgID: org.ID, ProcessID: p.ID, UserID: u.ID, Email: "ignored@example.com", Role: role}
			if err := s.SetProcessGrant(ctx, g, nil); err != nil {
				t.Fatalf("SetProcessGrant %s: %v", role, err)
			}
			want.Role = role
			grants, err := s.FindProcessGrants(ctx, org.ID, p.ID)
			wantGrants(t, "FindProcessGrants", grants, err, want)
			grants, err = s.FindUserGrants(ctx, org.ID, u.ID)
			wantGrants(t, "FindUserGrants", grants, err, want)
		}

		if err := s.RemoveProcessGrant(ctx, org.ID, p.ID, u.ID, nil); err != nil {
			t.Fatalf("RemoveProcessGrant: %v", err)
		}
		grants, err := s.FindProcessGrants(ctx, org.ID, p.ID)
		wantGrants(t, "FindProcessGrants after removal", grants, err)
		grants, err = s.FindUserGrants(ctx, org.ID, u.ID)
		wantGrants(t, "FindUserGrants after removal", grants, err)
		wantCode(t, s.RemoveProcessGrant(ctx, org.ID, p.ID, u.ID, nil), keywarden.ENOTFOUND)
		wantRole(t, s, org.ID, u.ID, keywarden.RoleUser)
	})

	t.Run("ProcessGrantsAreByEmail", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		q := MustCreateProcess(t, s, org.ID, At(2))
		var want []*keywarden.ProcessGrant
		// Joined in an order that is neither email nor ID order.
		for i, local := range []string{"carol", "alice", "dave", "bob"} {
			u := NewUser(t)
			u.Email = local + "-" + u.ID[:8] + "@example.com"
			MustJoin(t, s, org.ID, u, keywarden.RoleUser, At(10-i))
			want = append(want, MustSetProcessGrant(t, s, p, u, keywarden.ProcessUser))
			MustSetProcessGrant(t, s, q, u, keywarden.ProcessManager) // another process's
		}
		slices.SortFunc(want, func(a, b *keywarden.ProcessGrant) int { return strings.Compare(a.Email, b.Email) })
		grants, err := s.FindProcessGrants(ctx, org.ID, p.ID)
		wantGrants(t, "FindProcessGrants", grants, err, want...)
		grants, err = s.FindProcessGrants(ctx, org.ID, MustNewID(t))
		wantGrants(t, "FindProcessGrants of an unknown process", grants, err)
	})

	t.Run("UserGrantsAreInProcessOrder", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		v := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		// Created newest first, in pairs that share a time, and granted in
		// descending ID order, so that neither insertion order nor ID order
		// alone can pass for the process order.
		procs := make([]*keywarden.Process, 8)
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i] = MustCreateProcess(t, s, org.ID, At(i-i%2))
		}
		byIDDesc := slices.Clone(procs)
		slices.SortFunc(byIDDesc, func(a, b *keywarden.Process) int { return strings.Compare(b.ID, a.ID) })
		want := make([]*keywarden.ProcessGrant, len(procs))
		for i, p := range byIDDesc {
			role := keywarden.ProcessUser
			if i%2 == 0 {
				role = keywarden.ProcessManager
			}
			want[i] = MustSetProcessGrant(t, s, p, u, role)
			MustSetProcessGrant(t, s, p, v, keywarden.ProcessUser) // another member's
		}
		created := make(map[string]*keywarden.Process, len(procs))
		for _, p := range procs {
			created[p.ID] = p
		}
		slices.SortFunc(want, func(a, b *keywarden.ProcessGrant) int {
			pa, pb := created[a.ProcessID], created[b.ProcessID]
			return cmp.Or(pa.CreatedAt.Compare(pb.CreatedAt), strings.Compare(pa.ID, pb.ID))
		})
		grants, err := s.FindUserGrants(ctx, org.ID, u.ID)
		wantGrants(t, "FindUserGrants", grants, err, want...)
		grants, err = s.FindUserGrants(ctx, org.ID, MustNewID(t))
		wantGrants(t, "FindUserGrants of an unknown user", grants, err)
	})

	t.Run("GrantAcrossOrganizationsIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		other, _ := MustCreateOrganization(t, s)
		p := MustCreateProcess(t, s, org.ID, At(1))
		q := MustCreateProcess(t, s, other.ID, At(1))
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		v := MustAddMember(t, s, other.ID, keywarden.RoleUser, At(1))
		for _, tt := range []struct {
			name                     string
			orgID, processID, userID string
		}{
			{"AnotherOrganizationsProcess", org.ID, q.ID, u.ID},
			{"AnotherOrganizationsMember", org.ID, p.ID, v.ID},
			{"ProcessAndMemberOfAnotherOrganization", other.ID, p.ID, u.ID},
			{"MemberOfTheOtherOrganizationOnOurProcess", other.ID, p.ID, v.ID},
			{"UnknownProcess", org.ID, MustNewID(t), u.ID},
			{"UnknownUser", org.ID, p.ID, MustNewID(t)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				g := &keywarden.ProcessGrant{OrgID: tt.orgID, ProcessID: tt.processID, UserID: tt.userID, Role: keywarden.ProcessManager}
				wantCode(t, s.SetProcessGrant(ctx, g, nil), keywarden.ENOTFOUND)
				grants, err := s.FindUserGrants(ctx, tt.orgID, tt.userID)
				wantGrants(t, "FindUserGrants", grants, err)
			})
		}

		g := MustSetProcessGrant(t, s, p, u, keywarden.ProcessUser)
		wantCode(t, s.RemoveProcessGrant(ctx, other.ID, p.ID, u.ID, nil), keywarden.ENOTFOUND)
		grants, err := s.FindProcessGrants(ctx, other.ID, p.ID)
		wantGrants(t, "FindProcessGrants under another organization", grants, err)
		grants, err = s.FindUserGrants(ctx, other.ID, u.ID)
		wantGrants(t, "FindUserGrants under another organization", grants, err)
		grants, err = s.FindProcessGrants(ctx, org.ID, p.ID)
		wantGrants(t, "the grant, untouched", grants, err, g)
	})

	t.Run("DeletingProcessRemovesItsGrants", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, _ := MustCreateOrganization(t, s)
		doomed := MustCreateProcess(t, s, org.ID, At(1))
		kept := MustCreateProcess(t, s, org.ID, At(2))
		u := MustAddMember(t, s, org.ID, keywarden.RoleUser, At(1))
		MustSetProcessGrant(t, s, doomed, u, keywarden.ProcessManager)
		keptGrant := MustSetProcessGrant(t, s, kept, u, keywarden.ProcessUser)
		if err := s.DeleteProcess(ctx, org.ID, doomed.ID, nil); err != nil {
			t.Fatalf("DeleteProcess: %v", err)
		}
		grants, err := s.FindProcessGrants(ctx, org.ID, doomed.ID)
		wantGrants(t, "FindProcessGrants of the deleted process", grants, err)
		grants, err = s.FindUserGrants(ctx, org.ID, u.ID)
		wantGrants(t, "FindUserGrants", grants, err, keptGrant)
		wantCode(t, s.RemoveProcessGrant(ctx, org.ID, doomed.ID, u.ID, nil), keywarden.ENOTFOUND)
		wantRole(t, s, org.ID, u.ID, keywarden.RoleUser)
	})
}
