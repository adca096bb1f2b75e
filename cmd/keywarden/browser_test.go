package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	if eval[bool](b, `!!document.querySelector('input[name="scope-mode"]:checked')`) {
		b.t.Error("the create dialog opens with a scope mode already chosen")
	}
	if scopes == nil {
		b.do(chromedp.Click(chromedp.CSS(`input[name="scope-mode"][value="all"]`)))
	} else {
		b.do(chromedp.Click(chromedp.CSS(`input[name="scope-mode"][value="chosen"]`)))
		for _, s := range scopes {
			b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="scopes"][value=%q]`, s))))
		}
		if got, want := eval[string](b, `document.querySelector('[data-scope-count]').textContent`), fmt.Sprintf("%d of ", len(scopes)); !strings.HasPrefix(got, want) {
			b.t.Errorf("the scope count says %q after choosing %d", got, len(scopes))
		}
		// The filter narrows the checklist and keeps what was chosen.
		b.do(chromedp.SendKeys(chromedp.CSS("#scope-filter"), "upload"))
		if got := eval[[]string](b, `[...document.querySelectorAll('#create-key input[name="scopes"]')].filter(i => i.checkVisibility()).map(i => i.value)`); len(got) == 0 || len(got) > 2 || !strings.Contains(strings.Join(got, " "), "upload") {
			b.t.Errorf("filtering on %q shows %v", "upload", got)
		}
		b.do(chromedp.Clear(chromedp.CSS("#scope-filter")), chromedp.SendKeys(chromedp.CSS("#scope-filter"), " "+kb.Backspace))
		if n := eval[int](b, `document.querySelectorAll('#create-key input[name="scopes"]:checked').length`); n != len(scopes) {
			b.t.Errorf("after filtering, %d scopes are chosen, want %d", n, len(scopes))
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
	// Copying the key is announced in the status region.
	b.do(chromedp.Click(chromedp.CSS(`[data-copy="saved-key"]`)))
	b.waitFor(`document.querySelector('#copy-status').textContent.includes('API key')`)
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
	if got := eval[string](b, `document.querySelector('#delete-key').innerText`); !strings.Contains(got, name) || !strings.Contains(got, user) {
		b.t.Errorf("the delete confirmation does not name the key and its key ID %s: %q", user, got)
	}
	if !eval[bool](b, `document.activeElement === document.querySelector('#delete-key [data-close]')`) {
		b.t.Errorf("focus in the delete confirmation is on %s, want Cancel", eval[string](b, `document.activeElement.outerHTML`))
	}
	if shots {
		b.screenshot("delete-confirmation")
	}
	b.do(chromedp.Click(chromedp.CSS(`#delete-key button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS(sel)))
	b.waitFor(fmt.Sprintf(`!!document.querySelector('[data-testid="flash"]') && document.querySelector('[data-testid="flash"]').textContent.includes(%q)`, user))
}

// closeSavedKey closes the "save your key" dialog by Escape, which must
// ask first, and confirms.
func (b *browser) closeSavedKey() {
	b.t.Helper()
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor(`!document.querySelector('[data-confirm-panel]').hidden`)
	if !eval[bool](b, `document.querySelector('#save-key').open && document.querySelector('#saved-key').value.length > 0`) {
		b.t.Fatal("Escape closed the save-your-key dialog without asking")
	}
	if !strings.Contains(eval[string](b, `document.querySelector('[data-confirm-panel]').innerText`), "Have you copied the key?") {
		b.t.Error("the confirmation does not ask whether the key was copied")
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-confirm-leave]`)))
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
	b.closeSavedKey()
	b.waitFor(`!!document.querySelector('[data-testid="keys-table"]') && document.body.innerText.includes('Nightly export')`)
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
	// With no scope chosen the server refuses, in words, and focus goes
	// to the scope choice.
	b.do(chromedp.Focus(chromedp.CSS("#key-name")), chromedp.KeyEvent(kb.Enter))
	b.waitFor(`document.querySelector('[data-error-for="scopes"]').textContent.length > 0`)
	if msg := eval[string](b, `document.querySelector('[data-error-for="scopes"]').textContent`); strings.Contains(msg, `"all"`) || !strings.Contains(msg, "Choose All") {
		t.Errorf("the missing-scope message is %q", msg)
	}
	if !eval[bool](b, `document.activeElement.name === 'scope-mode'`) {
		t.Errorf("after the error focus is on %s, want the scope choice", eval[string](b, `document.activeElement.outerHTML`))
	}
	b.do(chromedp.KeyEvent(" ")) // Space chooses "All"
	b.do(chromedp.Focus(chromedp.CSS("#key-name")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#saved-key")))
	b.waitFor(`document.querySelector('#saved-key').value.length > 0`)
	if !eval[bool](b, `document.querySelector('#save-key').contains(document.activeElement)`) {
		t.Fatal("focus is not in the save-your-key dialog")
	}
	key := b.value("#saved-key")
	if got := status(t, srv, key, "/api/v1/me"); got != http.StatusOK {
		t.Fatalf("the key made with the keyboard: %d", got)
	}
	// Escape asks first; Escape again keeps asking; "Yes, close" closes.
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor(`!document.querySelector('[data-confirm-panel]').hidden`)
	if !eval[bool](b, `document.activeElement === document.querySelector('[data-confirm-stay]')`) {
		t.Errorf("the close confirmation does not take focus: %s", eval[string](b, `document.activeElement.outerHTML`))
	}
	b.do(chromedp.KeyEvent(kb.Escape))
	if !eval[bool](b, `document.querySelector('#save-key').open`) {
		t.Fatal("a second Escape closed the save-your-key dialog without confirmation")
	}
	b.do(chromedp.Focus(chromedp.CSS(`[data-confirm-leave]`)), chromedp.KeyEvent(kb.Enter))
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

// layoutProblems lists what breaks the layout at the current width: the
// page scrolling sideways, an element sticking out of its card, a card that
// scrolls, and a key or member table scrolling inside its card (those rows
// become cards on narrow screens instead). With wide, it also lists any
// table that scrolls at all.
func (b *browser) layoutProblems(wide bool) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`(() => {
		const wide = %t, out = [];
		const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().replace(/\s+/g, '.') : '');
		const doc = document.documentElement;
		if (doc.scrollWidth > innerWidth + 1) out.push('the page is ' + doc.scrollWidth + 'px wide');
		for (const card of document.querySelectorAll('main .card')) {
			const r = card.getBoundingClientRect();
			if (card.scrollWidth > card.clientWidth + 1) out.push(name(card) + ' scrolls sideways');
			for (const e of card.querySelectorAll('*')) {
				if (e.closest('dialog') || !e.getClientRects().length) continue;
				if (e.parentElement.closest('.table-scroll')) continue; // judged by its scroll box below
				const er = e.getBoundingClientRect();
				if (er.width > 0 && (er.right > r.right + 1 || er.left < r.left - 1)) out.push(name(e) + ' sticks out of ' + name(card) + ' by ' + Math.round(Math.max(er.right - r.right, r.left - er.left)) + 'px');
			}
			for (const s of card.querySelectorAll('.table-scroll')) {
				if (s.scrollWidth <= s.clientWidth + 1) continue;
				if (wide || s.querySelector('.table-cards')) out.push(name(s.querySelector('table')) + ' scrolls inside its card (' + s.scrollWidth + 'px in ' + s.clientWidth + 'px)');
			}
		}
		return [...new Set(out)].slice(0, 8);
	})()`, wide))
}

// TestBrowserLayoutAtEveryWidth opens every page, with realistic data —
// long names, many scopes, "Expires soon" badges, 30 keys, a paginated
// audit log — at phone, tablet, laptop and desktop widths: nothing scrolls
// sideways or sticks out of its card, the narrow screens' key and member
// cards keep their "⋯" menu and Remove button in reach, the settings tabs
// all show, and the create dialog keeps its buttons in view.
func TestBrowserLayoutAtEveryWidth(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme Holdings International")
	srv := startServer(t, clock, dir, "--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private")
	proc := srv.createProcess(t, root, "Supplier invoices and receipts for the northern region subsidiaries")
	// A webhook with a long URL and description, and a delivery in its
	// log (to a port nobody answers at: its error is shown).
	hook := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", map[string]any{
		"url":         "http://127.0.0.1:9/integrations/keywarden/webhooks/receive?token=0123456789abcdef0123456789abcdef0123456789abcdef",
		"events":      []string{"api_key.created", "api_key.deleted", "api_key.rotated", "api_key.leaked"},
		"description": "Security operations centre alerting for the finance subsidiaries"}), http.StatusCreated).JSON(t)["id"].(string)
	want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks/"+hook+"/test", nil), http.StatusAccepted)
	exp := func(days int) string {
		return clock.Now().Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
	}
	many := []string{"workspace.file:upload", "workspace.process:read", "workspace.process:update", "workspace.process.api_key:manage", "workspace.process:create", "workspace.process:delete"}
	var orgKey, procKey string
	for i := range 30 {
		body := map[string]any{"name": fmt.Sprintf("Nightly export to the finance data warehouse, production %02d", i), "scopes": many[:1+i%len(many)], "exp": exp(10 + i*10)}
		if i%7 == 0 {
			body["scopes"] = []string{"all"}
		}
		orgKey = want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", body), http.StatusCreated).JSON(t)["id"].(string)
	}
	for i := range 4 {
		procKey = want(t, srv.do(t, basic(root), "POST", "/api/v1/processes/"+proc+"/api-keys", map[string]any{"name": fmt.Sprintf("Upload from the scanning station on the third floor %d", i),
			"scopes": []string{"workspace.file:upload", "workspace.process:read"}, "exp": exp(5 + i*30), "allowedIps": []string{"203.0.113.0/24", "2001:db8:1234:5678::/64"},
			"rateLimit": map[string]any{"limit": 1000, "windowSeconds": 3600}}), http.StatusCreated).JSON(t)["id"].(string)
	}
	owner := signedIn(t, srv, "acmeholdingsinternational@example.com", "correct horse battery staple")
	invite(t, srv, owner, "a.very.long.name.for.the.accounts.payable.team@subsidiary.acme.example", "user")
	invite(t, srv, owner, "admin@acme.example", "admin")
	owner.get("/processes/" + proc + "/settings/access")
	want(t, owner.post("/processes/"+proc+"/settings/access", url.Values{"user_id": {memberID(t, owner, "a.very.long.name.for.the.accounts.payable.team@subsidiary.acme.example")}, "role": {"manager"}}), http.StatusSeeOther)
	srv.useRealClock()

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "acmeholdingsinternational@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".process-card")))
	pages := []string{"/", "/settings", "/settings/members", "/settings/api-keys", "/settings/api-keys?offset=25", "/settings/audit", "/settings/audit?offset=50",
		"/processes/" + proc + "/settings", "/processes/" + proc + "/settings/access", "/processes/" + proc + "/settings/api-keys",
		"/processes/0123456789abcdef0123456789abcdef/settings",
		"/settings/api-keys/" + orgKey, "/processes/" + proc + "/settings/api-keys/" + procKey,
		"/settings/webhooks", "/settings/webhooks/" + hook}
	for _, width := range []int{360, 390, 768, 1024, 1280, 1920} {
		b.do(chromedp.EmulateViewport(int64(width), 844, chromedp.EmulateScale(1)))
		for _, path := range pages {
			b.do(chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main")))
			if problems := b.layoutProblems(width >= 1280); len(problems) > 0 {
				t.Errorf("%s at %dpx: %s", path, width, strings.Join(problems, "; "))
			}
		}
		if width == 390 {
			b.checkNarrowCards(srv.URL)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	b.do(chromedp.Navigate(srv.URL+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	if n := eval[int](b, `document.querySelectorAll('tr[data-key-id]').length`); n != 25 {
		t.Errorf("the first page of the key table has %d rows, want 25", n)
	}
	if !eval[bool](b, `getComputedStyle(document.querySelector('tr[data-key-id]')).display === 'table-row'`) {
		t.Error("at 1280px the keys are not shown as a table")
	}
	b.screenshot("key-table-many")
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="pager"] a[rel="next"]`)))
	b.waitFor(`document.querySelectorAll('tr[data-key-id]').length === 6`)
	if pager := eval[string](b, `document.querySelector('[data-testid="pager"]').textContent`); !strings.Contains(pager, "26–31 of 31") {
		t.Errorf("the second page's pager says %q", pager)
	}
	// Deleting a key on the second page stays there.
	b.deleteKeyFromMenu(eval[string](b, `document.querySelector('tr[data-key-id] td').textContent`), eval[string](b, `document.querySelector('tr[data-key-id] code.key-user').textContent`), false)
	if loc := b.location(); !strings.HasSuffix(loc, "/settings/api-keys?offset=25") {
		t.Errorf("after a deletion on the second page the browser is at %s", loc)
	}
	if n := eval[int](b, `document.querySelectorAll('tr[data-key-id]').length`); n != 5 {
		t.Errorf("after the deletion the second page has %d rows, want 5", n)
	}
}

// checkNarrowCards checks, at a phone's width, the key and member rows
// shown as cards: every field labelled, the "⋯" menu and its Delete inside
// the card and the screen; the settings tabs all visible; and the create
// dialog's Create button in view without scrolling, with the dialog the one
// scroll area.
func (b *browser) checkNarrowCards(base string) {
	b.t.Helper()
	inView := func(sel string) string {
		return fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; const r = e.getBoundingClientRect();
			return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight; })()`, sel)
	}
	b.do(chromedp.Navigate(base+"/settings/api-keys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)))
	if !eval[bool](b, `getComputedStyle(document.querySelector('tr[data-key-id]')).display === 'block'`) {
		b.t.Fatal("at 390px the key rows are not shown as cards")
	}
	if labels := eval[string](b, `[...document.querySelectorAll('tr[data-key-id] td')].map(td => getComputedStyle(td, '::before').content).join(' ')`); !strings.Contains(labels, "Key ID") || !strings.Contains(labels, "Expires") || !strings.Contains(labels, "Last used") {
		b.t.Errorf("a key card does not label its fields: %q", labels)
	}
	b.do(chromedp.ScrollIntoView(chromedp.CSS(`tr[data-key-id] summary.menu-button`)))
	if !eval[bool](b, inView(`tr[data-key-id] summary.menu-button`)) {
		b.t.Error("at 390px the ⋯ menu of a key card is off-screen")
	}
	b.do(chromedp.Click(chromedp.CSS(`tr[data-key-id] summary.menu-button`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-key-id] [data-delete-path]`)))
	if !eval[bool](b, inView(`tr[data-key-id] [data-delete-path]`)) {
		b.t.Error("at 390px the Delete item of the ⋯ menu is off-screen")
	}
	b.screenshot("key-cards-phone")
	b.do(chromedp.Click(chromedp.CSS(`tr[data-key-id] [data-delete-path]`)), chromedp.WaitVisible(chromedp.CSS("#delete-key")))
	if !eval[bool](b, `document.activeElement === document.querySelector('#delete-key [data-close]')`) {
		b.t.Error("the delete confirmation does not start on Cancel")
	}
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#delete-key")))

	// The create dialog: Create in view, one scroll area.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="create-key"]`)), chromedp.WaitVisible(chromedp.CSS("#key-name")))
	if !eval[bool](b, inView(`#create-key button[type="submit"]`)) {
		b.t.Error("at 390px the create dialog's Create button is below the fold")
	}
	if eval[bool](b, `[...document.querySelectorAll('#create-key *')].some(e => e.scrollHeight > e.clientHeight + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))`) {
		b.t.Error("the create dialog scrolls inside a scroll box")
	}
	b.do(chromedp.ScrollIntoView(chromedp.CSS(`input[name="expiry"]`)))
	if !eval[bool](b, inView(`#create-key button[type="submit"]`)) {
		b.t.Error("at 390px the create dialog's Create button scrolls away")
	}
	b.screenshot("create-dialog-phone")
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#create-key")))

	b.do(chromedp.Navigate(base+"/settings/members"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="members-table"]`)))
	for _, sel := range []string{`.sidenav a[href="/settings/audit"]`, `[data-testid="members-table"] tbody tr:last-child [data-open^="remove-"]`, `[data-testid="members-table"] tbody tr:last-child button[type="submit"]`} {
		b.do(chromedp.ScrollIntoView(chromedp.CSS(sel)))
		if !eval[bool](b, inView(sel)) {
			b.t.Errorf("at 390px %s is cut off", sel)
		}
	}
	b.screenshot("members-phone")
}
