package server_test

import (
	"net/http"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// lifecycleScenario is TestOpenAPIContract's part for rotation and edits:
// each operation succeeds and fails the ways the document says, at both
// levels, with responses the document's schemas accept.
func (c *contract) lifecycleScenario(t *testing.T, root credential, exp string) {
	t.Helper()
	_, data := c.ok(t, root, "POST", "/api/v1/processes", map[string]string{"name": "Rotations"}, http.StatusCreated)
	proc := mustDecode[process](t, data)
	for _, base := range []string{"/api/v1/admin/api-keys", "/api/v1/processes/" + proc.ID + "/api-keys"} {
		h, data := c.ok(t, root, "POST", base, keywarden.CreateAPIKeyRequest{Name: "Rolled", Scopes: []string{"workspace.file:upload"}, Exp: exp,
			AllowedIPs: []string{"127.0.0.0/8", "::1"}, RateLimit: &keywarden.RateLimitRequest{Limit: 1000, WindowSeconds: 60}}, http.StatusCreated)
		k, old := created(t, h, data)
		path := base + "/" + k.ID
		grace := int64(3600)
		h, data = c.ok(t, root, "POST", path+"/rotate", api.RotateAPIKeyRequest{GracePeriodSeconds: &grace}, http.StatusOK)
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("rotate %s: Cache-Control %q", path, h.Get("Cache-Control"))
		}
		rotated := mustDecode[api.APIKey](t, data)
		if rotated.User != old.User || rotated.Key == "" || rotated.Key == old.Value() || rotated.PreviousSecretExpiresAt == nil {
			t.Errorf("rotate %s: %+v", path, rotated)
		}
		if p := c.fail(t, root, "POST", path+"/rotate", map[string]any{}, http.StatusBadRequest); !p.hasField("body: gracePeriodSeconds", "required") {
			t.Errorf("rotate without a grace period: %+v", p)
		}
		unknown, err := keywarden.NewID(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.fail(t, root, "POST", base+"/"+unknown+"/rotate", api.RotateAPIKeyRequest{GracePeriodSeconds: &grace}, http.StatusNotFound)

		_, data = c.ok(t, root, "PATCH", path, map[string]any{"name": "Renamed", "rateLimit": nil, "allowedIps": []string{}}, http.StatusOK)
		if got := mustDecode[api.APIKey](t, data); got.Name != "Renamed" || got.RateLimit != nil || len(got.AllowedIPs) != 0 {
			t.Errorf("PATCH %s: %+v", path, got)
		}
		if p := c.fail(t, root, "PATCH", path, map[string]any{"scopes": []string{"all"}}, http.StatusBadRequest); !p.hasField("body: scopes", "widening") {
			t.Errorf("PATCH widening the scopes: %+v", p)
		}
		c.fail(t, root, "PATCH", base+"/"+unknown, map[string]any{"name": "x"}, http.StatusNotFound)
	}
}
