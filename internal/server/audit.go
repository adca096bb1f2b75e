package server

import (
	"net"
	"net/http"
	"strings"
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

// clientIP is the address the request came from: the peer, or, behind a
// proxy the operator trusts (--trust-proxy), the first X-Forwarded-For hop.
func (s *server) clientIP(r *http.Request) string {
	if s.TrustProxy {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			first, _, _ := strings.Cut(fwd, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
