package keywarden

import (
	"context"
	"fmt"
	"time"
)

// Webhooks tell an organization's own systems of every change to its keys.
// Events come from the ordered log of key changes (and, for expiry, from a
// sweep that writes to the same log), are queued durably as one delivery
// per event and subscribed webhook, and are sent signed, with retries, by
// whichever node claims each delivery (internal/webhook).

// Event types a webhook may subscribe to.
const (
	EventAPIKeyCreated  = "api_key.created"
	EventAPIKeyDeleted  = "api_key.deleted"
	EventAPIKeyRotated  = "api_key.rotated"
	EventAPIKeyUpdated  = "api_key.updated"
	EventAPIKeyExpiring = "api_key.expiring"
	EventAPIKeyExpired  = "api_key.expired"
	EventAPIKeyLeaked   = "api_key.leaked"
	// EventPing is sent by the test call only; nobody subscribes to it.
	EventPing = "ping"
)

// EventID is the ID of the event of the key change log's entry seq: the
// same on every node and for every webhook it goes to, so that receivers
// can recognise a repeat.
func EventID(seq int64) string { return fmt.Sprintf("evt_%016x", seq) }

// WebhookEvents lists the event types a webhook may subscribe to, in the
// order the API and the console show them.
var WebhookEvents = []string{EventAPIKeyCreated, EventAPIKeyDeleted, EventAPIKeyRotated, EventAPIKeyUpdated,
	EventAPIKeyExpiring, EventAPIKeyExpired, EventAPIKeyLeaked}

// Webhook is one endpoint of an organization.
type Webhook struct {
	ID          string
	OrgID       string
	URL         string
	Description string
	Events      []string // subscribed event types, in WebhookEvents order
	Enabled     bool
	// Secret is the signing secret, sealed (internal/secretbox) with the
	// webhook's ID as additional data; PreviousSecret, while a roll's
	// overlap lasts (until PreviousSecretExpiresAt), is the one it replaced.
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt time.Time
	CreatedAt               time.Time
	CreatedBy               Actor
	UpdatedAt               time.Time
}

// Subscribes reports whether w wants events of type t.
func (w *Webhook) Subscribes(t string) bool {
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// WebhookDelivery is one event on its way to one webhook.
type WebhookDelivery struct {
	ID          string
	WebhookID   string
	OrgID       string
	EventID     string // the same for every webhook the event goes to: receivers deduplicate by it
	EventType   string
	Payload     []byte // the JSON body, fixed when the event is queued
	CreatedAt   time.Time
	State       string // DeliveryPending, DeliverySucceeded or DeliveryFailed
	Attempts    int
	NextAttempt time.Time // when it may be tried next (pending only)
	LeaseUntil  time.Time // a node holds it until then (zero: nobody)
	LastStatus  int       // the receiver's last HTTP status; 0 when none
	LastError   string
	LastLatency time.Duration
	DeliveredAt time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed" // retries exhausted
)

// WebhookAttempt is one try of a delivery, for the delivery log.
type WebhookAttempt struct {
	DeliveryID string
	Attempt    int
	At         time.Time
	Status     int // 0: no HTTP answer
	Error      string
	Latency    time.Duration
}

// WebhookOutcome is what a node reports after trying a delivery it holds:
// Done ends it (succeeded, or failed for good); otherwise it is tried again
// at Next.
type WebhookOutcome struct {
	Attempt WebhookAttempt
	Done    bool
	Success bool
	Next    time.Time
}

// WebhookStore keeps webhooks and their durable queue.
type WebhookStore interface {
	ExpiryReminders
	CreateWebhook(ctx context.Context, w *Webhook, e *AuditEvent) error
	FindWebhook(ctx context.Context, orgID, id string) (*Webhook, error)
	FindWebhooks(ctx context.Context, orgID string) ([]*Webhook, error)
	// UpdateWebhook stores w's URL, description, events, enabled flag and
	// secrets; the organization and ID must match a webhook (ENOTFOUND).
	UpdateWebhook(ctx context.Context, w *Webhook, e *AuditEvent) error
	DeleteWebhook(ctx context.Context, orgID, id string, e *AuditEvent) error

	// EnqueueWebhookEvents turns up to limit entries of the key change log
	// that no node has queued yet into deliveries, one per subscribed and
	// enabled webhook of the key's organization, built by payload (nil
	// skips the entry), and advances the shared cursor, in one
	// transaction: with many nodes each entry is queued once. It returns
	// how many entries it read.
	// The deliveries are due at now, the caller's clock, on which it
	// claims them too.
	EnqueueWebhookEvents(ctx context.Context, now time.Time, limit int, payload func(KeyChange) (eventType string, body []byte, ok bool)) (int, error)
	// EnqueueWebhookDelivery queues one event for one webhook (a ping, a
	// redelivery).
	EnqueueWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	// ClaimWebhookDeliveries leases up to limit pending deliveries due at
	// now to the caller until now+lease, counting an attempt for each: a
	// delivery is held by one node at a time, and one whose node died is
	// claimed again once its lease ends.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*WebhookDelivery, error)
	// CompleteWebhookAttempt records the outcome of an attempt at d, which
	// the caller claimed; a lease that has meanwhile passed to another node
	// is ECONFLICT and records nothing.
	CompleteWebhookAttempt(ctx context.Context, d *WebhookDelivery, o WebhookOutcome) error
	FindWebhookDeliveries(ctx context.Context, orgID, webhookID string, page Page) ([]*WebhookDelivery, int, error)
	FindWebhookDelivery(ctx context.Context, orgID, id string) (*WebhookDelivery, []*WebhookAttempt, error)
	// RedeliverWebhookDelivery queues the delivery id of orgID again, due
	// at now: pending, its lease and delivery time cleared, its attempts
	// and their log kept (the next attempt is numbered after them), and
	// the same event ID, by which receivers deduplicate. A delivery that
	// a node holds under a lease that has not ended at now is ECONFLICT;
	// none of orgID's, ENOTFOUND.
	RedeliverWebhookDelivery(ctx context.Context, orgID, id string, now time.Time) error
}

// Expiry reminders: api_key.expiring when a key is 14, 7 and 1 days from
// its expiry (the most urgent reached, once each), api_key.expired once it
// has expired, given once per key and threshold however many nodes look.

// ExpiryThresholds are the reminders' distances from the expiry, the
// farthest first.
var ExpiryThresholds = []time.Duration{14 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour}

// ExpiredReminderWindow bounds how long after its expiry a key is still
// reminded of as expired: a key that expired before webhooks were
// configured, or while every node was down for longer, is not announced.
const ExpiredReminderWindow = 7 * 24 * time.Hour

// ExpiryThreshold returns the most urgent reminder a key expiring at exp
// has reached at now ("14d", "7d", "1d", or "expired") and its log kind.
// Callers ask only about keys within the first threshold.
func ExpiryThreshold(exp, now time.Time) (label, kind string) {
	left := exp.Sub(now)
	if left <= 0 {
		return "expired", KeyChangeExpired
	}
	label = "14d"
	for _, t := range ExpiryThresholds {
		if left <= t {
			label = fmt.Sprintf("%dd", int(t/(24*time.Hour)))
		}
	}
	return label, KeyChangeExpiring
}

// ExpiryDetail is the Detail of a reminder's log entry.
type ExpiryDetail struct {
	Threshold string `json:"threshold"`
	ExpiresAt string `json:"expiresAt"`
}

// ExpiryReminders is the part of a store that gives expiry reminders.
type ExpiryReminders interface {
	// RecordExpiryReminders logs the reminders due at now for up to
	// limit keys and returns how many it gave.
	RecordExpiryReminders(ctx context.Context, now time.Time, limit int) (int, error)
}
