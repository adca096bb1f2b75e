package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/keywarden/keywarden/internal/testenv"
)

// screenshotDir is where the browser tests save what the README shows, when
// KEYWARDEN_UPDATE_SCREENSHOTS=1; otherwise they save them in a temporary
// directory, so that running the tests leaves the work tree unchanged.
func screenshotDir(t *testing.T) string {
	if os.Getenv("KEYWARDEN_UPDATE_SCREENSHOTS") == "1" {
		return "../../docs/screenshots"
	}
	return t.TempDir()
}

// browser is a headless Chromium tab driven through chromedp.
type browser struct {
	t        *testing.T
	ctx      context.Context
	shotsDir string
}

// newBrowser starts Debian's Chromium (skipped where it is absent, failed
// under CI) at a desktop window size. The flags keep it off the network:
// this machine has none, and background requests only slow it down.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := testenv.Program(t, "Chromium (apt-get install chromium)", "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
	// A Chromium that hangs while starting (seen, rarely, on busy machines)
	// is killed and started again rather than failing the run.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox, // the tests run as root in CI
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1280, 900),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
		started := make(chan error, 1)
		go func() { started <- chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }() // starts the browser
		var err error
		select {
		case err = <-started:
		case <-time.After(45 * time.Second):
			err = fmt.Errorf("Chromium did not start within 45s")
		}
		if err == nil {
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
			return &browser{t: t, ctx: ctx, shotsDir: screenshotDir(t)}
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		if attempt == attempts {
			t.Fatalf("starting Chromium, %d attempts: %v", attempts, err)
		}
		t.Logf("starting Chromium: %v; trying again", err)
	}
}

// do runs steps and fails the test on error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

// value returns an input's value.
func (b *browser) value(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// eval evaluates a JavaScript expression into a T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is true, across page loads
// (a poll does not survive a navigation, so it starts again on the new page).
func (b *browser) waitFor(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		// A navigation ends the poll with one of several errors ("target
		// navigated", "cannot find context"); try again on the new page.
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %s: %v (at %s)", expr, err, b.location())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// screenshot saves the viewport as name.png in the screenshot directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shotsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		b.t.Fatalf("screenshot %s is not a PNG image", name)
	}
	if err := os.WriteFile(filepath.Join(b.shotsDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkLabels fails if a visible form control on the page has no label.
func (b *browser) checkLabels(page string) {
	b.t.Helper()
	unlabelled := eval[[]string](b, `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map(e => e.id || e.name || e.outerHTML)`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label: %v", page, unlabelled)
	}
}

// checkFits fails if the page scrolls sideways at the current width.
func (b *browser) checkFits(page string) {
	b.t.Helper()
	if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		wide := eval[[]string](b, `[...document.querySelectorAll('body *')]
			.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.parentElement.closest('.table-scroll, dialog:not([open])'))
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))`)
		b.t.Errorf("%s overflows the viewport horizontally at width %d: %v", page, eval[int](b, `window.innerWidth`), wide)
	}
}

// createKeyInDialog fills the create dialog (scopes nil means "All") and
// returns the key shown in the "save your key" dialog.
func (b *browser) createKeyInDialog(name string, scopes []string, shots bool) string {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="create-key"]`)), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	b.do(chromedp.SendKeys(chromedp.CSS("#key-name"), name))
	if scopes != nil {
		b.do(chromedp.Click(chromedp.CSS(`input[name="scope-mode"][value="chosen"]`)))
		for _, s := range scopes {
			b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="scopes"][value=%q]`, s))))
		}
	}
	if shots {
		b.screenshot("create-dialog")
	}
	b.do(chromedp.Click(chromedp.CSS(`#create-key button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#saved-key")))
	b.waitFor(`document.querySelector('#saved-key').value.length > 0`)
	if shots {
		b.screenshot("save-key-dialog")
	}
	key := b.value("#saved-key")
	user, pass, _ := strings.Cut(key, ":")
	if b.value("#saved-user") != user || b.value("#saved-pass") != pass || !strings.Contains(b.value("#saved-curl"), `curl -u "`+key+`"`) {
		b.t.Errorf("the save dialog's parts do not match the key %q", user)
	}
	text := eval[string](b, `document.querySelector('#save-key').innerText`)
	if !strings.Contains(text, "only time the key is shown") {
		b.t.Errorf("the save dialog has no warning: %q", text)
	}
	return key
}

// deleteKeyFromMenu deletes the row of user through its "⋯" menu.
func (b *browser) deleteKeyFromMenu(name, user string, shots bool) {
	b.t.Helper()
	row := fmt.Sprintf(`[...document.querySelectorAll('tr[data-key-id]')].find(r => r.querySelector('.key-user').textContent === %q)`, user)
	id := eval[string](b, row+`.dataset.keyId`)
	sel := fmt.Sprintf(`tr[data-key-id=%q]`, id)
	b.do(chromedp.Click(chromedp.CSS(sel+" summary.menu-button")), chromedp.WaitVisible(chromedp.CSS(sel+" [data-delete-path]")))
	b.do(chromedp.Click(chromedp.CSS(sel+" [data-delete-path]")), chromedp.WaitVisible(chromedp.CSS("#delete-key")))
	if got := eval[string](b, `document.querySelector('#delete-key-title').textContent`); !strings.Contains(got, name) {
		b.t.Errorf("the delete confirmation does not name the key: %q", got)
	}
	if shots {
		b.screenshot("delete-confirmation")
	}
	b.do(chromedp.Click(chromedp.CSS(`#delete-key button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// status sends GET path with the key as HTTP Basic credentials.
func status(t *testing.T, srv *testServer, key, path string) int {
	t.Helper()
	return srv.do(t, basic(key), "GET", path, nil).Status
}

// TestBrowserKeyLifecycle walks the console the way a person does, in a
// real headless Chromium: setup, sign in, a process, a process key with two
// scopes and an organization key with "All" — each read from the "save
// your key" dialog, used, found in the table without its secret, deleted
// from its "⋯" menu, and refused afterwards — then sign out.
func TestBrowserKeyLifecycle(t *testing.T) {
	srv := startServer(t, newFakeClock(), t.TempDir())
	srv.useRealClock()
	b := newBrowser(t)
	m := setupURLRE.FindStringSubmatch(srv.Log.String())
	if m == nil {
		t.Fatalf("no setup URL in the log:\n%s", srv.Log)
	}

	// First run: the setup page creates the organization and its owner.
	b.do(chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.CSS("#org_name")))
	b.checkLabels("setup")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#org_name"), "Acme"),
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-process"]`)),
	)

	// Sign out and in again through the sign-in page.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.checkLabels("sign-in")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-process"]`)),
	)

	// A process, from the dashboard's dialog.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="new-process"]`)), chromedp.WaitVisible(chromedp.CSS("#process-name")))
	b.checkLabels("new process dialog")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#process-name"), "Invoices"),
		chromedp.Click(chromedp.CSS(`#create-process button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".process-card")),
	)
	b.screenshot("dashboard")
	b.do(chromedp.Click(chromedp.CSS(".process-card h2 a")), chromedp.WaitVisible(chromedp.CSS(`.sidenav a[href$="/settings/api-keys"]`)))
	processID := eval[string](b, `location.pathname.split('/')[2]`)
	b.do(chromedp.Click(chromedp.CSS(`.sidenav a[href$="/settings/api-keys"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-key"]`)))
	b.checkLabels("process API keys")

	// A validation error shows next to its field, in the dialog, and keeps
	// what was typed.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="create-key"]`)), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	b.do(chromedp.Click(chromedp.CSS(`input[name="scope-mode"][value="chosen"]`)),
		chromedp.Click(chromedp.CSS(`input[name="scopes"][value="workspace.file:upload"]`)),
		chromedp.Click(chromedp.CSS(`#create-key button[type="submit"]`)))
	b.waitFor(`document.querySelector('[data-error-for="name"]').textContent.length > 0`)
	if !eval[bool](b, `document.querySelector('#create-key').open && document.querySelector('input[value="workspace.file:upload"]').checked`) {
		t.Fatal("after a validation error the dialog closed or lost the chosen scope")
	}
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#create-key")))

	// A process key with two scopes.
	pkey := b.createKeyInDialog("CI upload", []string{"workspace.file:upload", "workspace.process:read"}, true)
	if got := status(t, srv, pkey, "/api/v1/processes/"+processID); got != http.StatusOK {
		t.Fatalf("the new process key reads its process: %d", got)
	}
	if got := status(t, srv, pkey, "/api/v1/admin/api-keys"); got != http.StatusForbidden {
		t.Fatalf("the new process key reaches /admin: %d", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-done-reload]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	user, secret, _ := strings.Cut(pkey, ":")
	page := eval[string](b, `document.documentElement.outerHTML`)
	if !strings.Contains(page, user) || !strings.Contains(page, "CI upload") || !strings.Contains(page, "2 scopes") {
		t.Fatalf("the key table does not list the new key with its two scopes:\n%s", eval[string](b, `document.querySelector("main").innerText`))
	}
	if strings.Contains(page, secret) {
		t.Fatal("the key table shows the secret")
	}
	b.screenshot("key-table")
	b.deleteKeyFromMenu("CI upload", user, true)
	if got := status(t, srv, pkey, "/api/v1/processes/"+processID); got != http.StatusUnauthorized {
		t.Fatalf("the deleted process key still works: %d", got)
	}

	// An organization key with "All".
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-key"]`)))
	b.checkLabels("organization API keys")
	okey := b.createKeyInDialog("Nightly export", nil, false)
	var me struct {
		Level  string
		Scopes []string
	}
	if err := json.Unmarshal(srv.do(t, basic(okey), "GET", "/api/v1/me", nil).Body, &me); err != nil || me.Level != "organization" || len(me.Scopes) < 20 {
		t.Fatalf("/me of the organization key = %+v, %v", me, err)
	}
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	b.waitFor(`document.body.innerText.includes('Nightly export')`)
	if !strings.Contains(eval[string](b, `document.querySelector('[data-testid="keys-table"]').innerText`), "All") {
		t.Error("the organization key's scopes are not shown as All")
	}
	b.deleteKeyFromMenu("Nightly export", strings.SplitN(okey, ":", 2)[0], false)
	if got := status(t, srv, okey, "/api/v1/me"); got != http.StatusUnauthorized {
		t.Fatalf("the deleted organization key still works: %d", got)
	}

	// Rename the process on its General tab, then delete it.
	b.do(chromedp.Navigate(srv.URL+"/processes/"+processID+"/settings"), chromedp.WaitVisible(chromedp.CSS("#rename-name")))
	b.checkLabels("process general")
	b.do(chromedp.Clear(chromedp.CSS("#rename-name")), chromedp.SendKeys(chromedp.CSS("#rename-name"), "Invoices 2026"),
		chromedp.Click(chromedp.CSS(`form[data-kind="rename-process"] button[type="submit"]`)))
	b.waitFor(`document.querySelector('h1').textContent.includes('Invoices 2026')`)
	b.do(chromedp.Click(chromedp.CSS(`[data-open="delete-process"]`)), chromedp.WaitVisible(chromedp.CSS("#delete-process")),
		chromedp.Click(chromedp.CSS(`#delete-process button[type="submit"]`)))
	b.waitFor(`location.pathname === '/' && document.body.innerText.includes('No processes yet')`)

	// Sign out; a protected page sends us to sign in.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS("#email")))
	if loc := b.location(); !strings.Contains(loc, "/sign-in?next=") {
		t.Fatalf("a protected page after sign-out is at %s", loc)
	}
}

// TestBrowserKeyboardAndNarrowScreens: dialogs work with the keyboard alone
// — Enter opens, focus moves in, Enter submits, Escape closes and focus
// returns — and the pages fit a 390px-wide phone.
func TestBrowserKeyboardAndNarrowScreens(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	srv.useRealClock()
	proc := srv.createProcess(t, root, "Invoices")
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "acme@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".process-card")))

	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-key"]`)))
	b.do(chromedp.Focus(chromedp.CSS(`[data-testid="create-key"]`)), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	if !eval[bool](b, `document.querySelector('#create-key').contains(document.activeElement)`) {
		t.Fatal("focus did not move into the dialog")
	}
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#create-key")))
	if !eval[bool](b, `document.activeElement === document.querySelector('[data-testid="create-key"]')`) {
		t.Fatal("focus did not return to the button that opened the dialog")
	}
	// Open, type, Tab through the dialog, submit with Enter: no mouse.
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#key-name")),
		chromedp.KeyEvent("Keyboard key"), chromedp.KeyEvent(kb.Tab))
	if !eval[bool](b, `document.activeElement.name === 'scope-mode'`) {
		t.Errorf("Tab from the name went to %s, want the scope choice", eval[string](b, `document.activeElement.outerHTML`))
	}
	b.do(chromedp.Focus(chromedp.CSS("#key-name")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#saved-key")))
	b.waitFor(`document.querySelector('#saved-key').value.length > 0`)
	if !eval[bool](b, `document.querySelector('#save-key').contains(document.activeElement)`) {
		t.Fatal("focus is not in the save-your-key dialog")
	}
	key := b.value("#saved-key")
	if got := status(t, srv, key, "/api/v1/me"); got != http.StatusOK {
		t.Fatalf("the key made with the keyboard: %d", got)
	}
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor(`document.readyState === 'complete' && !!document.querySelector('[data-testid="keys-table"]') && document.querySelector('[data-testid="keys-table"]').innerText.includes('Keyboard key')`)

	// The "⋯" menu opens with Enter and closes with Escape.
	b.do(chromedp.Focus(chromedp.CSS("tr[data-key-id] summary.menu-button")), chromedp.KeyEvent(kb.Enter))
	if !eval[bool](b, `document.querySelector('tr[data-key-id] details.menu').open`) {
		t.Error("Enter does not open the ⋯ menu")
	}
	b.do(chromedp.KeyEvent(kb.Escape))
	if eval[bool](b, `document.querySelector('tr[data-key-id] details.menu').open`) {
		t.Error("Escape does not close the ⋯ menu")
	}

	// Every page fits a phone.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	for _, path := range []string{"/", "/settings", "/settings/members", "/settings/api-keys", "/settings/audit",
		"/processes/" + proc + "/settings", "/processes/" + proc + "/settings/access", "/processes/" + proc + "/settings/api-keys"} {
		b.do(chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main")))
		b.checkFits(path)
		b.checkLabels(path)
	}
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	b.screenshot("key-table-phone")
}
