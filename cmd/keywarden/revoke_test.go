package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/sqlite"
)

// TestLeakedKeySelfRevocation: a key reported in GitHub's secret scanning
// format, without any credential, is revoked and refused at once by the
// server that was caching it; a real key ID with a wrong secret gets the
// very answer an unknown ID gets, and its key works on; the audit log
// records the revocation with where the key was found; and no secret
// reaches the server's log.
func TestLeakedKeySelfRevocation(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")
	// The change feed is read hourly (and the cache trusted as long):
	// only the deletion's own path (changeKeys) can make the cache forget
	// the key in time.
	srv := startServer(t, clock, dir, "--cache-poll", "1h", "--cache-max-staleness", "2h")
	leaked := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock)
	leakedKey := leaked["key"].(string)
	bystander := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock)
	bystanderKey := bystander["key"].(string)
	want(t, srv.do(t, basic(leakedKey), "GET", "/api/v1/me", nil), http.StatusOK) // now in the cache
	want(t, srv.do(t, basic(bystanderKey), "GET", "/api/v1/me", nil), http.StatusOK)

	guess, err := keywarden.ParseKey(bystanderKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	guess.Secret = other.Secret // the bystander's ID, another secret, a valid checksum
	const url = "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/.env"
	reports := []api.LeakReport{
		{Token: leakedKey, Type: "keywarden_api_key", URL: url, Source: "content"},
		{Token: guess.Value(), Type: "keywarden_api_key", URL: url, Source: "content"},
		{Token: other.Value(), Type: "keywarden_api_key", URL: url, Source: "content"}, // an unknown ID
	}
	body, _ := json.Marshal(reports)
	res := want(t, srv.do(t, nil, "POST", "/api/v1/keys/revoke-leaked", body), http.StatusOK)
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	var verdicts []map[string]any
	if err := json.Unmarshal(res.Body, &verdicts); err != nil || len(verdicts) != len(reports) {
		t.Fatalf("answer %s: %v, want %d verdicts", res.Body, err, len(reports))
	}
	for i, v := range verdicts {
		sum := sha256.Sum256([]byte(reports[i].Token))
		if v["token_hash"] != hex.EncodeToString(sum[:]) || v["token_type"] != "keywarden_api_key" || len(v) != 3 {
			t.Errorf("verdict %d = %v, want the token's SHA-256 and its type, and nothing else", i, v)
		}
		delete(v, "token_hash")
	}
	if verdicts[0]["label"] != api.LeakTruePositive {
		t.Errorf("the live key: %v, want true_positive", verdicts[0])
	}
	wrong, unknown := verdicts[1], verdicts[2]
	if wrong["label"] != api.LeakFalsePositive || len(wrong) != len(unknown) || wrong["label"] != unknown["label"] || wrong["token_type"] != unknown["token_type"] {
		t.Errorf("a wrong secret for a real ID: %v; an unknown ID: %v; want the same false_positive", wrong, unknown)
	}
	if strings.Contains(string(res.Body), leakedKey) || strings.Contains(string(res.Body), other.Secret) {
		t.Errorf("the answer carries a reported token: %s", res.Body)
	}

	// At once, on the server that had the key cached; the bystander's key,
	// whose ID was guessed at, still works.
	want(t, srv.do(t, basic(leakedKey), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	want(t, srv.do(t, basic(bystanderKey), "GET", "/api/v1/me", nil), http.StatusOK)
	// Reported again, it is no longer a live key.
	if r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/revoke-leaked", body), http.StatusOK); strings.Contains(string(r.Body), api.LeakTruePositive) {
		t.Errorf("reported again, the revoked key is still a true positive: %s", r.Body)
	}

	t.Run("malformed bodies are 400", func(t *testing.T) {
		many, _ := json.Marshal(make([]api.LeakReport, api.MaxLeakReports+1))
		for name, b := range map[string]string{
			"an object":        `{"token":"` + bystanderKey + `"}`,
			"null":             `null`,
			"not JSON":         `[{"token":`,
			"strings":          `["` + bystanderKey + `"]`,
			"a token number":   `[{"token":42}]`,
			"no token":         `[{"type":"keywarden_api_key"}]`,
			"two arrays":       `[][]`,
			"over 100 reports": string(many),
			"empty":            ``,
		} {
			r := srv.do(t, nil, "POST", "/api/v1/keys/revoke-leaked", b)
			if r.Status != http.StatusBadRequest || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %d %s, want a 400 problem\n%s", name, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		}
		want(t, srv.do(t, basic(bystanderKey), "GET", "/api/v1/me", nil), http.StatusOK)
	})

	t.Run("the audit log has the revocation and where the key was found", func(t *testing.T) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(dir, "keywarden.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		events, _, err := db.FindAuditEventsAfter(ctx, keywarden.AuditFilter{OrgID: orgID, Action: keywarden.AuditAPIKeyLeaked})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 {
			t.Fatalf("%d api_key.leaked events, want 1: %+v", len(events), events)
		}
		e := events[0]
		if e.Actor != (keywarden.Actor{Type: "leakReport", Name: "content: " + url}) || e.TargetType != "api_key" || e.TargetID != leaked["id"] ||
			!strings.Contains(e.TargetName, leaked["user"].(string)) || e.RemoteAddr != "127.0.0.1" {
			t.Errorf("the revocation's event: %+v", e)
		}
	})

	t.Run("the log has the revocation and the failures, and no secret", func(t *testing.T) {
		log := srv.Log.String()
		if !strings.Contains(log, "leaked api key revoked") || !strings.Contains(log, url) || !strings.Contains(log, leaked["user"].(string)) {
			t.Errorf("the log does not record the revocation with its key ID and URL:\n%s", log)
		}
		// The wrong secret and the unknown ID, then all three reported again.
		if n := strings.Count(log, "reason=leak_report_not_live"); n != 5 {
			t.Errorf("%d failed authentications logged for tokens that were not live keys, want 5", n)
		}
		for _, secret := range []string{leakedKey[strings.IndexByte(leakedKey, ':')+1:], guess.Pass(), other.Pass()} {
			if strings.Contains(log, secret) {
				t.Fatal("a reported secret reached the log")
			}
		}
	})
}
