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
	p := keywarden.PrincipalFromContext(r.Context())
	return encode(w, http.StatusOK, api.Me{
		KeyID: p.KeyID, User: p.KeyUser, Name: p.Actor.Name, OrgID: p.OrgID, ProcessID: p.ProcessID,
		Level: p.Level(), Scopes: p.Scopes, Exp: timestamp(p.ExpiresAt),
	})
}
