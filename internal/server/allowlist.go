package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/keywarden/keywarden"
)

// A key used from outside its allowlist fails with the same 401 as any
// failure; the reason goes to the log on every request and to the
// organization's audit trail once per key per addressAuditInterval, so
// that a misconfigured client retrying in a loop does not flood the audit
// log (or write to the database on every request).
const (
	addressAuditInterval = time.Minute
	maxAddressAuditKeys  = 10_000
)

// addressAudits remembers when each key's last refusal was audited.
type addressAudits struct {
	mu   sync.Mutex
	last map[string]time.Time // key user → when
}

// due reports whether a refusal of key user at now should be audited, and
// if so notes it. The map is bounded: when full it starts over, which at
// worst audits a refusal early.
func (a *addressAudits) due(user string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.last[user]; ok && now.Sub(t) < addressAuditInterval {
		return false
	}
	if a.last == nil || len(a.last) >= maxAddressAuditKeys {
		a.last = make(map[string]time.Time)
	}
	a.last[user] = now
	return true
}

// auditAddressDenied records in the key's organization that the key was
// presented with its right secret from an address outside its allowlist.
func (s *server) auditAddressDenied(r *http.Request, v keywarden.Verification) {
	if !s.addressAudits.due(v.User, s.Now()) {
		return
	}
	e, err := s.requestEvent(r, v.OrgID, anonymous, keywarden.AuditAPIKeyAddressDenied)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "audit event not recorded", "action", keywarden.AuditAPIKeyAddressDenied, "error", err)
		return
	}
	e.TargetType, e.TargetID, e.TargetName, e.ProcessID = "api_key", v.Key.ID, v.Key.Name+" ("+v.Key.User+")", v.Key.ProcessID
	s.recordEvent(r, e)
}
