package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/testenv"
)

// The audit tests' server trusts the test's own address as a proxy, so
// that each request says, in X-Forwarded-For, which client it is.
func behindProxy(failuresPerIP int) func(*server.Config) {
	return func(c *server.Config) {
		r, err := clientip.Parse("127.0.0.1/32")
		if err != nil {
			panic(err)
		}
		c.ClientIPs, c.AuthFailuresPerIP = r, failuresPerIP
	}
}

// call sends one request as client (an address) with the user agent ua
// and the key, and returns the status and body.
func call(t *testing.T, srv *servertest.Server, client, ua, key, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.HTTP.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		user, pass, _ := strings.Cut(key, ":")
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("X-Forwarded-For", client)
	req.Header.Set("User-Agent", ua)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// mustEvents returns the organization's events of action, from the store.
func mustEvents(t *testing.T, srv *servertest.Server, action string) []*keywarden.AuditEvent {
	t.Helper()
	events, _, err := srv.Store.FindAuditEventsAfter(context.Background(), keywarden.AuditFilter{
		OrgID: srv.Org.ID, Action: action, Limit: keywarden.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// wrongSecret is key's ID with another, well-formed secret: a failure that
// names a real key.
func wrongSecret(t *testing.T, key string) string {
	t.Helper()
	user, _, _ := strings.Cut(key, ":")
	other, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + keywarden.KeyMaterial{User: user, Secret: other.Secret}.Pass()
}

// unknownKey is a well-formed key that is nobody's.
func unknownKey(t *testing.T) string {
	t.Helper()
	k, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	return k.Value()
}

// TestThrottledBurstIsOneAuditEvent: an address guessing at a real key is
// recorded once when it is throttled, however many requests are refused,
// in the key's organization; a new burst after a quiet window is recorded
// again; a burst that names no real key is in no audit log.
func TestThrottledBurstIsOneAuditEvent(t *testing.T) {
	srv := servertest.New(t, behindProxy(5))
	bad := wrongSecret(t, srv.RootKey)
	const attacker, ua = "203.0.113.9", "guesser/1.0"
	for i := range 5 {
		if status, _ := call(t, srv, attacker, ua, bad, "GET", "/api/v1/me", nil); status != http.StatusUnauthorized {
			t.Fatalf("bad key %d: %d, want 401", i, status)
		}
	}
	if got := mustEvents(t, srv, keywarden.AuditAuthThrottled); len(got) != 0 {
		t.Fatalf("%d throttling events before any refusal", len(got))
	}
	burstAt := srv.Clock.Now()
	for i := range 200 {
		if status, _ := call(t, srv, attacker, ua, bad, "GET", "/api/v1/me", nil); status != http.StatusTooManyRequests {
			t.Fatalf("refused request %d: %d, want 429", i, status)
		}
		srv.Clock.Advance(100 * time.Millisecond) // 20 s of refusals: one burst
	}
	events := mustEvents(t, srv, keywarden.AuditAuthThrottled)
	if len(events) != 1 {
		t.Fatalf("200 refused requests made %d auth.throttled events, want exactly 1", len(events))
	}
	root, err := srv.Store.FindAPIKeyByUser(context.Background(), strings.SplitN(srv.RootKey, ":", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	e := events[0]
	if e.Actor.Type != keywarden.ActorAnonymous || e.TargetType != "api_key" || e.TargetID != root.ID ||
		e.TargetName != root.Name+" ("+root.User+")" || e.RemoteAddr != attacker || e.UserAgent != ua || !e.At.Equal(burstAt) {
		t.Errorf("the event is %+v; want the anonymous %s with %q throttled at %v for the key %s", e, attacker, ua, burstAt, root.ID)
	}
	if strings.Contains(strings.Join([]string{e.TargetName, e.Actor.Name, e.UserAgent}, " "), strings.SplitN(bad, ":", 2)[1]) {
		t.Fatal("the event holds the presented secret")
	}

	// After a quiet window, the address's next burst is another event.
	srv.Clock.Advance(2 * time.Minute)
	for range 5 {
		call(t, srv, attacker, ua, bad, "GET", "/api/v1/me", nil)
	}
	for range 3 {
		call(t, srv, attacker, ua, bad, "GET", "/api/v1/me", nil)
	}
	if got := mustEvents(t, srv, keywarden.AuditAuthThrottled); len(got) != 2 {
		t.Fatalf("a second burst after a quiet window made %d events in all, want 2", len(got))
	}

	// Keys that exist nowhere name no organization: the log only.
	for range 10 {
		call(t, srv, "203.0.113.10", ua, unknownKey(t), "GET", "/api/v1/me", nil)
	}
	if got := mustEvents(t, srv, keywarden.AuditAuthThrottled); len(got) != 2 {
		t.Fatalf("a burst of unknown keys made an event in the organization: %d in all, want 2", len(got))
	}
}

// TestThrottledBurstOfTheVerifyAPIIsRecorded: the key in the verify API's
// body counts as the API's do, and its burst lands in the key's
// organization too.
func TestThrottledBurstOfTheVerifyAPIIsRecorded(t *testing.T) {
	srv := servertest.New(t, behindProxy(3))
	bad := wrongSecret(t, srv.RootKey)
	for range 10 {
		call(t, srv, "198.51.100.4", "service/1", "", "POST", "/api/v1/keys/verify", map[string]string{"key": bad})
	}
	if got := mustEvents(t, srv, keywarden.AuditAuthThrottled); len(got) != 1 || got[0].RemoteAddr != "198.51.100.4" {
		t.Fatalf("auth.throttled events after a verify API burst: %+v, want one from 198.51.100.4", got)
	}
}

// failingAudit is a store whose audit writes of events on their own fail.
type failingAudit struct{ keywarden.Store }

func (failingAudit) RecordAuditEvent(context.Context, *keywarden.AuditEvent) error {
	return keywarden.Errorf(keywarden.EUNAVAILABLE, "the database did not answer")
}

// TestThrottledBurstAuditFailureIsLoggedNot500: an audit write that fails
// is logged, and the refused request is still a 429.
func TestThrottledBurstAuditFailureIsLoggedNot500(t *testing.T) {
	var log testenv.SyncBuffer
	srv := servertest.New(t, behindProxy(2), func(c *server.Config) {
		c.Store = failingAudit{c.Store}
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	bad := wrongSecret(t, srv.RootKey)
	for range 2 {
		call(t, srv, "203.0.113.9", "x", bad, "GET", "/api/v1/me", nil)
	}
	if status, body := call(t, srv, "203.0.113.9", "x", bad, "GET", "/api/v1/me", nil); status != http.StatusTooManyRequests {
		t.Fatalf("the refusal whose audit write failed: %d %s, want 429", status, body)
	}
	if !strings.Contains(log.String(), "audit event not recorded") || !strings.Contains(log.String(), "action=auth.throttled") {
		t.Errorf("the failed audit write is not logged:\n%s", log.String())
	}
}

// TestAuditAPIReturnsUserAgent: every change through the API records the
// caller's user agent and address, and the audit API returns both; a user
// agent past the bound is cut to it.
func TestAuditAPIReturnsUserAgent(t *testing.T) {
	srv := servertest.New(t, behindProxy(1<<20))
	const ua = "ci-bot/2.0 (+https://ci.example/bot) ünïcødé"
	status, body := call(t, srv, "192.0.2.44", ua, srv.RootKey, "POST", "/api/v1/processes", map[string]string{"name": "Invoices"})
	if status != http.StatusCreated {
		t.Fatalf("create process: %d %s", status, body)
	}
	var p struct{ ID string }
	_ = json.Unmarshal(body, &p)
	long := strings.Repeat("x", 2000)
	if status, body := call(t, srv, "192.0.2.45", long, srv.RootKey, "PATCH", "/api/v1/processes/"+p.ID, map[string]string{"name": "Receipts"}); status != http.StatusOK {
		t.Fatalf("rename process: %d %s", status, body)
	}
	if status, body := call(t, srv, "192.0.2.46", "", srv.RootKey, "DELETE", "/api/v1/processes/"+p.ID, nil); status != http.StatusNoContent {
		t.Fatalf("delete process: %d %s", status, body)
	}

	status, body = call(t, srv, "192.0.2.44", "reader", srv.RootKey, "GET", "/api/v1/admin/audit-events", nil)
	if status != http.StatusOK {
		t.Fatalf("GET audit-events: %d %s", status, body)
	}
	var list api.AuditEventList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]api.AuditEvent{}
	for _, e := range list.AuditEvents {
		got[e.Action] = e
	}
	for _, w := range []struct{ action, ip, ua string }{
		{keywarden.AuditProcessCreated, "192.0.2.44", ua},
		{keywarden.AuditProcessRenamed, "192.0.2.45", long[:keywarden.MaxUserAgentBytes]},
		{keywarden.AuditProcessDeleted, "192.0.2.46", ""},
	} {
		if e := got[w.action]; e.ClientIP != w.ip || e.UserAgent != w.ua {
			t.Errorf("%s: clientIp %q, userAgent %q (%d bytes); want %q, %q", w.action, e.ClientIP, e.UserAgent, len(e.UserAgent), w.ip, w.ua)
		}
	}
	if !bytes.Contains(body, []byte(`"userAgent":"ci-bot/2.0`)) || bytes.Contains(body, []byte(`"userAgent":""`)) {
		t.Errorf("the wire form of userAgent is not as documented: %s", body)
	}
}

// TestLeakReportRecordsUserAgent: a revocation on a leak report records
// the reporter's address and user agent.
func TestLeakReportRecordsUserAgent(t *testing.T) {
	srv := servertest.New(t, behindProxy(1<<20))
	leaked := srv.MustStoreKey(t, "", []string{keywarden.ScopeAll}, 24*time.Hour)
	status, body := call(t, srv, "140.82.115.1", "GitHub-Hookshot/abc123", "", "POST", "/api/v1/keys/revoke-leaked",
		[]map[string]string{{"token": leaked, "type": "keywarden_key", "url": "https://github.com/o/r/blob/x", "source": "content"}})
	if status != http.StatusOK || !bytes.Contains(body, []byte(api.LeakTruePositive)) {
		t.Fatalf("revoke-leaked: %d %s", status, body)
	}
	events := mustEvents(t, srv, keywarden.AuditAPIKeyLeaked)
	if len(events) != 1 || events[0].UserAgent != "GitHub-Hookshot/abc123" || events[0].RemoteAddr != "140.82.115.1" {
		t.Fatalf("api_key.leaked events: %+v, want one with the reporter's address and user agent", events)
	}
}
