package server

import (
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/web"
	"github.com/keywarden/keywarden/internal/web/chart"
)

// usageDays is how many days the key page's chart and the table's
// sparklines show.
const usageDays = 30

// unusedFor is how long without a use flags a key as unused (AWS's "last
// used" advice: a key nobody uses is a key to delete).
const unusedFor = 90 * 24 * time.Hour

// keyDetailView is a key's own page.
type keyDetailView struct {
	Key        keyRow
	Scopes     []keywarden.Scope
	AllowedIPs []string
	RateLimit  *keywarden.RateLimitRequest
	LastFrom   string
	Chart      template.HTML
	Succeeded  int64
	Failed     int64
	BackPath   string // the key table
	BaseURL    string // for the curl example after a rotation
}

func (s *server) handleOrgKeyPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "API key", "settings", "api-keys")
	if err != nil {
		return err
	}
	return s.renderKeyDetail(w, r, v, "")
}

func (s *server) handleProcessKeyPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "api-keys")
	if err != nil {
		return err
	}
	return s.renderKeyDetail(w, r, v, v.Process.ID)
}

func (s *server) renderKeyDetail(w http.ResponseWriter, r *http.Request, v *view, processID string) error {
	k, err := s.findKey(r, processID)
	if err != nil {
		return err
	}
	now := s.Now()
	back, apiPath, page := "/settings/api-keys", "/api/v1/admin/api-keys", "settings_key"
	if processID != "" {
		back, apiPath, page = "/processes/"+processID+"/settings/api-keys", "/api/v1/processes/"+processID+"/api-keys", "process_key"
	}
	days, err := s.dailyUsage(r, k, now)
	if err != nil {
		return err
	}
	d := keyDetailView{Key: s.keyRow(k, apiPath, now), Scopes: k.Scopes, AllowedIPs: keywarden.NetworkStrings(k.AllowedIPs),
		RateLimit: k.RateLimit.Request(), LastFrom: k.LastUsedFrom, BackPath: back, BaseURL: s.baseURL(r),
		Chart: chart.Bars(days, "Authentications with "+k.Name+" per day, last "+strconv.Itoa(usageDays)+" days")}
	for _, day := range days {
		d.Succeeded += day.Succeeded
		d.Failed += day.Failed
	}
	v.Title = k.Name
	v.Data = d
	s.remindExpiring(r, v)
	return s.render(w, page, v)
}

// dailyUsage returns k's authentications per UTC day for the last
// usageDays days, today included, oldest first: every day, used or not.
func (s *server) dailyUsage(r *http.Request, k *keywarden.APIKey, now time.Time) ([]chart.Day, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -(usageDays - 1))
	counts, err := s.usage.FindKeyUsage(r.Context(), k.OrgID, k.ID, from, today.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	days := make([]chart.Day, usageDays)
	for i := range days {
		days[i].Date = from.AddDate(0, 0, i)
	}
	for _, c := range counts {
		if i := int(c.Hour.Sub(from) / (24 * time.Hour)); i >= 0 && i < usageDays {
			days[i].Succeeded += c.Succeeded
			days[i].Failed += c.Failed
		}
	}
	return days, nil
}

// sparkline draws k's daily uses (successes and failures) of the last
// usageDays days for its table row.
func sparkline(name string, days []chart.Day) template.HTML {
	counts := make([]int64, len(days))
	for i, d := range days {
		counts[i] = d.Succeeded + d.Failed
	}
	return chart.Sparkline(counts, name)
}

// keyRow presents k for the key table and the key page.
func (s *server) keyRow(k *keywarden.APIKey, apiPath string, now time.Time) keyRow {
	row := keyRow{ID: k.ID, Name: k.Name, User: k.User, Scopes: k.Scopes,
		AllScopes: slices.Equal(k.Scopes, s.Catalogue.ForLevel(k.Level())), CreatedAt: k.CreatedAt,
		CreatedBy: web.ActorLabel(k.CreatedBy), ExpiresAt: k.ExpiresAt, Expired: k.Expired(now),
		ExpiringSoon: !k.Expired(now) && k.ExpiresAt.Sub(now) < expiringSoon, LastUsed: k.LastUsedAt,
		DeletePath: apiPath + "/" + k.ID}
	if k.PreviousSecretLive(now) {
		row.PreviousUntil = k.PreviousSecretExpiresAt
	}
	last := k.LastUsedAt
	if last.IsZero() {
		last = k.CreatedAt
	}
	row.Unused = now.Sub(last) >= unusedFor
	return row
}
