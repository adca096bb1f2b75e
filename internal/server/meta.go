package server

import (
	"context"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	return encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz reports whether the database answers and the verification
// cache is fresh, so a load balancer stops sending traffic to a node that
// cannot verify keys, or can only by asking the database each time.
func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if s.Keys != nil && !s.Keys.Fresh() {
		s.Logger.WarnContext(r.Context(), "readiness check failed: the verification cache is behind the key change log")
		w.Header().Set("Retry-After", "1")
		return encode(w, http.StatusServiceUnavailable, map[string]string{"status": "stale"})
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.WarnContext(ctx, "readiness check failed", "error", err)
		return encode(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) handleListScopes(w http.ResponseWriter, r *http.Request) error {
	return encode(w, http.StatusOK, api.ScopeList{Scopes: s.Catalogue.All()})
}

func (s *server) handleMe(w http.ResponseWriter, r *http.Request) error {
	info := infoOf(w)
	p := info.principal // GET /api/v1/me has access.principalInInfo
	if p == nil {
		p = keywarden.PrincipalFromContext(r.Context())
	}
	if p == &info.keyPrincipal && p.Scopes != nil {
		// A key's answer depends on nothing but the key: remembered.
		writeJSONLine(w, http.StatusOK, s.meOf(p))
		return nil
	}
	bp := buffers.Get().(*[]byte)
	b := appendMe((*bp)[:0], p, nil)
	writeJSON(w, http.StatusOK, b)
	*bp = b
	putBuffer(bp)
	return nil
}

// appendMe appends p as api.Me, as encode would write it without its
// newline: with scopes' rendering of the scope list when it is not nil
// (a key's, principalForKey), and p.Scopes otherwise.
func appendMe(b []byte, p *keywarden.Principal, scopes *scopeRendering) []byte {
	b = append(b, `{"keyId":`...)
	b = appendJSONString(b, p.KeyID)
	b = append(b, `,"user":`...)
	b = appendJSONString(b, p.KeyUser)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, p.Actor.Name)
	b = append(b, `,"orgId":`...)
	b = appendJSONString(b, p.OrgID)
	if p.ProcessID != "" {
		b = append(b, `,"processId":`...)
		b = appendJSONString(b, p.ProcessID)
	}
	b = append(b, `,"level":`...)
	b = appendJSONString(b, string(p.Level()))
	b = append(b, `,"scopes":`...)
	if scopes != nil {
		b = append(b, scopes.json...)
	} else {
		b = appendScopes(b, p.Scopes, true)
	}
	b = append(b, `,"exp":`...)
	b = appendJSONTime(b, p.ExpiresAt)
	return append(b, '}')
}
