// Package dispatch moves webhook events from the ordered log of key
// changes to the organizations' endpoints. Every node runs a Dispatcher;
// the store makes them share the work without sending anything twice:
//
//   - queueing reads the log behind one shared cursor, in a transaction
//     that locks it, so each entry becomes deliveries once, one per
//     subscribed webhook (keywarden.WebhookStore.EnqueueWebhookEvents);
//   - sending claims due deliveries with a lease, so a delivery is tried by
//     one node at a time, and by another once a node dies mid-way;
//   - each attempt's outcome is recorded under that lease: 2xx ends the
//     delivery, anything else schedules the next attempt (send.Backoff),
//     until send.MaxAttempts, about a day.
//
// A crash between a receiver's 2xx and the record of it is the one case in
// which an event arrives twice; it carries the same event ID, by which
// receivers deduplicate (docs/webhooks.md), as Stripe's and GitHub's do.
package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/secretbox"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// Defaults.
const (
	DefaultInterval = time.Second
	// enqueueBatch is how many log entries one transaction queues.
	enqueueBatch = 500
	// claimBatch is how many deliveries a node takes at a time, and
	// workers how many it sends at once.
	claimBatch = 32
	workers    = 8
)

// Dispatcher queues and sends webhook events. Its zero value is not
// usable: fill Store, Box, Sender and Now.
type Dispatcher struct {
	Store  keywarden.WebhookStore
	Box    *secretbox.Box // opens the webhooks' sealed secrets
	Sender *send.Sender
	Now    func() time.Time
	Logger *slog.Logger
	// Lease is how long a node holds a delivery it is sending: longer
	// than a send can take (send.DefaultTimeout), so that nobody else
	// takes it meanwhile. Default 2 × send.DefaultTimeout.
	Lease time.Duration

	// lastReminders is when this node last looked for expiry reminders.
	lastReminders time.Time
}

// reminderInterval is how often a node looks for keys to remind of: a
// query over the keys expiring within two weeks, so not every tick.
const reminderInterval = time.Minute

// Run queues and sends every interval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.logger().Warn("webhook dispatch failed; trying again", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Tick queues what the log holds and sends what is due, and returns how
// many deliveries it attempted.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	if now := d.Now(); now.Sub(d.lastReminders) >= reminderInterval {
		for {
			n, err := d.Store.RecordExpiryReminders(ctx, now.UTC().Truncate(time.Microsecond), enqueueBatch)
			if err != nil {
				return 0, err
			}
			if n < enqueueBatch {
				break
			}
		}
		d.lastReminders = now
	}
	for {
		n, err := d.Store.EnqueueWebhookEvents(ctx, d.Now().UTC().Truncate(time.Microsecond), enqueueBatch, d.payload)
		if err != nil {
			return 0, err
		}
		if n < enqueueBatch {
			break
		}
	}
	lease := d.Lease
	if lease <= 0 {
		lease = 2 * send.DefaultTimeout
	}
	sent := 0
	for {
		due, err := d.Store.ClaimWebhookDeliveries(ctx, d.Now().UTC().Truncate(time.Microsecond), lease, claimBatch)
		if err != nil {
			return sent, err
		}
		if len(due) == 0 {
			return sent, nil
		}
		d.sendAll(ctx, due)
		sent += len(due)
	}
}

// sendAll sends the claimed deliveries, workers at a time, each webhook
// read once.
func (d *Dispatcher) sendAll(ctx context.Context, due []*keywarden.WebhookDelivery) {
	var (
		mu    sync.Mutex
		hooks = map[string]*keywarden.Webhook{}
		wg    sync.WaitGroup
		slots = make(chan struct{}, workers)
	)
	webhook := func(del *keywarden.WebhookDelivery) (*keywarden.Webhook, error) {
		mu.Lock()
		defer mu.Unlock()
		if w, ok := hooks[del.WebhookID]; ok {
			return w, nil
		}
		w, err := d.Store.FindWebhook(ctx, del.OrgID, del.WebhookID)
		if err == nil {
			hooks[del.WebhookID] = w
		}
		return w, err
	}
	for _, del := range due {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			d.attempt(ctx, del, webhook)
		}()
	}
	wg.Wait()
}

// attempt sends one delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, del *keywarden.WebhookDelivery, webhook func(*keywarden.WebhookDelivery) (*keywarden.Webhook, error)) {
	log := d.logger().With("delivery_id", del.ID, "event_id", del.EventID, "webhook_id", del.WebhookID, "org_id", del.OrgID)
	var res send.Result
	w, err := webhook(del)
	switch {
	case err != nil:
		res.Err = err
	case !w.Enabled:
		res.Err = errDisabled
	default:
		secrets, err := d.secrets(w)
		if err != nil {
			res.Err = err
			break
		}
		res = d.Sender.Send(ctx, send.Delivery{URL: w.URL, Body: del.Payload, EventID: del.EventID, EventType: del.EventType,
			DeliveryID: del.ID, Secrets: secrets})
	}
	now := d.Now().UTC().Truncate(time.Microsecond)
	o := keywarden.WebhookOutcome{Attempt: keywarden.WebhookAttempt{DeliveryID: del.ID, Attempt: del.Attempts, At: now,
		Status: res.StatusCode, Latency: res.Latency}}
	switch {
	case res.Err == nil:
		o.Done, o.Success = true, true
	case del.Attempts >= send.MaxAttempts || keywarden.ErrorCode(res.Err) == keywarden.ENOTFOUND:
		o.Done = true
	default:
		o.Next = now.Add(send.Backoff(del.Attempts))
	}
	if res.Err != nil {
		o.Attempt.Error = res.Err.Error()
	}
	if err := d.Store.CompleteWebhookAttempt(ctx, del, o); err != nil {
		// Another node took the delivery over (its lease ran out): its
		// own attempt will be recorded.
		log.Warn("webhook attempt not recorded", "error", err)
		return
	}
	if res.Err != nil {
		log.Info("webhook delivery failed", "attempt", del.Attempts, "status", res.StatusCode, "error", res.Err, "final", o.Done)
	}
}

var errDisabled = keywarden.Errorf(keywarden.ECONFLICT, "The webhook is disabled.")

// secrets opens w's live signing secrets: its own, and the one a roll
// replaced while the overlap lasts.
func (d *Dispatcher) secrets(w *keywarden.Webhook) ([][]byte, error) {
	if d.Box == nil {
		return nil, keywarden.Errorf(keywarden.EUNAVAILABLE, "No webhook secret key is configured (--webhook-secret-key).")
	}
	current, err := d.Box.Open([]byte(w.Secret), []byte(w.ID))
	if err != nil {
		return nil, err
	}
	out := [][]byte{current}
	if w.PreviousSecret != "" && d.Now().Before(w.PreviousSecretExpiresAt) {
		prev, err := d.Box.Open([]byte(w.PreviousSecret), []byte(w.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// Event is the body of every webhook delivery.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt string    `json:"createdAt"` // when the event was queued, RFC 3339
	Data      EventData `json:"data"`
}

// EventData is what an event is about.
type EventData struct {
	APIKey *EventKey `json:"apiKey,omitempty"`
	// Expiry is set on api_key.expiring and api_key.expired.
	Expiry *keywarden.ExpiryDetail `json:"expiry,omitempty"`
}

// EventKey is a key as events name it: never its secret.
type EventKey struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	Name      string `json:"name"`
	OrgID     string `json:"orgId"`
	ProcessID string `json:"processId,omitempty"`
}

// eventTypes maps the log's kinds to the events they are.
var eventTypes = map[string]string{
	keywarden.KeyChangeCreated:  keywarden.EventAPIKeyCreated,
	keywarden.KeyChangeDeleted:  keywarden.EventAPIKeyDeleted,
	keywarden.KeyChangeLeaked:   keywarden.EventAPIKeyLeaked,
	keywarden.KeyChangeRotated:  keywarden.EventAPIKeyRotated,
	keywarden.KeyChangeUpdated:  keywarden.EventAPIKeyUpdated,
	keywarden.KeyChangeExpiring: keywarden.EventAPIKeyExpiring,
	keywarden.KeyChangeExpired:  keywarden.EventAPIKeyExpired,
}

// payload is the event of a log entry, or ok false for an entry that is no
// event (a grace period's end, a process's deletion, whose keys' deletions
// are events of their own).
func (d *Dispatcher) payload(c keywarden.KeyChange) (string, []byte, bool) {
	typ, ok := eventTypes[c.Kind]
	if !ok || c.KeyID == "" {
		return "", nil, false
	}
	ev := Event{ID: keywarden.EventID(c.Seq), Type: typ, CreatedAt: d.Now().UTC().Format(time.RFC3339),
		Data: EventData{APIKey: &EventKey{ID: c.KeyID, User: c.User, Name: c.Name, OrgID: c.OrgID, ProcessID: c.ProcessID}}}
	if c.Detail != "" && (typ == keywarden.EventAPIKeyExpiring || typ == keywarden.EventAPIKeyExpired) {
		var x keywarden.ExpiryDetail
		if json.Unmarshal([]byte(c.Detail), &x) == nil {
			ev.Data.Expiry = &x
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return "", nil, false
	}
	return typ, body, true
}
