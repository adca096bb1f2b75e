// Package api holds the wire types of Keywarden's REST API v1, the JSON that
// crosses the network: key objects, list envelopes, the problem document,
// and the verify and forward-auth contracts. The server encodes these very
// types, and the client and middleware packages decode them, so the three
// cannot drift apart; openapi.yaml beside this file is the same contract for
// people and other languages.
//
// It imports only the standard library and the root package, so a service
// that verifies keys pulls in no database driver.
package api

import (
	"encoding/json"

	"github.com/keywarden/keywarden"
)

// APIKey is an API key as the API shows it. Key is set only in the response
// to the create call, the one time the secret is shown.
type APIKey struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	OrgID      string            `json:"orgId"`
	ProcessID  string            `json:"processId,omitempty"`
	Level      keywarden.Level   `json:"level"`
	User       string            `json:"user"`
	Scopes     []keywarden.Scope `json:"scopes"`
	Status     string            `json:"status"`
	CreatedAt  string            `json:"createdAt"`
	CreatedBy  keywarden.Actor   `json:"createdBy"`
	Exp        string            `json:"exp"`
	LastUsedAt *string           `json:"lastUsedAt"`
	// LastUsedFrom is the client address of the last use; null when
	// unknown (never used).
	LastUsedFrom *string `json:"lastUsedFrom"`
	// AllowedIPs are the networks the key works from; empty: anywhere.
	AllowedIPs []string `json:"allowedIps"`
	// RateLimit caps the key's requests; null: no limit.
	RateLimit *keywarden.RateLimitRequest `json:"rateLimit"`
	// PreviousSecretExpiresAt is when the secret the last rotation
	// replaced stops working; null when it already has.
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
	Key                     string  `json:"key,omitempty"`
}

// RotateAPIKeyRequest is the body of both rotate calls.
type RotateAPIKeyRequest = keywarden.RotateAPIKeyRequest

// CreateAPIKeyRequest is the body of both create calls.
type CreateAPIKeyRequest = keywarden.CreateAPIKeyRequest

// Pagination is the position of one page in a list.
type Pagination struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Total  int `json:"total"`
}

// APIKeyList is the response of the key list calls.
type APIKeyList struct {
	APIKeys    []APIKey   `json:"apiKeys"`
	Pagination Pagination `json:"pagination"`
}

// Process is a process as the API shows it.
type Process struct {
	ID            string `json:"id"`
	OrgID         string `json:"orgId"`
	Name          string `json:"name"`
	ProcessTypeID string `json:"processTypeId"`
	CreatedAt     string `json:"createdAt"`
	UpdatedAt     string `json:"updatedAt"`
}

// ProcessList is the response of GET /processes.
type ProcessList struct {
	Processes  []Process  `json:"processes"`
	Pagination Pagination `json:"pagination"`
}

// CreateProcessRequest is the body of POST /processes.
type CreateProcessRequest struct {
	Name          string `json:"name"`
	ProcessTypeID string `json:"processTypeId,omitempty"`
}

// RenameProcessRequest is the body of PATCH /processes/{id}.
type RenameProcessRequest struct {
	Name string `json:"name"`
}

// ScopeList is the response of GET /scopes.
type ScopeList struct {
	Scopes []keywarden.ScopeInfo `json:"scopes"`
}

// Me is the response of GET /me: the calling key.
type Me struct {
	KeyID     string            `json:"keyId"`
	User      string            `json:"user"`
	Name      string            `json:"name"`
	OrgID     string            `json:"orgId"`
	ProcessID string            `json:"processId,omitempty"`
	Level     keywarden.Level   `json:"level"`
	Scopes    []keywarden.Scope `json:"scopes"`
	Exp       string            `json:"exp"`
}

// Problem is an RFC 9457 problem document, the body of every error response
// (Content-Type application/problem+json). Errors lists every invalid field.
type Problem struct {
	Type      string                 `json:"type"`
	Title     string                 `json:"title"`
	Status    int                    `json:"status"`
	Detail    string                 `json:"detail"`
	Instance  string                 `json:"instance"`
	Timestamp string                 `json:"timestamp"`
	Errors    []keywarden.FieldError `json:"errors"`
}

// ProblemType returns the type URI of a problem with the given error code.
func ProblemType(code string) string { return "urn:keywarden:problem:" + code }

// ProblemContentType is the media type of a Problem.
const ProblemContentType = "application/problem+json"

// UnauthorizedDetail is the one message of every failed authentication,
// whatever the reason: the caller learns nothing about which part was wrong.
const UnauthorizedDetail = `A valid API key is required. Send it as HTTP Basic credentials: curl -u "$KEY".`

// WWWAuthenticate is the challenge sent with every 401.
const WWWAuthenticate = `Basic realm="keywarden"`

// VerifyRequest is the body of POST /keys/verify: a presented key and,
// optionally, what the caller wants to do with it. Every scope listed must
// be held; ProcessID names the process the request concerns.
type VerifyRequest struct {
	Key       string   `json:"key"`
	Scopes    []string `json:"scopes,omitempty"`
	ProcessID string   `json:"processId,omitempty"`
}

// VerifyResponse is the answer of POST /keys/verify. Key is set only when
// Valid is true.
type VerifyResponse struct {
	Valid bool                 `json:"valid"`
	Code  keywarden.VerifyCode `json:"code"`
	Key   *VerifiedKey         `json:"key,omitempty"`
}

// VerifiedKey is what a service needs to know about a valid key.
type VerifiedKey struct {
	ID        string            `json:"id"`
	User      string            `json:"user"`
	OrgID     string            `json:"orgId"`
	ProcessID string            `json:"processId,omitempty"`
	Scopes    []keywarden.Scope `json:"scopes"`
	Exp       string            `json:"exp"`
}

// Identity headers: forward-auth answers 200 with them, the gateway copies
// them onto the request it passes upstream (and must strip any a client
// sent), and the upstream service trusts them. Scopes are separated by
// single spaces, as in OAuth 2.0.
const (
	HeaderKeyID     = "X-Keywarden-Key-Id"
	HeaderKeyUser   = "X-Keywarden-Key-User"
	HeaderOrgID     = "X-Keywarden-Org-Id"
	HeaderProcessID = "X-Keywarden-Process-Id"
	HeaderScopes    = "X-Keywarden-Scopes"
)

// IdentityHeaders returns the identity headers, for gateways' strip lists
// and for tests.
func IdentityHeaders() []string {
	return []string{HeaderKeyID, HeaderKeyUser, HeaderOrgID, HeaderProcessID, HeaderScopes}
}

// Headers that carry the original request to forward-auth: nginx's
// auth_request sends what its configuration sets (X-Original-*); Caddy's
// forward_auth and Traefik's ForwardAuth send X-Forwarded-*.
const (
	HeaderOriginalMethod  = "X-Original-Method"
	HeaderOriginalURI     = "X-Original-URI"
	HeaderForwardedMethod = "X-Forwarded-Method"
	HeaderForwardedURI    = "X-Forwarded-Uri"
)

// MaxLeakReports is how many tokens one POST /keys/revoke-leaked may carry.
const MaxLeakReports = 100

// LeakReport is one element of the body of POST /keys/revoke-leaked, a JSON
// array in the format GitHub's secret scanning partner program sends: a
// match of the key pattern found in public. Its fields are snake_case
// because GitHub names them; fields GitHub may add later are ignored.
type LeakReport struct {
	Token  string `json:"token"`  // the match: the full key, "user:pass"
	Type   string `json:"type"`   // the name the scanner gives the pattern
	URL    string `json:"url"`    // where it was found; may be empty
	Source string `json:"source"` // what it was found in: content, commit, issue_comment…
}

// LeakVerdict answers one LeakReport, in the order reported, in the
// feedback format of GitHub's partner program: TokenHash is the lowercase
// hex SHA-256 of the token as reported (the token itself is never sent
// back), TokenType the report's type, and Label LeakTruePositive only when
// the token was a live key, now revoked.
type LeakVerdict struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Labels of a LeakVerdict. A wrong secret for an existing key ID is a false
// positive exactly like an unknown ID: the answer tells the reporter nothing
// about keys it does not hold.
const (
	LeakTruePositive  = "true_positive"
	LeakFalsePositive = "false_positive"
)

// AuditEvent is one entry of an organization's audit log.
type AuditEvent struct {
	ID        string          `json:"id"`
	At        string          `json:"at"` // RFC 3339 with fractional seconds, UTC
	Actor     keywarden.Actor `json:"actor"`
	Action    string          `json:"action"`
	Target    AuditTarget     `json:"target"`
	ProcessID string          `json:"processId,omitempty"`
	ClientIP  string          `json:"clientIp,omitempty"`
	UserAgent string          `json:"userAgent,omitempty"` // at most 512 bytes
}

// AuditTarget is what an audit event is about.
type AuditTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AuditEventList is one page of GET /admin/audit-events, newest first.
// Next is the cursor of the following page, empty on the last.
type AuditEventList struct {
	AuditEvents []AuditEvent `json:"auditEvents"`
	Next        string       `json:"next"`
}

// RevokeAllRequest is the body of both revoke-all calls
// (POST /processes/{processId}/api-keys/revoke-all, POST
// /admin/api-keys/revoke-all): the process's or organization's name,
// exactly, as the confirmation that the caller means that one.
type RevokeAllRequest struct {
	Confirm string `json:"confirm"`
}

// RevokeAllResult is the response of both revoke-all calls: how many keys
// were deleted.
type RevokeAllResult struct {
	Revoked int `json:"revoked"`
}

// KeyUsage is the response of both key usage calls: the key's successful
// and failed authentications per hour in [From, To), oldest first, only the
// hours that have any.
type KeyUsage struct {
	From  string         `json:"from"`
	To    string         `json:"to"`
	Usage []KeyUsageHour `json:"usage"`
}

// KeyUsageHour is one hour of a key's usage; Hour is its start, UTC.
type KeyUsageHour struct {
	Hour      string `json:"hour"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
}

// Webhook is a webhook as the API shows it. Secret is set only in the
// answers to a create and to a secret roll, the one time each secret is
// shown: Keywarden keeps it sealed (docs/webhook-secrets.md) and never
// shows it again.
type Webhook struct {
	ID          string          `json:"id"`
	OrgID       string          `json:"orgId"`
	URL         string          `json:"url"`
	Description string          `json:"description"`
	Events      []string        `json:"events"` // in keywarden.WebhookEvents order
	Enabled     bool            `json:"enabled"`
	CreatedAt   string          `json:"createdAt"`
	CreatedBy   keywarden.Actor `json:"createdBy"`
	UpdatedAt   string          `json:"updatedAt"`
	// PreviousSecretExpiresAt is when the secret the last roll replaced
	// stops signing deliveries; null when it already has.
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
	Secret                  string  `json:"secret,omitempty"`
}

// WebhookList is the response of GET /admin/webhooks, oldest first.
type WebhookList struct {
	Webhooks   []Webhook  `json:"webhooks"`
	Pagination Pagination `json:"pagination"`
}

// CreateWebhookRequest is the body of POST /admin/webhooks. Enabled
// defaults to true.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// UpdateWebhookRequest is the body of PATCH /admin/webhooks/{id}: the
// fields given change, the others stay. RollSecret gives the webhook a new
// secret and goes alone, without the other fields.
type UpdateWebhookRequest struct {
	URL         *string            `json:"url,omitempty"`
	Events      *[]string          `json:"events,omitempty"`
	Description *string            `json:"description,omitempty"`
	Enabled     *bool              `json:"enabled,omitempty"`
	RollSecret  *RollWebhookSecret `json:"rollSecret,omitempty"`
}

// RollWebhookSecret asks for a new signing secret; the current one keeps
// signing beside it for OverlapSeconds (0 to 7 days).
type RollWebhookSecret struct {
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

// WebhookDelivery is one event on its way to one webhook. NextAttemptAt is
// set while it is pending, DeliveredAt once it has succeeded; LastStatus is
// the receiver's last HTTP status, null when it gave none (or there was no
// attempt yet).
type WebhookDelivery struct {
	ID            string  `json:"id"`
	WebhookID     string  `json:"webhookId"`
	EventID       string  `json:"eventId"`
	EventType     string  `json:"eventType"`
	State         string  `json:"state"` // pending, succeeded or failed
	Attempts      int     `json:"attempts"`
	NextAttemptAt *string `json:"nextAttemptAt"`
	LastStatus    *int    `json:"lastStatus"`
	LastError     string  `json:"lastError"`
	LastLatencyMs int64   `json:"lastLatencyMs"`
	CreatedAt     string  `json:"createdAt"`
	DeliveredAt   *string `json:"deliveredAt"`
}

// WebhookDeliveryList is the response of GET
// /admin/webhooks/{id}/deliveries, newest first.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	Pagination Pagination        `json:"pagination"`
}

// WebhookDeliveryDetail is one delivery with the body it sends and the log
// of its attempts, oldest first.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Payload    json.RawMessage  `json:"payload"`
	AttemptLog []WebhookAttempt `json:"attemptLog"`
}

// WebhookAttempt is one try of a delivery. Status is null when the
// receiver gave no HTTP answer (Error says why).
type WebhookAttempt struct {
	Attempt   int    `json:"attempt"`
	At        string `json:"at"`
	Status    *int   `json:"status"`
	Error     string `json:"error"`
	LatencyMs int64  `json:"latencyMs"`
}
