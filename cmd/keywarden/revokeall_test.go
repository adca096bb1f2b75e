package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// keyValue is the full key of a create response.
func keyValue(t *testing.T, created map[string]any) string {
	t.Helper()
	k, _ := created["key"].(string)
	if k == "" {
		t.Fatalf("no key in %v", created)
	}
	return k
}

// revokeAll posts a revoke-all with confirm to path (an api-keys
// collection) as key.
func (s *testServer) revokeAll(t *testing.T, key, path, confirm string) response {
	t.Helper()
	return s.do(t, basic(key), "POST", path+"/revoke-all", api.RevokeAllRequest{Confirm: confirm})
}

// wantStatuses fails unless each key gets status on GET /api/v1/me at node.
func wantStatuses(t *testing.T, node *testServer, status int, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if got := node.do(t, basic(k), "GET", "/api/v1/me", nil).Status; got != status {
			t.Errorf("key %s: GET /api/v1/me = %d, want %d", strings.SplitN(k, ":", 2)[0], got, status)
		}
	}
}

// TestRevokeAllThroughTheAPI (one node): revoke-all of a process deletes
// every key of it and no other; a wrong confirmation is a 400 that deletes
// nothing; the audit log has one api_key.deleted per key and the summary;
// organization-wide, every key of the organization goes, the caller's own
// included, and none of another organization's.
func TestRevokeAllThroughTheAPI(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	a := srv.createProcess(t, root, "Invoices")
	b := srv.createProcess(t, root, "Receipts")
	keysOf := func(p string) string { return "/api/v1/processes/" + p + "/api-keys" }
	var aKeys []string
	for range 3 {
		aKeys = append(aKeys, keyValue(t, srv.createKey(t, root, keysOf(a), []string{"all"}, clock)))
	}
	bKey := keyValue(t, srv.createKey(t, root, keysOf(b), []string{"workspace.process:read"}, clock))
	orgKey := keyValue(t, srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock))
	wantStatuses(t, srv, http.StatusOK, append(aKeys, bKey, orgKey)...)

	for _, confirm := range []string{"", "invoices", "Invoices ", "Receipts"} {
		r := want(t, srv.revokeAll(t, root, keysOf(a), confirm), http.StatusBadRequest)
		var p api.Problem
		if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Errors) != 1 || p.Errors[0].Location != "body: confirm" ||
			p.Detail != "Type the process's name exactly to confirm." {
			t.Errorf("confirm %q: %s", confirm, r.Body)
		}
	}
	want(t, srv.do(t, basic(root), "POST", keysOf(a)+"/revoke-all", `{"confirm":"Invoices","all":true}`), http.StatusBadRequest)
	wantStatuses(t, srv, http.StatusOK, append(aKeys, bKey, orgKey)...) // nothing was deleted

	// A process key with the manage scope may revoke its own process's
	// keys, itself among them; never another process's.
	want(t, srv.revokeAll(t, aKeys[0], keysOf(b), "Receipts"), http.StatusNotFound)
	r := want(t, srv.revokeAll(t, root, keysOf(a), "Invoices"), http.StatusOK)
	if got := string(r.Body); got != `{"revoked":3}`+"\n" {
		t.Errorf("revoke-all of a process with 3 keys answered %s", got)
	}
	// In force on this node when the answer is sent: no waiting.
	wantStatuses(t, srv, http.StatusUnauthorized, aKeys...)
	wantStatuses(t, srv, http.StatusOK, bKey, orgKey, root)
	want(t, srv.do(t, basic(root), "GET", "/api/v1/processes/"+a, nil), http.StatusOK) // the process stays
	if !strings.Contains(srv.Log.String(), `msg="api keys revoked" revoked=3 org_id=`) {
		t.Errorf("no log line for the revocation:\n%s", srv.Log)
	}

	deleted := srv.auditEvents(t, root, keywarden.AuditAPIKeyDeleted)
	if len(deleted) != 3 {
		t.Fatalf("%d api_key.deleted events, want 3: %+v", len(deleted), deleted)
	}
	for _, e := range deleted {
		if e.Target.Type != "api_key" || e.ProcessID != a || e.Actor.Type != keywarden.ActorAPIKey || e.ClientIP == "" {
			t.Errorf("deletion event %+v", e)
		}
	}
	summary := srv.auditEvents(t, root, keywarden.AuditAPIKeysRevokedAll)
	if len(summary) != 1 || summary[0].Target != (api.AuditTarget{Type: "process", ID: a, Name: "Invoices (3 keys)"}) ||
		summary[0].At != deleted[0].At {
		t.Errorf("summary events %+v, want one naming Invoices and 3 keys, at the deletions' time", summary)
	}

	// Organization-wide, in another organization: every key of it, at both
	// levels, the caller's own among them; Acme's keys stay.
	_, initechRoot := setupOrg(t, clock, dir, "Initech")
	wantAcceptedSoon(t, srv, initechRoot, 2*time.Second) // made on the command line: the node learns of it from the log
	payroll := srv.createProcess(t, initechRoot, "Payroll")
	payrollKey := keyValue(t, srv.createKey(t, initechRoot, keysOf(payroll), []string{"all"}, clock))
	initechKey := keyValue(t, srv.createKey(t, initechRoot, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock))
	want(t, srv.revokeAll(t, initechRoot, "/api/v1/admin/api-keys", "Acme"), http.StatusBadRequest)
	want(t, srv.revokeAll(t, payrollKey, "/api/v1/admin/api-keys", "Initech"), http.StatusForbidden) // organization level only
	r = want(t, srv.revokeAll(t, initechRoot, "/api/v1/admin/api-keys", "Initech"), http.StatusOK)
	if got := string(r.Body); got != `{"revoked":3}`+"\n" {
		t.Errorf("organization revoke-all answered %s", got)
	}
	wantStatuses(t, srv, http.StatusUnauthorized, initechRoot, payrollKey, initechKey)
	wantStatuses(t, srv, http.StatusOK, bKey, orgKey, root)
}

// TestPostgresRevokeAllReachesEveryNode: revoke-all on node 1 stops every
// key of the process on node 2 too, within the bound of any deletion;
// the other process's keys work on both.
func TestPostgresRevokeAllReachesEveryNode(t *testing.T) {
	dbURL, _ := pgSchema(t)
	clock := newFakeClock()
	_, root := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	nodes := startNodes(t, clock, dbURL, 2)
	one, two := nodes[0], nodes[1]
	waitLog(t, two, "key change notifications: listening", 1)
	a := one.createProcess(t, root, "Invoices")
	b := one.createProcess(t, root, "Receipts")
	keysOf := func(p string) string { return "/api/v1/processes/" + p + "/api-keys" }
	var aKeys []string
	for range 5 {
		aKeys = append(aKeys, keyValue(t, one.createKey(t, root, keysOf(a), []string{"workspace.process:read"}, clock)))
	}
	bKey := keyValue(t, one.createKey(t, root, keysOf(b), []string{"workspace.process:read"}, clock))
	// Node 2 learns of them from the log, and holds them in its cache.
	for _, k := range append(aKeys, bKey) {
		wantAcceptedSoon(t, two, k, 2*time.Second)
	}

	want(t, one.revokeAll(t, root, keysOf(a), "Invoices"), http.StatusOK)
	revoked := time.Now()
	wantStatuses(t, one, http.StatusUnauthorized, aKeys...)
	// Each key is asked about until its first 401 only: every refusal
	// counts against this address's budget of failed authentications.
	pending := append([]string(nil), aKeys...)
	for len(pending) > 0 {
		if time.Since(revoked) > 2*time.Second {
			t.Fatalf("node 2 still accepts %d of %d revoked keys 2s after the revocation on node 1", len(pending), len(aKeys))
		}
		if two.do(t, basic(pending[0]), "GET", "/api/v1/me", nil).Status == http.StatusUnauthorized {
			pending = pending[1:]
			continue
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("every key of the process refused on node 2 %v after the revocation on node 1", time.Since(revoked))
	for _, node := range nodes {
		wantStatuses(t, node, http.StatusOK, bKey, root)
	}
}

// TestRevokeAllOnTheCommandLine: keys revoke-all asks at a terminal for
// the name, refuses without --yes where there is none (exit status 2)
// and deletes nothing then; with it, it revokes, and a serving node drops
// the keys.
func TestRevokeAllOnTheCommandLine(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")
	procID := strings.TrimSpace(mustCLI(t, clock, dir, "", "processes", "create", "--org", "Acme", "--name", "Invoices"))
	otherID := strings.TrimSpace(mustCLI(t, clock, dir, "", "processes", "create", "--org", "Acme", "--name", "Receipts"))
	newKey := func(process string) string {
		args := []string{"keys", "create", "--org", "Acme", "--name", "k", "--scopes", "workspace.process:read"}
		if process != "" {
			args = append(args, "--process", process)
		}
		return strings.TrimSpace(mustCLI(t, clock, dir, "", args...))
	}
	pKeys := []string{newKey(procID), newKey(procID)}
	otherKey, orgKey := newKey(otherID), newKey("")
	srv := startServer(t, clock, dir)
	wantStatuses(t, srv, http.StatusOK, append(pKeys, otherKey, orgKey, root)...)
	count := func(process string) int {
		args := []string{"keys", "list", "--org", "Acme", "--json"}
		if process != "" {
			args = append(args, "--process", process)
		}
		var l api.APIKeyList
		mustJSON(t, mustCLI(t, clock, dir, "", args...), &l)
		return l.Pagination.Total
	}

	_, _, err := cli(t, clock, dir, "Invoices\n", "keys", "revoke-all", "--org", "Acme", "--process", procID)
	if exitCode(err) != 2 || describe(err) != "keywarden keys revoke-all: standard input is not a terminal to confirm at: add --yes to revoke" {
		t.Errorf("revoke-all without a terminal or --yes: %v (exit status %d)", err, exitCode(err))
	}
	if _, _, err := cli(t, clock, dir, "", "keys", "revoke-all", "--process", procID); exitCode(err) != 2 || describe(err) != "keywarden keys revoke-all: --org is required" {
		t.Errorf("revoke-all without --org: %v", err)
	}
	_, errOut, err := terminalCLI(t, clock, dir, "invoices\n", "keys", "revoke-all", "--org", "Acme", "--process", procID)
	if !errors.Is(err, errDeclined) || exitCode(err) != 1 || !strings.Contains(errOut, `Type the process's name, Invoices, to confirm: `) {
		t.Errorf("revoke-all answered with the name misspelt: %v, stderr %q", err, errOut)
	}
	if n := count(procID); n != 2 {
		t.Fatalf("after two refused revocations the process has %d keys, want 2", n)
	}

	_, errOut, err = terminalCLI(t, clock, dir, "Invoices\n", "keys", "revoke-all", "--org", "Acme", "--process", procID)
	if err != nil || !strings.Contains(errOut, `Revoked 2 API keys of process "Invoices".`) {
		t.Fatalf("revoke-all answered with the name: %v, stderr %q", err, errOut)
	}
	if n := count(procID); n != 0 {
		t.Errorf("the process has %d keys after its revocation", n)
	}
	for _, k := range pKeys {
		eventually(t, "a key revoked on the command line stops working on the server", func() bool {
			return srv.do(t, basic(k), "GET", "/api/v1/me", nil).Status == http.StatusUnauthorized
		})
	}
	wantStatuses(t, srv, http.StatusOK, otherKey, orgKey, root)

	// The whole organization, with --yes, as a script does: --json is
	// the API's answer.
	out := mustCLI(t, clock, dir, "", "keys", "revoke-all", "--org", orgID, "--yes", "--json")
	if out != `{"revoked":3}`+"\n" {
		t.Errorf("revoke-all --json printed %q", out)
	}
	if n := count("") + count(otherID); n != 0 {
		t.Errorf("the organization has %d keys after its revocation", n)
	}
	for _, k := range []string{otherKey, orgKey, root} {
		eventually(t, "an organization's key stops working on the server", func() bool {
			return srv.do(t, basic(k), "GET", "/api/v1/me", nil).Status == http.StatusUnauthorized
		})
	}

	// Both revocations are in the audit log as the command line's.
	a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, now: clock.Now}
	store, err := a.openStore(t.Context(), &storeFlags{dataDir: dir, migrate: true, timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, _, err := store.FindAuditEventsAfter(t.Context(), keywarden.AuditFilter{OrgID: orgID, Action: keywarden.AuditAPIKeysRevokedAll})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range events {
		if e.Actor.Type != keywarden.ActorCLI {
			t.Errorf("revocation event by %+v", e.Actor)
		}
		names = append(names, e.TargetType+" "+e.TargetName)
	}
	slices.Sort(names) // one instant: the log's order between them is the IDs'
	if got := strings.Join(names, ", "); got != "organization Acme (3 keys), process Invoices (2 keys)" {
		t.Errorf("revocation events: %s", got)
	}
	deleted, _, err := store.FindAuditEventsAfter(t.Context(), keywarden.AuditFilter{OrgID: orgID, Action: keywarden.AuditAPIKeyDeleted})
	if err != nil || len(deleted) != 5 {
		t.Errorf("%d api_key.deleted events, want 5 (%v)", len(deleted), err)
	}
}

// TestRevokeAllInTheConsole (without JavaScript): the key pages of people
// who manage the keys have the section, whose dialog names what to type;
// the console's call needs the session's CSRF token and the exact name.
func TestRevokeAllInTheConsole(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	empty := srv.createProcess(t, root, "Empty")
	keysPath := "/api/v1/processes/" + proc + "/api-keys"
	k1 := keyValue(t, srv.createKey(t, root, keysPath, []string{"all"}, clock))
	k2 := keyValue(t, srv.createKey(t, root, keysPath, []string{"all"}, clock))
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")

	page := string(want(t, owner.get("/processes/"+proc+"/settings/api-keys"), http.StatusOK).Body)
	for _, w := range []string{`data-testid="revoke-all"`, `data-api="` + keysPath + `/revoke-all"`, `data-confirm-text="Invoices"`,
		`data-kind="revoke-all"`, "all 2 keys stop"} {
		if !strings.Contains(page, w) {
			t.Errorf("the process key page has no %s", w)
		}
	}
	if page := string(want(t, owner.get("/processes/"+empty+"/settings/api-keys"), http.StatusOK).Body); strings.Contains(page, `data-testid="revoke-all"`) {
		t.Error("a process without keys offers to revoke them all")
	}
	if page := string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body); !strings.Contains(page, `data-api="/api/v1/admin/api-keys/revoke-all"`) ||
		!strings.Contains(page, `data-confirm-text="Acme"`) {
		t.Error("the organization key page has no organization-wide revocation")
	}

	owner.get("/processes/" + proc + "/settings/api-keys")
	want(t, owner.api("POST", keysPath+"/revoke-all", api.RevokeAllRequest{Confirm: "Invoices"}, false), http.StatusForbidden) // no CSRF token
	want(t, owner.api("POST", keysPath+"/revoke-all", api.RevokeAllRequest{Confirm: "Invoice"}, true), http.StatusBadRequest)
	wantStatuses(t, srv, http.StatusOK, k1, k2)
	r := want(t, owner.api("POST", keysPath+"/revoke-all", api.RevokeAllRequest{Confirm: "Invoices"}, true), http.StatusOK)
	if string(r.Body) != `{"revoked":2}`+"\n" {
		t.Errorf("the console's revoke-all answered %s", r.Body)
	}
	wantStatuses(t, srv, http.StatusUnauthorized, k1, k2)
	events := srv.auditEvents(t, root, keywarden.AuditAPIKeysRevokedAll)
	if len(events) != 1 || events[0].Actor.Type != keywarden.ActorUser || events[0].Actor.Name != "acme@example.com" {
		t.Errorf("the console's revocation is audited as %+v", events)
	}
	if page := string(want(t, owner.get("/processes/"+proc+"/settings/api-keys"), http.StatusOK).Body); strings.Contains(page, `data-testid="revoke-all"`) {
		t.Error("the section stays after every key is gone")
	}
}
