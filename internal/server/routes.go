package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
)

// access is what a route requires of its caller. A route must declare one;
// TestRoutesDeclareAccess fails the build's tests if an /api/v1 route is
// public or has neither a scope nor the explicit anyKey marker.
type access struct {
	public bool // no credentials at all (health checks only)
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
func scope(s keywarden.Scope) access    { return access{scope: s} }
func checksKey() access                 { return access{checksKey: true} }
func orgScope(s keywarden.Scope) access { return access{scope: s, orgLevel: true} }

func anonymousPage() access                { return access{console: true, anonymous: true} }
func memberPage() access                   { return access{console: true} }
func adminPage() access                    { return access{console: true, admin: true} }
func processPage(s keywarden.Scope) access { return access{console: true, scope: s} }

type route struct {
	pattern string
	access  access
	handle  func(http.ResponseWriter, *http.Request) error
}

// routes is the whole HTTP surface. A {processId} wildcard is checked by
// authorize before the handler runs: a process key naming another process
// gets 404, exactly as if that process did not exist.
func (s *server) routes() []route {
	return []route{
		{"GET /healthz", public(), s.handleHealthz},
		{"GET /readyz", public(), s.handleReadyz},

		{"GET /api/v1/scopes", anyKey(), s.handleListScopes},
		{"GET /api/v1/me", anyKey(), s.handleMe},

		// Verification for the platform's other services.
		{"POST /api/v1/keys/verify", checksKey(), s.handleVerify},
		{"/api/v1/auth/forward", checksKey(), s.handleForwardAuth}, // any method: gateways send the original one

		{"POST /api/v1/admin/api-keys", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleCreateOrgKey},
		{"GET /api/v1/admin/api-keys", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleListOrgKeys},
		{"GET /api/v1/admin/api-keys/{id}", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleGetOrgKey},
		{"DELETE /api/v1/admin/api-keys/{id}", orgScope(keywarden.ScopeAdminAPIKeyManage), s.handleDeleteOrgKey},

		{"GET /api/v1/processes", scope(keywarden.ScopeProcessRead), s.handleListProcesses},
		{"POST /api/v1/processes", orgScope(keywarden.ScopeProcessCreate), s.handleCreateProcess},
		{"GET /api/v1/processes/{processId}", scope(keywarden.ScopeProcessRead), s.handleGetProcess},
		{"PATCH /api/v1/processes/{processId}", scope(keywarden.ScopeProcessUpdate), s.handleRenameProcess},
		{"DELETE /api/v1/processes/{processId}", orgScope(keywarden.ScopeProcessDelete), s.handleDeleteProcess},

		{"POST /api/v1/processes/{processId}/api-keys", scope(keywarden.ScopeProcessAPIKeyManage), s.handleCreateProcessKey},
		{"GET /api/v1/processes/{processId}/api-keys", scope(keywarden.ScopeProcessAPIKeyManage), s.handleListProcessKeys},
		{"GET /api/v1/processes/{processId}/api-keys/{id}", scope(keywarden.ScopeProcessAPIKeyManage), s.handleGetProcessKey},
		{"DELETE /api/v1/processes/{processId}/api-keys/{id}", scope(keywarden.ScopeProcessAPIKeyManage), s.handleDeleteProcessKey},

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

		{"GET /settings", adminPage(), s.handleSettingsOrg},
		{"POST /settings", adminPage(), s.handleUpdateOrg},
		{"GET /settings/members", adminPage(), s.handleMembers},
		{"POST /settings/members/invite", adminPage(), s.handleInvite},
		{"POST /settings/members/{userId}/role", adminPage(), s.handleChangeRole},
		{"POST /settings/members/{userId}/remove", adminPage(), s.handleRemoveMember},
		{"GET /settings/api-keys", adminPage(), s.handleOrgKeysPage},
		{"GET /settings/audit", adminPage(), s.handleAudit},
	}
}
