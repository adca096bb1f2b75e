package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/secretbox"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/storetest"
)

// MustWebhookBox returns a secret box holding one new key.
func MustWebhookBox(tb testing.TB) *secretbox.Box {
	tb.Helper()
	k, err := secretbox.GenerateKey("test")
	if err != nil {
		tb.Fatal(err)
	}
	box, err := secretbox.New(k)
	if err != nil {
		tb.Fatal(err)
	}
	return box
}

// fakeResolver answers the names it has with their addresses; any other
// does not resolve. The tests never ask the real DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := f[host]; ok {
		return addrs, nil
	}
	return nil, errors.New("no such host " + host)
}

// testResolver: hooks.example.com is public, intranet.example.com
// private, and rebind.example.com has a public and a loopback address.
var testResolver = fakeResolver{
	"hooks.example.com":    {netip.MustParseAddr("93.184.216.34")},
	"intranet.example.com": {netip.MustParseAddr("10.1.2.3")},
	"rebind.example.com":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
}

// withWebhooks configures a test server for webhooks: a secret box, the
// fake resolver.
func withWebhooks(box *secretbox.Box) func(*server.Config) {
	return func(c *server.Config) { c.WebhookBox, c.WebhookResolver = box, testResolver }
}

// webhookCall sends one request with key (none when empty) and returns
// the answer, its body read.
func webhookCall(t *testing.T, srv *servertest.Server, key, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		user, pass, _ := strings.Cut(key, ":")
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	srv.HTTP.Config.Handler.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.Bytes()
}

// mustWebhookCall is webhookCall that fails the test unless the status is
// want, and decodes the body into a T.
func mustWebhookCall[T any](t *testing.T, srv *servertest.Server, key, method, path string, body any, want int) (T, *http.Response) {
	t.Helper()
	res, data := webhookCall(t, srv, key, method, path, body)
	var v T
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d\n%s", method, path, res.StatusCode, want, data)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return v, res
}

// wantProblem fails unless the answer is status with exactly the listed
// field errors (location and type).
func wantProblem(t *testing.T, what string, res *http.Response, data []byte, status int, fields ...[2]string) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(data, &p); err != nil || res.StatusCode != status {
		t.Fatalf("%s: %d %s, want %d and a problem", what, res.StatusCode, data, status)
	}
	if len(p.Errors) != len(fields) {
		t.Errorf("%s: errors %+v, want %v", what, p.Errors, fields)
		return p
	}
	for i, f := range fields {
		if p.Errors[i].Location != f[0] || p.Errors[i].Type != f[1] {
			t.Errorf("%s: error %d is %+v, want %s (%s)", what, i, p.Errors[i], f[0], f[1])
		}
	}
	return p
}

// mustOrgKey stores a key of org with scopes, as the command line does.
func mustOrgKey(t *testing.T, srv *servertest.Server, org *keywarden.Organization, scopes ...string) string {
	t.Helper()
	now := srv.Clock.Now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "test key", Scopes: scopes,
		Exp: now.Add(30 * 24 * time.Hour).Format(time.RFC3339)}, keywarden.MintParams{Org: org,
		Catalogue: keywarden.MustDefaultCatalogue(), Now: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.CreateAPIKey(context.Background(), k, nil); err != nil {
		t.Fatal(err)
	}
	return km.Value()
}

// sameJSON reports whether a and b encode alike.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func mustStoredWebhooks(t *testing.T, srv *servertest.Server, orgID string) []*keywarden.Webhook {
	t.Helper()
	ws, err := srv.Store.FindWebhooks(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

const hooksPath = "/api/v1/admin/webhooks"

// TestWebhookSecretShownOnce: the answer to a create is the one that shows
// the secret, uncached; no later answer does, and the store holds it
// sealed for that webhook alone.
func TestWebhookSecretShownOnce(t *testing.T) {
	box := MustWebhookBox(t)
	srv := servertest.New(t, withWebhooks(box))
	created, res := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/k?token=capability", Events: []string{"api_key.deleted", "api_key.created"}, Description: " Alerts "},
		http.StatusCreated)
	if !strings.HasPrefix(created.Secret, keywarden.WebhookSecretPrefix) || len(created.Secret) != len(keywarden.WebhookSecretPrefix)+43 {
		t.Errorf("secret %q, want whsec_ and 43 base64url characters", created.Secret)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got, want := res.Header.Get("Location"), hooksPath+"/"+created.ID; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if created.Description != "Alerts" || !created.Enabled || strings.Join(created.Events, ",") != "api_key.created,api_key.deleted" ||
		created.OrgID != srv.Org.ID || created.PreviousSecretExpiresAt != nil {
		t.Errorf("created %+v", created)
	}
	for _, path := range []string{hooksPath, hooksPath + "/" + created.ID} {
		_, data := webhookCall(t, srv, srv.RootKey, "GET", path, nil)
		if bytes.Contains(data, []byte(created.Secret)) || bytes.Contains(data, []byte(`"secret"`)) {
			t.Errorf("GET %s shows the secret: %s", path, data)
		}
	}
	stored := mustStoredWebhooks(t, srv, srv.Org.ID)
	if len(stored) != 1 {
		t.Fatalf("%d webhooks stored", len(stored))
	}
	if stored[0].Secret == created.Secret || strings.Contains(stored[0].Secret, created.Secret) || !strings.HasPrefix(stored[0].Secret, "v1:test:") {
		t.Errorf("the store holds %q, not the secret sealed", stored[0].Secret)
	}
	opened, err := box.Open([]byte(stored[0].Secret), []byte(created.ID))
	if err != nil || string(opened) != created.Secret {
		t.Errorf("the sealed secret opens to %q, %v", opened, err)
	}
	if _, err := box.Open([]byte(stored[0].Secret), []byte(storetest.MustNewID(t))); err == nil {
		t.Error("the sealed secret opens for another webhook's ID")
	}
	// The audit log names the webhook without the URL's capability.
	events := mustEvents(t, srv, keywarden.AuditWebhookCreated)
	if len(events) != 1 || events[0].TargetID != created.ID || events[0].TargetName != "Alerts (hooks.example.com)" {
		t.Errorf("audit events %+v", events)
	}
}

// TestWebhookCreateRefusesBadFields: every invalid field is named at once
// and nothing is stored.
func TestWebhookCreateRefusesBadFields(t *testing.T) {
	srv := servertest.New(t, withWebhooks(MustWebhookBox(t)))
	ok := []string{keywarden.EventAPIKeyCreated}
	for _, tc := range []struct {
		name   string
		body   any
		fields [][2]string
	}{
		{"no URL", api.CreateWebhookRequest{Events: ok}, [][2]string{{"body: url", "required"}}},
		{"not https", api.CreateWebhookRequest{URL: "http://hooks.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"another scheme", api.CreateWebhookRequest{URL: "ftp://hooks.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"relative", api.CreateWebhookRequest{URL: "/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"credentials in it", api.CreateWebhookRequest{URL: "https://ci:pw@hooks.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"loopback", api.CreateWebhookRequest{URL: "https://127.0.0.1/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"IPv6 loopback", api.CreateWebhookRequest{URL: "https://[::1]:8443/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"cloud metadata", api.CreateWebhookRequest{URL: "https://169.254.169.254/latest", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"a name of a private address", api.CreateWebhookRequest{URL: "https://intranet.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"a name with a loopback address among others", api.CreateWebhookRequest{URL: "https://rebind.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"a name that does not resolve", api.CreateWebhookRequest{URL: "https://nowhere.example.com/k", Events: ok}, [][2]string{{"body: url", "refused"}}},
		{"no events", api.CreateWebhookRequest{URL: "https://hooks.example.com/k"}, [][2]string{{"body: events", "required"}}},
		{"ping is no subscription", api.CreateWebhookRequest{URL: "https://hooks.example.com/k", Events: []string{"ping"}}, [][2]string{{"body: events[0]", "unknown_event"}}},
		{"a long description", api.CreateWebhookRequest{URL: "https://hooks.example.com/k", Events: ok, Description: strings.Repeat("é", 201)},
			[][2]string{{"body: description", "too_long"}}},
		{"every field at once", api.CreateWebhookRequest{URL: "https://10.0.0.1/k", Events: []string{"api_key.created", "api_key.nope", "api_key.created"},
			Description: "tab\there"}, [][2]string{{"body: url", "refused"}, {"body: events[1]", "unknown_event"}, {"body: events[2]", "duplicate"}, {"body: description", "invalid"}}},
		{"an unknown field", map[string]any{"url": "https://hooks.example.com/k", "events": ok, "maxPayloadBytes": 1000}, [][2]string{{"body: maxPayloadBytes", "unknown_field"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, data := webhookCall(t, srv, srv.RootKey, "POST", hooksPath, tc.body)
			p := wantProblem(t, tc.name, res, data, http.StatusBadRequest, tc.fields...)
			if strings.Contains(p.Detail, "pw") {
				t.Errorf("the problem shows the URL's password: %+v", p)
			}
			if ws := mustStoredWebhooks(t, srv, srv.Org.ID); len(ws) != 0 {
				t.Errorf("%d webhooks stored", len(ws))
			}
		})
	}
	// The description fits at 200 characters, accents and all.
	mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/k", Events: ok, Description: strings.Repeat("é", 200)}, http.StatusCreated)
}

// TestWebhookAllowPrivate: the operator's --webhook-allow-private lets a
// webhook be plain http on a loopback or private address.
func TestWebhookAllowPrivate(t *testing.T) {
	srv := servertest.New(t, withWebhooks(MustWebhookBox(t)), func(c *server.Config) { c.WebhookAllowPrivate = true })
	for _, u := range []string{"http://127.0.0.1:9000/hook", "https://intranet.example.com/k", "https://[::1]/k"} {
		got, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
			api.CreateWebhookRequest{URL: u, Events: []string{keywarden.EventAPIKeyLeaked}, Enabled: new(bool)}, http.StatusCreated)
		if got.URL != u || got.Enabled {
			t.Errorf("created %+v, want %s, disabled", got, u)
		}
	}
	// Credentials are refused all the same.
	res, data := webhookCall(t, srv, srv.RootKey, "POST", hooksPath, api.CreateWebhookRequest{URL: "http://u:p@127.0.0.1/k", Events: []string{keywarden.EventAPIKeyLeaked}})
	wantProblem(t, "credentials with allow-private", res, data, http.StatusBadRequest, [2]string{"body: url", "refused"})
}

// TestWebhooksAreConfined: another organization's webhook and its
// deliveries are 404 on every route; a process key, and a key without
// the scope, are 403.
func TestWebhooksAreConfined(t *testing.T) {
	srv := servertest.New(t, withWebhooks(MustWebhookBox(t)))
	hook, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/a", Events: []string{keywarden.EventAPIKeyCreated}}, http.StatusCreated)
	ping, _ := mustWebhookCall[api.WebhookDelivery](t, srv, srv.RootKey, "POST", hooksPath+"/"+hook.ID+"/test", nil, http.StatusAccepted)
	otherOrg, _ := storetest.MustCreateOrganization(t, srv.Store)
	other := mustOrgKey(t, srv, otherOrg, keywarden.ScopeAll)
	theirs, _ := mustWebhookCall[api.Webhook](t, srv, other, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/b", Events: []string{keywarden.EventAPIKeyCreated}}, http.StatusCreated)
	p := storetest.MustCreateProcess(t, srv.Store, srv.Org.ID, srv.Clock.Now())
	processKey := srv.MustStoreKey(t, p.ID, []string{keywarden.ScopeAll}, 24*time.Hour)
	noScope := srv.MustStoreKey(t, "", []string{string(keywarden.ScopeAdminAPIKeyManage), string(keywarden.ScopeAdminAuditRead)}, 24*time.Hour)

	one, deliveries := hooksPath+"/"+hook.ID, hooksPath+"/"+hook.ID+"/deliveries"
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", hooksPath, nil},
		{"POST", hooksPath, api.CreateWebhookRequest{URL: "https://hooks.example.com/c", Events: []string{keywarden.EventAPIKeyCreated}}},
		{"GET", one, nil},
		{"PATCH", one, map[string]any{"enabled": false}},
		{"DELETE", one, nil},
		{"POST", one + "/test", nil},
		{"GET", deliveries, nil},
		{"GET", deliveries + "/" + ping.ID, nil},
		{"POST", deliveries + "/" + ping.ID + "/redeliver", nil},
	}
	for _, rt := range routes {
		for _, c := range []struct{ name, key string }{{"a process key", processKey}, {"a key without the scope", noScope}} {
			res, data := webhookCall(t, srv, c.key, rt.method, rt.path, rt.body)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s: %d %s, want 403", rt.method, rt.path, c.name, res.StatusCode, data)
			}
		}
		if rt.path == hooksPath {
			continue
		}
		res, data := webhookCall(t, srv, other, rt.method, rt.path, rt.body)
		if res.StatusCode != http.StatusNotFound || bytes.Contains(data, []byte(hook.URL)) {
			t.Errorf("%s %s by another organization: %d %s, want 404", rt.method, rt.path, res.StatusCode, data)
		}
	}
	// Their list holds only their own; a delivery is found only under its
	// own webhook.
	list, _ := mustWebhookCall[api.WebhookList](t, srv, other, "GET", hooksPath, nil, http.StatusOK)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != theirs.ID || list.Pagination.Total != 1 {
		t.Errorf("the other organization lists %+v", list)
	}
	res, data := webhookCall(t, srv, srv.RootKey, "GET", hooksPath+"/"+theirs.ID+"/deliveries/"+ping.ID, nil)
	wantProblem(t, "a delivery under another webhook", res, data, http.StatusNotFound)
	res, data = webhookCall(t, srv, srv.RootKey, "GET", hooksPath+"/not-an-id", nil)
	wantProblem(t, "a malformed ID", res, data, http.StatusNotFound)
	if got, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "GET", one, nil, http.StatusOK); !got.Enabled {
		t.Errorf("another organization's PATCH changed the webhook: %+v", got)
	}
}

// TestWebhookRollSecret: a roll answers a new secret, once, and keeps the
// old one signing until the overlap ends; it goes alone and needs the box.
func TestWebhookRollSecret(t *testing.T) {
	box := MustWebhookBox(t)
	srv := servertest.New(t, withWebhooks(box))
	hook, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/a", Events: []string{keywarden.EventAPIKeyCreated}}, http.StatusCreated)
	path := hooksPath + "/" + hook.ID
	before := mustStoredWebhooks(t, srv, srv.Org.ID)[0]
	overlap := int64(3600)
	rolled, res := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "PATCH", path,
		api.UpdateWebhookRequest{RollSecret: &api.RollWebhookSecret{OverlapSeconds: &overlap}}, http.StatusOK)
	until := srv.Clock.Now().Add(time.Hour).UTC()
	if rolled.Secret == "" || rolled.Secret == hook.Secret || res.Header.Get("Cache-Control") != "no-store" ||
		rolled.PreviousSecretExpiresAt == nil || *rolled.PreviousSecretExpiresAt != until.Format(time.RFC3339) {
		t.Errorf("rolled %+v (Cache-Control %q)", rolled, res.Header.Get("Cache-Control"))
	}
	after := mustStoredWebhooks(t, srv, srv.Org.ID)[0]
	if after.PreviousSecret != before.Secret || !after.PreviousSecretExpiresAt.Equal(until) {
		t.Errorf("after the roll the store holds previous %q until %v, want %q until %v", after.PreviousSecret, after.PreviousSecretExpiresAt, before.Secret, until)
	}
	if opened, err := box.Open([]byte(after.Secret), []byte(hook.ID)); err != nil || string(opened) != rolled.Secret {
		t.Errorf("the new sealed secret opens to %q, %v", opened, err)
	}
	got, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "GET", path, nil, http.StatusOK)
	if got.Secret != "" || got.PreviousSecretExpiresAt == nil {
		t.Errorf("GET after a roll: %+v", got)
	}
	if e := mustEvents(t, srv, keywarden.AuditWebhookSecretRolled); len(e) != 1 || e[0].TargetID != hook.ID {
		t.Errorf("audit events of the roll: %+v", e)
	}
	srv.Clock.Advance(time.Hour)
	if got, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "GET", path, nil, http.StatusOK); got.PreviousSecretExpiresAt != nil {
		t.Errorf("the overlap has ended but the webhook says %v", *got.PreviousSecretExpiresAt)
	}
	// A roll without overlap ends the old secret at once.
	zero := int64(0)
	mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "PATCH", path, api.UpdateWebhookRequest{RollSecret: &api.RollWebhookSecret{OverlapSeconds: &zero}}, http.StatusOK)
	if w := mustStoredWebhooks(t, srv, srv.Org.ID)[0]; w.PreviousSecret != "" || !w.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("a roll without overlap kept %q until %v", w.PreviousSecret, w.PreviousSecretExpiresAt)
	}

	long, u := int64(8*24*3600), "https://hooks.example.com/b"
	res, data := webhookCall(t, srv, srv.RootKey, "PATCH", path, api.UpdateWebhookRequest{URL: &u, RollSecret: &api.RollWebhookSecret{OverlapSeconds: &long}})
	wantProblem(t, "a roll with another change, too long", res, data, http.StatusBadRequest,
		[2]string{"body: rollSecret", "not_alone"}, [2]string{"body: rollSecret.overlapSeconds", "invalid"})
	res, data = webhookCall(t, srv, srv.RootKey, "PATCH", path, map[string]any{"rollSecret": map[string]any{}})
	wantProblem(t, "a roll without its overlap", res, data, http.StatusBadRequest, [2]string{"body: rollSecret.overlapSeconds", "required"})

	// Edits: what is given changes, the rest stays; the URL is checked again.
	desc, events, off := "Moved", []string{keywarden.EventAPIKeyRotated}, false
	edited, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "PATCH", path,
		api.UpdateWebhookRequest{URL: &u, Description: &desc, Events: &events, Enabled: &off}, http.StatusOK)
	if edited.URL != u || edited.Description != desc || len(edited.Events) != 1 || edited.Enabled || edited.Secret != "" {
		t.Errorf("edited %+v", edited)
	}
	loopback, none := "https://127.0.0.1/k", []string{}
	res, data = webhookCall(t, srv, srv.RootKey, "PATCH", path, api.UpdateWebhookRequest{URL: &loopback, Events: &none})
	wantProblem(t, "an edit to loopback and no events", res, data, http.StatusBadRequest, [2]string{"body: url", "refused"}, [2]string{"body: events", "required"})
	if w := mustStoredWebhooks(t, srv, srv.Org.ID)[0]; w.URL != u {
		t.Errorf("a refused edit stored the URL %q", w.URL)
	}

	// A server without the key edits, but does not roll.
	keyless := servertest.New(t)
	ctx := context.Background()
	stored := storetest.MustCreateWebhook(t, keyless.Store, keyless.Org.ID, keywarden.EventAPIKeyCreated)
	res, data = webhookCall(t, keyless, keyless.RootKey, "PATCH", hooksPath+"/"+stored.ID, api.UpdateWebhookRequest{RollSecret: &api.RollWebhookSecret{OverlapSeconds: &zero}})
	wantProblem(t, "a roll without a secret key", res, data, http.StatusServiceUnavailable)
	mustWebhookCall[api.Webhook](t, keyless, keyless.RootKey, "PATCH", hooksPath+"/"+stored.ID, api.UpdateWebhookRequest{Enabled: &off}, http.StatusOK)
	if w, err := keyless.Store.FindWebhook(ctx, keyless.Org.ID, stored.ID); err != nil || w.Enabled || w.Secret != stored.Secret {
		t.Errorf("an edit without the key: %+v, %v", w, err)
	}
}

// TestWebhooksWithoutSecretKey: a server started without a webhook secret
// key cannot create webhooks, says why (503, not_configured, no
// Retry-After: waiting does not help), and serves the rest.
func TestWebhooksWithoutSecretKey(t *testing.T) {
	srv := servertest.New(t)
	res, data := webhookCall(t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/a", Events: []string{keywarden.EventAPIKeyCreated}})
	p := wantProblem(t, "create without a key", res, data, http.StatusServiceUnavailable)
	if p.Type != api.ProblemType(server.ENOTCONFIGURED) || !strings.Contains(p.Detail, "--webhook-secret-key") || res.Header.Get("Retry-After") != "" {
		t.Errorf("create without a key: %+v, Retry-After %q", p, res.Header.Get("Retry-After"))
	}
	if list, _ := mustWebhookCall[api.WebhookList](t, srv, srv.RootKey, "GET", hooksPath, nil, http.StatusOK); len(list.Webhooks) != 0 {
		t.Errorf("list: %+v", list)
	}
}

// TestWebhookTestAndRedeliver: the test call queues a ping, visible among
// the deliveries; a redelivery queues it again with the same event, its
// attempts kept; a delivery in a node's hands, or of a disabled webhook,
// is 409; deleting the webhook deletes its deliveries.
func TestWebhookTestAndRedeliver(t *testing.T) {
	srv := servertest.New(t, withWebhooks(MustWebhookBox(t)))
	ctx := context.Background()
	hook, _ := mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "POST", hooksPath,
		api.CreateWebhookRequest{URL: "https://hooks.example.com/a", Events: []string{keywarden.EventAPIKeyCreated}}, http.StatusCreated)
	path := hooksPath + "/" + hook.ID
	ping, res := mustWebhookCall[api.WebhookDelivery](t, srv, srv.RootKey, "POST", path+"/test", nil, http.StatusAccepted)
	now := srv.Clock.Now().UTC().Format(time.RFC3339)
	if ping.EventType != keywarden.EventPing || ping.State != keywarden.DeliveryPending || ping.WebhookID != hook.ID || ping.Attempts != 0 ||
		!strings.HasPrefix(ping.EventID, "evt_") || ping.NextAttemptAt == nil || *ping.NextAttemptAt != now || ping.LastStatus != nil || ping.DeliveredAt != nil {
		t.Errorf("ping %+v", ping)
	}
	if got, want := res.Header.Get("Location"), path+"/deliveries/"+ping.ID; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	list, _ := mustWebhookCall[api.WebhookDeliveryList](t, srv, srv.RootKey, "GET", path+"/deliveries", nil, http.StatusOK)
	if len(list.Deliveries) != 1 || !sameJSON(t, list.Deliveries[0], ping) || list.Pagination.Total != 1 {
		t.Errorf("deliveries %+v, want the ping", list)
	}
	detail, _ := mustWebhookCall[api.WebhookDeliveryDetail](t, srv, srv.RootKey, "GET", path+"/deliveries/"+ping.ID, nil, http.StatusOK)
	var body struct {
		ID, Type, CreatedAt string
		Data                struct{ WebhookID string }
	}
	if err := json.Unmarshal(detail.Payload, &body); err != nil || body.ID != ping.EventID || body.Type != "ping" || body.CreatedAt != now ||
		body.Data.WebhookID != hook.ID || len(detail.AttemptLog) != 0 {
		t.Errorf("the ping's detail %+v (payload %s, %v)", detail, detail.Payload, err)
	}

	// A node takes it: in its hands, it is not sent again.
	claimed, err := srv.Store.ClaimWebhookDeliveries(ctx, srv.Clock.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	res, data := webhookCall(t, srv, srv.RootKey, "POST", path+"/deliveries/"+ping.ID+"/redeliver", nil)
	wantProblem(t, "a redelivery of a delivery in a node's hands", res, data, http.StatusConflict)
	at := srv.Clock.Now().UTC().Truncate(time.Microsecond)
	if err := srv.Store.CompleteWebhookAttempt(ctx, claimed[0], keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{At: at, Status: 500,
		Error: "webhook: receiver answered 500", Latency: 42 * time.Millisecond}, Done: true}); err != nil {
		t.Fatal(err)
	}
	failed, _ := mustWebhookCall[api.WebhookDeliveryDetail](t, srv, srv.RootKey, "GET", path+"/deliveries/"+ping.ID, nil, http.StatusOK)
	if failed.State != keywarden.DeliveryFailed || failed.NextAttemptAt != nil || failed.LastStatus == nil || *failed.LastStatus != 500 ||
		failed.LastLatencyMs != 42 || len(failed.AttemptLog) != 1 || failed.AttemptLog[0].Attempt != 1 || *failed.AttemptLog[0].Status != 500 {
		t.Errorf("the failed ping: %+v", failed)
	}

	srv.Clock.Advance(time.Minute)
	again, _ := mustWebhookCall[api.WebhookDelivery](t, srv, srv.RootKey, "POST", path+"/deliveries/"+ping.ID+"/redeliver", nil, http.StatusAccepted)
	if again.ID != ping.ID || again.EventID != ping.EventID || again.State != keywarden.DeliveryPending || again.Attempts != 1 ||
		again.NextAttemptAt == nil || *again.NextAttemptAt != srv.Clock.Now().UTC().Format(time.RFC3339) {
		t.Errorf("redelivered %+v", again)
	}
	if due, err := srv.Store.ClaimWebhookDeliveries(ctx, srv.Clock.Now(), time.Minute, 10); err != nil || len(due) != 1 || due[0].Attempts != 2 {
		t.Errorf("the redelivery is not due at once: %d, %v", len(due), err)
	}

	// Disabled: neither tests nor redeliveries.
	off := false
	mustWebhookCall[api.Webhook](t, srv, srv.RootKey, "PATCH", path, api.UpdateWebhookRequest{Enabled: &off}, http.StatusOK)
	res, data = webhookCall(t, srv, srv.RootKey, "POST", path+"/test", nil)
	wantProblem(t, "a test of a disabled webhook", res, data, http.StatusConflict)
	res, data = webhookCall(t, srv, srv.RootKey, "POST", path+"/deliveries/"+ping.ID+"/redeliver", nil)
	wantProblem(t, "a redelivery to a disabled webhook", res, data, http.StatusConflict)

	// Deleted with its deliveries.
	if res, data := webhookCall(t, srv, srv.RootKey, "DELETE", path, nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", res.StatusCode, data)
	}
	if _, _, err := srv.Store.FindWebhookDelivery(ctx, srv.Org.ID, ping.ID); keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		t.Errorf("the deleted webhook's delivery: %v", err)
	}
	res, data = webhookCall(t, srv, srv.RootKey, "GET", path, nil)
	wantProblem(t, "a deleted webhook", res, data, http.StatusNotFound)
	if e := mustEvents(t, srv, keywarden.AuditWebhookDeleted); len(e) != 1 || e[0].TargetID != hook.ID || e[0].TargetName != "hooks.example.com" {
		t.Errorf("audit events of the deletion: %+v", e)
	}
	if e := mustEvents(t, srv, keywarden.AuditWebhookUpdated); len(e) != 1 {
		t.Errorf("audit events of the edit: %+v", e)
	}
}

// webhookScenario is TestOpenAPIContract's part for the webhook
// operations, on a server of its own that has a webhook secret key (and
// the fake resolver), over the same store: each operation succeeds and
// fails the ways the document says.
func (c *contract) webhookScenario(t *testing.T, root, other credential) {
	t.Helper()
	// The scenario's main server has no webhook secret key.
	p := c.fail(t, root, "POST", hooksPath, api.CreateWebhookRequest{URL: "https://hooks.example.com/a", Events: []string{"api_key.created"}},
		http.StatusServiceUnavailable)
	if p.Type != "urn:keywarden:problem:not_configured" {
		t.Errorf("create without a secret key: %+v", p)
	}
	srv := c.serve(t, server.Config{Store: c.db, Now: c.clock.Now, Usage: c.usage, WebhookBox: MustWebhookBox(t), WebhookResolver: testResolver})
	ok := func(cred credential, method, path string, body any, want int) (http.Header, []byte) {
		t.Helper()
		h, data, _ := c.exchange(t, srv, c.newRequest(t, srv, cred, method, path, body), true, want)
		return h, data
	}
	fail := func(cred credential, method, path string, body any, want int) problem {
		t.Helper()
		return c.failOn(t, srv, c.newRequest(t, srv, cred, method, path, body), want)
	}

	h, data := ok(root, "POST", hooksPath, api.CreateWebhookRequest{URL: "https://hooks.example.com/keywarden",
		Events: []string{"api_key.created", "api_key.deleted"}, Description: "Security"}, http.StatusCreated)
	hook := mustDecode[api.Webhook](t, data)
	if hook.Secret == "" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("created %+v", hook)
	}
	path := hooksPath + "/" + hook.ID
	ok(root, "GET", hooksPath+"?limit=1", nil, http.StatusOK)
	ok(root, "GET", path, nil, http.StatusOK)
	overlap := int64(600)
	_, data = ok(root, "PATCH", path, api.UpdateWebhookRequest{RollSecret: &api.RollWebhookSecret{OverlapSeconds: &overlap}}, http.StatusOK)
	if rolled := mustDecode[api.Webhook](t, data); rolled.Secret == "" || rolled.Secret == hook.Secret {
		t.Errorf("rolled %+v", rolled)
	}
	enabled := true
	ok(root, "PATCH", path, api.UpdateWebhookRequest{Enabled: &enabled}, http.StatusOK)
	_, data = ok(root, "POST", path+"/test", nil, http.StatusAccepted)
	ping := mustDecode[api.WebhookDelivery](t, data)
	ok(root, "GET", path+"/deliveries", nil, http.StatusOK)
	ok(root, "GET", path+"/deliveries/"+ping.ID, nil, http.StatusOK)

	claimed, err := c.db.ClaimWebhookDeliveries(context.Background(), c.clock.Now(), time.Minute, 100)
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	fail(root, "POST", path+"/deliveries/"+ping.ID+"/redeliver", nil, http.StatusConflict)
	for _, d := range claimed {
		if err := c.db.CompleteWebhookAttempt(context.Background(), d, keywarden.WebhookOutcome{
			Attempt: keywarden.WebhookAttempt{At: c.clock.Now().UTC().Truncate(time.Microsecond), Error: "webhook: connection: refused"}, Done: true}); err != nil {
			t.Fatal(err)
		}
	}
	_, data = ok(root, "GET", path+"/deliveries/"+ping.ID, nil, http.StatusOK)
	if d := mustDecode[api.WebhookDeliveryDetail](t, data); d.State != keywarden.DeliveryFailed || len(d.AttemptLog) != 1 || d.AttemptLog[0].Status != nil {
		t.Errorf("the failed ping: %+v", d)
	}
	ok(root, "POST", path+"/deliveries/"+ping.ID+"/redeliver", nil, http.StatusAccepted)

	p = fail(root, "POST", hooksPath, api.CreateWebhookRequest{URL: "https://127.0.0.1/x", Events: []string{"api_key.nope"}}, http.StatusBadRequest)
	if !p.hasField("body: url", "refused") || !p.hasField("body: events[0]", "unknown_event") {
		t.Errorf("create with a loopback URL and an unknown event: %+v", p)
	}
	fail(other, "GET", path, nil, http.StatusNotFound)
	fail(other, "POST", path+"/test", nil, http.StatusNotFound)
	fail(other, "GET", path+"/deliveries/"+ping.ID, nil, http.StatusNotFound)
	ok(root, "DELETE", path, nil, http.StatusNoContent)
	fail(root, "DELETE", path, nil, http.StatusNotFound)
}

// TestOpenAPIWebhookSchemasAreStrict shows that the contract test can fail
// for webhooks: the answers a regression would give do not validate.
func TestOpenAPIWebhookSchemasAreStrict(t *testing.T) {
	doc := MustLoadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	secret := "whsec_" + strings.Repeat("A", 43)
	hook := func() map[string]any {
		return map[string]any{"id": id, "orgId": id, "url": "https://hooks.example.com/k", "description": "", "events": []string{"api_key.created"},
			"enabled": true, "createdAt": "2026-03-01T12:00:00Z", "createdBy": map[string]any{"type": "apiKey", "id": id},
			"updatedAt": "2026-03-01T12:00:00Z", "previousSecretExpiresAt": nil}
	}
	delivery := func() map[string]any {
		return map[string]any{"id": id, "webhookId": id, "eventId": "evt_00000000000000ab", "eventType": "api_key.created", "state": "pending",
			"attempts": 0, "nextAttemptAt": "2026-03-01T12:00:00Z", "lastStatus": nil, "lastError": "", "lastLatencyMs": 0,
			"createdAt": "2026-03-01T12:00:00Z", "deliveredAt": nil}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	created := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Location": {hooksPath + "/" + id}}
	for _, tt := range []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         any
		valid        bool
	}{
		{"a webhook", "GET", hooksPath + "/" + id, 200, jsonHeader, hook(), true},
		{"a webhook showing its secret", "GET", hooksPath + "/" + id, 200, jsonHeader, with(hook(), "secret", secret), false},
		{"a webhook showing its sealed secret", "GET", hooksPath + "/" + id, 200, jsonHeader, with(hook(), "sealedSecret", "v1:k:x"), false},
		{"a webhook with an unknown event", "GET", hooksPath + "/" + id, 200, jsonHeader, with(hook(), "events", []string{"ping"}), false},
		{"a created webhook", "POST", hooksPath, 201, created, with(hook(), "secret", secret), true},
		{"a created webhook without its secret", "POST", hooksPath, 201, created, hook(), false},
		{"a created webhook that may be cached", "POST", hooksPath, 201, http.Header{"Content-Type": {"application/json"}, "Location": {"/x"}}, with(hook(), "secret", secret), false},
		{"a rolled secret", "PATCH", hooksPath + "/" + id, 200, jsonHeader, with(hook(), "secret", secret), true},
		{"a queued delivery", "POST", hooksPath + "/" + id + "/test", 202, http.Header{"Content-Type": {"application/json"}, "Location": {"/x"}}, delivery(), true},
		{"a delivery with its payload in the list", "GET", hooksPath + "/" + id + "/deliveries", 200, jsonHeader,
			map[string]any{"deliveries": []any{with(delivery(), "payload", map[string]any{})}, "pagination": map[string]any{"offset": 0, "limit": 20, "total": 1}}, false},
		{"a delivery in another state", "GET", hooksPath + "/" + id + "/deliveries/" + id, 200, jsonHeader,
			with(with(delivery(), "state", "dropped"), "attemptLog", []any{}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkAgainstDocument(t, router, tt.method, tt.path, tt.status, tt.header, tt.body, tt.valid)
		})
	}
}
