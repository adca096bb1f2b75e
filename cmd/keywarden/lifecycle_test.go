package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// rotate rotates the key at path (its URL) with a grace period and returns
// the answer, which must be 200.
func (s *testServer) rotate(t *testing.T, root, path string, grace int) map[string]any {
	t.Helper()
	r := want(t, s.do(t, basic(root), "POST", path+"/rotate", map[string]any{"gracePeriodSeconds": grace}), http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the rotation's answer, which carries the new key, has Cache-Control %q", cc)
	}
	return r.JSON(t)
}

func keyPath(k map[string]any) string {
	if p, ok := k["processId"].(string); ok && p != "" {
		return "/api/v1/processes/" + p + "/api-keys/" + k["id"].(string)
	}
	return "/api/v1/admin/api-keys/" + k["id"].(string)
}

// TestRotationWithAGracePeriod: a rotated key keeps its ID and scopes; the
// old secret keeps working until the grace period ends and then stops, the
// new one works throughout; the rotation and the end of its grace period
// are in the audit log, the latter once.
func TestRotationWithAGracePeriod(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	for _, path := range []string{"/api/v1/admin/api-keys", "/api/v1/processes/" + proc + "/api-keys"} {
		k := srv.createKey(t, root, path, []string{"workspace.file:upload"}, clock)
		old := k["key"].(string)
		rotated := srv.rotate(t, root, keyPath(k), 3600)
		fresh := rotated["key"].(string)
		if rotated["user"] != k["user"] || fresh == old || !strings.HasPrefix(fresh, k["user"].(string)+":") {
			t.Fatalf("the rotation answered %v, want the same key ID with a new secret", rotated)
		}
		if rotated["previousSecretExpiresAt"] != clock.Now().Add(time.Hour).UTC().Format(time.RFC3339) {
			t.Errorf("previousSecretExpiresAt = %v, want in an hour", rotated["previousSecretExpiresAt"])
		}
		if got := want(t, srv.do(t, basic(root), "GET", keyPath(k), nil), http.StatusOK).JSON(t); got["key"] != nil {
			t.Error("the new key is shown again")
		}
		for _, key := range []string{old, fresh} {
			r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": key}), http.StatusOK).JSON(t)
			if r["valid"] != true {
				t.Errorf("inside the grace period a secret does not verify: %v", r)
			}
		}
		clock.Advance(time.Hour)
		r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": old}), http.StatusOK).JSON(t)
		if r["valid"] != false || r["code"] != "INVALID" {
			t.Errorf("after the grace period the old secret verifies: %v", r)
		}
		if r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": fresh}), http.StatusOK).JSON(t); r["valid"] != true {
			t.Errorf("after the grace period the new secret does not verify: %v", r)
		}
		eventually(t, "the end of the grace period is recorded", func() bool {
			got := want(t, srv.do(t, basic(root), "GET", keyPath(k), nil), http.StatusOK).JSON(t)
			return got["previousSecretExpiresAt"] == nil && len(srv.auditEvents(t, root, "api_key.previous_secret_ended")) > 0
		})
		clock.Advance(time.Minute)
	}
	if n := len(srv.auditEvents(t, root, "api_key.rotated")); n != 2 {
		t.Errorf("%d api_key.rotated events, want 2", n)
	}
	time.Sleep(1500 * time.Millisecond) // more sweeps: still once each
	if n := len(srv.auditEvents(t, root, "api_key.previous_secret_ended")); n != 2 {
		t.Errorf("%d api_key.previous_secret_ended events, want one for each of the 2 rotations", n)
	}
}

// TestRotationIsValidatedAndConfined: a bad grace period is a 400 naming
// the field and changes nothing; a rotation without a grace period ends the
// old secret at once; another level's path, an expired key, are refused.
func TestRotationIsValidatedAndConfined(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	for _, body := range []any{map[string]any{}, map[string]any{"gracePeriodSeconds": -1}, map[string]any{"gracePeriodSeconds": 604801}, map[string]any{"gracePeriodSeconds": "60"}} {
		r := want(t, srv.do(t, basic(root), "POST", keyPath(k)+"/rotate", body), http.StatusBadRequest)
		if !strings.Contains(string(r.Body), "gracePeriodSeconds") {
			t.Errorf("the 400 for %v does not name gracePeriodSeconds: %s", body, r.Body)
		}
	}
	want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusOK)
	want(t, srv.do(t, basic(root), "POST", "/api/v1/processes/"+proc+"/api-keys/"+k["id"].(string)+"/rotate", map[string]any{"gracePeriodSeconds": 0}), http.StatusNotFound)
	want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusOK)

	fresh := srv.rotate(t, root, keyPath(k), 0)["key"].(string)
	want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	want(t, srv.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK)

	short := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "short", "scopes": []string{"workspace.file:upload"},
		"exp": clock.Now().Add(24 * time.Hour).Format(time.RFC3339)}), http.StatusCreated).JSON(t)
	clock.Advance(25 * time.Hour)
	want(t, srv.do(t, basic(root), "POST", keyPath(short)+"/rotate", map[string]any{"gracePeriodSeconds": 0}), http.StatusConflict)
}

// TestAllowlist: a key with an allowlist works only from inside it — IPv4
// and IPv6 networks, the client's address behind a trusted proxy — and is
// refused with the same 401 as any failure from elsewhere, including from
// a client that forges X-Forwarded-For without being a trusted proxy. The
// reason goes to the log and, once a minute per key, to the audit log.
func TestAllowlist(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	// 127.0.0.2 is a trusted proxy; 127.0.0.1, the tests' own address, is not.
	srv := startServer(t, clock, dir, "--trusted-proxies", "127.0.0.2")
	exp := clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "fenced", "scopes": []string{"workspace.file:upload"}, "exp": exp,
		"allowedIps": []string{"203.0.113.0/24", "2001:db8::/32", "127.0.0.0/8"}}), http.StatusCreated).JSON(t)
	if got := r["allowedIps"].([]any); len(got) != 3 || got[0] != "127.0.0.0/8" || got[2] != "2001:db8::/32" {
		t.Errorf("allowedIps = %v, want the canonical, sorted networks", got)
	}
	fenced := r["key"].(string)
	want(t, srv.do(t, basic(fenced), "GET", "/api/v1/me", nil), http.StatusOK) // from 127.0.0.1

	r = want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "elsewhere", "scopes": []string{"workspace.file:upload"}, "exp": exp,
		"allowedIps": []string{"203.0.113.0/24", "2001:db8::/32"}}), http.StatusCreated).JSON(t)
	elsewhere := r["key"].(string)
	resp := want(t, srv.do(t, basic(elsewhere), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	unknown := want(t, srv.do(t, basic(strings.Replace(elsewhere, ":", "x:", 1)), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	if string(resp.Body) != string(unknown.Body) {
		t.Errorf("a refused address is told apart from a bad key:\n%s\n%s", resp.Body, unknown.Body)
	}
	// A forged X-Forwarded-For from an untrusted peer changes nothing.
	forged := func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+elsewhere)
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
	}
	want(t, srv.do(t, forged, "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	if v := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": elsewhere}), http.StatusOK).JSON(t); v["code"] != "INVALID" {
		t.Errorf("the verify API answers %v for a key used from outside its allowlist", v)
	}
	if !strings.Contains(srv.Log.String(), "auth_failure=address_not_allowed") {
		t.Error("the reason is not logged")
	}
	if n := len(srv.auditEvents(t, root, "api_key.address_denied")); n != 1 {
		t.Errorf("%d api_key.address_denied events after 4 refusals in a minute, want 1", n)
	}

	// Through a trusted proxy (127.0.0.2), the forwarded client counts:
	// inside the list it works, outside it does not.
	viaProxy := func(key, client string) int {
		req, err := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Forwarded-For", client)
		res, err := clientFrom("127.0.0.2").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for client, status := range map[string]int{"203.0.113.5": 200, "2001:db8:1::9": 200, "198.51.100.1": 401, "2001:db9::1": 401} {
		if got := viaProxy(elsewhere, client); got != status {
			t.Errorf("through the trusted proxy for client %s: %d, want %d", client, got, status)
		}
	}

	for _, bad := range []any{[]string{"10.0.0.0/33"}, []string{"not an address"}, "10.0.0.0/8"} {
		r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": []string{"workspace.file:upload"}, "exp": exp, "allowedIps": bad}), http.StatusBadRequest)
		if !strings.Contains(string(r.Body), "allowedIps") {
			t.Errorf("the 400 for allowedIps %v does not name the field: %s", bad, r.Body)
		}
	}
}

// TestCLIRotate: keys rotate prints the new key alone, keeps the old one
// working for --grace-period on a running server, and refuses a missing or
// malformed --grace-period as a usage error.
func TestCLIRotate(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	id, old := k["id"].(string), k["key"].(string)
	for _, args := range [][]string{
		{"keys", "rotate", "--org", "Acme", "--id", id},
		{"keys", "rotate", "--org", "Acme", "--id", id, "--grace-period", "soon"},
		{"keys", "rotate", "--org", "Acme", "--id", id, "--grace-period", "200h"},
	} {
		if _, _, err := cli(t, clock, dir, "", args...); exitCode(err) != 2 {
			t.Errorf("keywarden %s: %v (exit status %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}
	want(t, srv.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusOK)
	fresh := strings.TrimSpace(mustCLI(t, clock, dir, "", "keys", "rotate", "--org", "Acme", "--id", id, "--grace-period", "10m"))
	if !strings.HasPrefix(fresh, k["user"].(string)+":") || fresh == old {
		t.Fatalf("keys rotate printed %q, want the same key ID with a new secret", fresh)
	}
	eventually(t, "the server learns of the rotation", func() bool {
		return srv.do(t, basic(fresh), "GET", "/api/v1/me", nil).Status == http.StatusOK
	})
	want(t, srv.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusOK)
	clock.Advance(10 * time.Minute)
	want(t, srv.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	want(t, srv.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK)
}

// TestEditAKey: PATCH renames, fences and caps a key, narrows its scopes
// (never widens them) and moves its expiry, effective at once; a bad field
// is a 400 naming it and changes nothing.
func TestEditAKey(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload", "workspace.process:read"}, clock)
	path, key := keyPath(k), k["key"].(string)
	verify := func(scopes ...string) any {
		return want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": key, "scopes": scopes}), http.StatusOK).JSON(t)["code"]
	}
	if c := verify("workspace.process:read"); c != "VALID" {
		t.Fatalf("before the edit: %v", c)
	}
	got := want(t, srv.do(t, basic(root), "PATCH", path, map[string]any{"name": "renamed", "scopes": []string{"workspace.file:upload"},
		"allowedIps": []string{"127.0.0.1"}, "rateLimit": map[string]any{"limit": 5, "windowSeconds": 60}}), http.StatusOK).JSON(t)
	if got["name"] != "renamed" || len(got["scopes"].([]any)) != 1 || got["allowedIps"].([]any)[0] != "127.0.0.1/32" || got["rateLimit"].(map[string]any)["limit"] != 5.0 {
		t.Errorf("PATCH answered %v", got)
	}
	if c := verify("workspace.process:read"); c != "INSUFFICIENT_SCOPE" {
		t.Errorf("after narrowing, the dropped scope verifies: %v", c)
	}
	if c := verify("workspace.file:upload"); c != "VALID" {
		t.Errorf("after narrowing, the kept scope does not verify: %v", c)
	}
	// The key as the edits may change it: its use is recorded in the
	// background meanwhile, and is not theirs to change.
	edited := func() string {
		k := want(t, srv.do(t, basic(root), "GET", path, nil), http.StatusOK).JSON(t)
		delete(k, "lastUsedAt")
		delete(k, "lastUsedFrom")
		return fmt.Sprint(k)
	}
	before := edited()
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"scopes": []string{"workspace.file:upload", "workspace.process:read"}}, "body: scopes"},
		{map[string]any{"exp": clock.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)}, "body: exp"},
		{map[string]any{"allowedIps": []string{"999.0.0.1"}}, "body: allowedIps[0]"},
		{map[string]any{"rateLimit": map[string]any{"limit": 5, "windowSeconds": 0}}, "body: rateLimit.windowSeconds"},
		{map[string]any{"rateLimit": map[string]any{"Limit": 5, "windowSeconds": 60}}, "body: rateLimit.Limit"},
		{map[string]any{"user": "kwo_x"}, "body: user"},
	} {
		r := want(t, srv.do(t, basic(root), "PATCH", path, tc.body), http.StatusBadRequest)
		if !strings.Contains(string(r.Body), tc.field) {
			t.Errorf("PATCH %v: the 400 does not name %s: %s", tc.body, tc.field, r.Body)
		}
	}
	if after := edited(); after != before {
		t.Errorf("refused edits changed the key:\n%s\n%s", before, after)
	}
	got = want(t, srv.do(t, basic(root), "PATCH", path, map[string]any{"rateLimit": nil, "allowedIps": []string{}}), http.StatusOK).JSON(t)
	if got["rateLimit"] != nil || len(got["allowedIps"].([]any)) != 0 || got["name"] != "renamed" {
		t.Errorf("removing the limit and the allowlist: %v", got)
	}
	soon := clock.Now().Add(time.Hour)
	want(t, srv.do(t, basic(root), "PATCH", path, map[string]any{"exp": soon.Format(time.RFC3339)}), http.StatusOK)
	clock.Advance(time.Hour)
	if c := verify("workspace.file:upload"); c != "EXPIRED" {
		t.Errorf("after its new expiry the key verifies %v", c)
	}
	want(t, srv.do(t, basic(root), "PATCH", "/api/v1/admin/api-keys/0123456789abcdef0123456789abcdef", map[string]any{"name": "x"}), http.StatusNotFound)
	if n := len(srv.auditEvents(t, root, "api_key.updated")); n != 3 {
		t.Errorf("%d api_key.updated events for 3 edits", n)
	}
}

// TestPostgresRotationOnTwoNodes: a key rotated on node A works with both
// secrets on node B inside the grace period, and with only the new one
// after it, on both nodes.
func TestPostgresRotationOnTwoNodes(t *testing.T) {
	dbURL, _ := pgSchema(t)
	clock := newFakeClock()
	_, root := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	nodes := startNodes(t, clock, dbURL, 2)
	a, b := nodes[0], nodes[1]
	k := a.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	old := k["key"].(string)
	eventually(t, "node B knows the key", func() bool { return b.do(t, basic(old), "GET", "/api/v1/me", nil).Status == http.StatusOK })
	fresh := a.rotate(t, root, keyPath(k), 600)["key"].(string)
	eventually(t, "node B learns of the rotation", func() bool { return b.do(t, basic(fresh), "GET", "/api/v1/me", nil).Status == http.StatusOK })
	for _, n := range nodes {
		want(t, n.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusOK)
		want(t, n.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	clock.Advance(10 * time.Minute)
	for _, n := range nodes {
		want(t, n.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
		want(t, n.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	eventually(t, "one node records the end of the grace period", func() bool {
		return len(a.auditEvents(t, root, "api_key.previous_secret_ended")) == 1
	})
	time.Sleep(1500 * time.Millisecond) // both nodes sweep again: still once
	if n := len(b.auditEvents(t, root, "api_key.previous_secret_ended")); n != 1 {
		t.Errorf("%d api_key.previous_secret_ended events from two nodes, want 1", n)
	}
}

// TestExpiryReminders: the dashboard and the key pages name the keys that
// expire within 14 days, soonest first, linking to their key pages — only
// keys the person may manage; keys expiring later, and expired ones, are
// not named.
func TestExpiryReminders(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	mk := func(path, name string, in time.Duration) {
		want(t, srv.do(t, basic(root), "POST", path, map[string]any{"name": name, "scopes": []string{"workspace.file:upload"},
			"exp": clock.Now().Add(in).Format(time.RFC3339)}), http.StatusCreated)
	}
	mk("/api/v1/admin/api-keys", "org key soon", 3*24*time.Hour)
	mk("/api/v1/processes/"+proc+"/api-keys", "process key soon", 10*24*time.Hour)
	mk("/api/v1/admin/api-keys", "org key later", 20*24*time.Hour)
	mk("/api/v1/admin/api-keys", "org key gone", time.Hour)
	clock.Advance(2 * time.Hour)

	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	banner := regexp.MustCompile(`(?s)<section class="alert alert-warning expiry-banner".*?</section>`)
	for _, page := range []string{"/", "/settings/api-keys", "/processes/" + proc + "/settings/api-keys"} {
		b := banner.FindString(string(want(t, owner.get(page), http.StatusOK).Body))
		if !strings.Contains(b, "2 API keys expire within 14 days") || !strings.Contains(b, `<a href="/settings/api-keys">org key soon</a>`) ||
			!strings.Contains(b, `<a href="/processes/`+proc+`/settings/api-keys">process key soon</a>`) || strings.Index(b, "org key soon") > strings.Index(b, "process key soon") {
			t.Errorf("%s: the banner does not name the two keys soonest first:\n%s", page, b)
		}
		if strings.Contains(b, "later") || strings.Contains(b, "gone") {
			t.Errorf("%s: the banner names a key not expiring within 14 days:\n%s", page, b)
		}
	}
	// A process's manager is reminded of its keys only.
	member := invite(t, srv, owner, "bob@acme.example", "user")
	owner.get("/processes/" + proc + "/settings/access")
	want(t, owner.post("/processes/"+proc+"/settings/access", url.Values{"user_id": {memberID(t, owner, "bob@acme.example")}, "role": {"manager"}}), http.StatusSeeOther)
	b := banner.FindString(string(want(t, member.get("/"), http.StatusOK).Body))
	if !strings.Contains(b, "1 API key expires within 14 days") || !strings.Contains(b, "process key soon") || strings.Contains(b, "org key") {
		t.Errorf("the manager's banner:\n%s", b)
	}
}

// TestKeyPageShowsUsage: a key's own page shows its facts and a 30-day
// chart of its authentications, the table a sparkline per key; a key
// nobody used for 90 days is flagged.
func TestKeyPageShowsUsage(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--usage-flush-interval", "20ms")
	k := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "charted", "scopes": []string{"workspace.file:upload"},
		"exp": clock.Now().Add(200 * 24 * time.Hour).Format(time.RFC3339), "allowedIps": []string{"127.0.0.1"},
		"rateLimit": map[string]any{"limit": 100, "windowSeconds": 60}}), http.StatusCreated).JSON(t)
	idle := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	key := k["key"].(string)
	wrong := keywarden.KeyMaterial{User: k["user"].(string), Secret: strings.Repeat("A", 43)}.Value() // the checksum right, the secret wrong
	for range 3 {
		want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	srv.do(t, basic(wrong), "GET", "/api/v1/me", nil)
	clock.Advance(24 * time.Hour)
	for range 2 {
		want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	page := "/settings/api-keys/" + k["id"].(string)
	var body string
	eventually(t, "the usage is flushed and shown", func() bool {
		body = string(want(t, owner.get(page), http.StatusOK).Body)
		return strings.Contains(body, "5 successful and 1 failed authentications")
	})
	for _, s := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="chart"`, "<code>127.0.0.1/32</code>", "100 requests per 60 s",
		"from <code>127.0.0.1</code>", `data-rotate-path="/api/v1/admin/api-keys/` + k["id"].(string) + `/rotate"`} {
		if !strings.Contains(body, s) {
			t.Errorf("the key page lacks %q", s)
		}
	}
	want(t, owner.get("/settings/api-keys/"+idle["id"].(string)), http.StatusOK)
	want(t, owner.get("/settings/api-keys/0123456789abcdef0123456789abcdef"), http.StatusNotFound)
	table := string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	if !strings.Contains(table, "charted: 6 uses in 30 days") || !strings.Contains(table, `href="`+page+`"`) {
		t.Error("the table has no sparkline or no link to the key's page")
	}
	if strings.Contains(table, `data-testid="unused"`) {
		t.Error("a key created today is flagged unused")
	}
	clock.Advance(89 * 24 * time.Hour) // 90 days after "test key" was made, 89 after "charted" was last used
	owner = signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	table = string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	// "charted" was last used 89 days ago; "test key" was never used in its
	// 90 days, and is flagged.
	rowOf := func(name string) string {
		i := strings.Index(table, `">`+name+`</a>`)
		if i < 0 {
			t.Fatalf("no row for %s", name)
		}
		return table[i : i+strings.Index(table[i:], "</tr>")]
	}
	if !strings.Contains(rowOf("test key"), `data-testid="unused"`) || strings.Contains(rowOf("charted"), `data-testid="unused"`) {
		t.Error("after 90 days the idle key is not flagged unused, or the used one is")
	}
}

// TestCLIRestrictionsAndUpdate: keys create takes an allowlist and a rate
// limit; keys update edits them, renames and narrows like PATCH, removes
// them with "none", and reports a refused edit as a usage error naming the
// flag, changing nothing.
func TestCLIRestrictionsAndUpdate(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	out := mustCLI(t, clock, dir, "", "keys", "create", "--org", "Acme", "--name", "fenced", "--scopes", "workspace.file:upload,workspace.process:read",
		"--allowed-ips", "10.0.0.0/8,2001:db8::/32", "--rate-limit", "100/1m", "--json")
	var k struct {
		ID         string
		AllowedIPs []string `json:"allowedIps"`
		RateLimit  *struct{ Limit, WindowSeconds int }
	}
	mustJSON(t, out, &k)
	if len(k.AllowedIPs) != 2 || k.RateLimit == nil || k.RateLimit.Limit != 100 || k.RateLimit.WindowSeconds != 60 {
		t.Fatalf("keys create with restrictions: %s", out)
	}
	for _, args := range [][]string{
		{"--rate-limit", "fast"},
		{"--allowed-ips", "nowhere"},
		{"--scopes", "workspace.process:create"},
	} {
		_, _, err := cli(t, clock, dir, "", append([]string{"keys", "update", "--org", "Acme", "--id", k.ID}, args...)...)
		if exitCode(err) != 2 || !strings.Contains(describe(err), args[0]) {
			t.Errorf("keys update %v: %v (exit %d), want a usage error naming %s", args, err, exitCode(err), args[0])
		}
	}
	mustCLI(t, clock, dir, "", "keys", "update", "--org", "Acme", "--id", k.ID, "--name", "renamed", "--scopes", "workspace.file:upload",
		"--allowed-ips", "none", "--rate-limit", "none", "--json")
	got := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+k.ID, nil), http.StatusOK).JSON(t)
	if got["name"] != "renamed" || len(got["scopes"].([]any)) != 1 || len(got["allowedIps"].([]any)) != 0 || got["rateLimit"] != nil {
		t.Errorf("after keys update: %v", got)
	}
	if n := len(srv.auditEvents(t, root, "api_key.updated")); n != 1 {
		t.Errorf("%d api_key.updated events for one update and three refused", n)
	}
}

// TestAllowlistOnForwardAuth: forward-auth applies a key's allowlist to the
// original client, which the gateway (a trusted proxy) names in
// X-Forwarded-For: inside the list the request passes, outside it gets the
// same 401 as any bad key.
func TestAllowlistOnForwardAuth(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--routes", exampleFile(t, "routes.yaml"), "--trusted-proxies", "127.0.0.1")
	proc := srv.createProcess(t, root, "Invoices")
	key := want(t, srv.do(t, basic(root), "POST", "/api/v1/processes/"+proc+"/api-keys", map[string]any{"name": "scanner", "scopes": []string{"workspace.file:upload"},
		"exp": clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339), "allowedIps": []string{"198.51.100.0/24"}}), http.StatusCreated).JSON(t)["key"].(string)
	ask := func(client string) int {
		return srv.do(t, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+key)
			r.Header.Set("X-Original-Method", "POST")
			r.Header.Set("X-Original-URI", "/v1/processes/"+proc+"/files")
			r.Header.Set("X-Forwarded-For", client)
		}, "GET", "/api/v1/auth/forward", nil).Status
	}
	if got := ask("198.51.100.20"); got != http.StatusOK {
		t.Errorf("forward-auth for a client inside the allowlist: %d", got)
	}
	if got := ask("203.0.113.20"); got != http.StatusUnauthorized {
		t.Errorf("forward-auth for a client outside the allowlist: %d", got)
	}
}
