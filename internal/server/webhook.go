package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// The webhook management API: an organization's endpoints and their
// deliveries, for holders of workspace.admin.webhook:manage at the
// organization's level. What is sent, when, and how it is signed is
// package dispatch's; this file decides what a webhook may be.
//
// A webhook's URL is checked when it is given (created or changed), by the
// rule deliveries follow (send.CheckURL): so that a URL that could never
// be delivered to — http without --webhook-allow-private, credentials in
// it, a host on a private, loopback or link-local address — is refused at
// once, naming the field, instead of failing every delivery. It proves
// nothing for later: each delivery checks the addresses it connects to.
//
// A URL may be a capability (a token in its path or query), so it is
// shown only to those who manage webhooks: never in a log line or in the
// audit log, which name the webhook by its description and host.

var (
	errWebhookNotFound  = keywarden.Errorf(keywarden.ENOTFOUND, "Webhook not found.")
	errDeliveryNotFound = keywarden.Errorf(keywarden.ENOTFOUND, "Delivery not found.")
	// errNoWebhookKey: a secret cannot be made without the key that seals
	// it (docs/webhook-secrets.md). It is the operator's to fix, not the
	// caller's, and no retry helps: 503 without Retry-After.
	errNoWebhookKey = keywarden.Errorf(ENOTCONFIGURED,
		"Webhooks need a webhook secret key, and this server has none: the operator starts it with --webhook-secret-key-file (or --webhook-secret-key).")
	errWebhookDisabled = keywarden.Errorf(keywarden.ECONFLICT, "The webhook is disabled: enable it (PATCH enabled: true) to send it deliveries.")
)

// ENOTCONFIGURED is the server's own error code for a feature the
// operator has not configured (webhooks without a secret key).
const ENOTCONFIGURED = "not_configured"

// webhookLookupTimeout bounds the DNS lookup of a new webhook URL's host.
const webhookLookupTimeout = 5 * time.Second

func (s *server) handleListWebhooks(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	hooks, err := s.webhooks.FindWebhooks(r.Context(), keywarden.PrincipalFromContext(r.Context()).OrgID)
	if err != nil {
		return err
	}
	// An organization has few webhooks: the store returns them all, and
	// the page is cut here.
	out := api.WebhookList{Webhooks: []api.Webhook{}, Pagination: paginationOf(page, len(hooks))}
	now := s.Now()
	for i := page.Offset; i < len(hooks) && i < page.Offset+page.Limit; i++ {
		out.Webhooks = append(out.Webhooks, newWebhookResource(hooks[i], now))
	}
	return encode(w, http.StatusOK, out)
}

// handleCreateWebhook creates a webhook with a new signing secret, sealed
// for storage with the webhook's ID as additional data; the answer is the
// one time the secret is shown.
func (s *server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if s.WebhookBox == nil {
		return errNoWebhookKey
	}
	req, err := decode[api.CreateWebhookRequest](r)
	if err != nil {
		return err
	}
	var v keywarden.Validation
	rawURL := s.checkWebhookURL(ctx, req.URL, &v)
	events := keywarden.ValidateWebhookEvents(req.Events, "body: events", &v)
	description := keywarden.ValidateWebhookDescription(req.Description, "body: description", &v)
	if err := v.Err(); err != nil {
		return err
	}
	p := keywarden.PrincipalFromContext(ctx)
	id, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	hook := &keywarden.Webhook{ID: id, OrgID: p.OrgID, URL: rawURL, Description: description, Events: events,
		Enabled: req.Enabled == nil || *req.Enabled, CreatedAt: now, CreatedBy: p.Actor, UpdatedAt: now}
	secret, err := s.newWebhookSecret(hook)
	if err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditWebhookCreated, "", "", "", "")
	if err != nil {
		return err
	}
	e.TargetWebhook(hook)
	if err := s.webhooks.CreateWebhook(ctx, hook, e); err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "webhook created", "webhook_id", hook.ID, "org_id", hook.OrgID, "webhook_host", hostOf(hook.URL),
		"events", strings.Join(hook.Events, ","), "by", p.Actor.ID)
	res := newWebhookResource(hook, now)
	res.Secret = secret
	// One of the two answers that carry a secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", webhookURL(hook.ID))
	return encode(w, http.StatusCreated, res)
}

func (s *server) handleGetWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, newWebhookResource(hook, s.Now()))
}

// handleUpdateWebhook changes the fields the body gives, or rolls the
// secret: a new one, shown this once, while the one it replaces keeps
// signing beside it until the overlap ends (any older one, from a roll
// whose overlap has not ended, stops at once: two live secrets at most).
// A roll goes alone, so that the audit log says exactly what happened.
func (s *server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, err := decode[api.UpdateWebhookRequest](r)
	if err != nil {
		return err
	}
	if req.RollSecret != nil && s.WebhookBox == nil {
		return errNoWebhookKey
	}
	hook, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	out := *hook
	var v keywarden.Validation
	changed := req.URL != nil || req.Events != nil || req.Description != nil || req.Enabled != nil
	if req.RollSecret != nil {
		if changed {
			v.Add("body: rollSecret", "not_alone", "Roll the secret in a request of its own, without other changes.")
		}
		overlap := keywarden.ValidateWebhookSecretOverlap(req.RollSecret.OverlapSeconds, "body: rollSecret.overlapSeconds", &v)
		out.PreviousSecret, out.PreviousSecretExpiresAt = hook.Secret, now.Add(overlap)
		if overlap == 0 {
			out.PreviousSecret, out.PreviousSecretExpiresAt = "", time.Time{}
		}
	}
	if req.URL != nil {
		out.URL = s.checkWebhookURL(ctx, *req.URL, &v)
	}
	if req.Events != nil {
		out.Events = keywarden.ValidateWebhookEvents(*req.Events, "body: events", &v)
	}
	if req.Description != nil {
		out.Description = keywarden.ValidateWebhookDescription(*req.Description, "body: description", &v)
	}
	if req.Enabled != nil {
		out.Enabled = *req.Enabled
	}
	if err := v.Err(); err != nil {
		return err
	}
	if !changed && req.RollSecret == nil {
		return encode(w, http.StatusOK, newWebhookResource(hook, now)) // nothing asked, nothing written
	}
	out.UpdatedAt = now
	action, secret := keywarden.AuditWebhookUpdated, ""
	if req.RollSecret != nil {
		action = keywarden.AuditWebhookSecretRolled
		if secret, err = s.newWebhookSecret(&out); err != nil {
			return err
		}
	}
	e, err := s.auditEvent(r, action, "", "", "", "")
	if err != nil {
		return err
	}
	e.TargetWebhook(&out)
	if err := s.webhooks.UpdateWebhook(ctx, &out, e); keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errWebhookNotFound // deleted meanwhile
	} else if err != nil {
		return err
	}
	p := keywarden.PrincipalFromContext(ctx)
	res := newWebhookResource(&out, now)
	if secret == "" {
		s.Logger.InfoContext(ctx, "webhook updated", "webhook_id", out.ID, "org_id", out.OrgID, "webhook_host", hostOf(out.URL),
			"enabled", out.Enabled, "by", p.Actor.ID)
		return encode(w, http.StatusOK, res)
	}
	s.Logger.InfoContext(ctx, "webhook secret rolled", "webhook_id", out.ID, "org_id", out.OrgID,
		"previous_secret_until", out.PreviousSecretExpiresAt, "by", p.Actor.ID)
	res.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, res)
}

// handleDeleteWebhook deletes the webhook and its queue: what it has not
// been sent yet, it never is.
func (s *server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	hook, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditWebhookDeleted, "", "", "", "")
	if err != nil {
		return err
	}
	e.TargetWebhook(hook)
	if err := s.webhooks.DeleteWebhook(ctx, hook.OrgID, hook.ID, e); keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errWebhookNotFound
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "webhook deleted", "webhook_id", hook.ID, "org_id", hook.OrgID,
		"by", keywarden.PrincipalFromContext(ctx).Actor.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pingEvent is the body of a test delivery, in the envelope of every
// event (dispatch.Event): it names the webhook it tests.
type pingEvent struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	CreatedAt string   `json:"createdAt"`
	Data      pingData `json:"data"`
}

type pingData struct {
	WebhookID string `json:"webhookId"`
}

// handleTestWebhook queues a ping to the webhook, due at once, and answers
// 202 with the delivery, whose outcome its log shows once a node has sent
// it. Each ping is an event of its own: its ID is new, and unlike the
// key change log's (evt_ and 16 hex digits) has 32.
func (s *server) handleTestWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	hook, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	if !hook.Enabled {
		return errWebhookDisabled
	}
	deliveryID, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	eventID, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	body, err := json.Marshal(pingEvent{ID: "evt_" + eventID, Type: keywarden.EventPing, CreatedAt: timestamp(now),
		Data: pingData{WebhookID: hook.ID}})
	if err != nil {
		return keywarden.Errorf(keywarden.EINTERNAL, "encode ping: %v", err)
	}
	d := &keywarden.WebhookDelivery{ID: deliveryID, WebhookID: hook.ID, OrgID: hook.OrgID, EventID: "evt_" + eventID,
		EventType: keywarden.EventPing, Payload: body, CreatedAt: now, State: keywarden.DeliveryPending, NextAttempt: now}
	if err := s.webhooks.EnqueueWebhookDelivery(ctx, d); keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errWebhookNotFound // deleted meanwhile
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "webhook ping queued", "webhook_id", hook.ID, "org_id", hook.OrgID, "delivery_id", d.ID,
		"by", keywarden.PrincipalFromContext(ctx).Actor.ID)
	w.Header().Set("Location", deliveryURL(d))
	return encode(w, http.StatusAccepted, newDeliveryResource(d))
}

func (s *server) handleListWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	hook, err := s.findWebhook(r)
	if err != nil {
		return err
	}
	ds, total, err := s.webhooks.FindWebhookDeliveries(r.Context(), hook.OrgID, hook.ID, page)
	if err != nil {
		return err
	}
	out := api.WebhookDeliveryList{Deliveries: make([]api.WebhookDelivery, 0, len(ds)), Pagination: paginationOf(page, total)}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, newDeliveryResource(d))
	}
	return encode(w, http.StatusOK, out)
}

func (s *server) handleGetWebhookDelivery(w http.ResponseWriter, r *http.Request) error {
	_, d, attempts, err := s.findDelivery(r)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, newDeliveryDetail(d, attempts))
}

// handleRedeliverWebhookDelivery sends a delivery again: the same
// delivery, due at once, with the same event ID and body, so that a
// receiver that did get it the first time recognises the repeat; its log
// of attempts goes on. A delivery a node is sending right now is 409.
func (s *server) handleRedeliverWebhookDelivery(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	hook, d, _, err := s.findDelivery(r)
	if err != nil {
		return err
	}
	if !hook.Enabled {
		return errWebhookDisabled
	}
	err = s.webhooks.RedeliverWebhookDelivery(ctx, hook.OrgID, d.ID, s.Now().UTC().Truncate(time.Microsecond))
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errDeliveryNotFound
	} else if err != nil {
		return err
	}
	d, _, err = s.webhooks.FindWebhookDelivery(ctx, hook.OrgID, d.ID)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errDeliveryNotFound
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "webhook delivery queued again", "webhook_id", hook.ID, "org_id", hook.OrgID, "delivery_id", d.ID,
		"event_id", d.EventID, "by", keywarden.PrincipalFromContext(ctx).Actor.ID)
	w.Header().Set("Location", deliveryURL(d))
	return encode(w, http.StatusAccepted, newDeliveryResource(d))
}

// findWebhook returns the path's webhook if it is the caller's
// organization's; anything else is the same 404.
func (s *server) findWebhook(r *http.Request) (*keywarden.Webhook, error) {
	id := r.PathValue("id")
	if !keywarden.IsID(id) {
		return nil, errWebhookNotFound
	}
	hook, err := s.webhooks.FindWebhook(r.Context(), keywarden.PrincipalFromContext(r.Context()).OrgID, id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return nil, errWebhookNotFound
	}
	return hook, err
}

// findDelivery returns the path's webhook and its delivery; a delivery of
// another webhook is 404 like one that does not exist.
func (s *server) findDelivery(r *http.Request) (*keywarden.Webhook, *keywarden.WebhookDelivery, []*keywarden.WebhookAttempt, error) {
	hook, err := s.findWebhook(r)
	if err != nil {
		return nil, nil, nil, err
	}
	id := r.PathValue("deliveryId")
	if !keywarden.IsID(id) {
		return nil, nil, nil, errDeliveryNotFound
	}
	d, attempts, err := s.webhooks.FindWebhookDelivery(r.Context(), hook.OrgID, id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && d.WebhookID != hook.ID {
		return nil, nil, nil, errDeliveryNotFound
	} else if err != nil {
		return nil, nil, nil, err
	}
	return hook, d, attempts, nil
}

// checkWebhookURL applies the destination rule to a webhook URL given in
// a body, recording why it is refused, and returns it trimmed.
func (s *server) checkWebhookURL(ctx context.Context, rawURL string, v *keywarden.Validation) string {
	const loc = "body: url"
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		v.Add(loc, "required", "A URL is required: where the deliveries go, https://…")
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, webhookLookupTimeout)
	defer cancel()
	err := send.CheckURL(ctx, rawURL, s.WebhookAllowPrivate, s.WebhookResolver)
	if err == nil {
		return rawURL
	}
	reason := "it cannot be checked"
	var refused *send.RefusedError
	if errors.As(err, &refused) {
		reason = refused.Reason
		if refused.Err != nil {
			// The cause (a DNS error naming the resolver) is the
			// operator's; the reason is safe to show.
			s.Logger.InfoContext(ctx, "webhook URL refused", "webhook_host", hostOf(rawURL), "reason", reason, "error", refused.Err)
		}
	}
	v.Add(loc, "refused", "The URL is refused: %s.", reason)
	return rawURL
}

// newWebhookSecret gives w a new signing secret, sealed under the current
// webhook secret key with w's ID as additional data, and returns it.
func (s *server) newWebhookSecret(w *keywarden.Webhook) (string, error) {
	secret, err := keywarden.NewWebhookSecret(s.Rand)
	if err != nil {
		return "", err
	}
	sealed, err := s.WebhookBox.Seal([]byte(secret), []byte(w.ID))
	if err != nil {
		return "", keywarden.Errorf(keywarden.EINTERNAL, "seal webhook secret: %v", err)
	}
	w.Secret = string(sealed)
	return secret, nil
}

// newWebhookResource presents w as of now: never its secrets.
func newWebhookResource(w *keywarden.Webhook, now time.Time) api.Webhook {
	r := api.Webhook{ID: w.ID, OrgID: w.OrgID, URL: w.URL, Description: w.Description, Events: w.Events, Enabled: w.Enabled,
		CreatedAt: timestamp(w.CreatedAt), CreatedBy: w.CreatedBy, UpdatedAt: timestamp(w.UpdatedAt)}
	if r.Events == nil {
		r.Events = []string{}
	}
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretExpiresAt) {
		t := timestamp(w.PreviousSecretExpiresAt)
		r.PreviousSecretExpiresAt = &t
	}
	return r
}

func newDeliveryResource(d *keywarden.WebhookDelivery) api.WebhookDelivery {
	r := api.WebhookDelivery{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, State: d.State,
		Attempts: d.Attempts, LastError: d.LastError, LastLatencyMs: d.LastLatency.Milliseconds(), CreatedAt: timestamp(d.CreatedAt)}
	if r.State == "" {
		r.State = keywarden.DeliveryPending
	}
	if r.State == keywarden.DeliveryPending {
		t := timestamp(d.NextAttempt)
		r.NextAttemptAt = &t
	}
	if d.LastStatus != 0 {
		status := d.LastStatus
		r.LastStatus = &status
	}
	if !d.DeliveredAt.IsZero() {
		t := timestamp(d.DeliveredAt)
		r.DeliveredAt = &t
	}
	return r
}

func newDeliveryDetail(d *keywarden.WebhookDelivery, attempts []*keywarden.WebhookAttempt) api.WebhookDeliveryDetail {
	out := api.WebhookDeliveryDetail{WebhookDelivery: newDeliveryResource(d), Payload: json.RawMessage("null"),
		AttemptLog: make([]api.WebhookAttempt, 0, len(attempts))}
	if json.Valid(d.Payload) {
		out.Payload = json.RawMessage(d.Payload)
	}
	for _, a := range attempts {
		at := api.WebhookAttempt{Attempt: a.Attempt, At: timestamp(a.At), Error: a.Error, LatencyMs: a.Latency.Milliseconds()}
		if a.Status != 0 {
			status := a.Status
			at.Status = &status
		}
		out.AttemptLog = append(out.AttemptLog, at)
	}
	return out
}

func webhookURL(id string) string { return "/api/v1/admin/webhooks/" + id }

func deliveryURL(d *keywarden.WebhookDelivery) string {
	return webhookURL(d.WebhookID) + "/deliveries/" + d.ID
}

// hostOf is the host of a webhook URL, for logs: its path and query may
// be a capability.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL) // refuses control characters
	if err != nil || u.Host == "" {
		return "?"
	}
	return u.Host
}
