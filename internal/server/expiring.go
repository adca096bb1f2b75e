package server

import (
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// Expiry reminders: the dashboard and the key pages show a banner naming
// the keys that expire within expiringSoon (14 days, as GitLab warns),
// soonest first, each linking to its key page — only keys the person may
// manage, since only they can rotate or replace them.

// maxReminders bounds the keys a banner names; it says how many more.
const maxReminders = 5

// expiringKey is one key of the banner.
type expiringKey struct {
	Name, User string
	ExpiresAt  time.Time
	Href       string // the key table the key is in
}

// expiryReminders is the banner.
type expiryReminders struct {
	Keys  []expiringKey
	More  int // keys beyond Keys
	Total int
}

// remindExpiring fills v's expiry banner. A failure to read the keys is
// logged and shows no banner: a reminder must not take the page down.
func (s *server) remindExpiring(r *http.Request, v *view) {
	p := v.Principal
	if p == nil {
		return
	}
	now := s.Now()
	keys, err := s.apiKeys.FindAPIKeysExpiring(r.Context(), p.OrgID, now, now.Add(expiringSoon), keywarden.MaxPageLimit)
	if err != nil {
		s.Logger.WarnContext(r.Context(), "expiry reminders not shown", "error", err)
		return
	}
	var rem expiryReminders
	for _, k := range keys {
		href := "/settings/api-keys"
		if k.ProcessID != "" {
			if !p.HasScopeOn(k.ProcessID, keywarden.ScopeProcessAPIKeyManage) {
				continue
			}
			href = "/processes/" + k.ProcessID + "/settings/api-keys"
		} else if !p.HasScope(keywarden.ScopeAdminAPIKeyManage) {
			continue
		}
		if len(rem.Keys) == maxReminders {
			rem.More++
			continue
		}
		rem.Keys = append(rem.Keys, expiringKey{Name: k.Name, User: k.User, ExpiresAt: k.ExpiresAt, Href: href})
	}
	if len(rem.Keys) > 0 {
		rem.Total = len(rem.Keys) + rem.More
		v.Expiring = &rem
	}
}
