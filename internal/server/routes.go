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
	// scope is the scope the caller must hold.
	scope keywarden.Scope
	// orgLevel refuses (403) principals confined to a process.
	orgLevel bool
}

func public() access                    { return access{public: true} }
func anyKey() access                    { return access{anyKey: true} }
func scope(s keywarden.Scope) access    { return access{scope: s} }
func orgScope(s keywarden.Scope) access { return access{scope: s, orgLevel: true} }

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
	}
}
