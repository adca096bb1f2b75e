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
	p := keywarden.PrincipalForKey(k)
	if p.OrgID != k.OrgID || p.ProcessID != k.ProcessID || p.KeyID != k.ID || p.KeyUser != k.User || !p.ExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("PrincipalForKey = %+v, want the key's organization, process, ID, user and expiry", p)
	}
	if want := (keywarden.Actor{Type: keywarden.ActorAPIKey, ID: k.ID, Name: k.Name}); p.Actor != want {
		t.Errorf("Actor = %+v, want %+v", p.Actor, want)
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
