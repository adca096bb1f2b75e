package client_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
)

func TestOrgKeysCreateListGetDelete(t *testing.T) {
	f := MustServer(t)
	ctx := context.Background()

	var created []*api.APIKey
	for _, name := range []string{"CI upload", "Nightly export", "Reporting"} {
		k, err := f.admin.CreateOrgKey(ctx, api.CreateAPIKeyRequest{Name: name,
			Scopes: []string{"workspace.file:upload", "workspace.process:read"}, Exp: f.exp(90 * 24 * time.Hour)})
		if err != nil {
			t.Fatalf("CreateOrgKey(%q): %v", name, err)
		}
		if k.Name != name || k.OrgID != f.org.ID || k.ProcessID != "" || k.Level != keywarden.LevelOrganization ||
			!strings.HasPrefix(k.User, keywarden.DefaultOrgKeyPrefix) || k.Status != "Active" ||
			!slices.Equal(k.Scopes, []keywarden.Scope{"workspace.process:read", "workspace.file:upload"}) {
			t.Fatalf("created key = %+v", k)
		}
		// The secret is shown once, and it works.
		if !strings.HasPrefix(k.Key, k.User+":") {
			t.Fatalf("created key's Key = %q, want %s:…", k.Key, k.User)
		}
		if me, err := client.New(f.srv.URL, k.Key).Me(ctx); err != nil || me.KeyID != k.ID {
			t.Fatalf("Me with the new key = %+v, %v", me, err)
		}
		created = append(created, k)
	}

	// Four keys in all (the fixture's own and three), two pages of two.
	seen := map[string]bool{}
	for _, offset := range []int{0, 2} {
		l, err := f.admin.ListOrgKeys(ctx, client.Page{Offset: offset, Limit: 2})
		if err != nil {
			t.Fatalf("ListOrgKeys(offset %d): %v", offset, err)
		}
		if want := (api.Pagination{Offset: offset, Limit: 2, Total: 4}); l.Pagination != want || len(l.APIKeys) != 2 {
			t.Fatalf("page at %d: pagination %+v with %d keys, want %+v with 2", offset, l.Pagination, len(l.APIKeys), want)
		}
		for _, k := range l.APIKeys {
			if k.Key != "" {
				t.Fatalf("listed key %s carries its secret", k.ID)
			}
			seen[k.ID] = true
		}
	}
	for _, k := range created {
		if !seen[k.ID] {
			t.Fatalf("key %s is on neither page (seen %v)", k.ID, seen)
		}
	}
	if l, err := f.admin.ListOrgKeys(ctx, client.Page{}); err != nil || l.Pagination.Limit != keywarden.DefaultPageLimit || len(l.APIKeys) != 4 {
		t.Fatalf("ListOrgKeys(default page) = %+v, %v", l, err)
	}
	_, err := f.admin.ListOrgKeys(ctx, client.Page{Limit: 101})
	if e := MustError(t, err, http.StatusBadRequest); len(e.Problem.Errors) != 1 || e.Problem.Errors[0].Location != "query: limit" {
		t.Fatalf("limit 101: problem %+v", e.Problem)
	}

	k := created[1]
	got, err := f.admin.GetOrgKey(ctx, k.ID)
	if err != nil || got.ID != k.ID || got.User != k.User || got.Name != k.Name || got.Key != "" {
		t.Fatalf("GetOrgKey = %+v, %v", got, err)
	}

	if err := f.admin.DeleteOrgKey(ctx, k.ID); err != nil {
		t.Fatalf("DeleteOrgKey: %v", err)
	}
	_, err = f.admin.GetOrgKey(ctx, k.ID)
	e := MustError(t, err, http.StatusNotFound)
	if e.Problem.Type != api.ProblemType(keywarden.ENOTFOUND) || e.Problem.Detail != "API key not found." ||
		e.Problem.Instance != "/api/v1/admin/api-keys/"+k.ID || !client.IsNotFound(err) || client.IsForbidden(err) {
		t.Fatalf("GetOrgKey after delete: %+v", e.Problem)
	}
	if err := f.admin.DeleteOrgKey(ctx, k.ID); !client.IsNotFound(err) {
		t.Fatalf("second DeleteOrgKey = %v, want 404", err)
	}
	if _, err := client.New(f.srv.URL, k.Key).Me(ctx); !client.IsUnauthorized(err) {
		t.Fatalf("Me with the deleted key = %v, want 401", err)
	}
}

func TestCreateOrgKeyReportsEveryInvalidField(t *testing.T) {
	f := MustServer(t)
	_, err := f.admin.CreateOrgKey(context.Background(), api.CreateAPIKeyRequest{Name: "",
		Scopes: []string{"workspace.nothing:read"}, Exp: "tomorrow"})
	e := MustError(t, err, http.StatusBadRequest)
	var locations []string
	for _, fe := range e.Problem.Errors {
		locations = append(locations, fe.Location)
	}
	for _, want := range []string{"body: name", "body: scopes[0]", "body: exp"} {
		if !slices.Contains(locations, want) {
			t.Errorf("no field error at %q in %v", want, locations)
		}
		// Error() names every field, so a log line is enough to fix the call.
		if !strings.Contains(err.Error(), want+": ") {
			t.Errorf("Error() = %q does not name %q", err, want)
		}
	}
	if e.Problem.Type != api.ProblemType(keywarden.EINVALID) || !strings.Contains(err.Error(), "400 Bad Request") {
		t.Errorf("problem %+v, Error() %q", e.Problem, err)
	}
}

func TestProcessKeysCreateListGetDelete(t *testing.T) {
	f := MustServer(t)
	ctx := context.Background()
	proc, err := f.admin.CreateProcess(ctx, api.CreateProcessRequest{Name: "Invoices"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.admin.CreateProcessKey(ctx, proc.ID, api.CreateAPIKeyRequest{Name: "Scanner",
		Scopes: []string{"workspace.file:upload"}, Exp: f.exp(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("CreateProcessKey: %v", err)
	}
	if k.ProcessID != proc.ID || k.Level != keywarden.LevelProcess || !strings.HasPrefix(k.User, keywarden.DefaultProcessKeyPrefix) ||
		!strings.HasPrefix(k.Key, k.User+":") {
		t.Fatalf("created process key = %+v", k)
	}
	// A process key cannot hold an organization-level scope.
	_, err = f.admin.CreateProcessKey(ctx, proc.ID, api.CreateAPIKeyRequest{Name: "Too wide",
		Scopes: []string{"workspace.process:create"}, Exp: f.exp(time.Hour)})
	MustError(t, err, http.StatusBadRequest)

	l, err := f.admin.ListProcessKeys(ctx, proc.ID, client.Page{Limit: 10})
	if err != nil || len(l.APIKeys) != 1 || l.APIKeys[0].ID != k.ID || l.Pagination.Total != 1 {
		t.Fatalf("ListProcessKeys = %+v, %v", l, err)
	}
	got, err := f.admin.GetProcessKey(ctx, proc.ID, k.ID)
	if err != nil || got.ID != k.ID || got.ProcessID != proc.ID || got.Key != "" {
		t.Fatalf("GetProcessKey = %+v, %v", got, err)
	}
	// A process key is not an organization key, and the server says 404
	// rather than admitting it exists elsewhere.
	if _, err := f.admin.GetOrgKey(ctx, k.ID); !client.IsNotFound(err) {
		t.Fatalf("GetOrgKey(process key) = %v, want 404", err)
	}
	// The process key itself may not use org-level endpoints.
	if _, err := client.New(f.srv.URL, k.Key).ListOrgKeys(ctx, client.Page{}); !client.IsForbidden(err) {
		t.Fatalf("ListOrgKeys with a process key = %v, want 403", err)
	}

	if err := f.admin.DeleteProcessKey(ctx, proc.ID, k.ID); err != nil {
		t.Fatalf("DeleteProcessKey: %v", err)
	}
	_, err = f.admin.GetProcessKey(ctx, proc.ID, k.ID)
	MustError(t, err, http.StatusNotFound)
}
