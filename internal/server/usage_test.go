package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// usageScenario is TestOpenAPIContract's part for the usage of keys: a
// key's authentications, once the recorder has flushed them, are its
// hours' counts and its last use, through both usage operations; bad
// ranges are 400s naming the parameter; a key the caller may not see is
// 404, as for the key itself.
func (c *contract) usageScenario(t *testing.T, root, other, proc credential, processID, exp string) {
	t.Helper()
	newKey := func(name string) keywarden.CreateAPIKeyRequest {
		return keywarden.CreateAPIKeyRequest{Name: name, Scopes: []string{string(keywarden.ScopeProcessRead)}, Exp: exp}
	}
	h, data := c.ok(t, root, "POST", "/api/v1/admin/api-keys", newKey("Usage"), http.StatusCreated)
	orgKey, orgKM := created(t, h, data)
	h, data = c.ok(t, root, "POST", "/api/v1/processes/"+processID+"/api-keys", newKey("Process usage"), http.StatusCreated)
	procKey, procKM := created(t, h, data)
	orgUsage := "/api/v1/admin/api-keys/" + orgKey.ID + "/usage"
	procUsage := "/api/v1/processes/" + processID + "/api-keys/" + procKey.ID + "/usage"

	// Two successes and a wrong secret of the organization key, one
	// success of the process key; then the flush. (Hours apart are
	// cmd/keywarden's TestKeyUsageCountsPerHour: this scenario's clock
	// must not move.)
	now := c.clock.Now()
	hour := now.UTC().Truncate(time.Hour)
	c.ok(t, basic(orgKM), "GET", "/api/v1/me", nil, http.StatusOK)
	c.ok(t, basic(orgKM), "GET", "/api/v1/processes", nil, http.StatusOK)
	wrong := orgKM
	wrong.Secret = procKM.Secret
	c.fail(t, basic(wrong), "GET", "/api/v1/me", nil, http.StatusUnauthorized)
	c.ok(t, basic(procKM), "GET", "/api/v1/me", nil, http.StatusOK)
	c.usage.Flush()

	_, data = c.ok(t, root, "GET", orgUsage, nil, http.StatusOK)
	want := api.KeyUsage{
		// The default range: 30 days up to the end of the current hour.
		From:  hour.Add(time.Hour - keywarden.DefaultKeyUsageRange).Format(time.RFC3339),
		To:    hour.Add(time.Hour).Format(time.RFC3339),
		Usage: []api.KeyUsageHour{{Hour: hour.Format(time.RFC3339), Succeeded: 2, Failed: 1}},
	}
	if got := mustDecode[api.KeyUsage](t, data); !equalUsage(got, want) {
		t.Errorf("GET %s = %+v, want %+v", orgUsage, got, want)
	}
	// An explicit range, widened to whole hours; and one before the use.
	q := "?from=" + now.Add(-time.Minute).Format(time.RFC3339) + "&to=" + now.Add(time.Minute).Format(time.RFC3339)
	_, data = c.ok(t, root, "GET", orgUsage+q, nil, http.StatusOK)
	if got := mustDecode[api.KeyUsage](t, data); !equalUsage(got, api.KeyUsage{From: hour.Add(-time.Hour).Format(time.RFC3339), To: want.To, Usage: want.Usage}) &&
		!equalUsage(got, api.KeyUsage{From: hour.Format(time.RFC3339), To: want.To, Usage: want.Usage}) {
		t.Errorf("GET %s = %+v, want the hours around it", orgUsage+q, got)
	}
	q = "?from=" + hour.Add(-48*time.Hour).Format(time.RFC3339) + "&to=" + hour.Format(time.RFC3339)
	_, data = c.ok(t, root, "GET", orgUsage+q, nil, http.StatusOK)
	if got := mustDecode[api.KeyUsage](t, data); len(got.Usage) != 0 {
		t.Errorf("GET %s = %+v, want no hours", orgUsage+q, got)
	}
	_, data = c.ok(t, proc, "GET", procUsage, nil, http.StatusOK)
	if got := mustDecode[api.KeyUsage](t, data).Usage; len(got) != 1 || got[0] != (api.KeyUsageHour{Hour: hour.Format(time.RFC3339), Succeeded: 1}) {
		t.Errorf("GET %s: usage %+v, want one success in the first hour", procUsage, got)
	}
	// The last use, with the client's address.
	_, data = c.ok(t, root, "GET", "/api/v1/admin/api-keys/"+orgKey.ID, nil, http.StatusOK)
	if k := mustDecode[api.APIKey](t, data); k.LastUsedAt == nil || *k.LastUsedAt != now.UTC().Format(time.RFC3339) ||
		k.LastUsedFrom == nil || *k.LastUsedFrom != "127.0.0.1" {
		t.Errorf("the used key: lastUsedAt %v, lastUsedFrom %v; want %v, from 127.0.0.1", k.LastUsedAt, k.LastUsedFrom, now)
	}

	for _, tt := range []struct {
		query string
		want  []string // the locations of the field errors
	}{
		{"?from=yesterday", []string{"query: from"}},
		{"?from=yesterday&to=tomorrow", []string{"query: from", "query: to"}},
		{"?to=2026-02-30T00:00:00Z", []string{"query: to"}},
		{"?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", []string{"query: from"}},
		{"?from=2026-03-01T10:00:00Z&to=2026-03-01T10:00:00Z", []string{"query: from"}},
		{"?from=2025-11-30T23:00:00Z&to=2026-03-01T00:00:00Z", []string{"query: from"}}, // 90 days and an hour
	} {
		for _, path := range []string{orgUsage, procUsage} {
			p := c.fail(t, root, "GET", path+tt.query, nil, http.StatusBadRequest)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Location)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] || len(got) > 1 && got[1] != tt.want[1] {
				t.Errorf("GET %s: errors %+v, want them at %v", path+tt.query, p.Errors, tt.want)
			}
		}
	}
	c.ok(t, root, "GET", orgUsage+"?from=2026-01-01T00:00:00Z&to=2026-03-31T00:00:00Z", nil, http.StatusOK) // 89 days
	c.fail(t, proc, "GET", orgUsage, nil, http.StatusForbidden)
	c.fail(t, basic(orgKM), "GET", orgUsage, nil, http.StatusForbidden) // no workspace.admin.api_key:manage
	c.fail(t, anonymous, "GET", procUsage, nil, http.StatusUnauthorized)
	unknownID, err := keywarden.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/api/v1/admin/api-keys/" + unknownID + "/usage",
		"/api/v1/admin/api-keys/" + procKey.ID + "/usage",                      // a process key
		"/api/v1/processes/" + processID + "/api-keys/" + orgKey.ID + "/usage", // an organization key
		"/api/v1/processes/" + unknownID + "/api-keys/" + procKey.ID + "/usage",
	} {
		c.fail(t, root, "GET", path, nil, http.StatusNotFound)
	}
	c.fail(t, other, "GET", orgUsage, nil, http.StatusNotFound)
	c.fail(t, other, "GET", procUsage, nil, http.StatusNotFound)
}

func equalUsage(a, b api.KeyUsage) bool {
	if a.From != b.From || a.To != b.To || len(a.Usage) != len(b.Usage) {
		return false
	}
	for i := range a.Usage {
		if a.Usage[i] != b.Usage[i] {
			return false
		}
	}
	return true
}
