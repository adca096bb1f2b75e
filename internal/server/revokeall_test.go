package server_test

import (
	"net/http"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// revokeAllScenario is the contract scenario's part for the two revoke-all
// operations: a wrong or missing confirmation is a 400 naming body: confirm
// and deletes nothing; the right one deletes every key it names and only
// those, and says how many.
func (c *contract) revokeAllScenario(t *testing.T, root credential, exp string) {
	t.Helper()
	_, data := c.ok(t, root, "POST", "/api/v1/processes", map[string]string{"name": "Compromised"}, http.StatusCreated)
	proc := mustDecode[process](t, data)
	_, data = c.ok(t, root, "POST", "/api/v1/processes", map[string]string{"name": "Bystander"}, http.StatusCreated)
	bystander := mustDecode[process](t, data)
	keysOf := func(p process) string { return "/api/v1/processes/" + p.ID + "/api-keys" }
	newKey := keywarden.CreateAPIKeyRequest{Name: "Uploader", Scopes: []string{"workspace.file:upload"}, Exp: exp}
	var revoked []keywarden.KeyMaterial
	for range 2 {
		h, data := c.ok(t, root, "POST", keysOf(proc), newKey, http.StatusCreated)
		_, km := created(t, h, data)
		revoked = append(revoked, km)
	}
	h, data := c.ok(t, root, "POST", keysOf(bystander), keywarden.CreateAPIKeyRequest{Name: "Reader", Scopes: []string{string(keywarden.ScopeProcessRead)}, Exp: exp}, http.StatusCreated)
	_, bystanderKM := created(t, h, data)

	revokeAll := keysOf(proc) + "/revoke-all"
	for _, body := range []any{map[string]string{"confirm": "compromised"}, map[string]string{"confirm": ""}, map[string]string{}} {
		p := c.fail(t, root, "POST", revokeAll, body, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body: confirm" || p.Detail != "Type the process's name exactly to confirm." {
			t.Errorf("revoke-all with %v: %+v", body, p)
		}
	}
	if p := c.fail(t, root, "POST", revokeAll, map[string]string{"confirm": "Compromised", "force": "yes"}, http.StatusBadRequest); !p.hasField("body: force", "unknown_field") {
		t.Errorf("revoke-all with an unknown field: %+v", p)
	}
	c.ok(t, basic(revoked[0]), "GET", "/api/v1/me", nil, http.StatusOK) // nothing was deleted
	unknown, err := keywarden.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.fail(t, root, "POST", "/api/v1/processes/"+unknown+"/api-keys/revoke-all", api.RevokeAllRequest{Confirm: "Compromised"}, http.StatusNotFound)

	_, data = c.ok(t, root, "POST", revokeAll, api.RevokeAllRequest{Confirm: "Compromised"}, http.StatusOK)
	if got := mustDecode[api.RevokeAllResult](t, data); got.Revoked != 2 {
		t.Errorf("revoke-all of a process with 2 keys: %+v", got)
	}
	for _, km := range revoked {
		c.fail(t, basic(km), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	}
	c.ok(t, basic(bystanderKM), "GET", "/api/v1/me", nil, http.StatusOK)
	c.ok(t, root, "GET", "/api/v1/me", nil, http.StatusOK)
	_, data = c.ok(t, root, "POST", revokeAll, api.RevokeAllRequest{Confirm: "Compromised"}, http.StatusOK)
	if got := mustDecode[api.RevokeAllResult](t, data); got.Revoked != 0 {
		t.Errorf("revoke-all again: %+v", got)
	}

	// Organization-wide, in an organization of its own: its root key goes
	// with the others, and the answer is still sent.
	initechKM := c.seed(t, "Initech")
	initech := basic(initechKM)
	_, data = c.ok(t, initech, "POST", "/api/v1/processes", map[string]string{"name": "Payroll"}, http.StatusCreated)
	payroll := mustDecode[process](t, data)
	h, data = c.ok(t, initech, "POST", keysOf(payroll), newKey, http.StatusCreated)
	_, payrollKM := created(t, h, data)
	p := c.fail(t, initech, "POST", "/api/v1/admin/api-keys/revoke-all", api.RevokeAllRequest{Confirm: "Acme"}, http.StatusBadRequest)
	if !p.hasField("body: confirm", "mismatch") || p.Detail != "Type the organization's name exactly to confirm." {
		t.Errorf("organization revoke-all naming another organization: %+v", p)
	}
	c.fail(t, basic(payrollKM), "POST", "/api/v1/admin/api-keys/revoke-all", api.RevokeAllRequest{Confirm: "Initech"}, http.StatusForbidden)
	_, data = c.ok(t, initech, "POST", "/api/v1/admin/api-keys/revoke-all", api.RevokeAllRequest{Confirm: "Initech"}, http.StatusOK)
	if got := mustDecode[api.RevokeAllResult](t, data); got.Revoked != 2 {
		t.Errorf("organization revoke-all of a root key and a process key: %+v", got)
	}
	c.fail(t, initech, "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.fail(t, basic(payrollKM), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.ok(t, root, "GET", "/api/v1/me", nil, http.StatusOK) // another organization's key
	c.ok(t, basic(bystanderKM), "GET", "/api/v1/me", nil, http.StatusOK)
}
