package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/secretbox"
)

// webhookKeyFile writes a webhook secret key line to a file for
// --webhook-secret-key-file.
func webhookKeyFile(t *testing.T) string {
	t.Helper()
	k, err := secretbox.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "webhook.key")
	if err := os.WriteFile(p, []byte(secretbox.Format([]secretbox.Key{k})+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hookReceiver verifies each delivery's signature with the webhook's
// secret (set once the webhook exists) and answers the first failFirst
// attempts at each event with 500.
type hookReceiver struct {
	t         *testing.T
	clock     *fakeClock
	failFirst int

	mu       sync.Mutex
	secret   []byte
	attempts map[string]int
	accepted map[string]int
	types    map[string]string
}

func newHookReceiver(t *testing.T, clock *fakeClock, failFirst int) (*hookReceiver, string) {
	r := &hookReceiver{t: t, clock: clock, failFirst: failFirst, attempts: map[string]int{}, accepted: map[string]int{}, types: map[string]string{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL + "/hooks"
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := client.VerifyWebhook(r.secret, req.Header.Get(client.WebhookSignatureHeader), body, 0, r.clock.Now()); err != nil {
		r.t.Errorf("a delivery that does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get(client.WebhookEventIDHeader)
	r.types[id] = req.Header.Get(client.WebhookEventTypeHeader)
	r.attempts[id]++
	if r.attempts[id] <= r.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.accepted[id]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) counts() (attempted, accepted int, each map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	each = map[string]int{}
	for id, n := range r.accepted {
		each[id] = n
	}
	return len(r.attempts), len(r.accepted), each
}

// createWebhook creates a webhook of the root key's organization and gives
// the receiver its secret, shown this once.
func (s *testServer) createWebhook(t *testing.T, root, url string, r *hookReceiver, events ...string) {
	t.Helper()
	res := want(t, s.do(t, basic(root), "POST", "/api/v1/admin/webhooks", map[string]any{"url": url, "events": events}), http.StatusCreated).JSON(t)
	secret, _ := res["secret"].(string)
	if secret == "" {
		t.Fatalf("the new webhook's secret is not shown: %v", res)
	}
	r.mu.Lock()
	r.secret = []byte(secret)
	r.mu.Unlock()
}

// TestWebhooksDeliverEachEventOnce: every key event reaches the receiver
// with a valid signature and is accepted exactly once, although every first
// attempt is answered 500 and the server restarts between the failures and
// their retries.
func TestWebhooksDeliverEachEventOnce(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	flags := []string{"--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private", "--webhook-poll", "50ms"}
	srv := startServer(t, clock, dir, flags...)
	rcv, url := newHookReceiver(t, clock, 1)
	srv.createWebhook(t, root, url, rcv, "api_key.created", "api_key.deleted")
	var ids []string
	for range 2 {
		ids = append(ids, srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)["id"].(string))
	}
	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+ids[0], nil), http.StatusNoContent)
	eventually(t, "the first attempts at the 3 events", func() bool { n, _, _ := rcv.counts(); return n == 3 })

	srv.Stop(t)
	clock.Advance(time.Minute) // past the first retry's wait (30 s + up to 10 %)
	srv = startServer(t, clock, dir, flags...)
	eventually(t, "the retries after the restart", func() bool { _, n, _ := rcv.counts(); return n == 3 })
	time.Sleep(300 * time.Millisecond) // more polls: nothing more is sent
	if _, _, each := rcv.counts(); len(each) != 3 {
		t.Errorf("%d events accepted, want 3", len(each))
	} else {
		for id, n := range each {
			if n != 1 {
				t.Errorf("event %s accepted %d times", id, n)
			}
		}
	}
	types := map[string]int{}
	rcv.mu.Lock()
	for _, typ := range rcv.types {
		types[typ]++
	}
	rcv.mu.Unlock()
	if types["api_key.created"] != 2 || types["api_key.deleted"] != 1 {
		t.Errorf("event types %v, want 2 creations and a deletion", types)
	}
}

// TestPostgresWebhooksOnTwoNodes: with two nodes running, each event is
// sent once between them.
func TestPostgresWebhooksOnTwoNodes(t *testing.T) {
	dbURL, _ := pgSchema(t)
	clock := newFakeClock()
	_, root := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	flags := []string{"--database-url", dbURL, "--webhook-secret-key-file", webhookKeyFile(t), "--webhook-allow-private", "--webhook-poll", "20ms"}
	a := startServer(t, clock, t.TempDir(), flags...)
	b := startServer(t, clock, t.TempDir(), flags...)
	rcv, url := newHookReceiver(t, clock, 0)
	a.createWebhook(t, root, url, rcv, "api_key.created")
	for i := range 10 {
		node := a
		if i%2 == 1 {
			node = b
		}
		node.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	}
	eventually(t, "the 10 creations", func() bool { _, n, _ := rcv.counts(); return n == 10 })
	time.Sleep(300 * time.Millisecond)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id, n := range rcv.attempts {
		if n != 1 {
			t.Errorf("event %s sent %d times by two nodes", id, n)
		}
	}
}
