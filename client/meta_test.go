package client_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
)

func TestMeDescribesTheCallingKey(t *testing.T) {
	f := MustServer(t)
	me, err := f.admin.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	user, _, _ := cut(f.adminKey)
	cat := keywarden.MustDefaultCatalogue()
	if me.User != user || me.KeyID == "" || me.OrgID != f.org.ID || me.ProcessID != "" || me.Level != keywarden.LevelOrganization ||
		!slices.Equal(me.Scopes, cat.ForLevel(keywarden.LevelOrganization)) || me.Exp != f.exp(60*24*time.Hour) {
		t.Fatalf("Me = %+v", me)
	}
}

func TestScopesListsTheCatalogue(t *testing.T) {
	f := MustServer(t)
	scopes, err := f.admin.Scopes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := keywarden.MustDefaultCatalogue().All(); !slices.Equal(scopes, want) {
		t.Fatalf("Scopes = %v\nwant %v", scopes, want)
	}
}

func TestVerify(t *testing.T) {
	f := MustServer(t)
	ctx := context.Background()
	proc, err := f.admin.CreateProcess(ctx, api.CreateProcessRequest{Name: "Invoices"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.admin.CreateProcess(ctx, api.CreateProcessRequest{Name: "Receipts"})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := f.admin.CreateProcessKey(ctx, proc.ID, api.CreateAPIKeyRequest{Name: "Scanner",
		Scopes: []string{"workspace.file:upload"}, Exp: f.exp(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// The verify API needs no key: this client has none.
	anon := client.New(f.srv.URL, "")
	user, _, _ := cut(pk.Key)

	tests := []struct {
		name string
		req  api.VerifyRequest
		want keywarden.VerifyCode
	}{
		{"valid with its scope on its process", api.VerifyRequest{Key: pk.Key, Scopes: []string{"workspace.file:upload"}, ProcessID: proc.ID}, keywarden.VerifyValid},
		{"valid with no requirement", api.VerifyRequest{Key: pk.Key}, keywarden.VerifyValid},
		{"invalid when the secret is wrong", api.VerifyRequest{Key: user + ":" + MustOtherPass(t)}, keywarden.VerifyInvalid},
		{"invalid when it is garbage", api.VerifyRequest{Key: "not a key"}, keywarden.VerifyInvalid},
		{"insufficient scope", api.VerifyRequest{Key: pk.Key, Scopes: []string{"workspace.result:read"}}, keywarden.VerifyInsufficientScope},
		{"wrong process", api.VerifyRequest{Key: pk.Key, ProcessID: other.ID}, keywarden.VerifyWrongProcess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := anon.Verify(ctx, tt.req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Code != tt.want || res.Valid != (tt.want == keywarden.VerifyValid) {
				t.Fatalf("Verify = %+v, want %s", res, tt.want)
			}
			if !res.Valid {
				if res.Key != nil {
					t.Fatalf("a refused key came with its identity: %+v", res.Key)
				}
				return
			}
			if k := res.Key; k == nil || k.ID != pk.ID || k.User != pk.User || k.OrgID != f.org.ID || k.ProcessID != proc.ID ||
				!slices.Equal(k.Scopes, []keywarden.Scope{"workspace.file:upload"}) || k.Exp != pk.Exp {
				t.Fatalf("verified key = %+v, want %+v", res.Key, pk)
			}
		})
	}

	t.Run("a missing key is a 400, not a verdict", func(t *testing.T) {
		_, err := anon.Verify(ctx, api.VerifyRequest{})
		if e := MustError(t, err, http.StatusBadRequest); len(e.Problem.Errors) != 1 || e.Problem.Errors[0].Location != "body: key" {
			t.Fatalf("problem %+v", e.Problem)
		}
	})
	t.Run("an unknown scope is a 400 naming it", func(t *testing.T) {
		_, err := anon.Verify(ctx, api.VerifyRequest{Key: pk.Key, Scopes: []string{"workspace.nothing:read"}})
		if e := MustError(t, err, http.StatusBadRequest); len(e.Problem.Errors) != 1 || e.Problem.Errors[0].Location != "body: scopes[0]" {
			t.Fatalf("problem %+v", e.Problem)
		}
	})
}
