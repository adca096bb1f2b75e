package server

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/web"
)

// The console's webhook pages read the store directly; every change goes
// through the webhook API (webhook.go), called by the pages' script with
// the session cookie. No page ever holds a signing secret: the API shows
// each one once, in the answer the script puts in its dialog.

// deliveryPageSize is how many deliveries a webhook's page lists.
const deliveryPageSize = 25

// webhooksView is the webhook table with its create dialog.
type webhooksView struct {
	Hooks     []webhookRow
	Events    []eventChoice
	CanCreate bool // the server has a webhook secret key
	APIPath   string
}

// webhookView is a webhook's own page.
type webhookView struct {
	Hook          webhookRow
	Description   string
	CreatedBy     string
	UpdatedAt     time.Time
	PreviousUntil time.Time // when the secret the last roll replaced stops signing; zero when it has
	Events        []eventChoice
	Deliveries    []deliveryRow
	Pager         pager
	CanRoll       bool // the server has a webhook secret key
	BackPath      string
}

type webhookRow struct {
	ID        string
	URL       string
	Host      string
	Path      string // path and query, which may be long (a capability)
	Label     string // its description, or its host
	Events    int
	Enabled   bool
	CreatedAt time.Time
	Href      string // its page
	APIPath   string
}

// eventChoice is an event type's checkbox.
type eventChoice struct {
	Name        string
	Description string
	Checked     bool
}

type deliveryRow struct {
	ID          string
	EventType   string
	EventID     string
	State       string
	Attempts    int
	LastStatus  int
	LastError   string
	NextAttempt time.Time // pending only
	CreatedAt   time.Time
	RedeliverAt string // the API path that sends it again
}

// eventDescription says what an event type tells a receiver.
func eventDescription(t string) string {
	switch t {
	case keywarden.EventAPIKeyCreated:
		return "A key was created."
	case keywarden.EventAPIKeyDeleted:
		return "A key was deleted or revoked."
	case keywarden.EventAPIKeyRotated:
		return "A key got a new secret."
	case keywarden.EventAPIKeyUpdated:
		return "A key's name, allowlist or rate limit changed."
	case keywarden.EventAPIKeyExpiring:
		return "A key expires in 14, 7 or 1 days."
	case keywarden.EventAPIKeyExpired:
		return "A key has expired."
	case keywarden.EventAPIKeyLeaked:
		return "A key was reported leaked and revoked."
	}
	return ""
}

func eventChoices(subscribed []string) []eventChoice {
	out := make([]eventChoice, 0, len(keywarden.WebhookEvents))
	for _, e := range keywarden.WebhookEvents {
		out = append(out, eventChoice{Name: e, Description: eventDescription(e), Checked: slices.Contains(subscribed, e)})
	}
	return out
}

func newWebhookRow(h *keywarden.Webhook) webhookRow {
	row := webhookRow{ID: h.ID, URL: h.URL, Host: h.URL, Label: h.Description, Events: len(h.Events), Enabled: h.Enabled,
		CreatedAt: h.CreatedAt, Href: "/settings/webhooks/" + h.ID, APIPath: webhookURL(h.ID)}
	if u, err := url.Parse(h.URL); err == nil && u.Host != "" {
		row.Host, row.Path = u.Host, u.EscapedPath()
		if u.RawQuery != "" {
			row.Path += "?" + u.RawQuery
		}
	}
	if row.Label == "" {
		row.Label = row.Host
	}
	return row
}

func (s *server) handleWebhooksPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Webhooks", "settings", "webhooks")
	if err != nil {
		return err
	}
	hooks, err := s.webhooks.FindWebhooks(r.Context(), v.Org.ID)
	if err != nil {
		return err
	}
	d := webhooksView{Events: eventChoices(nil), CanCreate: s.WebhookBox != nil, APIPath: "/api/v1/admin/webhooks"}
	for _, h := range hooks {
		d.Hooks = append(d.Hooks, newWebhookRow(h))
	}
	v.Data = d
	return s.render(w, "settings_webhooks", v)
}

func (s *server) handleWebhookPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Webhook", "settings", "webhooks")
	if err != nil {
		return err
	}
	h, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	ds, pg, err := findConsolePage(r, deliveryPageSize, func(page keywarden.Page) ([]*keywarden.WebhookDelivery, int, error) {
		return s.webhooks.FindWebhookDeliveries(r.Context(), h.OrgID, h.ID, page)
	})
	if err != nil {
		return err
	}
	pg.Label, pg.Path = "Delivery pages", r.URL.Path
	d := webhookView{Hook: newWebhookRow(h), Description: h.Description, CreatedBy: web.ActorLabel(h.CreatedBy),
		UpdatedAt: h.UpdatedAt, Events: eventChoices(h.Events), Pager: pg, CanRoll: s.WebhookBox != nil, BackPath: "/settings/webhooks"}
	if h.PreviousSecret != "" && s.Now().Before(h.PreviousSecretExpiresAt) {
		d.PreviousUntil = h.PreviousSecretExpiresAt
	}
	for _, x := range ds {
		row := deliveryRow{ID: x.ID, EventType: x.EventType, EventID: x.EventID, State: x.State, Attempts: x.Attempts,
			LastStatus: x.LastStatus, LastError: x.LastError, CreatedAt: x.CreatedAt, RedeliverAt: deliveryURL(x) + "/redeliver"}
		if row.State == "" {
			row.State = keywarden.DeliveryPending
		}
		if row.State == keywarden.DeliveryPending {
			row.NextAttempt = x.NextAttempt
		}
		d.Deliveries = append(d.Deliveries, row)
	}
	v.Title = d.Hook.Label
	v.Data = d
	return s.render(w, "settings_webhook", v)
}
