package server

import (
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// auditEvent returns the event recording an action of the request's
// principal on a target; the store writes it in the change's transaction.
func (s *server) auditEvent(r *http.Request, action, targetType, targetID, targetName, processID string) (*keywarden.AuditEvent, error) {
	id, err := keywarden.NewID(s.Rand)
	if err != nil {
		return nil, err
	}
	p := keywarden.PrincipalFromContext(r.Context())
	return &keywarden.AuditEvent{
		ID: id, OrgID: p.OrgID, At: s.Now().UTC().Truncate(time.Microsecond), Actor: p.Actor,
		Action: action, TargetType: targetType, TargetID: targetID, TargetName: targetName,
		ProcessID: processID, RemoteAddr: s.clientIP(r),
	}, nil
}

// clientIP is the address the request came from, by the one rule of
// package clientip (--trusted-proxies), as text for logs and the audit trail.
func (s *server) clientIP(r *http.Request) string {
	if a := s.ClientIPs.ClientIP(r); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
