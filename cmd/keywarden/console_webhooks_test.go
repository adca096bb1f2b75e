package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestWebhookPages: the webhook table lists the organization's webhook and
// links to its page, which shows its settings and its delivery log; neither
// ever holds the signing secret, which the API showed once.
func TestWebhookPages(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private")
	res := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", map[string]any{"url": "http://127.0.0.1:9/hooks/keywarden?token=abc",
		"events": []string{"api_key.created", "api_key.deleted"}, "description": "Security alerts"}), http.StatusCreated).JSON(t)
	id, secret := res["id"].(string), res["secret"].(string)
	if secret == "" {
		t.Fatal("no secret in the create answer")
	}
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")

	list := string(want(t, owner.get("/settings/webhooks"), http.StatusOK).Body)
	for _, s := range []string{`href="/settings/webhooks/` + id + `"`, "127.0.0.1:9", "/hooks/keywarden?token=abc", "2 events", "Enabled",
		`data-open="create-webhook"`, `value="api_key.leaked"`, `aria-current="page">Webhooks`} {
		if !strings.Contains(list, s) {
			t.Errorf("the webhook table lacks %q", s)
		}
	}
	if strings.Contains(list, "webhook-no-key") {
		t.Error("the webhook table says the server has no webhook secret key, which it has")
	}
	page := string(want(t, owner.get("/settings/webhooks/"+id), http.StatusOK).Body)
	for _, s := range []string{"Security alerts", `data-kind="edit-webhook"`, `data-kind="test-webhook"`, `data-kind="roll-webhook-secret"`,
		`id="delete-webhook"`, `value="api_key.created" checked`, "Nothing has been sent yet"} {
		if !strings.Contains(page, s) {
			t.Errorf("the webhook's page lacks %q", s)
		}
	}
	if strings.Contains(page, `value="api_key.leaked" checked`) {
		t.Error("the webhook's page shows an event it does not subscribe to as chosen")
	}

	// A test event is listed in the delivery log.
	owner.api("POST", "/api/v1/admin/webhooks/"+id+"/test", nil, true)
	page = string(want(t, owner.get("/settings/webhooks/"+id), http.StatusOK).Body)
	if !strings.Contains(page, `data-testid="deliveries-table"`) || !strings.Contains(page, "<code>ping</code>") ||
		!strings.Contains(page, "/deliveries/") || !strings.Contains(page, `data-kind="redeliver"`) {
		t.Error("the test event is not in the delivery log")
	}
	for name, body := range map[string]string{"table": list, "page": page} {
		if strings.Contains(body, secret) {
			t.Errorf("the webhook %s contains the signing secret", name)
		}
	}
	want(t, owner.get("/settings/webhooks/0123456789abcdef0123456789abcdef"), http.StatusNotFound)

	// A member who is not an admin has no webhook pages.
	user := invite(t, srv, owner, "user@acme.example", "user")
	want(t, user.get("/settings/webhooks"), http.StatusNotFound)
	want(t, user.get("/settings/webhooks/"+id), http.StatusNotFound)
}

// TestWebhookPagesWithoutASecretKey: without a webhook secret key the
// table says so, naming the operator's flag, and its Add button is
// disabled; an existing webhook's page can still be read.
func TestWebhookPagesWithoutASecretKey(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private")
	id := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", map[string]any{"url": "http://127.0.0.1:9/hooks",
		"events": []string{"api_key.created"}}), http.StatusCreated).JSON(t)["id"].(string)
	srv.Stop(t)
	srv = startServer(t, clock, dir, "--webhook-allow-private")
	owner := signedIn(t, srv, "acme@example.com", "correct horse battery staple")

	list := string(want(t, owner.get("/settings/webhooks"), http.StatusOK).Body)
	if !strings.Contains(list, `data-testid="webhook-no-key"`) || !strings.Contains(list, "--webhook-secret-key-file") {
		t.Error("the webhook table does not say that the server has no webhook secret key")
	}
	if !strings.Contains(list, `data-testid="create-webhook" disabled aria-describedby="webhook-no-key"`) {
		t.Error("the Add webhook button is not disabled with its reason")
	}
	if strings.Contains(list, `<dialog id="create-webhook"`) {
		t.Error("the create dialog is there without a webhook secret key")
	}
	page := string(want(t, owner.get("/settings/webhooks/"+id), http.StatusOK).Body)
	if !strings.Contains(page, `data-testid="roll-secret" disabled`) || !strings.Contains(page, "--webhook-secret-key-file") {
		t.Error("the webhook's page offers to roll the secret without a webhook secret key")
	}
}
