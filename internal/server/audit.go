package server

import (
	"context"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// auditEvent returns the event recording an action of the request's
// principal on a target; the store writes it in the change's transaction.
func (s *server) auditEvent(r *http.Request, action, targetType, targetID, targetName, processID string) (*keywarden.AuditEvent, error) {
	p := keywarden.PrincipalFromContext(r.Context())
	e, err := s.requestEvent(r, p.OrgID, p.Actor, action)
	if err != nil {
		return nil, err
	}
	e.TargetType, e.TargetID, e.TargetName, e.ProcessID = targetType, targetID, targetName, processID
	return e, nil
}

// requestEvent returns an event of action by actor in orgID, made by the
// request r: every event the server builds starts here, so that each has
// the server's time, the client address and the user agent.
func (s *server) requestEvent(r *http.Request, orgID string, actor keywarden.Actor, action string) (*keywarden.AuditEvent, error) {
	id, err := keywarden.NewID(s.Rand)
	if err != nil {
		return nil, err
	}
	return &keywarden.AuditEvent{
		ID: id, OrgID: orgID, At: s.Now().UTC().Truncate(time.Microsecond), Actor: actor, Action: action,
		RemoteAddr: s.clientIP(r), UserAgent: userAgent(r),
	}, nil
}

// recordEvent writes e, an event that records no change, on its own. It
// is never why a request fails: the event is what the request caused, not
// what it asked for, so an error is logged and the answer stands. The
// write outlives the request, so that a client hanging up cannot cancel
// the record of what it did; the store's deadline bounds it.
func (s *server) recordEvent(r *http.Request, e *keywarden.AuditEvent) {
	ctx := context.WithoutCancel(r.Context())
	if err := s.audit.RecordAuditEvent(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "audit event not recorded", "action", e.Action, "org_id", e.OrgID,
			"client_ip", e.RemoteAddr, "error", err)
	}
}

// userAgent is the request's User-Agent as the audit trail keeps it:
// bounded, valid UTF-8, without control characters.
func userAgent(r *http.Request) string {
	return keywarden.CleanUserAgent(r.UserAgent())
}

// clientIP is the address the request came from, by the one rule of
// package clientip (--trusted-proxies), as text for logs and the audit trail.
func (s *server) clientIP(r *http.Request) string {
	if a := s.ClientIPs.ClientIP(r); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
