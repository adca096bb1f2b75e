package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden/api"
)

// TestVerifyAPI reaches every code the verify API produces, through the
// real server, and shows that an unknown key ID and a wrong secret are
// answered with the same bytes.
func TestVerifyAPI(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	_, foreignRoot := setupOrg(t, clock, dir, "Globex")
	srv := startServer(t, clock, dir)
	invoices := srv.createProcess(t, root, "Invoices")
	receipts := srv.createProcess(t, root, "Receipts")
	foreign := srv.createProcess(t, foreignRoot, "Globex invoices")
	created := srv.createKey(t, root, "/api/v1/processes/"+invoices+"/api-keys", []string{"workspace.file:upload"}, clock)
	pkey, pkeyID := created["key"].(string), created["id"].(string)
	doomed := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	user, _, _ := strings.Cut(pkey, ":")

	verify := func(t *testing.T, body any) response {
		t.Helper()
		r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", body), http.StatusOK)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("verify response Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
		}
		return r
	}
	code := func(t *testing.T, body any) string {
		t.Helper()
		m := verify(t, body).JSON(t)
		if valid := m["valid"] == true; valid != (m["code"] == "VALID") || !valid && m["key"] != nil {
			t.Errorf("verify = %v: valid, code and key disagree", m)
		}
		return m["code"].(string)
	}

	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+doomed["id"].(string), nil), http.StatusNoContent)
	for _, tc := range []struct {
		name string
		body api.VerifyRequest
		want string
	}{
		{"a valid key with no requirement is VALID", api.VerifyRequest{Key: pkey}, "VALID"},
		{"a valid key with its scope on its process is VALID", api.VerifyRequest{Key: pkey, Scopes: []string{"workspace.file:upload"}, ProcessID: invoices}, "VALID"},
		{"an organization key on its own process is VALID", api.VerifyRequest{Key: root, Scopes: []string{"workspace.file:upload"}, ProcessID: receipts}, "VALID"},
		{"a scope the key lacks is INSUFFICIENT_SCOPE", api.VerifyRequest{Key: pkey, Scopes: []string{"workspace.file:upload", "workspace.result:read"}}, "INSUFFICIENT_SCOPE"},
		{"another process is WRONG_PROCESS", api.VerifyRequest{Key: pkey, ProcessID: receipts}, "WRONG_PROCESS"},
		{"another organization's process is WRONG_PROCESS", api.VerifyRequest{Key: root, ProcessID: foreign}, "WRONG_PROCESS"},
		{"a process that does not exist is WRONG_PROCESS", api.VerifyRequest{Key: root, ProcessID: strings.Repeat("0", 32)}, "WRONG_PROCESS"},
		{"an unknown key is INVALID", api.VerifyRequest{Key: randomSecret(t, "kwp_00000000000000000000")}, "INVALID"},
		{"a wrong secret is INVALID", api.VerifyRequest{Key: randomSecret(t, user)}, "INVALID"},
		{"a bad checksum is INVALID", api.VerifyRequest{Key: pkey[:len(pkey)-1] + flip(pkey[len(pkey)-1])}, "INVALID"},
		{"garbage is INVALID", api.VerifyRequest{Key: "hunter2"}, "INVALID"},
		{"a deleted key is INVALID", api.VerifyRequest{Key: doomed["key"].(string)}, "INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(t, tc.body); got != tc.want {
				t.Errorf("code = %s, want %s", got, tc.want)
			}
		})
	}

	t.Run("a valid answer describes the key", func(t *testing.T) {
		var got api.VerifyResponse
		if err := json.Unmarshal(verify(t, api.VerifyRequest{Key: pkey}).Body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Key == nil || got.Key.ID != pkeyID || got.Key.User != user || got.Key.ProcessID != invoices || got.Key.Exp == "" ||
			len(got.Key.Scopes) != 1 || got.Key.Scopes[0] != "workspace.file:upload" {
			t.Errorf("verify = %+v", got.Key)
		}
	})

	t.Run("an unknown ID and a wrong secret are byte-identical", func(t *testing.T) {
		unknown := verify(t, api.VerifyRequest{Key: randomSecret(t, "kwp_00000000000000000000")})
		wrong := verify(t, api.VerifyRequest{Key: randomSecret(t, user)})
		if !bytes.Equal(unknown.Body, wrong.Body) {
			t.Errorf("bodies differ:\n%s\n%s", unknown.Body, wrong.Body)
		}
		unknown.Header.Del("Date")
		wrong.Header.Del("Date")
		if a, b := headerString(unknown.Header), headerString(wrong.Header); a != b {
			t.Errorf("headers differ:\n%s\n%s", a, b)
		}
	})

	t.Run("an expired key is EXPIRED", func(t *testing.T) {
		clock.Advance(91 * 24 * time.Hour)
		defer clock.Advance(-91 * 24 * time.Hour)
		if got := code(t, api.VerifyRequest{Key: pkey}); got != "EXPIRED" {
			t.Errorf("code = %s, want EXPIRED", got)
		}
		if got := code(t, api.VerifyRequest{Key: randomSecret(t, user)}); got != "INVALID" {
			t.Errorf("a wrong secret of an expired key: code = %s, want INVALID", got)
		}
	})

	t.Run("bad requests are 400 problems", func(t *testing.T) {
		for _, body := range []any{map[string]any{}, map[string]any{"key": 7}, map[string]any{"key": pkey, "scopes": []string{"workspace.file:uplod"}},
			map[string]any{"key": pkey, "extra": true}, "not json"} {
			r := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", body), http.StatusBadRequest)
			if r.Header.Get("Content-Type") != api.ProblemContentType {
				t.Errorf("%v: Content-Type %q", body, r.Header.Get("Content-Type"))
			}
		}
	})

	t.Run("failures are logged with the reason, never the secret", func(t *testing.T) {
		log := srv.Log.String()
		_, secret, _ := strings.Cut(pkey, ":")
		if strings.Contains(log, secret) {
			t.Fatal("the log contains a key's secret")
		}
		// One line per request: the request's own, with the reason and the
		// public ID the key in the body named.
		keyUser := regexp.MustCompile(` key_user=kw[op]_[0-9A-Za-z]+ `)
		for _, reason := range []string{"unknown_key", "wrong_secret", "bad_checksum", "expired"} {
			line := logLineWith(log, " auth_failure="+reason)
			if !strings.Contains(line, "msg=request ") || !strings.Contains(line, " path=/api/v1/keys/verify ") || !keyUser.MatchString(line) {
				t.Errorf("the line of the verification that failed with %s: %q", reason, line)
			}
		}
		if strings.Contains(log, "authentication failed") {
			t.Error("a failed verification wrote a second line")
		}
	})
}

// randomSecret returns a well-formed key of user with a random secret.
func randomSecret(t *testing.T, user string) string {
	return user + ":" + keywardenKeyWithSecret(t, user)
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func headerString(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}

const validRoutes = `routes:
  - route: POST /v1/processes/{processId}/files
    scopes: [workspace.file:upload]
    process: processId
`

// writeRoutes writes a route table into dir and returns its path.
func writeRoutes(t *testing.T, dir, table string) string {
	t.Helper()
	file := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(file, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRouteTableIsCheckedAtStart: an invalid route table stops the server
// before it listens, naming the file and the line of each mistake.
func TestRouteTableIsCheckedAtStart(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"an unknown scope", "routes:\n  - route: GET /v1/x\n    scopes: [workspace.file:uplod]\n", `routes.yaml:3: unknown scope "workspace.file:uplod"`},
		{"a bad pattern", "routes:\n  - route: GET /v1/{x\n    anyKey: true\n", "routes.yaml:2:"},
		{"conflicting patterns", "routes:\n  - route: GET /v1/{a}/x\n    anyKey: true\n  - route: GET /v1/y/{b}\n    anyKey: true\n", "routes.yaml:4: conflicting pattern"},
		{"an unknown wildcard", "routes:\n  - route: GET /v1/processes/{processId}\n    anyKey: true\n    process: pid\n", "routes.yaml:4:"},
		{"an unknown field", "routes:\n  - route: GET /v1/x\n    scope: [workspace.file:upload]\n", "routes.yaml:3:"},
	} {
		t.Run(tc.name+" stops the server", func(t *testing.T) {
			clock, dir := newFakeClock(), t.TempDir()
			file := writeRoutes(t, dir, tc.file)
			srv := launchServer(t, clock, dir, "--routes", file)
			select {
			case err := <-srv.done:
				srv.cancel = nil
				if err == nil || !strings.Contains(err.Error(), file[:len(file)-len("routes.yaml")]+tc.want) {
					t.Errorf("serve returned %v, want an error containing %q", err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop on an invalid route table")
			}
			if strings.Contains(srv.Log.String(), "msg=listening") {
				t.Error("the server listened with an invalid route table")
			}
		})
	}
}

// TestRouteTableReloadsOnHangup: SIGHUP loads the edited file; an invalid
// edit is logged and the previous table stays in force.
func TestRouteTableReloadsOnHangup(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	file := writeRoutes(t, dir, validRoutes)
	srv := startServer(t, clock, dir, "--routes", file)
	pid := srv.createProcess(t, root, "Invoices")
	forward := func(method, uri string) int {
		t.Helper()
		return srv.do(t, func(r *http.Request) {
			basic(root)(r)
			r.Header.Set(api.HeaderOriginalMethod, method)
			r.Header.Set(api.HeaderOriginalURI, uri)
		}, "GET", "/api/v1/auth/forward", nil).Status
	}
	upload, list := "/v1/processes/"+pid+"/files", "/v1/processes/"+pid+"/files"
	if got := forward("POST", upload); got != http.StatusOK {
		t.Fatalf("upload before reload: %d", got)
	}
	if got := forward("GET", list); got != http.StatusForbidden {
		t.Fatalf("listing is not in the table yet: %d, want 403", got)
	}
	hangup := func(t *testing.T, wantLog string) {
		t.Helper()
		before := strings.Count(srv.Log.String(), wantLog)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(srv.Log.String(), wantLog) == before; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", wantLog, srv.Log)
			}
		}
	}

	t.Run("a valid file is loaded", func(t *testing.T) {
		edited := validRoutes + "  - route: GET /v1/processes/{processId}/files\n    scopes: [workspace.file:download]\n    process: processId\n"
		if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
			t.Fatal(err)
		}
		hangup(t, "route table reloaded")
		if got := forward("GET", list); got != http.StatusOK {
			t.Errorf("listing after reload: %d, want 200", got)
		}
	})
	t.Run("an invalid file keeps the previous table", func(t *testing.T) {
		if err := os.WriteFile(file, []byte("routes:\n  - route: GET /v1/x\n    scopes: [nope:nope]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		hangup(t, "route table not reloaded")
		if !strings.Contains(srv.Log.String(), "routes.yaml:3") {
			t.Errorf("the log does not name the line:\n%s", srv.Log)
		}
		if got := forward("GET", list); got != http.StatusOK {
			t.Errorf("listing after a failed reload: %d, want 200 (the previous table)", got)
		}
		if got := forward("POST", upload); got != http.StatusOK {
			t.Errorf("upload after a failed reload: %d, want 200", got)
		}
	})
}

// TestClientAddressBehindProxies: forwarded addresses are believed only
// from --trusted-proxies, read from the right, so a client cannot choose
// the address its failures are counted and logged against.
func TestClientAddressBehindProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		xff   string
		want  string
	}{
		{"without trusted proxies the peer counts", nil, "198.51.100.7", "client_ip=127.0.0.1"},
		{"a trusted proxy's forwarded client counts", []string{"--trusted-proxies", "127.0.0.1"}, "198.51.100.7", "client_ip=198.51.100.7"},
		{"a spoofed leftmost entry is skipped", []string{"--trusted-proxies", "127.0.0.1"}, "203.0.113.66, 198.51.100.7", "client_ip=198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, dir := newFakeClock(), t.TempDir()
			srv := startServer(t, clock, dir, tc.flags...)
			r := srv.do(t, func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+randomSecret(t, "kwp_00000000000000000000"))
				r.Header.Set("X-Forwarded-For", tc.xff)
			}, "GET", "/api/v1/me", nil)
			want(t, r, http.StatusUnauthorized)
			failed := logLineWith(srv.Log.String(), " auth_failure=")
			if !strings.Contains(failed, tc.want+" ") && !strings.HasSuffix(failed, tc.want) {
				t.Errorf("the failure was logged as %q, want %s", failed, tc.want)
			}
			if strings.Contains(srv.Log.String(), "203.0.113.66") {
				t.Error("the spoofed address reached the log")
			}
		})
	}
}

// TestForwardAuthProblemsNameTheOriginalRequest: a gateway that shows
// Keywarden's refusal to its client (Caddy) shows the client's own path as
// the problem's instance, never the query string; a key in the original
// query string is refused as in Keywarden's own API.
func TestForwardAuthProblemsNameTheOriginalRequest(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	file := writeRoutes(t, dir, validRoutes)
	srv := startServer(t, clock, dir, "--routes", file)
	for _, tc := range []struct {
		name   string
		uri    string
		status int
		detail string
	}{
		{"a 401", "/v1/processes/" + strings.Repeat("a", 32) + "/files?name=report.pdf", http.StatusUnauthorized, ""},
		{"a 403 for no route", "/v1/elsewhere?page=2", http.StatusForbidden, "No route of the forward-auth table allows this request."},
		{"a 403 for a key in the URL", "/v1/processes/" + strings.Repeat("a", 32) + "/files?api_key=x", http.StatusForbidden,
			"API keys are accepted only in the Authorization header, never in the URL."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := want(t, srv.do(t, func(r *http.Request) {
				r.Header.Set(api.HeaderForwardedMethod, "POST")
				r.Header.Set(api.HeaderForwardedURI, tc.uri)
			}, "GET", "/api/v1/auth/forward", nil), tc.status)
			path, _, _ := strings.Cut(tc.uri, "?")
			p := r.JSON(t)
			if got := p["instance"]; got != path {
				t.Errorf("instance = %v, want %s", got, path)
			}
			if tc.detail != "" && p["detail"] != tc.detail {
				t.Errorf("detail = %v, want %q", p["detail"], tc.detail)
			}
		})
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip, so a test can be two clients of one server.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestFailedAuthenticationIsThrottledPerAddress: a burst of bad keys from
// one address is refused with 429 and Retry-After — on the REST API and the
// verify API alike, before any key work — while a valid key from another
// address keeps working; after the window the address may try again.
func TestFailedAuthenticationIsThrottledPerAddress(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	routes := writeRoutes(t, dir, validRoutes)
	srv := startServer(t, clock, dir, "--routes", routes)
	attacker, holder := clientFrom("127.0.0.2"), clientFrom("127.0.0.1")
	get := func(c *http.Client, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		basic(key)(req)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	bad := randomSecret(t, "kwo_00000000000000000000")
	for i := 0; i < 60; i++ {
		if res := get(attacker, bad); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad key %d: %d, want 401", i, res.StatusCode)
		}
	}
	res := get(attacker, bad)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("the 61st bad key in a minute: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := get(attacker, root); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("even a valid key from the throttled address: %d, want 429 (no key work is done)", res.StatusCode)
	}
	verify, _ := http.NewRequest("POST", srv.URL+"/api/v1/keys/verify", strings.NewReader(`{"key":"`+bad+`"}`))
	verify.Header.Set("Content-Type", "application/json")
	if res, err := attacker.Do(verify); err != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the verify API from the throttled address: %v, %v; want 429", res, err)
	}
	forward, _ := http.NewRequest("GET", srv.URL+"/api/v1/auth/forward", nil)
	basic(root)(forward)
	forward.Header.Set(api.HeaderOriginalMethod, "POST")
	forward.Header.Set(api.HeaderOriginalURI, "/v1/processes/"+strings.Repeat("a", 32)+"/files")
	// nginx's auth_request passes only 401 and 403: forward-auth refuses
	// with 403, and Retry-After says why.
	if res, err := attacker.Do(forward); err != nil || res.StatusCode != http.StatusForbidden || res.Header.Get("Retry-After") == "" {
		t.Errorf("forward-auth from the throttled address: %v, %v; want 403 with Retry-After", res, err)
	}
	if res := get(holder, root); res.StatusCode != http.StatusOK {
		t.Errorf("a valid key from another address: %d, want 200", res.StatusCode)
	}
	clock.Advance(61 * time.Second)
	if res := get(attacker, bad); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the window: %d, want 401 again", res.StatusCode)
	}
}

// TestStrictTransportOverHTTPS: a request that reached Keywarden over
// HTTPS (here: through a trusted proxy that says so) gets HSTS, on the API
// and the console alike; a plain-HTTP one does not.
func TestStrictTransportOverHTTPS(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	srv := startServer(t, clock, dir, "--trusted-proxies", "127.0.0.1")
	for _, path := range []string{"/api/v1/me", "/sign-in", "/healthz"} {
		https := srv.do(t, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, "GET", path, nil)
		if got := https.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("%s over HTTPS: Strict-Transport-Security %q", path, got)
		}
		if got := srv.do(t, nil, "GET", path, nil).Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s over plain HTTP: Strict-Transport-Security %q, want none", path, got)
		}
	}
}

// TestBodiesMustBeDeclaredAsJSON: a JSON body is accepted only with
// Content-Type application/json (charset, if given, utf-8); a form or text
// body is a 415 problem and changes nothing, whatever it holds.
func TestBodiesMustBeDeclaredAsJSON(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	post := func(ct string) response {
		t.Helper()
		return srv.do(t, func(r *http.Request) {
			basic(root)(r)
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
		}, "POST", "/api/v1/processes", `{"name":"Invoices"}`)
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/jsonp"} {
		r := want(t, post(ct), http.StatusUnsupportedMediaType)
		if r.Header.Get("Content-Type") != api.ProblemContentType {
			t.Errorf("Content-Type %q: the 415 is not a problem document", ct)
		}
	}
	list := want(t, srv.do(t, basic(root), "GET", "/api/v1/processes", nil), http.StatusOK).JSON(t)
	if n := list["pagination"].(map[string]any)["total"]; n != 0.0 {
		t.Fatalf("refused bodies created %v processes", n)
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"} {
		want(t, post(ct), http.StatusCreated)
	}
}

// logLineWith returns the last line of log that contains s, or "".
func logLineWith(log, s string) string {
	var found string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			found = line
		}
	}
	return found
}
