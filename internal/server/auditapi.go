package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// handleListAuditEvents is the audit API: the caller's organization's
// events, newest first, narrowed by the query's filters, a page at a time
// by an opaque cursor, so that events written while a client pages never
// shift its pages.
func (s *server) handleListAuditEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilterFrom(r)
	if err != nil {
		return err
	}
	f.OrgID = keywarden.PrincipalFromContext(r.Context()).OrgID
	events, next, err := s.audit.FindAuditEventsAfter(r.Context(), f)
	if err != nil {
		return err
	}
	out := api.AuditEventList{AuditEvents: make([]api.AuditEvent, 0, len(events)), Next: next.String()}
	for _, e := range events {
		out.AuditEvents = append(out.AuditEvents, api.AuditEvent{
			ID: e.ID, At: e.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Action: e.Action,
			Target:    api.AuditTarget{Type: e.TargetType, ID: e.TargetID, Name: e.TargetName},
			ProcessID: e.ProcessID, ClientIP: e.RemoteAddr, UserAgent: e.UserAgent,
		})
	}
	return encode(w, http.StatusOK, out)
}

// auditFilterFrom reads the audit API's query, reporting every invalid
// parameter at once.
func auditFilterFrom(r *http.Request) (keywarden.AuditFilter, error) {
	var v keywarden.Validation
	q := r.URL.Query()
	f := keywarden.AuditFilter{
		Action: q.Get("action"), TargetType: q.Get("targetType"), TargetID: q.Get("targetId"),
		ProcessID: q.Get("processId"), ActorID: q.Get("actorId"),
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(t.name); s != "" {
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				v.Add("query: "+t.name, "invalid", "%s must be an RFC 3339 timestamp, e.g. 2026-12-01T00:00:00Z.", t.name)
			}
			*t.dst = at
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > keywarden.MaxPageLimit {
			v.Add("query: limit", "invalid", "limit must be an integer from 1 to %d.", keywarden.MaxPageLimit)
		}
		f.Limit = n
	}
	c, err := keywarden.ParseAuditCursor(q.Get("cursor"))
	if err != nil {
		v.Add("query: cursor", "invalid", "%s", keywarden.ErrorMessage(err))
	}
	f.After = c
	return f, v.Err()
}
