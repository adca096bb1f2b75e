package dispatch_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/secretbox"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/storetest"
	"github.com/keywarden/keywarden/internal/webhook/dispatch"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// clock is a settable time for the dispatchers (the store stamps its own
// rows with the real one).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// receiver is a webhook endpoint that verifies every delivery's signature
// and answers the first failFirst attempts at each event with 500.
type receiver struct {
	t         *testing.T
	secret    []byte
	now       func() time.Time
	failFirst int

	mu       sync.Mutex
	attempts map[string]int // event ID → requests
	accepted map[string]int // event ID → 2xx answers
	bodies   []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := client.VerifyWebhook(r.secret, req.Header.Get("Keywarden-Signature"), body, 5*time.Minute, r.now()); err != nil {
		r.t.Errorf("a delivery with a bad signature: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get("Keywarden-Event-Id")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[id]++
	if r.attempts[id] <= r.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.accepted[id]++
	r.bodies = append(r.bodies, string(body))
	w.WriteHeader(http.StatusNoContent)
}

type fixture struct {
	path  string
	db    *sqlite.DB
	org   *keywarden.Organization
	box   *secretbox.Box
	clock *clock
	rcv   *receiver
}

func newFixture(t *testing.T, failFirst int, events ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{path: filepath.Join(t.TempDir(), "keywarden.db"), clock: &clock{now: time.Now().UTC()}}
	f.db = f.open(t)
	if err := f.db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := secretbox.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if f.box, err = secretbox.New(key); err != nil {
		t.Fatal(err)
	}
	f.org, _ = storetest.MustCreateOrganization(t, f.db)
	secret := []byte("whsec_test_secret")
	f.rcv = &receiver{t: t, secret: secret, now: f.clock.Now, failFirst: failFirst, attempts: map[string]int{}, accepted: map[string]int{}}
	srv := httptest.NewServer(f.rcv)
	t.Cleanup(srv.Close)
	if len(events) == 0 {
		events = []string{keywarden.EventAPIKeyCreated, keywarden.EventAPIKeyDeleted}
	}
	w := storetest.NewWebhook(t, f.org.ID, events...)
	w.URL = srv.URL + "/hooks"
	sealed, err := f.box.Seal(secret, []byte(w.ID))
	if err != nil {
		t.Fatal(err)
	}
	w.Secret = string(sealed)
	if err := f.db.CreateWebhook(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// open opens another handle on the fixture's database: another node, or
// the same node after a restart.
func (f *fixture) open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func (f *fixture) dispatcher(db *sqlite.DB) *dispatch.Dispatcher {
	return &dispatch.Dispatcher{Store: db, Box: f.box, Sender: send.New(send.Config{AllowPrivate: true, Timeout: 5 * time.Second, Now: f.clock.Now}),
		Now: f.clock.Now, Lease: time.Minute}
}

// TestEveryEventOnceAcrossFailuresAndARestart: each key event reaches the
// receiver with a valid signature, and is accepted exactly once, although
// every first attempt is answered 500 and the node restarts between the
// failures and the retries.
func TestEveryEventOnceAcrossFailuresAndARestart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	var keys []*keywarden.APIKey
	for i := range 3 {
		keys = append(keys, storetest.MustCreateAPIKey(t, f.db, f.org.ID, "", storetest.At(i)))
	}
	if err := storetest.DeleteAPIKey(ctx, f.db, f.org.ID, keys[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := f.dispatcher(f.db).Tick(ctx); err != nil || n != 4 {
		t.Fatalf("first tick: %d attempts, %v; want 4", n, err)
	}
	if len(f.rcv.accepted) != 0 || len(f.rcv.attempts) != 4 {
		t.Fatalf("after the failing attempts: %d events tried, %d accepted", len(f.rcv.attempts), len(f.rcv.accepted))
	}
	// The node restarts: a new handle on the database, a new dispatcher.
	// Nothing is due before the first backoff has passed.
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := f.dispatcher(f.open(t))
	if n, err := restarted.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("right after the restart: %d attempts, %v; want none before the backoff", n, err)
	}
	f.clock.Advance(send.Schedule()[0] * 2)
	if n, err := restarted.Tick(ctx); err != nil || n != 4 {
		t.Fatalf("after the backoff: %d attempts, %v; want 4", n, err)
	}
	for id, n := range f.rcv.accepted {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	if len(f.rcv.accepted) != 4 {
		t.Errorf("%d events accepted, want 4", len(f.rcv.accepted))
	}
	if n, _ := restarted.Tick(ctx); n != 0 {
		t.Errorf("a tick after every event was delivered attempted %d", n)
	}
}

// TestTwoNodesSendEachEventOnce: two nodes dispatching at once (two handles
// on one database) send every event exactly once between them.
func TestTwoNodesSendEachEventOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	for i := range 40 {
		storetest.MustCreateAPIKey(t, f.db, f.org.ID, "", storetest.At(i))
	}
	nodes := []*dispatch.Dispatcher{f.dispatcher(f.db), f.dispatcher(f.open(t))}
	var wg sync.WaitGroup
	for _, d := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := d.Tick(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(f.rcv.attempts) != 40 {
		t.Errorf("%d events reached the receiver, want 40", len(f.rcv.attempts))
	}
	for id, n := range f.rcv.attempts {
		if n != 1 {
			t.Errorf("event %s sent %d times by two nodes", id, n)
		}
	}
}

// TestExpiryRemindersAreSentOnce: a key three days from its expiry is
// announced once as api_key.expiring at the 7-day threshold, by one of two
// nodes; a day after its expiry, once as api_key.expired.
func TestExpiryRemindersAreSentOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, keywarden.EventAPIKeyExpiring, keywarden.EventAPIKeyExpired)
	k := storetest.NewAPIKey(t, f.org.ID, "", f.clock.Now().Add(-time.Hour))
	k.ExpiresAt = f.clock.Now().Add(3 * 24 * time.Hour).Truncate(time.Second)
	if err := f.db.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	a, b := f.dispatcher(f.db), f.dispatcher(f.open(t))
	for range 2 {
		for _, d := range []*dispatch.Dispatcher{a, b} {
			if _, err := d.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(f.rcv.bodies) != 1 || !strings.Contains(f.rcv.bodies[0], `"type":"api_key.expiring"`) || !strings.Contains(f.rcv.bodies[0], `"threshold":"7d"`) ||
		!strings.Contains(f.rcv.bodies[0], `"id":"`+k.ID+`"`) {
		t.Fatalf("after two ticks of two nodes the receiver has %q, want one api_key.expiring at 7d", f.rcv.bodies)
	}
	f.clock.Advance(4 * 24 * time.Hour)
	for _, d := range []*dispatch.Dispatcher{a, b} {
		if _, err := d.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.rcv.bodies) != 2 || !strings.Contains(f.rcv.bodies[1], `"type":"api_key.expired"`) {
		t.Errorf("after the expiry the receiver has %q", f.rcv.bodies)
	}
}
