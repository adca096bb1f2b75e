package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserRevokeAll: on a process's key page, "Revoke all keys" opens a
// dialog that says what it does and starts on the text field; its button
// stays disabled, and Enter does nothing, until the process's name is
// typed exactly; then every key of the process is gone, the page says how
// many, and the other process's key still works. The organization's page
// offers the same for every key of the organization, and Escape leaves it
// unchanged.
func TestBrowserRevokeAll(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	proc := srv.createProcess(t, root, "Invoices")
	other := srv.createProcess(t, root, "Receipts")
	keysOf := func(p string) string { return "/api/v1/processes/" + p + "/api-keys" }
	k1 := keyValue(t, srv.createKey(t, root, keysOf(proc), []string{"all"}, clock))
	k2 := keyValue(t, srv.createKey(t, root, keysOf(proc), []string{"workspace.file:upload"}, clock))
	bystander := keyValue(t, srv.createKey(t, root, keysOf(other), []string{"all"}, clock))
	srv.useRealClock()
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "acme@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".process-card")))

	b.do(chromedp.Navigate(srv.URL+"/processes/"+proc+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-all"]`)))
	b.checkLabels("process API keys with the revoke-all dialog")
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="revoke-all-open"]`)), chromedp.WaitVisible(chromedp.CSS("#revoke-all-confirm")))
	if !eval[bool](b, `document.activeElement === document.querySelector('#revoke-all-confirm')`) {
		t.Errorf("the revoke-all dialog starts on %s, want the name field", eval[string](b, `document.activeElement.outerHTML`))
	}
	text := eval[string](b, `document.querySelector('#revoke-all-dialog').innerText`)
	for _, w := range []string{"Invoices", "stops working at once", "cannot be undone", "Type Invoices to confirm"} {
		if !strings.Contains(text, w) {
			t.Errorf("the revoke-all dialog does not say %q:\n%s", w, text)
		}
	}
	disabled := func() bool {
		return eval[bool](b, `document.querySelector('#revoke-all-dialog button[type="submit"]').disabled`)
	}
	if !disabled() {
		t.Fatal("the revoke-all button is enabled before the name is typed")
	}
	// retype empties the field (without an input event) and types s.
	retype := func(s string) {
		eval[bool](b, `(document.querySelector('#revoke-all-confirm').value = '', true)`)
		b.do(chromedp.SendKeys(chromedp.CSS("#revoke-all-confirm"), s))
	}
	// Almost the name: still disabled, and Enter submits nothing.
	for _, typed := range []string{"invoices", "Invoice", "Invoices "} {
		retype(typed)
		if got := b.value("#revoke-all-confirm"); got != typed || !disabled() {
			t.Errorf("with %q typed (the field holds %q) the revoke-all button is enabled", typed, got)
		}
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	if !eval[bool](b, `document.querySelector('#revoke-all-dialog').open`) {
		t.Fatal("Enter with the wrong name closed the dialog")
	}
	wantStatuses(t, srv, http.StatusOK, k1, k2)
	retype("Invoices")
	if disabled() {
		t.Fatal("the revoke-all button stays disabled with the exact name typed")
	}
	b.screenshot("revoke-all-dialog")
	b.do(chromedp.Click(chromedp.CSS(`#revoke-all-dialog button[type="submit"]`)))
	b.waitFor(`!!document.querySelector('[data-testid="flash"]') && document.querySelector('[data-testid="flash"]').textContent.includes('2 API keys were revoked.')`)
	if eval[bool](b, `!!document.querySelector('[data-testid="keys-table"]') || !!document.querySelector('[data-testid="revoke-all"]')`) {
		t.Error("after revoking every key the page still shows a key table or the revoke-all section")
	}
	wantStatuses(t, srv, http.StatusUnauthorized, k1, k2)
	wantStatuses(t, srv, http.StatusOK, bystander, root)

	// The organization's page: every key of the organization. Escape
	// closes the dialog, focus returns, nothing is revoked; reopened, the
	// field is empty again.
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="revoke-all"]`)))
	if got := eval[string](b, `document.querySelector('[data-testid="revoke-all"]').innerText`); !strings.Contains(got, "keys of every process") {
		t.Errorf("the organization's revoke-all section does not say it reaches every process's keys: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="revoke-all-open"]`)), chromedp.WaitVisible(chromedp.CSS("#revoke-all-confirm")),
		chromedp.SendKeys(chromedp.CSS("#revoke-all-confirm"), "Acme"), chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS("#revoke-all-dialog")))
	if !eval[bool](b, `document.activeElement === document.querySelector('[data-testid="revoke-all-open"]')`) {
		t.Error("focus did not return to the button that opened the dialog")
	}
	wantStatuses(t, srv, http.StatusOK, bystander, root)
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="revoke-all-open"]`)), chromedp.WaitVisible(chromedp.CSS("#revoke-all-confirm")))
	if v := b.value("#revoke-all-confirm"); v != "" || !disabled() {
		t.Errorf("the reopened dialog holds %q, button disabled %v", v, disabled())
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#revoke-all-confirm"), "Acme"+kb.Enter))
	b.waitFor(`!!document.querySelector('[data-testid="flash"]') && document.querySelector('[data-testid="flash"]').textContent.includes('API keys were revoked.')`)
	if got := eval[string](b, `document.querySelector('[data-testid="flash"]').textContent`); got != "2 API keys were revoked." {
		t.Errorf("the flash after the organization's revocation says %q, want the root key and Receipts' key", got)
	}
	wantStatuses(t, srv, http.StatusUnauthorized, bystander, root)
	b.checkFits("organization API keys after revoking every key")
}
