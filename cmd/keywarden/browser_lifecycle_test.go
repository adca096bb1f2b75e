package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserRotation: "⋯" → Rotate asks first (focus on Cancel), takes the
// grace period chosen in the dialog, and shows the new key once in the
// same "save your key" dialog, saying until when the old one works; both
// secrets work inside the grace period, only the new one after it, and the
// table says the rotation is under way meanwhile.
func TestBrowserRotation(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	clock.Follow()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--usage-flush-interval", "50ms")
	k := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	old, user := k["key"].(string), k["user"].(string)

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "acme@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-process"]`)))
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	sel := `tr[data-key-id="` + k["id"].(string) + `"]`
	b.do(chromedp.Click(chromedp.CSS(sel+" summary.menu-button")), chromedp.WaitVisible(chromedp.CSS(sel+" [data-rotate-path]")))
	b.do(chromedp.Click(chromedp.CSS(sel+" [data-rotate-path]")), chromedp.WaitVisible(chromedp.CSS("#rotate-key")))
	if got := eval[string](b, `document.querySelector('#rotate-key').innerText`); !strings.Contains(got, user) {
		t.Errorf("the rotation dialog does not name the key ID: %q", got)
	}
	if !eval[bool](b, `document.activeElement === document.querySelector('#rotate-key [data-close]')`) {
		t.Error("the rotation dialog does not start on Cancel")
	}
	b.do(chromedp.Click(chromedp.CSS(`#rotate-key input[name="grace"][value="3600"]`)),
		chromedp.Click(chromedp.CSS(`#rotate-key button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#save-key")))
	b.waitFor(`document.querySelector('#saved-key').value.length > 0`)
	fresh := b.value("#saved-key")
	if !strings.HasPrefix(fresh, user+":") || fresh == old {
		t.Fatalf("the dialog shows %q, want the same key ID with a new secret", fresh)
	}
	if title := eval[string](b, `document.querySelector('[data-save-title]').textContent`); title != "Save your new key" {
		t.Errorf("the dialog is titled %q", title)
	}
	if note := eval[string](b, `document.querySelector('[data-rotation-note]').textContent`); !strings.Contains(note, "keeps working until") {
		t.Errorf("the dialog does not say until when the old secret works: %q", note)
	}
	b.screenshot("rotate-save-key")
	b.closeSavedKey()
	b.waitFor(`!!document.querySelector('[data-testid="rotating"]')`)
	b.screenshot("key-table-rotating")

	for _, key := range []string{old, fresh} {
		want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	clock.Advance(time.Hour)
	want(t, srv.do(t, basic(old), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	want(t, srv.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK)
	eventually(t, "the table no longer shows the rotation", func() bool {
		b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
		return !eval[bool](b, `!!document.querySelector('[data-testid="rotating"]')`)
	})

	// The key's own page: its usage of the last 30 days, drawn.
	b.do(chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	page := srv.URL + "/settings/api-keys/" + k["id"].(string)
	eventually(t, "the key page charts the uses", func() bool {
		b.do(chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`[data-testid="usage-chart"] svg.chart`)))
		return eval[int](b, `document.querySelectorAll('[data-testid="usage-chart"] rect.chart-ok').length`) > 0
	})
	if problems := b.layoutProblems(true); len(problems) > 0 {
		t.Errorf("the key page at 1280px: %s", strings.Join(problems, "; "))
	}
	b.screenshot("key-usage")

	// Editing the allowlist and the rate limit from the key's page: a bad
	// network is named in words next to its field; a good edit is saved
	// and confirmed.
	b.do(chromedp.Click(chromedp.CSS(`details.edit-key summary`)), chromedp.WaitVisible(chromedp.CSS("#edit-allowed")))
	b.do(chromedp.SendKeys(chromedp.CSS("#edit-allowed"), "not-a-network"), chromedp.Click(chromedp.CSS(`form[data-kind="edit-key"] button[type="submit"]`)))
	b.waitFor(`document.querySelector('[data-error-for="allowedIps"]').textContent.length > 0`)
	b.do(chromedp.SetValue(chromedp.CSS("#edit-allowed"), "127.0.0.0/8\n2001:db8::/32"),
		chromedp.SetValue(chromedp.CSS("#edit-limit"), "500"), chromedp.SetValue(chromedp.CSS("#edit-window"), "60"),
		chromedp.Click(chromedp.CSS(`form[data-kind="edit-key"] button[type="submit"]`)))
	b.waitFor(`!!document.querySelector('[data-testid="flash"]') && document.querySelector('[data-testid="flash"]').textContent.includes("was updated")`)
	got := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusOK).JSON(t)
	if ips := got["allowedIps"].([]any); len(ips) != 2 || got["rateLimit"].(map[string]any)["limit"] != 500.0 {
		t.Errorf("after the edit in the console: %v", got)
	}
	want(t, srv.do(t, basic(fresh), "GET", "/api/v1/me", nil), http.StatusOK) // from 127.0.0.1, inside the list
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`[data-testid="usage-chart"] svg.chart`)))
	if problems := b.layoutProblems(false); len(problems) > 0 {
		t.Errorf("the key page at 390px: %s", strings.Join(problems, "; "))
	}
}
