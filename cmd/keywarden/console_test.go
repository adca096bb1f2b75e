package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// person is a browser without JavaScript: a cookie jar that does not follow
// redirects, so tests see them.
type person struct {
	t      *testing.T
	srv    *testServer
	client *http.Client
	csrf   string // the token of the last page read
}

func newPerson(t *testing.T, srv *testServer) *person {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &person{t: t, srv: srv, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfMetaRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

func (p *person) send(req *http.Request) response {
	p.t.Helper()
	res, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfMetaRE.FindSubmatch(b); m != nil {
		p.csrf = html.UnescapeString(string(m[1]))
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// get reads a page.
func (p *person) get(path string) response {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.srv.URL+path, nil)
	return p.send(req)
}

// post submits a form, with the CSRF token of the last page read unless
// the form sets csrf_token itself.
func (p *person) post(path string, form url.Values) response {
	p.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", p.csrf)
	}
	req, _ := http.NewRequest("POST", p.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.send(req)
}

// api calls the JSON API as the console's script does: session cookie and
// X-CSRF-Token.
func (p *person) api(method, path string, body any, withCSRF bool) response {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if withCSRF {
		req.Header.Set("X-CSRF-Token", p.csrf)
	}
	return p.send(req)
}

var setupURLRE = regexp.MustCompile(`setup_url="?([^"\s]+)`)

// setupViaConsole completes first-run setup as the owner and returns the
// signed-in owner.
func setupViaConsole(t *testing.T, srv *testServer, email, pw string) *person {
	t.Helper()
	m := setupURLRE.FindStringSubmatch(srv.Log.String())
	if m == nil {
		t.Fatalf("no setup URL in the log:\n%s", srv.Log)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	owner := newPerson(t, srv)
	want(t, owner.get(u.RequestURI()), http.StatusOK)
	r := owner.post("/setup", url.Values{"token": {u.Query().Get("token")}, "org_name": {"Acme"},
		"email": {email}, "password": {pw}, "password_confirm": {pw}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("setup: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	want(t, owner.get("/"), http.StatusOK)
	return owner
}

func cookieNamed(res response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestSetupSignInAndOut: the one-time setup link creates the organization
// and signs the owner in; signing out ends the session; protected pages
// send visitors to sign in.
func TestSetupSignInAndOut(t *testing.T) {
	srv := startServer(t, newFakeClock(), t.TempDir())
	visitor := newPerson(t, srv)
	if r := visitor.get("/setup?token=wrong"); r.Status != http.StatusNotFound {
		t.Fatalf("setup with a wrong token: %d", r.Status)
	}
	owner := setupViaConsole(t, srv, "owner@acme.example", "correct horse battery")

	// The setup link is spent.
	m := setupURLRE.FindStringSubmatch(srv.Log.String())
	u, _ := url.Parse(m[1])
	want(t, visitor.get(u.RequestURI()), http.StatusNotFound)

	// Signing out ends the session, on the server too.
	want(t, owner.post("/sign-out", url.Values{}), http.StatusSeeOther)
	r := owner.get("/settings/api-keys")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/sign-in?next=") {
		t.Fatalf("protected page after sign-out: %d %q", r.Status, r.Header.Get("Location"))
	}

	// Sign in again, and land where we wanted to go.
	want(t, owner.get("/sign-in?next=/settings/api-keys"), http.StatusOK)
	r = owner.post("/sign-in", url.Values{"email": {"Owner@Acme.example"}, "password": {"correct horse battery"}, "next": {"/settings/api-keys"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys" {
		t.Fatalf("sign-in: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	want(t, owner.get("/settings/api-keys"), http.StatusOK)

	// An open redirect is not possible.
	other := newPerson(t, srv)
	other.get("/sign-in")
	r = other.post("/sign-in", url.Values{"email": {"owner@acme.example"}, "password": {"correct horse battery"}, "next": {"//evil.example/"}})
	if r.Header.Get("Location") != "/" {
		t.Errorf("sign-in with next=//evil.example/ redirects to %q", r.Header.Get("Location"))
	}
}

// TestSessionCookie: HttpOnly and SameSite=Lax always; Secure over HTTPS
// (here: behind a trusted proxy that says so); a new session at sign-in.
func TestSessionCookie(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme") // owner acme@example.com
	srv := startServer(t, clock, dir, "--trusted-proxies", "127.0.0.1")

	postSignIn := func(p *person, srv *testServer, https bool) response {
		form := url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}, "csrf_token": {p.csrf}}
		req, _ := http.NewRequest("POST", srv.URL+"/sign-in", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if https {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		return p.send(req)
	}
	p := newPerson(t, srv)
	p.get("/sign-in")
	r := want(t, postSignIn(p, srv, false), http.StatusSeeOther)
	c := cookieNamed(r, "keywarden_session")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || len(c.Value) < 40 {
		t.Fatalf("session cookie over HTTP = %+v", c)
	}
	first := c.Value
	want(t, p.get("/"), http.StatusOK) // the signed-in page's token
	r = want(t, postSignIn(p, srv, true), http.StatusSeeOther)
	c = cookieNamed(r, "keywarden_session")
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie over HTTPS = %+v", c)
	}
	if c.Value == first {
		t.Fatal("signing in again kept the same session: no rotation")
	}
	// The old session no longer works.
	stale := newPerson(t, srv)
	u, _ := url.Parse(srv.URL)
	stale.client.Jar.SetCookies(u, []*http.Cookie{{Name: "keywarden_session", Value: first}})
	if r := stale.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("the rotated-out session still opens the dashboard: %d", r.Status)
	}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	srv := startServer(t, newFakeClock(), t.TempDir())
	r := want(t, newPerson(t, srv).get("/sign-in"), http.StatusOK)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || bytes.Contains(r.Body, []byte("<script>")) || bytes.Contains(r.Body, []byte(" style=")) {
		t.Error("the page relies on inline script or style")
	}
	for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
		if got := r.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
}

// TestCSRF: a form post or an API call with the session cookie but without
// the page's token is refused and changes nothing.
func TestCSRF(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")

	owner.get("/settings")
	r := owner.post("/settings", url.Values{"name": {"Hijacked"}, "max_key_lifetime_days": {"3650"}, "csrf_token": {"forged"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("settings post with a forged token: %d", r.Status)
	}
	r = owner.post("/settings", url.Values{"name": {"Hijacked"}, "max_key_lifetime_days": {"3650"}, "csrf_token": {""}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("settings post without a token: %d", r.Status)
	}
	if body := owner.get("/settings").Body; bytes.Contains(body, []byte("Hijacked")) {
		t.Fatal("a refused post changed the organization")
	}
	want(t, owner.api("POST", "/api/v1/processes", map[string]any{"name": "x"}, false), http.StatusForbidden)
	if list := owner.api("GET", "/api/v1/processes", nil, false); !bytes.Contains(list.Body, []byte(`"total":0`)) {
		t.Fatalf("a refused API call created a process: %s", list.Body)
	}
	// With the token, both work.
	owner.get("/settings")
	want(t, owner.post("/settings", url.Values{"name": {"Acme Corp"}, "max_key_lifetime_days": {"180"}}), http.StatusSeeOther)
	want(t, owner.api("POST", "/api/v1/processes", map[string]any{"name": "x"}, true), http.StatusCreated)
	// A cross-site Origin is refused even with the token.
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/processes", strings.NewReader(`{"name":"y"}`))
	req.Header.Set("X-CSRF-Token", owner.csrf)
	req.Header.Set("Origin", "https://evil.example")
	want(t, owner.send(req), http.StatusForbidden)
}

// signedIn signs a person in with email and password.
func signedIn(t *testing.T, srv *testServer, email, pw string) *person {
	t.Helper()
	p := newPerson(t, srv)
	p.get("/sign-in")
	r := p.post("/sign-in", url.Values{"email": {email}, "password": {pw}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d\n%s", email, r.Status, r.Body)
	}
	p.get("/")
	return p
}

// TestSignInIsThrottled: after repeated wrong passwords the account is
// refused for a while, even with the right password; then it works again.
func TestSignInIsThrottled(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	p := newPerson(t, srv)
	p.get("/sign-in")
	for i := 0; i < 5; i++ {
		r := p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"wrong password " + string(rune('a'+i))}})
		if r.Status != http.StatusUnauthorized || !bytes.Contains(r.Body, []byte("email or password is not correct")) {
			t.Fatalf("wrong password %d: %d", i+1, r.Status)
		}
	}
	r := p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in after 5 failures: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	clock.Advance(16 * time.Minute)
	r = p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in after the window: %d", r.Status)
	}

	// From one address, guessing across many accounts is throttled too.
	q := newPerson(t, srv)
	q.get("/sign-in")
	for i := 0; i < 20; i++ {
		want(t, q.post("/sign-in", url.Values{"email": {fmt.Sprintf("guess%d@acme.example", i)}, "password": {"wrong password"}}), http.StatusUnauthorized)
	}
	if r := q.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("sign-in after 20 failures from one address: %d", r.Status)
	}
}

// TestInvitationPasswordIsThrottled: accepting an invitation as an existing
// account checks that account's password, so it spends the address's
// sign-in budget: a holder of the link cannot guess without limit.
func TestInvitationPasswordIsThrottled(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	srv := startServer(t, clock, dir)
	owner := setupViaConsole(t, srv, "owner@example.com", "owner password 123")
	setupOrg(t, clock, dir, "Other") // other@example.com, an existing account
	link := invitationLink(t, owner, "other@example.com", "admin")
	p := newPerson(t, srv)
	want(t, p.get(link.RequestURI()), http.StatusOK)
	accept := func(pw string) response {
		return p.post("/invite", url.Values{"token": {link.Query().Get("token")}, "password": {pw}})
	}
	for i := range 20 {
		want(t, accept(fmt.Sprintf("wrong password %d", i)), http.StatusBadRequest)
	}
	r := accept("correct horse battery staple")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password after 20 wrong ones from one address: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	clock.Advance(16 * time.Minute)
	want(t, accept("correct horse battery staple"), http.StatusSeeOther)
}

// invitationLink has admin invite email with role and returns the link.
func invitationLink(t *testing.T, admin *person, email, role string) *url.URL {
	t.Helper()
	admin.get("/settings/members")
	r := want(t, admin.post("/settings/members/invite", url.Values{"email": {email}, "role": {role}}), http.StatusOK)
	m := regexp.MustCompile(`value="(http[^"]*/invite\?token=[^"]*)"`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no invitation link on the page:\n%s", r.Body)
	}
	link, err := url.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// invite creates an invitation as admin and has the invitee accept it with
// a new password; it returns the signed-in invitee.
func invite(t *testing.T, srv *testServer, admin *person, email, role string) *person {
	t.Helper()
	link := invitationLink(t, admin, email, role)
	p := newPerson(t, srv)
	want(t, p.get(link.RequestURI()), http.StatusOK)
	r := p.post("/invite", url.Values{"token": {link.Query().Get("token")}, "password": {"member password 123"}, "password_confirm": {"member password 123"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("accept invitation: %d\n%s", r.Status, r.Body)
	}
	// The link works once.
	if r := newPerson(t, srv).get(link.RequestURI()); r.Status != http.StatusNotFound {
		t.Errorf("a used invitation link answers %d", r.Status)
	}
	p.get("/")
	return p
}

// TestUserRoleMemberSeesOnlyGrantedProcesses: a member with the user role
// sees only the processes granted, opens key screens only of those they
// manage, and never the settings.
func TestUserRoleMemberSeesOnlyGrantedProcesses(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	granted := srv.createProcess(t, root, "Invoices")
	other := srv.createProcess(t, root, "Payroll")
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	member := invite(t, srv, owner, "bob@acme.example", "user")

	owner.get("/processes/" + granted + "/settings/access")
	r := owner.post("/processes/"+granted+"/settings/access", url.Values{"user_id": {memberID(t, owner, "bob@acme.example")}, "role": {"user"}})
	want(t, r, http.StatusSeeOther)

	dash := want(t, member.get("/"), http.StatusOK)
	if !bytes.Contains(dash.Body, []byte("Invoices")) || bytes.Contains(dash.Body, []byte("Payroll")) {
		t.Fatalf("the member's dashboard shows the wrong processes:\n%s", dash.Body)
	}
	want(t, member.get("/processes/"+granted+"/settings"), http.StatusOK)
	for _, path := range []string{
		"/processes/" + other + "/settings",
		"/processes/" + other + "/settings/api-keys",
		"/processes/" + granted + "/settings/api-keys", // a user, not a manager
		"/processes/" + granted + "/settings/access",
		"/settings", "/settings/api-keys", "/settings/members", "/settings/audit",
	} {
		if r := member.get(path); r.Status != http.StatusNotFound {
			t.Errorf("member opens %s: %d, want 404", path, r.Status)
		}
	}
	list := want(t, member.api("GET", "/api/v1/processes", nil, false), http.StatusOK)
	if !bytes.Contains(list.Body, []byte(granted)) || bytes.Contains(list.Body, []byte(other)) {
		t.Fatalf("the member's API process list: %s", list.Body)
	}
	want(t, member.api("GET", "/api/v1/processes/"+other, nil, false), http.StatusNotFound)
	want(t, member.api("GET", "/api/v1/admin/api-keys", nil, false), http.StatusForbidden)

	// As manager, the key screen opens and keys can be created, but only
	// with process scopes.
	owner.get("/processes/" + granted + "/settings/access")
	want(t, owner.post("/processes/"+granted+"/settings/access", url.Values{"user_id": {memberID(t, owner, "bob@acme.example")}, "role": {"manager"}}), http.StatusSeeOther)
	want(t, member.get("/processes/"+granted+"/settings/api-keys"), http.StatusOK)
	exp := clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	r = want(t, member.api("POST", "/api/v1/processes/"+granted+"/api-keys", map[string]any{"name": "bob's", "scopes": []string{"all"}, "exp": exp}, true), http.StatusCreated)
	var k map[string]any
	_ = json.Unmarshal(r.Body, &k)
	if k["createdBy"].(map[string]any)["type"] != "user" {
		t.Errorf("createdBy = %v", k["createdBy"])
	}
	want(t, member.api("POST", "/api/v1/processes/"+other+"/api-keys", map[string]any{"name": "x", "scopes": []string{"all"}, "exp": exp}, true), http.StatusNotFound)

	// Removing the member ends their session at once.
	owner.get("/settings/members")
	want(t, owner.post("/settings/members/"+memberID(t, owner, "bob@acme.example")+"/remove", url.Values{}), http.StatusSeeOther)
	if r := member.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("a removed member still opens the dashboard: %d", r.Status)
	}
}

// memberID finds a member's user ID on the members page.
func memberID(t *testing.T, admin *person, email string) string {
	t.Helper()
	body := string(want(t, admin.get("/settings/members"), http.StatusOK).Body)
	i := strings.Index(body, ">"+email+"<")
	if i < 0 {
		t.Fatalf("%s is not on the members page", email)
	}
	m := regexp.MustCompile(`/settings/members/([0-9a-f]{32})/role`).FindStringSubmatch(body[i:])
	if m == nil {
		t.Fatalf("no user ID for %s", email)
	}
	return m[1]
}

// TestLastOwnerStays: the last owner can be neither removed nor demoted.
func TestLastOwnerStays(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	id := memberID(t, owner, "acme@example.com")
	if r := owner.post("/settings/members/"+id+"/remove", url.Values{}); r.Status != http.StatusConflict {
		t.Errorf("removing the last owner: %d", r.Status)
	}
	owner.get("/settings/members")
	if r := owner.post("/settings/members/"+id+"/role", url.Values{"role": {"admin"}}); r.Status != http.StatusConflict {
		t.Errorf("demoting the last owner: %d", r.Status)
	}
	want(t, owner.get("/settings"), http.StatusOK)
}

// TestAuditLogRecordsKeyChanges: who created and deleted which key, when,
// and from where — and never the secret.
func TestAuditLogRecordsKeyChanges(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"all"}, clock)
	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNoContent)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	page := string(want(t, owner.get("/settings/audit"), http.StatusOK).Body)
	for _, s := range []string{"api_key.created", "api_key.deleted", k["user"].(string), "127.0.0.1", "API key “root”", "command line"} {
		if !strings.Contains(html.UnescapeString(page), s) {
			t.Errorf("the audit log does not show %q", s)
		}
	}
	if strings.Contains(page, strings.SplitN(k["key"].(string), ":", 2)[1]) {
		t.Fatal("the audit log shows a secret")
	}
}

// TestKeyScreen: the table flags keys expiring within 14 days and expired
// ones, shows no secret, and the create dialog offers only the scopes the
// level allows, with the date picker capped at the policy's maximum.
func TestKeyScreen(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	exp := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }
	for name, d := range map[string]time.Duration{"soon": 10 * 24 * time.Hour, "later": 60 * 24 * time.Hour, "lapsing": time.Hour} {
		want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": name, "scopes": []string{"workspace.file:upload"}, "exp": exp(d)}), http.StatusCreated)
	}
	clock.Advance(2 * time.Hour) // "lapsing" has expired
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	page := string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	row := func(name string) string {
		i := strings.Index(page, `">`+name+`</a></td>`)
		if i < 0 {
			t.Fatalf("no row for %q", name)
		}
		j := strings.Index(page[i:], "</tr>")
		return page[i : i+j]
	}
	if r := row("soon"); !strings.Contains(r, "Expires soon") {
		t.Error("a key expiring in 10 days is not flagged")
	}
	if r := row("later"); strings.Contains(r, "Expires soon") || strings.Contains(r, "Expired") {
		t.Error("a key expiring in 60 days is flagged")
	}
	if r := row("lapsing"); !strings.Contains(r, "Expired") {
		t.Error("an expired key is not flagged")
	}
	if r := row("root"); !strings.Contains(r, `<span class="badge">All</span>`) {
		t.Error(`the root key's scopes are not shown as "All"`)
	}
	if strings.Contains(page, strings.SplitN(root, ":", 2)[1]) {
		t.Fatal("the key page contains a secret")
	}
	if !strings.Contains(page, `max="`+clock.Now().Add(365*24*time.Hour).Format(time.DateOnly)+`"`) {
		t.Error("the date picker is not capped at the policy's maximum")
	}

	// A process key screen offers process-level scopes only.
	ppage := string(want(t, owner.get("/processes/"+proc+"/settings/api-keys"), http.StatusOK).Body)
	if !strings.Contains(ppage, `value="workspace.file:upload"`) || strings.Contains(ppage, `value="workspace.admin.`) ||
		strings.Contains(ppage, `value="workspace.process:create"`) {
		t.Error("the process key dialog offers the wrong scopes")
	}
	// A 30-day policy leaves only the 30-day preset.
	owner.get("/settings")
	want(t, owner.post("/settings", url.Values{"name": {"Acme"}, "max_key_lifetime_days": {"30"}}), http.StatusSeeOther)
	page = string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	if !strings.Contains(page, `name="expiry" value="30"`) || strings.Contains(page, `name="expiry" value="90"`) {
		t.Error("presets beyond a 30-day policy are offered")
	}
	want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": []string{"all"}, "exp": exp(31 * 24 * time.Hour)}), http.StatusBadRequest)
}

// TestSettingsFormsKeepWhatWasTyped: a rejected form shows its errors next
// to the fields and keeps the input.
func TestSettingsFormsKeepWhatWasTyped(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	owner.get("/settings")
	r := want(t, owner.post("/settings", url.Values{"name": {"Acme Renamed"}, "max_key_lifetime_days": {"9999"}}), http.StatusBadRequest)
	if !bytes.Contains(r.Body, []byte(`value="Acme Renamed"`)) || !bytes.Contains(r.Body, []byte("from 1 to 3650")) {
		t.Errorf("the rejected settings form lost the input or the error:\n%s", r.Body)
	}
	owner.get("/settings/members")
	r = want(t, owner.post("/settings/members/invite", url.Values{"email": {"not-an-email"}, "role": {"admin"}}), http.StatusBadRequest)
	if !bytes.Contains(r.Body, []byte(`value="not-an-email"`)) || !bytes.Contains(r.Body, []byte("valid email")) {
		t.Errorf("the rejected invitation lost the input or the error")
	}
}

// TestAuditLogPages: the audit log is paginated, newest first.
func TestAuditLogPages(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	for i := 0; i < 55; i++ {
		srv.createProcess(t, root, fmt.Sprintf("Process %02d", i))
		clock.Advance(time.Second)
	}
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	first := string(want(t, owner.get("/settings/audit"), http.StatusOK).Body)
	if !strings.Contains(first, "Process 54") || strings.Contains(first, "Process 03<") || !strings.Contains(first, "offset=50") {
		t.Error("the first audit page is not the newest 50 with a link to older ones")
	}
	second := string(want(t, owner.get("/settings/audit?offset=50"), http.StatusOK).Body)
	if !strings.Contains(second, "Process 00") || strings.Contains(second, "Process 54") || !strings.Contains(second, "51–58 of 58") {
		// 55 processes, the root key, the organization's creation and the
		// owner's sign-in.
		t.Errorf("the second audit page is wrong")
	}
}

// TestKeyTablePages: a key table shows 25 keys at a time, newest first
// (a key just created is at the top of the first page), says where it is,
// and reads a page past the end as the last one.
func TestKeyTablePages(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	for i := range 30 {
		clock.Advance(time.Second)
		want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": fmt.Sprintf("Key %02d", i),
			"scopes": []string{"workspace.file:upload"}, "exp": clock.Now().Add(90 * 24 * time.Hour).Format(time.RFC3339)}), http.StatusCreated)
	}
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	rows := regexp.MustCompile(`<td class="cell-strong cell-wrap cell-title" data-label="Name"><a href="[^"]*">([^<]*)</a></td>`)
	names := func(page string) []string {
		var got []string
		for _, m := range rows.FindAllStringSubmatch(page, -1) {
			got = append(got, m[1])
		}
		return got
	}
	first := string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	if got := names(first); len(got) != 25 || got[0] != "Key 29" || got[24] != "Key 05" {
		t.Errorf("the first page lists %q, want Key 29 down to Key 05", got)
	}
	if !strings.Contains(first, "1–25 of 31") || !strings.Contains(first, `href="/settings/api-keys?offset=25" rel="next">Older`) || strings.Contains(first, ">Newer<") {
		t.Error("the first page does not say it is 1–25 of 31 with a link to the older keys only")
	}
	for _, path := range []string{"/settings/api-keys?offset=25", "/settings/api-keys?offset=1000"} {
		last := string(want(t, owner.get(path), http.StatusOK).Body)
		if got := names(last); len(got) != 6 || got[0] != "Key 04" || got[4] != "Key 00" {
			t.Errorf("%s lists %q, want Key 04 down to Key 00 and the root key", path, got)
		}
		if !strings.Contains(last, "26–31 of 31") || !strings.Contains(last, `href="/settings/api-keys?offset=0" rel="prev">Newer`) || strings.Contains(last, ">Older<") {
			t.Errorf("%s does not say it is 26–31 of 31 with a link to the newer keys only", path)
		}
	}
	if got := names(string(want(t, owner.get("/settings/api-keys?offset=x"), http.StatusOK).Body)); len(got) != 25 || got[0] != "Key 29" {
		t.Errorf("an offset that is not a number does not read the first page: %q", got)
	}
	proc := srv.createProcess(t, root, "Invoices")
	srv.createKey(t, root, "/api/v1/processes/"+proc+"/api-keys", []string{"workspace.file:upload"}, clock)
	if page := string(want(t, owner.get("/processes/"+proc+"/settings/api-keys"), http.StatusOK).Body); strings.Contains(page, `data-testid="pager"`) || len(names(page)) != 1 {
		t.Error("the process key table's one key is not shown, or shown with a pager")
	}
}

// TestSetupPagesSayWhatHappened: a setup form with mismatched passwords
// marks the field in error (the page's script focuses it) rather than
// autofocusing the first field; once set up, the setup link says so, with
// a proper title and a link to sign in; other error pages have titles in
// words, not HTTP status texts.
func TestSetupPagesSayWhatHappened(t *testing.T) {
	srv := startServer(t, newFakeClock(), t.TempDir())
	m := setupURLRE.FindStringSubmatch(srv.Log.String())
	if m == nil {
		t.Fatalf("no setup URL in the log:\n%s", srv.Log)
	}
	u, _ := url.Parse(m[1])
	p := newPerson(t, srv)
	want(t, p.get(u.RequestURI()), http.StatusOK)
	r := want(t, p.post("/setup", url.Values{"token": {u.Query().Get("token")}, "org_name": {"Acme"}, "email": {"owner@acme.example"},
		"password": {"correct horse battery"}, "password_confirm": {"correct horse batterie"}}), http.StatusBadRequest)
	body := string(r.Body)
	if !regexp.MustCompile(`id="password_confirm"[^>]*aria-invalid="true"`).MatchString(body) {
		t.Error("the mismatched confirmation is not marked invalid")
	}
	if regexp.MustCompile(`id="org_name"[^>]*autofocus`).MatchString(body) {
		t.Error("after an error, focus still starts on the first field instead of the one in error")
	}

	setupViaConsole(t, srv, "owner@acme.example", "correct horse battery")
	visitor := newPerson(t, srv)
	body = string(want(t, visitor.get(u.RequestURI()), http.StatusNotFound).Body)
	if !strings.Contains(body, "<title>Keywarden is already set up · Keywarden</title>") || !strings.Contains(body, `href="/sign-in"`) {
		t.Errorf("the spent setup link's page has no title or no sign-in link:\n%s", body)
	}
	if strings.Contains(body, "Not Found") {
		t.Error("the spent setup link's page says Not Found")
	}
	body = string(want(t, visitor.get("/setup?token=wrong"), http.StatusNotFound).Body)
	if !strings.Contains(body, "<title>Page not found · Keywarden</title>") || !strings.Contains(body, `href="/sign-in"`) {
		t.Errorf("an error page for a visitor has no proper title or no way to sign in:\n%s", body)
	}
}

// TestRemovalsAreConfirmed: removing a member or a member's access to a
// process shows, on the next page and only there, who was removed; removal
// and deletion dialogs start on Cancel and name what they remove (the key
// by name and key ID).
func TestRemovalsAreConfirmed(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	invite(t, srv, owner, "bob@acme.example", "user")
	page := string(want(t, owner.get("/settings/members"), http.StatusOK).Body)
	if !regexp.MustCompile(`<button type="button" class="button" data-close autofocus>Cancel</button>\s*<button type="submit" class="button button-danger">Remove member`).MatchString(page) {
		t.Error("the member removal confirmation does not start on Cancel")
	}
	r := want(t, owner.post("/settings/members/"+memberID(t, owner, "bob@acme.example")+"/remove", url.Values{}), http.StatusSeeOther)
	if cookieNamed(r, "keywarden_flash") == nil {
		t.Fatal("removing a member sets no confirmation")
	}
	page = string(want(t, owner.get("/settings/members"), http.StatusOK).Body)
	if !strings.Contains(page, `data-testid="flash">bob@acme.example was removed from the organization.<`) {
		t.Error("the members page after a removal does not confirm it")
	}
	if page := string(want(t, owner.get("/settings/members"), http.StatusOK).Body); strings.Contains(page, "was removed") {
		t.Error("the confirmation shows twice")
	}

	invite(t, srv, owner, "carol@acme.example", "user")
	proc := srv.createProcess(t, root, "Invoices")
	access := "/processes/" + proc + "/settings/access"
	owner.get(access)
	want(t, owner.post(access, url.Values{"user_id": {memberID(t, owner, "carol@acme.example")}, "role": {"manager"}}), http.StatusSeeOther)
	page = string(want(t, owner.get(access), http.StatusOK).Body)
	if !regexp.MustCompile(`Remove the access of carol@acme.example to Invoices\?</h2>[^<]*<p>[^<]*</p>\s*<div class="dialog-actions">\s*<button type="button" class="button" data-close autofocus>Cancel</button>\s*<button type="submit" class="button button-danger">Remove access`).MatchString(page) {
		t.Error("removing a process grant is not confirmed first, naming the member and the process, starting on Cancel")
	}
	want(t, owner.post(access+"/"+memberID(t, owner, "carol@acme.example")+"/remove", url.Values{}), http.StatusSeeOther)
	if page := string(want(t, owner.get(access), http.StatusOK).Body); !strings.Contains(page, `data-testid="flash">carol@acme.example no longer has access to Invoices.<`) {
		t.Error("the access page after a removal does not confirm it")
	}
	want(t, owner.post(access+"/"+memberID(t, owner, "carol@acme.example")+"/remove", url.Values{}), http.StatusNotFound)

	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	page = string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	if !strings.Contains(page, `data-delete-user="`+k["user"].(string)+`"`) || !strings.Contains(page, `data-delete-user></code>`) {
		t.Error("the delete confirmation is not given the key ID")
	}
	if !regexp.MustCompile(`<button type="button" class="button" data-close autofocus>Cancel</button>\s*<button type="submit" class="button button-danger">Delete key`).MatchString(page) {
		t.Error("the key delete confirmation does not start on Cancel")
	}
}

// TestCreateKeyNeedsAScopeChoice: the create dialog preselects neither
// "All" nor "Choose scopes", shows the date of each preset and the
// policy's maximum; the server refuses a key with no scopes at all.
func TestCreateKeyNeedsAScopeChoice(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	page := string(want(t, owner.get("/settings/api-keys"), http.StatusOK).Body)
	if regexp.MustCompile(`name="scope-mode" value="[a-z]+" checked`).MatchString(page) {
		t.Error("the create dialog preselects a scope mode")
	}
	if !strings.Contains(page, `data-preset-date="30" datetime="`+clock.Now().AddDate(0, 0, 30).Format(time.DateOnly)+`"`) {
		t.Error("the 30-day preset does not show its date")
	}
	if !strings.Contains(page, "Maximum: <strong>365 days</strong>") {
		t.Error("the policy's maximum is not shown")
	}
	r := want(t, owner.api("POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": []string{}, "exp": clock.Now().Add(24 * time.Hour).Format(time.RFC3339)}, true), http.StatusBadRequest)
	if !strings.Contains(string(r.Body), `"location":"body: scopes"`) || !strings.Contains(string(r.Body), `"type":"required"`) {
		t.Errorf("a key with no scope choice: %s", r.Body)
	}
}
