package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// TestFirstKeyFlow is the README's first minute: an organization and a root
// key from the command line, then a process and a process key over the API,
// each key used with HTTP Basic as curl -u sends it, and with Bearer.
func TestFirstKeyFlow(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")
	if !regexp.MustCompile(`^`+keywarden.KeyPattern+`$`).MatchString(root) || !strings.HasPrefix(root, "kwo_") {
		t.Fatalf("keys create printed %q, not an organization key", root)
	}
	srv := startServer(t, clock, dir)

	me := want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK).JSON(t)
	if me["orgId"] != orgID || me["level"] != "organization" || len(me["scopes"].([]any)) != len(keywarden.DefaultScopes()) {
		t.Fatalf("/me of the root key = %v", me)
	}
	want(t, srv.do(t, bearer(root), "GET", "/api/v1/me", nil), http.StatusOK)

	procID := srv.createProcess(t, root, "Invoices")
	created := srv.createKey(t, root, "/api/v1/processes/"+procID+"/api-keys", []string{"workspace.file:upload", "workspace.process:read"}, clock)
	pkey, _ := created["key"].(string)
	if !strings.HasPrefix(pkey, "kwp_") || created["processId"] != procID || created["status"] != "Active" {
		t.Fatalf("created process key = %v", created)
	}
	got := want(t, srv.do(t, basic(pkey), "GET", "/api/v1/processes/"+procID, nil), http.StatusOK).JSON(t)
	if got["name"] != "Invoices" || got["processTypeId"] != "custom" {
		t.Fatalf("process read with the process key = %v", got)
	}
	me = want(t, srv.do(t, basic(pkey), "GET", "/api/v1/me", nil), http.StatusOK).JSON(t)
	if me["processId"] != procID || me["level"] != "process" {
		t.Fatalf("/me of the process key = %v", me)
	}

	// Listed afterwards, the key shows everything but its secret, and its
	// last use.
	list := want(t, srv.do(t, basic(root), "GET", "/api/v1/processes/"+procID+"/api-keys", nil), http.StatusOK)
	if bytes.Contains(list.Body, []byte(strings.SplitN(pkey, ":", 2)[1])) || bytes.Contains(list.Body, []byte(`"key"`)) {
		t.Fatalf("key list reveals a secret: %s", list.Body)
	}
	// Uses are written in the background, within moments.
	eventually(t, "the key list shows the key's last use", func() bool {
		list := want(t, srv.do(t, basic(root), "GET", "/api/v1/processes/"+procID+"/api-keys", nil), http.StatusOK)
		items := list.JSON(t)["apiKeys"].([]any)
		if len(items) != 1 {
			t.Fatalf("process key list = %s", list.Body)
		}
		return items[0].(map[string]any)["lastUsedAt"] != nil
	})
}

func TestCreateResponseIsNotCached(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	body := map[string]any{"name": "ci", "scopes": []string{"all"}, "exp": clock.Now().Add(24 * time.Hour).Format(time.RFC3339)}
	r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", body), http.StatusCreated)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	id := r.JSON(t)["id"].(string)
	if loc := r.Header.Get("Location"); loc != "/api/v1/admin/api-keys/"+id {
		t.Errorf("Location = %q", loc)
	}
	// Read back, the key has no secret.
	one := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+id, nil), http.StatusOK)
	if _, ok := one.JSON(t)["key"]; ok {
		t.Errorf("GET of a key returns its secret: %s", one.Body)
	}
}

// TestProcessKeyIsConfinedToItsProcess: a process key sees its own process
// only, another process does not exist for it, and /admin is closed to it.
func TestProcessKeyIsConfinedToItsProcess(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	mine := srv.createProcess(t, root, "Invoices")
	other := srv.createProcess(t, root, "Receipts")
	pkey := srv.createKey(t, root, "/api/v1/processes/"+mine+"/api-keys", []string{"all"}, clock)["key"].(string)

	list := want(t, srv.do(t, basic(pkey), "GET", "/api/v1/processes", nil), http.StatusOK).JSON(t)
	procs := list["processes"].([]any)
	if len(procs) != 1 || procs[0].(map[string]any)["id"] != mine || list["pagination"].(map[string]any)["total"] != 1.0 {
		t.Fatalf("GET /processes with a process key = %v", list)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/processes/" + other},
		{"PATCH", "/api/v1/processes/" + other},
		{"GET", "/api/v1/processes/" + other + "/api-keys"},
		{"POST", "/api/v1/processes/" + other + "/api-keys"},
	} {
		want(t, srv.do(t, basic(pkey), req.method, req.path, map[string]any{"name": "x"}), http.StatusNotFound)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/admin/api-keys"},
		{"POST", "/api/v1/admin/api-keys"},
		{"POST", "/api/v1/processes"},
		{"DELETE", "/api/v1/processes/" + mine},
	} {
		want(t, srv.do(t, basic(pkey), req.method, req.path, map[string]any{"name": "x"}), http.StatusForbidden)
	}
	// Its own process's keys it may manage ("all" at process level includes
	// workspace.process.api_key:manage), but only keys of its own process.
	child := srv.createKey(t, pkey, "/api/v1/processes/"+mine+"/api-keys", []string{"workspace.file:upload"}, clock)
	if child["processId"] != mine {
		t.Fatalf("child key = %v", child)
	}
}

// TestNoEscalation: a key can create only keys whose scopes it holds, and
// only at its own level.
func TestNoEscalation(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	manager := srv.createKey(t, root, "/api/v1/admin/api-keys",
		[]string{"workspace.process.api_key:manage", "workspace.file:upload"}, clock)["key"].(string)

	exp := clock.Now().Add(24 * time.Hour).Format(time.RFC3339)
	before := srv.do(t, basic(root), "GET", "/api/v1/processes/"+proc+"/api-keys", nil).Body

	r := want(t, srv.do(t, basic(manager), "POST", "/api/v1/processes/"+proc+"/api-keys",
		map[string]any{"name": "x", "scopes": []string{"workspace.file:upload", "workspace.file:download"}, "exp": exp}), http.StatusForbidden)
	if !strings.Contains(r.JSON(t)["detail"].(string), "workspace.file:download") {
		t.Errorf("403 does not name the missing scope: %s", r.Body)
	}
	want(t, srv.do(t, basic(manager), "POST", "/api/v1/processes/"+proc+"/api-keys",
		map[string]any{"name": "x", "scopes": []string{"all"}, "exp": exp}), http.StatusForbidden)
	want(t, srv.do(t, basic(manager), "POST", "/api/v1/admin/api-keys",
		map[string]any{"name": "x", "scopes": []string{"workspace.file:upload"}, "exp": exp}), http.StatusForbidden)
	if after := srv.do(t, basic(root), "GET", "/api/v1/processes/"+proc+"/api-keys", nil).Body; !bytes.Equal(before, after) {
		t.Fatalf("a refused create changed the key list:\nbefore %s\nafter  %s", before, after)
	}
	// Within its own scopes it may.
	srv.createKey(t, manager, "/api/v1/processes/"+proc+"/api-keys", []string{"workspace.file:upload"}, clock)
}

// TestTenantIsolation: another organization's objects answer 404, exactly
// like objects that do not exist.
func TestTenantIsolation(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, rootA := setupOrg(t, clock, dir, "Acme")
	_, rootB := setupOrg(t, clock, dir, "Globex")
	srv := startServer(t, clock, dir)
	procB := srv.createProcess(t, rootB, "Secret plans")
	keyB := srv.createKey(t, rootB, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)["id"].(string)
	pkeyB := srv.createKey(t, rootB, "/api/v1/processes/"+procB+"/api-keys", []string{"workspace.file:upload"}, clock)["id"].(string)
	missing := strings.Repeat("0", 32)

	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/processes/" + procB},
		{"PATCH", "/api/v1/processes/" + procB},
		{"DELETE", "/api/v1/processes/" + procB},
		{"GET", "/api/v1/processes/" + procB + "/api-keys"},
		{"POST", "/api/v1/processes/" + procB + "/api-keys"},
		{"GET", "/api/v1/processes/" + procB + "/api-keys/" + pkeyB},
		{"DELETE", "/api/v1/processes/" + procB + "/api-keys/" + pkeyB},
		{"GET", "/api/v1/admin/api-keys/" + keyB},
		{"DELETE", "/api/v1/admin/api-keys/" + keyB},
	} {
		body := map[string]any{"name": "x", "scopes": []string{"all"}, "exp": clock.Now().Add(time.Hour).Format(time.RFC3339)}
		got := want(t, srv.do(t, basic(rootA), req.method, req.path, body), http.StatusNotFound)
		// The same answer as for an ID that exists nowhere.
		absent := srv.do(t, basic(rootA), req.method, strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(req.path, procB, missing), keyB, missing), pkeyB, missing), body)
		if absent.JSON(t)["detail"] != got.JSON(t)["detail"] {
			t.Errorf("%s %s: another tenant's object answers %q, a missing one %q", req.method, req.path, got.JSON(t)["detail"], absent.JSON(t)["detail"])
		}
	}
	if list := srv.do(t, basic(rootA), "GET", "/api/v1/processes", nil); bytes.Contains(list.Body, []byte(procB)) {
		t.Fatal("organization A lists organization B's process")
	}
	// B's objects are untouched.
	want(t, srv.do(t, basic(rootB), "GET", "/api/v1/admin/api-keys/"+keyB, nil), http.StatusOK)
	want(t, srv.do(t, basic(rootB), "GET", "/api/v1/processes/"+procB+"/api-keys/"+pkeyB, nil), http.StatusOK)
}

// TestEveryAuthenticationFailureLooksTheSame: whatever is wrong with the
// credentials, the caller gets the same 401, byte for byte.
func TestEveryAuthenticationFailureLooksTheSame(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	exp := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }
	shortLived := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys",
		map[string]any{"name": "short", "scopes": []string{"all"}, "exp": exp(time.Hour)}), http.StatusCreated).JSON(t)
	deleted := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys",
		map[string]any{"name": "gone", "scopes": []string{"all"}, "exp": exp(48 * time.Hour)}), http.StatusCreated).JSON(t)
	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+deleted["id"].(string), nil), http.StatusNoContent)
	clock.Advance(2 * time.Hour) // past shortLived's expiry

	user, pass, _ := strings.Cut(root, ":")
	km, _ := keywarden.GenerateKey(nil, "kwo_")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string]auth{
		"wrong secret":         basic(user + ":" + keywardenKeyWithSecret(t, user)),
		"unknown key ID":       basic(km.Value()),
		"flipped checksum":     basic(user + ":" + flip(pass, len(pass)-1)),
		"flipped secret":       basic(user + ":" + flip(pass, 3)),
		"truncated key":        basic(root[:len(root)-5]),
		"empty header":         rawAuthorization(""),
		"no header":            nil,
		"garbage base64":       rawAuthorization("Basic %%%not-base64%%%"),
		"unknown scheme":       rawAuthorization("Digest " + root),
		"bearer without colon": rawAuthorization("Bearer " + user),
		"expired key":          basic(shortLived["key"].(string)),
		"deleted key":          basic(deleted["key"].(string)),
		"user only":            basic(user + ":"),
		"secret in user field": basic(pass + ":" + pass),
		"two authorization hdr": func(r *http.Request) {
			r.Header.Add("Authorization", "Basic x")
			r.Header.Add("Authorization", "Basic y")
		},
	}
	var first []byte
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			r := want(t, srv.do(t, a, "GET", "/api/v1/me", nil), http.StatusUnauthorized)
			if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="keywarden"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if first == nil {
				first = r.Body
			} else if !bytes.Equal(first, r.Body) {
				t.Errorf("401 body differs:\n%s\nvs\n%s", r.Body, first)
			}
		})
	}
	// The reasons reach the server log, with the public key ID only.
	log := srv.Log.String()
	for _, reason := range []string{"wrong_secret", "unknown_key", "bad_checksum", "malformed", "expired"} {
		if !strings.Contains(log, " auth_failure="+reason) {
			t.Errorf("server log has no request line with auth_failure=%s", reason)
		}
	}
	if strings.Contains(log, pass) {
		t.Error("server log contains the secret")
	}
}

// keywardenKeyWithSecret returns a well-formed pass for user with a fresh
// secret and a correct checksum: the right key ID with the wrong secret.
func keywardenKeyWithSecret(t *testing.T, user string) string {
	t.Helper()
	other, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	return keywarden.KeyMaterial{User: user, Secret: other.Secret}.Pass()
}

// TestKeyStopsWorking: at once when its DELETE returns 204, and at its exp.
func TestKeyStopsWorking(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)

	t.Run("after delete", func(t *testing.T) {
		k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"all"}, clock)
		want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusOK)
		want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNoContent)
		want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
		want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNotFound)
		want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNotFound)
	})
	t.Run("after its process is deleted", func(t *testing.T) {
		proc := srv.createProcess(t, root, "Doomed")
		k := srv.createKey(t, root, "/api/v1/processes/"+proc+"/api-keys", []string{"all"}, clock)["key"].(string)
		want(t, srv.do(t, basic(k), "GET", "/api/v1/me", nil), http.StatusOK)
		want(t, srv.do(t, basic(root), "DELETE", "/api/v1/processes/"+proc, nil), http.StatusNoContent)
		want(t, srv.do(t, basic(k), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	})
	t.Run("at expiry", func(t *testing.T) {
		body := map[string]any{"name": "day", "scopes": []string{"all"}, "exp": clock.Now().Add(24 * time.Hour).Format(time.RFC3339)}
		k := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", body), http.StatusCreated).JSON(t)
		clock.Advance(24*time.Hour - time.Second)
		want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusOK)
		clock.Advance(time.Second)
		want(t, srv.do(t, basic(k["key"].(string)), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
		got := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusOK).JSON(t)
		if got["status"] != "Expired" {
			t.Errorf("status of an expired key = %v", got["status"])
		}
	})
}

// TestBadInputChangesNothing: each bad request gets a 4xx problem naming
// the field, and the lists are the same before and after.
func TestBadInputChangesNothing(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	exp := clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	key := func(name any, scopes any, exp any) string {
		b, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes, "exp": exp})
		return string(b)
	}
	tests := []struct {
		name     string
		path     string
		body     string
		status   int
		location string
	}{
		{"invalid JSON", "/api/v1/admin/api-keys", `{"name": "x",`, 400, "body"},
		{"not an object", "/api/v1/admin/api-keys", `["x"]`, 400, "body"},
		{"empty body", "/api/v1/admin/api-keys", ``, 400, "body"},
		{"two objects", "/api/v1/admin/api-keys", key("x", []string{"all"}, exp) + "{}", 400, "body"},
		{"name is a number", "/api/v1/admin/api-keys", key(5, []string{"all"}, exp), 400, "body: name"},
		{"scopes is a string", "/api/v1/admin/api-keys", key("x", "all", exp), 400, "body: scopes"},
		{"unknown field", "/api/v1/admin/api-keys", `{"name":"x","scopes":["all"],"expires":"` + exp + `"}`, 400, "body: expires"},
		{"empty name", "/api/v1/admin/api-keys", key("", []string{"all"}, exp), 400, "body: name"},
		{"blank name", "/api/v1/admin/api-keys", key("   ", []string{"all"}, exp), 400, "body: name"},
		{"300-character name", "/api/v1/admin/api-keys", key(strings.Repeat("n", 300), []string{"all"}, exp), 400, "body: name"},
		{"unknown scope", "/api/v1/admin/api-keys", key("x", []string{"workspace.file:upload", "workspace.file:shred"}, exp), 400, "body: scopes[1]"},
		{"no scopes", "/api/v1/admin/api-keys", key("x", []string{}, exp), 400, "body: scopes"},
		{"org scope on a process key", "/api/v1/processes/" + proc + "/api-keys", key("x", []string{"workspace.admin.user:read"}, exp), 400, "body: scopes[0]"},
		{"exp missing", "/api/v1/admin/api-keys", `{"name":"x","scopes":["all"]}`, 400, "body: exp"},
		{"exp not a time", "/api/v1/admin/api-keys", key("x", []string{"all"}, "next tuesday"), 400, "body: exp"},
		{"exp in the past", "/api/v1/admin/api-keys", key("x", []string{"all"}, clock.Now().Add(-time.Minute).Format(time.RFC3339)), 400, "body: exp"},
		{"exp beyond policy", "/api/v1/admin/api-keys", key("x", []string{"all"}, clock.Now().Add(366*24*time.Hour).Format(time.RFC3339)), 400, "body: exp"},
		{"process key exp beyond policy", "/api/v1/processes/" + proc + "/api-keys", key("x", []string{"all"}, clock.Now().Add(400*24*time.Hour).Format(time.RFC3339)), 400, "body: exp"},
		{"body over 1 MiB", "/api/v1/admin/api-keys", key(strings.Repeat("n", 1<<20), []string{"all"}, exp), 413, ""},
		{"process with empty name", "/api/v1/processes", `{"name":""}`, 400, "body: name"},
		{"process with a bad type", "/api/v1/processes", `{"name":"x","processTypeId":"Not A Type!"}`, 400, "body: processTypeId"},
	}
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{"/api/v1/admin/api-keys?limit=100", "/api/v1/processes?limit=100", "/api/v1/processes/" + proc + "/api-keys?limit=100"} {
			b.Write(want(t, srv.do(t, basic(root), "GET", p, nil), http.StatusOK).Body)
		}
		return b.String()
	}
	// The root key's use is written in the background: once it is, the
	// snapshot changes only if a bad request changed something.
	eventually(t, "the root key's use is recorded", func() bool { return !strings.Contains(snapshot(), `"lastUsedAt":null`) })
	before := snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := srv.do(t, basic(root), "POST", tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			p := r.JSON(t)
			if p["status"] != float64(tt.status) || p["detail"] == "" || p["instance"] != tt.path {
				t.Errorf("problem = %v", p)
			}
			if tt.location == "" {
				return
			}
			var locations []string
			for _, e := range p["errors"].([]any) {
				locations = append(locations, e.(map[string]any)["location"].(string))
			}
			if !contains(locations, tt.location) {
				t.Errorf("errors name %v, want %q", locations, tt.location)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad requests changed the data:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("every invalid field at once", func(t *testing.T) {
		r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", key("", []string{"nope:nope"}, "soon")), http.StatusBadRequest)
		if n := len(r.JSON(t)["errors"].([]any)); n != 3 {
			t.Errorf("%d field errors, want 3 (name, scopes, exp): %s", n, r.Body)
		}
	})
	t.Run("bad pagination", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "offset=-1"} {
			want(t, srv.do(t, basic(root), "GET", "/api/v1/processes?"+q, nil), http.StatusBadRequest)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		r := want(t, srv.do(t, basic(root), "PUT", "/api/v1/processes/"+proc, `{"name":"x"}`), http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != "GET, PATCH, DELETE" {
			t.Errorf("Allow = %q", got)
		}
	})
	t.Run("trailing data over the limit", func(t *testing.T) {
		want(t, srv.do(t, basic(root), "POST", "/api/v1/processes", io.MultiReader(strings.NewReader(`{"name":"x"}`+strings.Repeat(" ", 1<<20)))), http.StatusRequestEntityTooLarge)
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		r := want(t, srv.do(t, basic(root), "GET", "/api/v1/nothing-here", nil), http.StatusNotFound)
		if r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("unknown endpoint answers %q", r.Header.Get("Content-Type"))
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestKeyInQueryStringIsRefused: a key in the URL is a 400, even if the
// request is otherwise authenticated, and never reaches the log.
func TestKeyInQueryStringIsRefused(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	for _, q := range []string{"api_key=" + root, "key=" + root, "access_token=x", "q=" + root} {
		r := want(t, srv.do(t, basic(root), "GET", "/api/v1/processes?"+q, nil), http.StatusBadRequest)
		if !strings.Contains(string(r.Body), "Authorization header") {
			t.Errorf("?%s: %s", q, r.Body)
		}
	}
	if strings.Contains(srv.Log.String(), strings.SplitN(root, ":", 2)[1]) {
		t.Fatal("a key sent in the URL reached the server log")
	}
}

func TestPagination(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, srv.createProcess(t, root, "P"+string(rune('a'+i))))
		clock.Advance(time.Second)
	}
	got := want(t, srv.do(t, basic(root), "GET", "/api/v1/processes?offset=1&limit=2", nil), http.StatusOK).JSON(t)
	procs := got["processes"].([]any)
	pg := got["pagination"].(map[string]any)
	if len(procs) != 2 || procs[0].(map[string]any)["id"] != ids[1] || procs[1].(map[string]any)["id"] != ids[2] {
		t.Errorf("page = %v", procs)
	}
	if pg["offset"] != 1.0 || pg["limit"] != 2.0 || pg["total"] != 5.0 {
		t.Errorf("pagination = %v", pg)
	}
	// Keys: the root key plus two more, in creation order.
	srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"all"}, clock)
	srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"all"}, clock)
	keys := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys?offset=2&limit=10", nil), http.StatusOK).JSON(t)
	if n := len(keys["apiKeys"].([]any)); n != 1 || keys["pagination"].(map[string]any)["total"] != 3.0 {
		t.Errorf("keys page = %v", keys)
	}
}

func TestRenameAndDeleteProcess(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	clock.Advance(time.Minute)
	got := want(t, srv.do(t, basic(root), "PATCH", "/api/v1/processes/"+proc, map[string]any{"name": " Invoices 2026 "}), http.StatusOK).JSON(t)
	if got["name"] != "Invoices 2026" || got["updatedAt"] == got["createdAt"] {
		t.Errorf("renamed process = %v", got)
	}
	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/processes/"+proc, nil), http.StatusNoContent)
	want(t, srv.do(t, basic(root), "GET", "/api/v1/processes/"+proc, nil), http.StatusNotFound)
}

// TestRestartKeepsKeysAndNoSecretIsWritten: keys survive a restart on the same
// data directory, and neither the database, its WAL, nor the log contain a
// secret.
func TestRestartKeepsKeysAndNoSecretIsWritten(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	pkey := srv.createKey(t, root, "/api/v1/processes/"+proc+"/api-keys", []string{"all"}, clock)["key"].(string)
	okey := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"all"}, clock)["key"].(string)
	keys := []string{root, pkey, okey}
	for _, k := range keys {
		want(t, srv.do(t, basic(k), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	checkNoSecrets := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) == 0 {
			t.Fatal("data directory is empty")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				secret := strings.SplitN(k, ":", 2)[1]
				if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(secret[:43])) {
					t.Errorf("%s: %s contains a secret", when, filepath.Base(f))
				}
			}
		}
		for _, k := range keys {
			if strings.Contains(srv.Log.String(), strings.SplitN(k, ":", 2)[1][:43]) {
				t.Errorf("%s: the server log contains a secret", when)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keywarden.db-wal")); err != nil {
		t.Errorf("no WAL file while serving: %v", err)
	}
	checkNoSecrets("while serving")
	srv.Stop(t)
	checkNoSecrets("after shutdown")

	srv2 := startServer(t, clock, dir)
	for _, k := range keys {
		want(t, srv2.do(t, basic(k), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	srv = srv2
	checkNoSecrets("after restart")
}

// TestCommandLineKeys: keys list prints exactly the API's JSON, keys delete
// stops a key, and the command line enforces the same rules as the API.
func TestCommandLineKeys(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK)
	// The use is written in the background: wait for it, so that both
	// lists show it.
	var apiList map[string]any
	eventually(t, "the root key's use is recorded", func() bool {
		apiList = want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys", nil), http.StatusOK).JSON(t)
		return apiList["apiKeys"].([]any)[0].(map[string]any)["lastUsedAt"] != nil
	})

	var cliList map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, clock, dir, "", "keys", "list", "--org", orgID, "--json")), &cliList); err != nil {
		t.Fatal(err)
	}
	cliKey, _ := json.Marshal(cliList["apiKeys"].([]any)[0])
	apiKey, _ := json.Marshal(apiList["apiKeys"].([]any)[0])
	if !bytes.Equal(cliKey, apiKey) {
		t.Errorf("keys list --json differs from the API:\ncli %s\napi %s", cliKey, apiKey)
	}

	out := mustCLI(t, clock, dir, "", "keys", "create", "--org", "Acme", "--name", "ops", "--scopes", "workspace.process:read,workspace.file:upload", "--expires", "30d", "--json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if created["exp"] != clock.Now().Add(30*24*time.Hour).Format(time.RFC3339) || len(created["scopes"].([]any)) != 2 {
		t.Errorf("keys create --json = %v", created)
	}
	k := created["key"].(string)
	// The server learns of a key created by another process from the key
	// change feed, within --cache-poll (250 ms).
	eventually(t, "a key created by the command line works", func() bool {
		return srv.do(t, basic(k), "GET", "/api/v1/processes", nil).Status == http.StatusOK
	})
	mustCLI(t, clock, dir, "", "keys", "delete", "--org", "Acme", "--id", created["id"].(string), "--yes")
	// The server learns of a deletion made by another process through the
	// key change feed, within --cache-poll (250 ms).
	deadline := time.Now().Add(5 * time.Second)
	for srv.do(t, basic(k), "GET", "/api/v1/processes", nil).Status != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("a key deleted from the command line still works after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Each refusal must be for its own reason: a row whose password is too
	// short would be refused before the check it is named for.
	const password = "correct horse battery staple\n"
	for name, tc := range map[string]struct {
		stdin string
		args  []string
		want  string // in the error
	}{
		"unknown scope":          {"", []string{"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "workspace.file:shred"}, `--scopes: unknown scope "workspace.file:shred"`},
		"beyond policy":          {"", []string{"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "all", "--expires", "400d"}, "maximum key lifetime"},
		"unknown org":            {"", []string{"keys", "create", "--org", "Initech", "--name", "x", "--scopes", "all"}, `no organization named or with ID "Initech"`},
		"no name":                {"", []string{"keys", "create", "--org", "Acme", "--scopes", "all"}, "keywarden keys create: --name is required"},
		"unknown process":        {"", []string{"keys", "create", "--org", "Acme", "--process", strings.Repeat("a", 32), "--name", "x", "--scopes", "all"}, "Process not found."},
		"duplicate org":          {password, []string{"orgs", "create", "--name", "Acme", "--owner-email", "new@example.com", "--password-stdin"}, "An organization with that name already exists."},
		"duplicate owner e-mail": {password, []string{"orgs", "create", "--name", "Initech", "--owner-email", "acme@example.com", "--password-stdin"}, "A user with that email address already exists."},
		"short password":         {"short\n", []string{"orgs", "create", "--name", "Initech", "--owner-email", "x@example.com", "--password-stdin"}, "at least 12 characters"},
		"password not read":      {password, []string{"orgs", "create", "--name", "Initech", "--owner-email", "x@example.com"}, "--password-stdin is required"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := cli(t, clock, dir, tc.stdin, tc.args...)
			if err == nil {
				t.Fatalf("keywarden %s succeeded", strings.Join(tc.args, " "))
			}
			if !strings.Contains(describe(err), tc.want) {
				t.Errorf("keywarden %s: %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
	// Nothing was created by the refused commands.
	list := mustCLI(t, clock, dir, "", "orgs", "list", "--json")
	if strings.Contains(list, "Initech") || strings.Count(list, `"Acme"`) != 1 {
		t.Errorf("orgs list after the refusals:\n%s", list)
	}
}

// TestServeRefusesOutdatedSchema: with migrations turned off, a node does not
// serve on a schema it does not know.
func TestServeRefusesOutdatedSchema(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, errOut, err := cli(t, clock, dir, "", "serve", "--addr", "127.0.0.1:0", "--migrate=false")
	if err == nil || !strings.Contains(err.Error(), "keywarden migrate") {
		t.Fatalf("serve on an empty database with --migrate=false: err=%v stderr=%s", err, errOut)
	}
	mustCLI(t, clock, dir, "", "migrate")
	srv := startServer(t, clock, dir, "--migrate=false")
	want(t, srv.do(t, nil, "GET", "/readyz", nil), http.StatusOK)
	want(t, srv.do(t, nil, "GET", "/healthz", nil), http.StatusOK)
}

func TestVersionAndUsage(t *testing.T) {
	clock := newFakeClock()
	var out bytes.Buffer
	a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: &out, stderr: &out, now: clock.Now}
	if err := a.run(t.Context(), []string{"version"}); err != nil || !strings.HasPrefix(out.String(), "keywarden ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := a.run(t.Context(), []string{"frobnicate"}); exitCode(err) != 2 {
		t.Errorf("unknown command: err=%v exit=%d", err, exitCode(err))
	}
}

// TestEnvironmentFallback: flags read KEYWARDEN_* variables.
func TestEnvironmentFallback(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	var out, errOut bytes.Buffer
	env := map[string]string{"KEYWARDEN_DATA_DIR": dir}
	a := &app{getenv: func(k string) string { return env[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, now: clock.Now}
	if err := a.run(t.Context(), []string{"migrate"}); err != nil {
		t.Fatalf("migrate: %v %s", err, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "keywarden.db")); err != nil {
		t.Fatalf("KEYWARDEN_DATA_DIR was not used: %v", err)
	}
}
