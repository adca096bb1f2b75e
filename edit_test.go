package keywarden_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func editRequest(t *testing.T, body string) keywarden.UpdateAPIKeyRequest {
	t.Helper()
	var req keywarden.UpdateAPIKeyRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestEditAPIKey: names, allowlists and rate limits change freely; scopes
// only narrow; the expiry may come forward, and go back only for someone
// who holds every scope of the key, within policy.
func TestEditAPIKey(t *testing.T) {
	mp := testMintParams(t)
	req := testRequest()
	req.Scopes = []string{"workspace.file:upload", "workspace.process:read"}
	req.RateLimit = &keywarden.RateLimitRequest{Limit: 10, WindowSeconds: 60}
	k, _ := MustMintAPIKey(t, req, mp)
	c := keywarden.MustDefaultCatalogue()
	cli := keywarden.EditParams{Org: mp.Org, Catalogue: c, Now: testNow}
	// A key holding only one of the two scopes may edit but not extend.
	narrow := keywarden.PrincipalForKey(keywarden.KeyIdentity{OrgID: testOrgID, Scopes: c.SetOf([]keywarden.Scope{"workspace.file:upload", keywarden.ScopeAdminAPIKeyManage})}, c)
	limited := cli
	limited.Grantor = narrow

	got, err := keywarden.EditAPIKey(k, editRequest(t, `{"name":" renamed ","scopes":["workspace.file:upload"],"allowedIps":["10.0.0.0/8"],"rateLimit":null}`), cli)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || len(got.Scopes) != 1 || len(got.AllowedIPs) != 1 || !got.RateLimit.IsZero() || !got.ExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("edited key = %+v", got)
	}
	if k.Name != "CI upload" || len(k.Scopes) != 2 || k.RateLimit.IsZero() {
		t.Error("EditAPIKey changed the key it was given")
	}
	if got, err := keywarden.EditAPIKey(k, editRequest(t, `{}`), cli); err != nil || got.RateLimit != k.RateLimit || len(got.Scopes) != 2 {
		t.Errorf("an empty edit changed the key: %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name, body string
		p          keywarden.EditParams
		wantCode   string
		wantField  string
	}{
		{"widening scopes", `{"scopes":["workspace.file:upload","workspace.process:create"]}`, cli, keywarden.EINVALID, "body: scopes"},
		{"all scopes", `{"scopes":["all"]}`, cli, keywarden.EINVALID, "body: scopes"},
		{"no scopes", `{"scopes":[]}`, cli, keywarden.EINVALID, "body: scopes"},
		{"expiry beyond policy", `{"exp":"` + rfc3339(testNow.Add(400*24*time.Hour)) + `"}`, cli, keywarden.EINVALID, "body: exp"},
		{"expiry in the past", `{"exp":"` + rfc3339(testNow.Add(-time.Hour)) + `"}`, cli, keywarden.EINVALID, "body: exp"},
		{"bad allowlist", `{"allowedIps":["nowhere"]}`, cli, keywarden.EINVALID, "body: allowedIps[0]"},
		{"bad rate limit", `{"rateLimit":{"limit":0,"windowSeconds":60}}`, cli, keywarden.EINVALID, "body: rateLimit.limit"},
		{"extension by a grantor without every scope", `{"exp":"` + rfc3339(k.ExpiresAt.Add(time.Hour)) + `"}`, limited, keywarden.EFORBIDDEN, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keywarden.EditAPIKey(k, editRequest(t, tc.body), tc.p)
			if keywarden.ErrorCode(err) != tc.wantCode {
				t.Fatalf("EditAPIKey = %v, want %s", err, tc.wantCode)
			}
			if tc.wantField != "" && !containsLocation(err, tc.wantField) {
				t.Errorf("the error does not name %s: %v", tc.wantField, err)
			}
		})
	}
	// Bringing the expiry forward needs no grant.
	if got, err := keywarden.EditAPIKey(k, editRequest(t, `{"exp":"`+rfc3339(testNow.Add(24*time.Hour))+`"}`), limited); err != nil || !got.ExpiresAt.Equal(testNow.Add(24*time.Hour)) {
		t.Errorf("shortening the expiry: %+v, %v", got, err)
	}
	// The command line may extend within policy.
	if got, err := keywarden.EditAPIKey(k, editRequest(t, `{"exp":"`+rfc3339(testNow.Add(300*24*time.Hour))+`"}`), cli); err != nil || !got.ExpiresAt.Equal(testNow.Add(300*24*time.Hour)) {
		t.Errorf("extending the expiry within policy: %+v, %v", got, err)
	}
}
