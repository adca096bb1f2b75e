package keywarden

import "net/url"

// Audit actions on webhooks. They are declared here, apart from the other
// actions, because webhooks are managed apart from keys.
const (
	AuditWebhookCreated = "webhook.created"
	AuditWebhookUpdated = "webhook.updated"
	AuditWebhookDeleted = "webhook.deleted"
	// AuditWebhookSecretRolled: a new signing secret, the old one signing
	// too until the roll's overlap ends.
	AuditWebhookSecretRolled = "webhook.secret_rolled"
)

// TargetWebhook makes w the event's target, named by its description and
// its URL's host only: a URL's path or query may be a capability (a token
// the receiver checks), which the audit log, read by more people than
// manage webhooks, must not show.
func (e *AuditEvent) TargetWebhook(w *Webhook) {
	e.TargetType, e.TargetID, e.TargetName = "webhook", w.ID, WebhookLabel(w)
}

// WebhookLabel names w for people and logs without its URL's path, query
// or credentials: "description (host)", or the host alone.
func WebhookLabel(w *Webhook) string {
	host := "?"
	if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
		host = u.Host // without the user information, which URL keeps apart
	}
	if w.Description == "" {
		return host
	}
	return w.Description + " (" + host + ")"
}
