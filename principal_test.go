package keywarden_test

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func TestPrincipalHasScope(t *testing.T) {
	p := &keywarden.Principal{OrgID: testOrgID, Scopes: []keywarden.Scope{"workspace.file:upload", "workspace.result:read"}}
	for _, tc := range []struct {
		scope keywarden.Scope
		want  bool
	}{
		{"workspace.file:upload", true},
		{"workspace.result:read", true},
		{"workspace.file:download", false},
		{"workspace.file", false},
		{"all", false},
		{"", false},
	} {
		outcome := "held"
		if !tc.want {
			outcome = "not held"
		}
		t.Run(string(tc.scope)+" is "+outcome, func(t *testing.T) {
			if got := p.HasScope(tc.scope); got != tc.want {
				t.Errorf("HasScope(%q) = %v, want %v", tc.scope, got, tc.want)
			}
		})
	}
	t.Run("principal without scopes holds nothing", func(t *testing.T) {
		if (&keywarden.Principal{OrgID: testOrgID}).HasScope("workspace.file:upload") {
			t.Error("HasScope = true for a principal without scopes")
		}
	})
}

func TestPrincipalReachAndLevel(t *testing.T) {
	orgP := &keywarden.Principal{OrgID: testOrgID}
	procP := &keywarden.Principal{OrgID: testOrgID, ProcessID: testProcessID}
	for _, tc := range []struct {
		name      string
		p         *keywarden.Principal
		processID string
		want      bool
	}{
		{"organization principal reaches a process", orgP, testProcessID, true},
		{"organization principal reaches another process", orgP, otherProcess, true},
		{"organization principal reaches the organization", orgP, "", true},
		{"process principal reaches its process", procP, testProcessID, true},
		{"process principal does not reach another process", procP, otherProcess, false},
		{"process principal does not reach the organization", procP, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.CanReachProcess(tc.processID); got != tc.want {
				t.Errorf("CanReachProcess(%q) = %v, want %v", tc.processID, got, tc.want)
			}
		})
	}
	t.Run("levels follow the process", func(t *testing.T) {
		if orgP.Level() != keywarden.LevelOrganization || procP.Level() != keywarden.LevelProcess {
			t.Errorf("Level = %q and %q, want organization and process", orgP.Level(), procP.Level())
		}
	})
}

func TestPrincipalForKey(t *testing.T) {
	k := &keywarden.APIKey{
		ID: "0123456789abcdef0123456789abcdef", OrgID: testOrgID, ProcessID: testProcessID, Name: "CI",
		User: "kwp_AAAAAAAAAAAAAAAAAAAA", Scopes: []keywarden.Scope{"workspace.file:upload"},
		ExpiresAt: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	p := keywarden.PrincipalForKey(k.Identity(keywarden.MustDefaultCatalogue()), keywarden.MustDefaultCatalogue())
	if p.OrgID != k.OrgID || p.ProcessID != k.ProcessID || p.KeyID != k.ID || p.KeyUser != k.User || !p.ExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("PrincipalForKey = %+v, want the key's organization, process, ID, user and expiry", p)
	}
	if want := (keywarden.Actor{Type: keywarden.ActorAPIKey, ID: k.ID, Name: k.Name}); p.Actor != want {
		t.Errorf("Actor = %+v, want %+v", p.Actor, want)
	}
	upload, _ := keywarden.MustDefaultCatalogue().Index("workspace.file:upload")
	download, _ := keywarden.MustDefaultCatalogue().Index("workspace.file:download")
	if !p.HasScopeBit(k.ProcessID, upload, "workspace.file:upload") || p.HasScopeBit(k.ProcessID, download, "workspace.file:download") ||
		p.HasScopeBit("another", upload, "workspace.file:upload") {
		t.Error("HasScopeBit disagrees with the key's scopes")
	}
	if p.Level() != keywarden.LevelProcess || !p.HasScope("workspace.file:upload") || p.HasScope("workspace.file:download") {
		t.Errorf("principal of a process key with one scope: Level %q, scopes %v", p.Level(), p.Scopes)
	}
}

func TestPrincipalContext(t *testing.T) {
	t.Run("principal round-trips through the context", func(t *testing.T) {
		p := &keywarden.Principal{OrgID: testOrgID}
		ctx := keywarden.NewContextWithPrincipal(context.Background(), p)
		if got := keywarden.PrincipalFromContext(ctx); got != p {
			t.Errorf("PrincipalFromContext = %v, want %v", got, p)
		}
	})
	t.Run("context without a principal gives nil", func(t *testing.T) {
		if got := keywarden.PrincipalFromContext(context.Background()); got != nil {
			t.Errorf("PrincipalFromContext = %+v, want nil", got)
		}
	})
}

// TestPrincipalForMember: owners and admins are organization-wide; a
// user-role member reaches only granted processes, with the scopes of their
// process role there and nothing at organization level.
func TestPrincipalForMember(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	u := &keywarden.User{ID: "u1", Email: "ada@example.com"}
	for _, role := range []keywarden.Role{keywarden.RoleOwner, keywarden.RoleAdmin} {
		p := keywarden.PrincipalForMember(u, &keywarden.Membership{OrgID: testOrgID, UserID: "u1", Role: role}, nil, c)
		if p.Level() != keywarden.LevelOrganization || !p.IsAdmin() || !p.HasScope(keywarden.ScopeAdminAPIKeyManage) ||
			!p.CanReachProcess("any") || p.Actor.Type != keywarden.ActorUser {
			t.Errorf("%s: principal %+v is not organization-wide", role, p)
		}
	}

	grants := []*keywarden.ProcessGrant{
		{ProcessID: "managed", Role: keywarden.ProcessManager},
		{ProcessID: "used", Role: keywarden.ProcessUser},
	}
	p := keywarden.PrincipalForMember(u, &keywarden.Membership{OrgID: testOrgID, UserID: "u1", Role: keywarden.RoleUser}, grants, c)
	checks := []struct {
		name string
		got  bool
		want bool
	}{
		{"level is process", p.Level() == keywarden.LevelProcess, true},
		{"not an admin", p.IsAdmin(), false},
		{"reaches a managed process", p.CanReachProcess("managed"), true},
		{"reaches a used process", p.CanReachProcess("used"), true},
		{"does not reach another process", p.CanReachProcess("other"), false},
		{"does not reach the organization", p.CanReachProcess(""), false},
		{"manages keys of the managed process", p.HasScopeOn("managed", keywarden.ScopeProcessAPIKeyManage), true},
		{"does not manage keys of the used process", p.HasScopeOn("used", keywarden.ScopeProcessAPIKeyManage), false},
		{"reads the used process", p.HasScopeOn("used", keywarden.ScopeProcessRead), true},
		{"holds no organization scope", p.HasScope(keywarden.ScopeProcessRead), false},
		{"holds process:read somewhere", p.HoldsAnywhere(keywarden.ScopeProcessRead), true},
		{"holds admin scopes nowhere", p.HoldsAnywhere(keywarden.ScopeAdminAPIKeyManage), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
	ids, restricted := p.VisibleProcesses()
	if !restricted || len(ids) != 2 || ids[0] != "managed" || ids[1] != "used" {
		t.Errorf("VisibleProcesses = %v, %v", ids, restricted)
	}
	none := keywarden.PrincipalForMember(u, &keywarden.Membership{OrgID: testOrgID, UserID: "u1", Role: keywarden.RoleUser}, nil, c)
	if ids, restricted := none.VisibleProcesses(); !restricted || len(ids) != 0 {
		t.Errorf("a member without grants sees %v (restricted %v)", ids, restricted)
	}
}

func TestProcessScopes(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	manager, user := c.ProcessScopes(keywarden.ProcessManager), c.ProcessScopes(keywarden.ProcessUser)
	if len(manager) != len(c.ForLevel(keywarden.LevelProcess)) {
		t.Errorf("a manager holds %d scopes, want every process scope", len(manager))
	}
	for _, s := range user {
		if s == keywarden.ScopeProcessAPIKeyManage || s == keywarden.ScopeProcessUpdate {
			t.Errorf("a process user holds %s", s)
		}
	}
	if len(user) != len(manager)-2 {
		t.Errorf("a process user holds %d scopes, want %d", len(user), len(manager)-2)
	}
}
