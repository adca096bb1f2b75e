package main

import (
	"bytes"
	"encoding/json"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// agentTransport sends every request with one User-Agent, from one local
// address when ip is set.
type agentTransport struct {
	ua   string
	base http.RoundTripper
}

func (a agentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", a.ua)
	return a.base.RoundTrip(r)
}

// as makes p's browser send ua, from the local address ip when not empty.
func (p *person) as(ua, ip string) *person {
	var base http.RoundTripper = &http.Transport{}
	if ip != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		base = &http.Transport{DialContext: d.DialContext}
	}
	p.client.Transport = agentTransport{ua: ua, base: base}
	return p
}

// auditEvents reads the organization's events of action through the audit
// API with key (from 127.0.0.1).
func (s *testServer) auditEvents(t *testing.T, key, action string) []api.AuditEvent {
	t.Helper()
	r := want(t, s.do(t, basic(key), "GET", "/api/v1/admin/audit-events?limit=100&action="+url.QueryEscape(action), nil), http.StatusOK)
	var list api.AuditEventList
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatal(err)
	}
	return list.AuditEvents
}

// TestSignInIsAudited: a sign-in is one session.signed_in event in the
// organization signed into, with the person as actor and target, and the
// browser's address and user agent.
func TestSignInIsAudited(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	if got := srv.auditEvents(t, root, keywarden.AuditSignedIn); len(got) != 0 {
		t.Fatalf("%d sign-in events before anyone signed in", len(got))
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	p := newPerson(t, srv).as(ua, "127.0.0.3")
	p.get("/sign-in")
	want(t, p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}}), http.StatusSeeOther)

	events := srv.auditEvents(t, root, keywarden.AuditSignedIn)
	if len(events) != 1 {
		t.Fatalf("one sign-in made %d session.signed_in events, want 1", len(events))
	}
	e := events[0]
	if e.Actor.Type != keywarden.ActorUser || e.Actor.Name != "acme@example.com" || e.Actor.ID == "" ||
		e.Target.Type != "member" || e.Target.ID != e.Actor.ID || e.ClientIP != "127.0.0.3" || e.UserAgent != ua ||
		e.At != clock.Now().Format(time.RFC3339Nano) {
		t.Errorf("the sign-in event is %+v", e)
	}
}

// TestFailedSignInIsAuditedInTheAccountsOrganizations: a wrong password
// for a real account is a session.sign_in_failed event in each of its
// organizations, naming the email and never the password; an unknown email
// is in the server log only.
func TestFailedSignInIsAuditedInTheAccountsOrganizations(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, acmeRoot := setupOrg(t, clock, dir, "Acme") // owner acme@example.com
	_, betaRoot := setupOrg(t, clock, dir, "Beta") // owner beta@example.com
	_, gammaRoot := setupOrg(t, clock, dir, "Gamma")
	srv := startServer(t, clock, dir)

	// acme@example.com joins Beta too, with the account it has.
	beta := signedIn(t, srv, "beta@example.com", "correct horse battery staple")
	beta.get("/settings/members")
	r := want(t, beta.post("/settings/members/invite", url.Values{"email": {"acme@example.com"}, "role": {"user"}}), http.StatusOK)
	m := regexp.MustCompile(`value="(http[^"]*/invite\?token=[^"]*)"`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatal("no invitation link on the page")
	}
	link, _ := url.Parse(html.UnescapeString(string(m[1])))
	joiner := newPerson(t, srv)
	want(t, joiner.get(link.RequestURI()), http.StatusOK)
	want(t, joiner.post("/invite", url.Values{"token": {link.Query().Get("token")}, "password": {"correct horse battery staple"}}), http.StatusSeeOther)

	const wrongPassword = "not the password 4f1c"
	const ua = "curl/8.5.0"
	p := newPerson(t, srv).as(ua, "127.0.0.4")
	p.get("/sign-in")
	want(t, p.post("/sign-in", url.Values{"email": {"ACME@example.com"}, "password": {wrongPassword}}), http.StatusUnauthorized)
	for org, key := range map[string]string{"Acme": acmeRoot, "Beta": betaRoot} {
		events := srv.auditEvents(t, key, keywarden.AuditSignInFailed)
		if len(events) != 1 {
			t.Fatalf("%s has %d session.sign_in_failed events, want 1", org, len(events))
		}
		e := events[0]
		if e.Actor.Type != keywarden.ActorAnonymous || e.Actor.ID != "" || e.Target.Type != "member" ||
			e.Target.Name != "acme@example.com" || e.ClientIP != "127.0.0.4" || e.UserAgent != ua {
			t.Errorf("%s's failed sign-in event is %+v", org, e)
		}
		if b, _ := json.Marshal(e); bytes.Contains(b, []byte(wrongPassword)) {
			t.Fatalf("the event holds the attempted password: %s", b)
		}
	}
	if got := srv.auditEvents(t, gammaRoot, keywarden.AuditSignInFailed); len(got) != 0 {
		t.Errorf("an organization the account is not in has %d failed sign-in events", len(got))
	}

	// An unknown email concerns no organization: the server log only.
	want(t, p.post("/sign-in", url.Values{"email": {"nobody@example.com"}, "password": {wrongPassword}}), http.StatusUnauthorized)
	for _, key := range []string{acmeRoot, betaRoot, gammaRoot} {
		if got := srv.auditEvents(t, key, keywarden.AuditSignInFailed); len(got) > 1 {
			t.Fatalf("a failed sign-in for an unknown email was audited: %+v", got)
		}
	}
	if !regexp.MustCompile(`msg="sign-in failed" email=nobody@example.com`).MatchString(srv.Log.String()) {
		t.Error("the failed sign-in for an unknown email is not in the server log")
	}
	if strings.Contains(srv.Log.String(), wrongPassword) {
		t.Fatal("the server log holds the attempted password")
	}
}

// TestThrottledSignInIsOneAuditEvent: once sign-in is refused, the burst
// of refusals is one auth.throttled event in the account's organization,
// however many requests are refused; guessing at unknown emails until the
// address is refused names no organization.
func TestThrottledSignInIsOneAuditEvent(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	p := newPerson(t, srv).as("guesser/2", "127.0.0.5")
	p.get("/sign-in")
	for i := range 5 {
		want(t, p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"guess " + string(rune('a'+i))}}), http.StatusUnauthorized)
	}
	for range 30 {
		want(t, p.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"another guess"}}), http.StatusTooManyRequests)
		clock.Advance(time.Second)
	}
	events := srv.auditEvents(t, root, keywarden.AuditAuthThrottled)
	if len(events) != 1 {
		t.Fatalf("30 refused sign-ins made %d auth.throttled events, want exactly 1", len(events))
	}
	if e := events[0]; e.Actor.Type != keywarden.ActorAnonymous || e.Target.Name != "acme@example.com" || e.ClientIP != "127.0.0.5" || e.UserAgent != "guesser/2" {
		t.Errorf("the throttling event is %+v", e)
	}
	if got := srv.auditEvents(t, root, keywarden.AuditSignInFailed); len(got) != 5 {
		t.Errorf("%d failed sign-in events, want one per wrong password (5), none per refusal", len(got))
	}

	q := newPerson(t, srv).as("sprayer/1", "127.0.0.6")
	q.get("/sign-in")
	for i := range 25 {
		q.post("/sign-in", url.Values{"email": {"guess" + string(rune('a'+i)) + "@nowhere.example"}, "password": {"x"}})
	}
	if got := srv.auditEvents(t, root, keywarden.AuditAuthThrottled); len(got) != 1 {
		t.Errorf("throttling an address that named no account added an event: %d in all, want 1", len(got))
	}
}

// TestOrganizationCreationIsAudited: orgs create records
// organization.created as the command line, the setup page as the owner
// from the browser's address and user agent.
func TestOrganizationCreationIsAudited(t *testing.T) {
	t.Run("CommandLine", func(t *testing.T) {
		clock, dir := newFakeClock(), t.TempDir()
		orgID, root := setupOrg(t, clock, dir, "Acme")
		srv := startServer(t, clock, dir)
		events := srv.auditEvents(t, root, keywarden.AuditOrgCreated)
		if len(events) != 1 {
			t.Fatalf("orgs create made %d organization.created events, want 1", len(events))
		}
		e := events[0]
		if e.Actor.Type != keywarden.ActorCLI || e.Target.Type != "organization" || e.Target.ID != orgID ||
			e.Target.Name != "Acme" || e.ClientIP != "" || e.UserAgent != "" || e.At != clock.Now().Format(time.RFC3339Nano) {
			t.Errorf("the event is %+v", e)
		}
	})
	t.Run("SetupPage", func(t *testing.T) {
		srv := startServer(t, newFakeClock(), t.TempDir())
		owner := setupViaConsole(t, srv, "owner@acme.example", "correct horse battery")
		r := want(t, owner.api("GET", "/api/v1/admin/audit-events?action=organization.created", nil, false), http.StatusOK)
		var list api.AuditEventList
		if err := json.Unmarshal(r.Body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.AuditEvents) != 1 {
			t.Fatalf("setup made %d organization.created events, want 1: %s", len(list.AuditEvents), r.Body)
		}
		e := list.AuditEvents[0]
		if e.Actor.Type != keywarden.ActorUser || e.Actor.Name != "owner@acme.example" || e.Target.Type != "organization" ||
			e.Target.Name != "Acme" || e.ClientIP != "127.0.0.1" || e.UserAgent != "Go-http-client/1.1" {
			t.Errorf("the event is %+v", e)
		}
	})
}

// TestAuditLogPageShowsSecondsAndUserAgent: the console's audit log shows
// each event's time to the second and who sent it with which user agent.
func TestAuditLogPageShowsSecondsAndUserAgent(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	clock.Advance(7*time.Second + 250*time.Millisecond)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/processes", strings.NewReader(`{"name":"Invoices"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audit-page-test/3.1 <b>bold</b>")
	basic(root)(req)
	want(t, send(t, req), http.StatusCreated)

	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")
	page := string(want(t, owner.get("/settings/audit"), http.StatusOK).Body)
	for _, s := range []string{
		"2026-11-26 12:00:07 UTC", `datetime="2026-11-26T12:00:07.25Z"`,
		"audit-page-test/3.1 &lt;b&gt;bold&lt;/b&gt;", "process.created", "session.signed_in", "organization.created",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the audit log page does not show %q", s)
		}
	}
	if strings.Contains(page, "<b>bold</b>") {
		t.Fatal("the audit log page shows a user agent unescaped")
	}
}

// TestEveryEventRecordsAddressAndUserAgent: each audited change made from
// a browser or with a key records the client's address and user agent;
// only the command line's have neither.
func TestEveryEventRecordsAddressAndUserAgent(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	const ownerUA, memberUA = "owner-browser/1.0", "member-browser/2.0"

	owner := newPerson(t, srv).as(ownerUA, "127.0.0.7")
	owner.get("/sign-in")
	want(t, owner.post("/sign-in", url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}}), http.StatusSeeOther)
	owner.get("/settings")
	want(t, owner.post("/settings", url.Values{"name": {"Acme Corp"}, "max_key_lifetime_days": {"180"}}), http.StatusSeeOther)

	owner.get("/settings/members")
	r := want(t, owner.post("/settings/members/invite", url.Values{"email": {"bob@acme.example"}, "role": {"user"}}), http.StatusOK)
	m := regexp.MustCompile(`value="(http[^"]*/invite\?token=[^"]*)"`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatal("no invitation link on the page")
	}
	link, _ := url.Parse(html.UnescapeString(string(m[1])))
	bob := newPerson(t, srv).as(memberUA, "127.0.0.8")
	want(t, bob.get(link.RequestURI()), http.StatusOK)
	want(t, bob.post("/invite", url.Values{"token": {link.Query().Get("token")}, "password": {"member password 123"}, "password_confirm": {"member password 123"}}), http.StatusSeeOther)
	bobID := memberID(t, owner, "bob@acme.example")

	owner.get("/")
	proc := want(t, owner.api("POST", "/api/v1/processes", map[string]any{"name": "Invoices"}, true), http.StatusCreated).JSON(t)["id"].(string)
	want(t, owner.api("PATCH", "/api/v1/processes/"+proc, map[string]any{"name": "Receipts"}, true), http.StatusOK)
	owner.get("/processes/" + proc + "/settings/access")
	want(t, owner.post("/processes/"+proc+"/settings/access", url.Values{"user_id": {bobID}, "role": {"manager"}}), http.StatusSeeOther)
	owner.get("/processes/" + proc + "/settings/access")
	want(t, owner.post("/processes/"+proc+"/settings/access/"+bobID+"/remove", url.Values{}), http.StatusSeeOther)
	owner.get("/")
	exp := clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	k := want(t, owner.api("POST", "/api/v1/admin/api-keys", map[string]any{"name": "ci", "scopes": []string{"all"}, "exp": exp}, true), http.StatusCreated).JSON(t)
	want(t, owner.api("DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil, true), http.StatusNoContent)
	owner.get("/settings/members")
	want(t, owner.post("/settings/members/"+bobID+"/role", url.Values{"role": {"admin"}}), http.StatusSeeOther)
	owner.get("/settings/members")
	want(t, owner.post("/settings/members/"+bobID+"/remove", url.Values{}), http.StatusSeeOther)
	owner.get("/")
	want(t, owner.api("DELETE", "/api/v1/processes/"+proc, nil, true), http.StatusNoContent)

	events := srv.auditEvents(t, root, "")
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Action] = true
		switch {
		case e.Actor.Type == keywarden.ActorCLI:
			if e.ClientIP != "" || e.UserAgent != "" {
				t.Errorf("the command line's %s has address %q and user agent %q", e.Action, e.ClientIP, e.UserAgent)
			}
		case e.Action == keywarden.AuditMemberJoined:
			if e.ClientIP != "127.0.0.8" || e.UserAgent != memberUA {
				t.Errorf("%s: %q, %q; want the member's 127.0.0.8, %q", e.Action, e.ClientIP, e.UserAgent, memberUA)
			}
		default:
			if e.ClientIP != "127.0.0.7" || e.UserAgent != ownerUA {
				t.Errorf("%s: %q, %q; want the owner's 127.0.0.7, %q", e.Action, e.ClientIP, e.UserAgent, ownerUA)
			}
		}
	}
	for _, action := range []string{
		keywarden.AuditOrgCreated, keywarden.AuditSignedIn, keywarden.AuditOrgUpdated, keywarden.AuditMemberInvited,
		keywarden.AuditMemberJoined, keywarden.AuditProcessCreated, keywarden.AuditProcessRenamed, keywarden.AuditProcessGrantSet,
		keywarden.AuditProcessGrantRemove, keywarden.AuditAPIKeyCreated, keywarden.AuditAPIKeyDeleted,
		keywarden.AuditMemberRoleChanged, keywarden.AuditMemberRemoved, keywarden.AuditProcessDeleted,
	} {
		if !seen[action] {
			t.Errorf("no %s event", action)
		}
	}
}
