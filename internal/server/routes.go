package server

import (
	"net/http"
	"strings"

	"github.com/keywarden/keywarden"
)

// access is what a route requires of its caller. A route must declare
// exactly one kind: NewHandler refuses a route that declares none, or
// contradicts itself (see check), and TestRoutesDeclareAccess holds the
// routes that need no scope to the lists that say why.
type access struct {
	public bool // no credentials at all: probes, metrics, static files
	anyKey bool // any valid credentials, no particular scope
	// scope is the scope the caller must hold; scopeIndex is its bit,
	// resolved against the catalogue when the handler is built.
	scope      keywarden.Scope
	scopeIndex int
	// checksKey routes take no credential of their own: the key they are
	// asked to check is the proof (the verify API, forward-auth). They run
	// the one key check themselves and count failures like any route.
	checksKey bool
	// orgLevel refuses (403) principals confined to a process.
	orgLevel bool
	// principalInInfo routes read the caller from the request's info
	// (infoOf(w).principal) instead of its context, which saves a copy of
	// the request on a hot path; see anyKeyInInfo.
	principalInInfo bool
	// fallback is a catch-all for requests no route matches: /api/v1/
	// for the API, / for the rest of the site. It takes no credentials
	// and answers only 404 or 405 problems, so it tells a caller nothing
	// the route table does not — and never in the mux's plain text.
	fallback bool

	// console marks a page for people: session authentication, HTML
	// errors, CSRF on every post. Its scope, if any, must be held on the
	// page's {processId}; otherwise the page is 404.
	console bool
	// anonymous console pages need no session (sign-in, setup, invites).
	anonymous bool
	// admin console pages are for owners and admins only (404 for others).
	admin bool
}

func public() access                    { return access{public: true} }
func anyKey() access                    { return access{anyKey: true} }
func anyKeyInInfo() access              { return access{anyKey: true, principalInInfo: true} }
func scope(s keywarden.Scope) access    { return access{scope: s} }
func checksKey() access                 { return access{checksKey: true} }
func orgScope(s keywarden.Scope) access { return access{scope: s, orgLevel: true} }
func fallback() access                  { return access{fallback: true} }

func anonymousPage() access                { return access{console: true, anonymous: true} }
func memberPage() access                   { return access{console: true} }
func adminPage() access                    { return access{console: true, admin: true} }
func processPage(s keywarden.Scope) access { return access{console: true, scope: s} }

type route struct {
	pattern string
	access  access
	handle  func(http.ResponseWriter, *http.Request) error
}

// check returns why rt cannot be served as declared, or "" if it can. A
// route that forgot its access would otherwise pass authorize needing only
// a key, and a page without the console flag would be served without its
// session check and CSRF protection.
func (rt route) check() string {
	a := rt.access
	api := strings.HasPrefix(rt.pattern[strings.LastIndexByte(rt.pattern, ' ')+1:], "/api/v1/")
	kinds := 0
	for _, declared := range []bool{a.public, a.anyKey, a.scope != "" && !a.console, a.checksKey, a.fallback, a.console} {
		if declared {
			kinds++
		}
	}
	switch {
	case rt.handle == nil:
		return "has no handler"
	case kinds == 0:
		return "declares no access"
	case kinds > 1:
		return "declares more than one kind of access"
	case a.orgLevel && (a.console || !a.anyKey && a.scope == ""):
		return "is organization-level without being an API route that needs a key"
	case (a.anonymous || a.admin) && !a.console:
		return "is anonymous or for admins without being a console page"
	case a.anonymous && (a.admin || a.scope != ""):
		return "is an anonymous page that requires a role or a scope"
	case api && (a.public || a.console):
		return "is under /api/v1/ but public or a console page: every API route needs credentials"
	case !api && !a.public && !a.console && !a.fallback:
		return "is outside /api/v1/ but neither public nor a console page"
	case a.fallback && rt.pattern != "/api/v1/" && rt.pattern != "/":
		return "is a fallback but neither the API's catch-all (/api/v1/) nor the site's (/)"
	}
	return ""
}

// routes is the whole HTTP surface. A {processId} wildcard is checked by
// authorize before the handler runs: a process key naming another process
// gets 404, exactly as if that process did not exist.
func (s *server) routes() []route {
	rs := []route{
		{"GET /healthz", public(), s.handleHealthz},
		{"GET /readyz", public(), s.handleReadyz},

		{"GET /api/v1/scopes", anyKey(), s.handleListScopes},
		{"GET /api/v1/me", anyKeyInInfo(), s.handleMe},

		// Verification for the platform's other services.
		{"POST /api/v1/keys/verify", checksKey(), s.handleVerify},
		{"/api/v1/auth/forward", checksKey(), s.handleForwardAuth}, // any method: gateways send the original one
		{"POST /api/v1/keys/revoke-leaked", checksKey(), s.handleRevokeLeaked},

		{"POST /api/v1/admin/api-keys", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleCreateOrgKey},
		{"GET /api/v1/admin/api-keys", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleListOrgKeys},
		{"GET /api/v1/admin/api-keys/{id}", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleGetOrgKey},
		{"DELETE /api/v1/admin/api-keys/{id}", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleDeleteOrgKey},
		{"PATCH /api/v1/admin/api-keys/{id}", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleUpdateOrgKey},
		{"POST /api/v1/admin/api-keys/{id}/rotate", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleRotateOrgKey},
		{"GET /api/v1/admin/api-keys/{id}/usage", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleOrgKeyUsage},
		// Emergency revocation of every key of the organization, both levels.
		{"POST /api/v1/admin/api-keys/revoke-all", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleRevokeOrgKeys},
		{"GET /api/v1/admin/audit-events", orgScope(keywarden.ScopeAdminAuditRead), s.handleListAuditEvents},
		// Webhooks (webhook.go).
		{"GET /api/v1/admin/webhooks", orgScope(keywarden.ScopeAdminWebhookManage), s.handleListWebhooks},
		{"POST /api/v1/admin/webhooks", orgScope(keywarden.ScopeAdminWebhookManage), s.handleCreateWebhook},
		{"GET /api/v1/admin/webhooks/{id}", orgScope(keywarden.ScopeAdminWebhookManage), s.handleGetWebhook},
		{"PATCH /api/v1/admin/webhooks/{id}", orgScope(keywarden.ScopeAdminWebhookManage), s.handleUpdateWebhook},
		{"DELETE /api/v1/admin/webhooks/{id}", orgScope(keywarden.ScopeAdminWebhookManage), s.handleDeleteWebhook},
		{"POST /api/v1/admin/webhooks/{id}/test", orgScope(keywarden.ScopeAdminWebhookManage), s.handleTestWebhook},
		{"GET /api/v1/admin/webhooks/{id}/deliveries", orgScope(keywarden.ScopeAdminWebhookManage), s.handleListWebhookDeliveries},
		{"GET /api/v1/admin/webhooks/{id}/deliveries/{deliveryId}", orgScope(keywarden.ScopeAdminWebhookManage), s.handleGetWebhookDelivery},
		{"POST /api/v1/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver", orgScope(keywarden.ScopeAdminWebhookManage), s.handleRedeliverWebhookDelivery},

		{"GET /api/v1/processes", scope(keywarden.ScopeProcessRead), s.handleListProcesses},
		{"POST /api/v1/processes", orgScope(keywarden.ScopeProcessCreate), s.handleCreateProcess},
		{"GET /api/v1/processes/{processId}", scope(keywarden.ScopeProcessRead), s.handleGetProcess},
		{"PATCH /api/v1/processes/{processId}", scope(keywarden.ScopeProcessUpdate), s.handleRenameProcess},
		{"DELETE /api/v1/processes/{processId}", orgScope(keywarden.ScopeProcessDelete), s.handleDeleteProcess},

		{"POST /api/v1/processes/{processId}/api-keys", scope(keywarden.ScopeProcessAPIKeyManage), s.handleCreateProcessKey},
		{"GET /api/v1/processes/{processId}/api-keys", scope(keywarden.ScopeProcessAPIKeyManage), s.handleListProcessKeys},
		{"GET /api/v1/processes/{processId}/api-keys/{id}", scope(keywarden.ScopeProcessAPIKeyManage), s.handleGetProcessKey},
		{"DELETE /api/v1/processes/{processId}/api-keys/{id}", scope(keywarden.ScopeProcessAPIKeyManage), s.handleDeleteProcessKey},
		{"PATCH /api/v1/processes/{processId}/api-keys/{id}", scope(keywarden.ScopeProcessAPIKeyManage), s.handleUpdateProcessKey},
		{"POST /api/v1/processes/{processId}/api-keys/{id}/rotate", scope(keywarden.ScopeProcessAPIKeyManage), s.handleRotateProcessKey},
		{"GET /api/v1/processes/{processId}/api-keys/{id}/usage", scope(keywarden.ScopeProcessAPIKeyManage), s.handleProcessKeyUsage},
		{"POST /api/v1/processes/{processId}/api-keys/revoke-all", scope(keywarden.ScopeProcessAPIKeyManage), s.handleRevokeProcessKeys},

		// Any other path or method: a problem document, 404 or 405 with
		// Allow, rather than the mux's plain text.
		{"/api/v1/", fallback(), s.handleUnrouted},
		{"/", fallback(), s.handleUnrouted},

		// The console. Changes to processes and keys go through the API
		// routes above, called by the pages with the session cookie.
		{"GET /static/{name}", public(), s.handleStatic},
		{"GET /setup", anonymousPage(), s.handleSetupPage},
		{"POST /setup", anonymousPage(), s.handleSetup},
		{"GET /sign-in", anonymousPage(), s.handleSignInPage},
		{"POST /sign-in", anonymousPage(), s.handleSignIn},
		{"POST /sign-out", memberPage(), s.handleSignOut},
		{"GET /invite", anonymousPage(), s.handleInvitePage},
		{"POST /invite", anonymousPage(), s.handleAcceptInvite},

		{"GET /{$}", memberPage(), s.handleDashboard},
		{"GET /processes/{processId}/settings", processPage(keywarden.ScopeProcessRead), s.handleProcessGeneral},
		{"GET /processes/{processId}/settings/access", adminPage(), s.handleProcessAccess},
		{"POST /processes/{processId}/settings/access", adminPage(), s.handleGrantAccess},
		{"POST /processes/{processId}/settings/access/{userId}/remove", adminPage(), s.handleRemoveAccess},
		{"GET /processes/{processId}/settings/api-keys", processPage(keywarden.ScopeProcessAPIKeyManage), s.handleProcessKeys},
		{"GET /processes/{processId}/settings/api-keys/{id}", processPage(keywarden.ScopeProcessAPIKeyManage), s.handleProcessKeyPage},

		{"GET /settings", adminPage(), s.handleSettingsOrg},
		{"POST /settings", adminPage(), s.handleUpdateOrg},
		{"GET /settings/members", adminPage(), s.handleMembers},
		{"POST /settings/members/invite", adminPage(), s.handleInvite},
		{"POST /settings/members/{userId}/role", adminPage(), s.handleChangeRole},
		{"POST /settings/members/{userId}/remove", adminPage(), s.handleRemoveMember},
		{"GET /settings/api-keys", adminPage(), s.handleOrgKeysPage},
		{"GET /settings/api-keys/{id}", adminPage(), s.handleOrgKeyPage},
		{"GET /settings/audit", adminPage(), s.handleAudit},
		{"GET /settings/webhooks", adminPage(), s.handleWebhooksPage},
		{"GET /settings/webhooks/{id}", adminPage(), s.handleWebhookPage},
	}
	// Prometheus scrapes without credentials. The page holds counts and
	// latencies by route pattern, status and outcome, never a key, a tenant
	// or a path; an operator who would still keep it private serves it on
	// another address (--metrics-addr), and then this listener lacks it.
	if s.ServeMetrics && s.Metrics != nil {
		rs = append(rs, route{"GET /metrics", public(), s.handleMetrics})
	}
	return rs
}
