package server_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// The isolation test's part for webhooks: the model of every webhook and
// delivery the test made or saw made, how the routes' {id} and
// {deliveryId} are drawn (every tenant's, live and deleted, and IDs that
// never existed), the oracle's rules for them (another organization's
// webhook or delivery is 404, as if it did not exist; a delivery is found
// only under its own webhook), and the recipes of the routes that change
// state.

type (
	hookModel struct {
		hooks       map[string]*isoHook
		hookSeq     []*isoHook
		deliveries  map[string]*isoDelivery
		deliverySeq []*isoDelivery
	}
	isoHook struct {
		id, org          string
		enabled, deleted bool
	}
	isoDelivery struct {
		id   string
		hook *isoHook
	}
)

const webhooksPerOrg = 2

// isolationWebhookURL is a public address, so that creation needs no DNS.
const isolationWebhookURL = "https://93.184.216.34/isolation/"

func isWebhookRoute(path string) bool { return strings.HasPrefix(path, "/api/v1/admin/webhooks") }

// webhookParam reports whether the model knows what {name} names on path.
func webhookParam(path, name string) bool {
	return isWebhookRoute(path) && (name == "id" || name == "deliveryId")
}

func (w *world) hooks() *hookModel {
	if w.webhooks == nil {
		w.webhooks = &hookModel{hooks: map[string]*isoHook{}, deliveries: map[string]*isoDelivery{}}
	}
	return w.webhooks
}

func (w *world) addHook(id, org string, enabled bool) *isoHook {
	m := w.hooks()
	h := &isoHook{id: id, org: org, enabled: enabled}
	m.hooks[id] = h
	m.hookSeq = append(m.hookSeq, h)
	w.owners[id] = tenant{org: org}
	return h
}

func (w *world) addDelivery(id string, h *isoHook) {
	m := w.hooks()
	d := &isoDelivery{id: id, hook: h}
	m.deliveries[id] = d
	m.deliverySeq = append(m.deliverySeq, d)
	w.owners[id] = tenant{org: h.org}
}

// replenishWebhooks keeps every organization with live webhooks, one
// enabled at least, each enabled one with a delivery (a ping), made by the
// organization's operator.
func (w *world) replenishWebhooks() {
	m := w.hooks()
	for _, o := range w.orgs {
		var live []*isoHook
		for _, h := range m.hookSeq {
			if h.org == o.ID && !h.deleted {
				live = append(live, h)
			}
		}
		for len(live) < webhooksPerOrg {
			var hook api.Webhook
			w.operate(o, http.MethodPost, "/api/v1/admin/webhooks", api.CreateWebhookRequest{URL: isolationWebhookURL + w.name("webhook"),
				Events: []string{keywarden.EventAPIKeyCreated}}, http.StatusCreated, &hook)
			live = append(live, w.addHook(hook.ID, o.ID, true))
		}
		if !live[0].enabled {
			var hook api.Webhook
			w.operate(o, http.MethodPatch, "/api/v1/admin/webhooks/"+live[0].id, map[string]any{"enabled": true}, http.StatusOK, &hook)
			live[0].enabled = true
		}
		for _, h := range live {
			if !h.enabled || w.hasDelivery(h) {
				continue
			}
			var d api.WebhookDelivery
			w.operate(o, http.MethodPost, "/api/v1/admin/webhooks/"+h.id+"/test", nil, http.StatusAccepted, &d)
			w.addDelivery(d.ID, h)
		}
	}
}

func (w *world) hasDelivery(h *isoHook) bool {
	for _, d := range w.hooks().deliverySeq {
		if d.hook == h {
			return true
		}
	}
	return false
}

// fillWebhookParams draws a webhook route's targets, and reports whether
// the route is one. Most often a live webhook (or delivery) that can take
// deliveries, of any organization: the requests that may succeed, and
// the cross-tenant ones.
func (w *world) fillWebhookParams(tm *template) bool {
	if !isWebhookRoute(tm.rt.path) {
		return false
	}
	m := w.hooks()
	if tm.rt.hasParam("deliveryId") && w.rng.IntN(20) < 14 {
		var due []*isoDelivery
		for _, d := range m.deliverySeq {
			if !d.hook.deleted && d.hook.enabled {
				due = append(due, d)
			}
		}
		if len(due) > 0 {
			d := due[w.rng.IntN(len(due))]
			tm.params["id"], tm.params["deliveryId"] = d.hook.id, d.id
			return true
		}
	}
	if tm.rt.hasParam("id") {
		tm.params["id"] = w.pickHook()
	}
	if tm.rt.hasParam("deliveryId") {
		tm.params["deliveryId"] = w.pickDelivery(tm.params["id"])
	}
	return true
}

func (w *world) pickHook() string {
	m := w.hooks()
	switch r := w.rng.IntN(20); {
	case r < 14:
		var live []*isoHook
		for _, h := range m.hookSeq {
			if !h.deleted && (h.enabled || r < 4) {
				live = append(live, h)
			}
		}
		if len(live) > 0 {
			return live[w.rng.IntN(len(live))].id
		}
		fallthrough
	case r < 17:
		if len(m.hookSeq) > 0 {
			return m.hookSeq[w.rng.IntN(len(m.hookSeq))].id // deleted ones among them
		}
		fallthrough
	case r < 19:
		return w.randomID()
	}
	return "not-a-webhook"
}

// pickDelivery draws a delivery: of hookID often, of another webhook of
// its organization, any other, or none.
func (w *world) pickDelivery(hookID string) string {
	m := w.hooks()
	pick := func(match func(*isoDelivery) bool) string {
		var of []*isoDelivery
		for _, d := range m.deliverySeq {
			if match(d) {
				of = append(of, d)
			}
		}
		if len(of) == 0 {
			return ""
		}
		return of[w.rng.IntN(len(of))].id
	}
	switch r := w.rng.IntN(20); {
	case r < 8:
		if id := pick(func(d *isoDelivery) bool { return d.hook.id == hookID }); id != "" {
			return id
		}
		fallthrough
	case r < 12:
		if h := m.hooks[hookID]; h != nil {
			if id := pick(func(d *isoDelivery) bool { return d.hook.org == h.org && d.hook != h }); id != "" {
				return id
			}
		}
		fallthrough
	case r < 16:
		if len(m.deliverySeq) > 0 {
			return m.deliverySeq[w.rng.IntN(len(m.deliverySeq))].id
		}
		fallthrough
	case r < 19:
		return w.randomID()
	}
	return "not-a-delivery"
}

// webhookOracle adds the refusals of a webhook route's targets, and
// reports whether the route is one (else the key oracle decides {id}).
func (w *world) webhookOracle(x *exchange) bool {
	if !isWebhookRoute(x.tm.rt.path) {
		return false
	}
	k, m := x.c.key, w.hooks()
	id, hasID := x.tm.params["id"]
	if hasID {
		switch h := m.hooks[id]; {
		case h == nil:
			x.deny(http.StatusNotFound, false, "no such webhook")
		case h.org != k.org:
			x.crossTenant = true
			x.deny(http.StatusNotFound, false, "a webhook of organization "+w.orgLabel(h.org))
		case h.deleted:
			x.deny(http.StatusNotFound, false, "a deleted webhook")
		}
	}
	if did, ok := x.tm.params["deliveryId"]; ok {
		switch d := m.deliveries[did]; {
		case d == nil:
			x.deny(http.StatusNotFound, false, "no such delivery")
		case d.hook.org != k.org:
			x.crossTenant = true
			x.deny(http.StatusNotFound, false, "a delivery of organization "+w.orgLabel(d.hook.org))
		case d.hook.id != id:
			x.deny(http.StatusNotFound, false, "a delivery of another webhook")
		case d.hook.deleted:
			x.deny(http.StatusNotFound, false, "a delivery of a deleted webhook")
		}
	}
	return true
}

// ownDisabledHook returns the path's webhook when it is the caller's
// organization's, live and disabled: sending it deliveries is 409. Only
// then: the answer must not tell another organization's disabled webhook
// from one that does not exist.
func (w *world) ownDisabledHook(x *exchange) bool {
	h := w.hooks().hooks[x.tm.params["id"]]
	return h != nil && x.c.key != nil && h.org == x.c.key.org && !h.deleted && !h.enabled
}

// createWebhook: a success adds a webhook of the caller's organization,
// with its secret shown.
func createWebhook(w *world, x *exchange) {
	events := []string{keywarden.EventAPIKeyCreated}
	if w.rng.IntN(2) == 0 {
		events = append(events, keywarden.EventAPIKeyLeaked)
	}
	x.setJSON(api.CreateWebhookRequest{URL: isolationWebhookURL + w.name("webhook"), Events: events, Description: w.name("webhook")})
	x.check = func(res *response) string {
		h, bad := decodeBody[api.Webhook](res)
		if bad != "" {
			return bad
		}
		if h.Secret == "" || x.c.key == nil || h.OrgID != x.c.key.org || len(h.Events) != len(events) {
			return fmt.Sprintf("created webhook %+v, want one of the caller's organization with its secret", h)
		}
		return ""
	}
	x.apply = func(res *response) {
		if h, bad := decodeBody[api.Webhook](res); bad == "" {
			w.addHook(h.ID, h.OrgID, h.Enabled)
			w.stats.mutations["webhooks created"]++
		}
	}
}

// editWebhook renames it, switches it on or off, or rolls its secret.
func editWebhook(w *world, x *exchange) {
	id := x.tm.params["id"]
	var body map[string]any
	switch w.rng.IntN(3) {
	case 0:
		body = map[string]any{"description": w.name("edited webhook")}
	case 1:
		body = map[string]any{"enabled": w.rng.IntN(3) > 0}
	default:
		body = map[string]any{"rollSecret": map[string]any{"overlapSeconds": 3600 * w.rng.IntN(2)}}
	}
	x.setJSON(body)
	x.check = func(res *response) string {
		h, bad := decodeBody[api.Webhook](res)
		if bad != "" {
			return bad
		}
		if _, roll := body["rollSecret"]; h.ID != id || roll != (h.Secret != "") {
			return fmt.Sprintf("edited webhook %+v, want %s, with a secret only after a roll", h, id)
		}
		return ""
	}
	x.apply = func(res *response) {
		if h, bad := decodeBody[api.Webhook](res); bad == "" {
			if m := w.hooks().hooks[id]; m != nil {
				m.enabled = h.Enabled
			}
			w.stats.mutations["webhooks edited"]++
		}
	}
}

// deleteWebhook: a success deletes the webhook and its deliveries.
func deleteWebhook(w *world, x *exchange) {
	id := x.tm.params["id"]
	x.apply = func(*response) {
		if h := w.hooks().hooks[id]; h != nil && !h.deleted {
			h.deleted = true
			w.stats.mutations["webhooks deleted"]++
		}
	}
}

// testWebhook: a success queues a ping to the webhook; a disabled one of
// the caller's is 409.
func testWebhook(w *world, x *exchange) {
	id := x.tm.params["id"]
	if w.ownDisabledHook(x) {
		x.deny(http.StatusConflict, false, "a test of a disabled webhook")
	}
	x.check = func(res *response) string {
		d, bad := decodeBody[api.WebhookDelivery](res)
		if bad != "" {
			return bad
		}
		if d.WebhookID != id || d.EventType != keywarden.EventPing || d.State != keywarden.DeliveryPending {
			return fmt.Sprintf("queued %+v, want a pending ping to %s", d, id)
		}
		return ""
	}
	x.apply = func(res *response) {
		if d, bad := decodeBody[api.WebhookDelivery](res); bad == "" {
			if h := w.hooks().hooks[id]; h != nil {
				w.addDelivery(d.ID, h)
			}
			w.stats.mutations["webhook pings queued"]++
		}
	}
}

// redeliverWebhook: a success queues the delivery again, pending; one to a
// disabled webhook of the caller's is 409.
func redeliverWebhook(w *world, x *exchange) {
	did := x.tm.params["deliveryId"]
	if w.ownDisabledHook(x) {
		x.deny(http.StatusConflict, false, "a redelivery to a disabled webhook")
	}
	x.check = func(res *response) string {
		d, bad := decodeBody[api.WebhookDelivery](res)
		if bad != "" {
			return bad
		}
		if d.ID != did || d.State != keywarden.DeliveryPending {
			return fmt.Sprintf("redelivered %+v, want %s pending", d, did)
		}
		return ""
	}
	x.apply = func(*response) { w.stats.mutations["webhook deliveries queued again"]++ }
}
