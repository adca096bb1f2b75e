package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/keywarden/keywarden/client"
)

// signingReceiver records the event ID of each delivery whose signature
// verifies with any of its secrets, and answers 204.
type signingReceiver struct {
	mu       sync.Mutex
	secrets  [][]byte
	events   []string
	rejected int
}

func (r *signingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.secrets {
		if client.VerifyWebhook(s, req.Header.Get(client.WebhookSignatureHeader), body, 0, time.Now()) == nil {
			r.events = append(r.events, req.Header.Get(client.WebhookEventIDHeader))
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	r.rejected++
	w.WriteHeader(http.StatusBadRequest)
}

func (r *signingReceiver) received() (events []string, rejected int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...), r.rejected
}

// closeSavedSecret closes the "save the signing secret" dialog by Escape,
// which must ask first, and confirms.
func (b *browser) closeSavedSecret() {
	b.t.Helper()
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor(`!document.querySelector('#save-secret [data-confirm-panel]').hidden`)
	if !eval[bool](b, `document.querySelector('#save-secret').open && document.querySelector('#saved-secret').value.length > 0`) {
		b.t.Fatal("Escape closed the signing secret's dialog without asking")
	}
	if !strings.Contains(eval[string](b, `document.querySelector('#save-secret [data-confirm-panel]').innerText`), "Have you copied the secret?") {
		b.t.Error("the confirmation does not ask whether the secret was copied")
	}
	b.do(chromedp.Click(chromedp.CSS(`#save-secret [data-confirm-leave]`)))
}

// TestBrowserWebhooks adds a webhook through the console's dialog, reads
// its signing secret once, sends a test event that the receiver verifies
// with that secret and sees its delivery in the log, redelivers it, rolls
// the secret, disables the webhook and deletes it.
func TestBrowserWebhooks(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private", "--webhook-poll", "50ms")
	srv.useRealClock()
	rcv := &signingReceiver{}
	hooks := httptest.NewServer(rcv)
	t.Cleanup(hooks.Close)

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "acme@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"+kb.Enter))
	b.waitFor(`location.pathname === '/' && !!document.querySelector('[data-testid="sign-out"]')`)
	b.do(chromedp.Navigate(srv.URL+"/settings"), chromedp.WaitVisible(chromedp.CSS(".sidenav")))
	b.do(chromedp.Click(chromedp.CSS(`.sidenav a[href="/settings/webhooks"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-webhook"]`)))

	// The dialog: a refused URL is named at its field; then a good one.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="create-webhook"]`)), chromedp.WaitVisible(chromedp.CSS("#webhook-url")))
	b.checkLabels("add webhook")
	b.do(chromedp.SendKeys(chromedp.CSS("#webhook-url"), "ftp://example.com/x"),
		chromedp.Click(chromedp.CSS(`#create-webhook button[type="submit"]`)))
	b.waitFor(`document.querySelector('#create-webhook [data-error-for="url"]').textContent.length > 0`)
	b.waitFor(`document.querySelector('#create-webhook [data-error-for="events"]').textContent.length > 0`)
	b.do(chromedp.SetValue(chromedp.CSS("#webhook-url"), hooks.URL+"/keywarden"),
		chromedp.Click(chromedp.CSS(`#create-webhook input[value="api_key.created"]`)),
		chromedp.Click(chromedp.CSS(`#create-webhook input[value="api_key.leaked"]`)),
		chromedp.SendKeys(chromedp.CSS("#webhook-description"), "Security alerts"))
	b.screenshot("webhook-create-dialog")
	b.do(chromedp.Click(chromedp.CSS(`#create-webhook button[type="submit"]`)))
	b.waitFor(`document.querySelector('#saved-secret').value.length > 0`)
	secret := b.value("#saved-secret")
	if !strings.Contains(eval[string](b, `document.querySelector('#save-secret').innerText`), "only time the secret is shown") {
		t.Error("the secret's dialog has no warning")
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-copy="saved-secret"]`)))
	b.waitFor(`document.querySelector('#secret-copy-status').textContent.includes('Signing secret')`)
	b.screenshot("webhook-secret-dialog")
	rcv.mu.Lock()
	rcv.secrets = append(rcv.secrets, []byte(secret))
	rcv.mu.Unlock()
	b.closeSavedSecret()
	b.waitFor(`document.querySelectorAll('tr[data-webhook-id]').length === 1`)
	if got := eval[string](b, `document.querySelector('[data-testid="webhooks-table"]').innerText`); !strings.Contains(got, "Security alerts") || !strings.Contains(got, "2 events") {
		t.Errorf("the webhook table shows %q", got)
	}
	if strings.Contains(eval[string](b, `document.documentElement.outerHTML`), secret) {
		t.Fatal("the webhook table holds the signing secret")
	}

	// Its page: a test event, verified by the receiver, in the log.
	b.do(chromedp.Click(chromedp.CSS(`tr[data-webhook-id] a`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-detail"]`)))
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="test-webhook"]`)))
	b.waitFor(`document.querySelectorAll('tr[data-delivery-id]').length === 1`)
	b.waitFor(`!!document.querySelector('[data-testid="flash"]')`)
	eventually(t, "the test event at the receiver", func() bool { e, _ := rcv.received(); return len(e) == 1 })
	for deadline := time.Now().Add(10 * time.Second); ; {
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-delivery-id]`)))
		if eval[string](b, `document.querySelector('tr[data-delivery-id]').dataset.state`) == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the test delivery is not shown as succeeded")
		}
		time.Sleep(100 * time.Millisecond)
	}
	row := eval[string](b, `document.querySelector('tr[data-delivery-id]').innerText`)
	events, _ := rcv.received()
	if !strings.Contains(row, "ping") || !strings.Contains(row, events[0]) || !strings.Contains(row, "204") || !strings.Contains(row, "Succeeded") {
		t.Errorf("the delivery row says %q", row)
	}
	b.screenshot("webhook-page")

	// Redeliver: the same event again.
	b.do(chromedp.Click(chromedp.CSS(`tr[data-delivery-id] [data-kind="redeliver"] button`)))
	eventually(t, "the redelivery at the receiver", func() bool { e, _ := rcv.received(); return len(e) == 2 })
	if e, _ := rcv.received(); e[0] != e[1] {
		t.Errorf("the redelivery has event ID %s, the first %s", e[1], e[0])
	}

	// Roll the secret, the old one kept for an hour.
	b.waitFor(`!!document.querySelector('[data-testid="roll-secret"]')`)
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="roll-secret"]`)), chromedp.WaitVisible(chromedp.CSS("#roll-secret")))
	if !eval[bool](b, `document.activeElement === document.querySelector('#roll-secret [data-close]')`) {
		t.Error("the roll confirmation does not start on Cancel")
	}
	b.do(chromedp.Click(chromedp.CSS(`#roll-secret input[name="overlap"][value="3600"]`)),
		chromedp.Click(chromedp.CSS(`#roll-secret button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#saved-secret")))
	b.waitFor(`document.querySelector('#saved-secret').value.length > 0`)
	if rolled := b.value("#saved-secret"); rolled == secret {
		t.Error("rolling the secret showed the old one")
	}
	if note := eval[string](b, `document.querySelector('#save-secret [data-rotation-note]').textContent`); !strings.Contains(note, "keeps working until") {
		t.Errorf("the rolled secret's note says %q", note)
	}
	b.closeSavedSecret()
	b.waitFor(`!!document.querySelector('[data-testid="rolling"]')`)

	// Disable it: the test button goes.
	b.do(chromedp.Click(chromedp.CSS(`details.edit-key summary`)), chromedp.WaitVisible(chromedp.CSS("#edit-enabled")))
	b.do(chromedp.Click(chromedp.CSS("#edit-enabled")), chromedp.Click(chromedp.CSS(`[data-kind="edit-webhook"] button[type="submit"]`)))
	b.waitFor(`!!document.querySelector('[data-testid="test-webhook"][disabled]')`)
	if got := eval[string](b, `document.querySelector('[data-testid="webhook-detail"] .badge').textContent`); got != "Disabled" {
		t.Errorf("a disabled webhook's badge says %q", got)
	}

	// Delete, from a confirmation that starts on Cancel.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="delete-webhook"]`)), chromedp.WaitVisible(chromedp.CSS("#delete-webhook")))
	if !eval[bool](b, `document.activeElement === document.querySelector('#delete-webhook [data-close]')`) {
		t.Error("the delete confirmation does not start on Cancel")
	}
	b.do(chromedp.Click(chromedp.CSS(`#delete-webhook button[type="submit"]`)))
	b.waitFor(`location.pathname === '/settings/webhooks' && !!document.querySelector('[data-testid="flash"]') && !document.querySelector('tr[data-webhook-id]')`)
	if _, rejected := rcv.received(); rejected > 0 {
		t.Errorf("%d deliveries did not verify", rejected)
	}
}
