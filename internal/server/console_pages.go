package server

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
)

// expiringSoon is how close to its expiry a key is flagged in the tables.
const expiringSoon = 14 * 24 * time.Hour

type dashboardView struct {
	Processes []*keywarden.Process
	CanCreate bool
}

func (s *server) handleDashboard(w http.ResponseWriter, r *http.Request) error {
	p := keywarden.PrincipalFromContext(r.Context())
	ids, restricted := p.VisibleProcesses()
	procs, _, err := s.processes.FindProcesses(r.Context(), keywarden.ProcessFilter{OrgID: p.OrgID, Restricted: restricted, IDs: ids,
		Page: keywarden.Page{Limit: keywarden.MaxPageLimit}})
	if err != nil {
		return err
	}
	v, err := s.newView(r, "Dashboard", "dashboard", "")
	if err != nil {
		return err
	}
	v.Data = dashboardView{Processes: procs, CanCreate: p.HasScope(keywarden.ScopeProcessCreate)}
	s.remindExpiring(r, v)
	return s.render(w, "dashboard", v)
}

// processView returns the view of a process configuration page.
func (s *server) processView(r *http.Request, tab string) (*view, error) {
	p, err := s.findProcess(r)
	if err != nil {
		return nil, err
	}
	v, err := s.newView(r, p.Name, "dashboard", tab)
	if err != nil {
		return nil, err
	}
	v.Process = p
	return v, nil
}

type processGeneralView struct {
	CanRename bool
	CanDelete bool
}

func (s *server) handleProcessGeneral(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "general")
	if err != nil {
		return err
	}
	p := v.Principal
	v.Data = processGeneralView{
		CanRename: p.HasScopeOn(v.Process.ID, keywarden.ScopeProcessUpdate),
		CanDelete: p.HasScope(keywarden.ScopeProcessDelete),
	}
	return s.render(w, "process_general", v)
}

type accessView struct {
	Grants     []*keywarden.ProcessGrant
	Candidates []*keywarden.Member // user-role members without a grant
}

func (s *server) handleProcessAccess(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "access")
	if err != nil {
		return err
	}
	return s.renderAccess(w, r, v, http.StatusOK)
}

func (s *server) renderAccess(w http.ResponseWriter, r *http.Request, v *view, status int) error {
	grants, err := s.members.FindProcessGrants(r.Context(), v.Process.OrgID, v.Process.ID)
	if err != nil {
		return err
	}
	members, err := s.allMembers(r)
	if err != nil {
		return err
	}
	var candidates []*keywarden.Member
	for _, m := range members {
		granted := slices.ContainsFunc(grants, func(g *keywarden.ProcessGrant) bool { return g.UserID == m.UserID })
		if m.Role == keywarden.RoleUser && !granted {
			candidates = append(candidates, m)
		}
	}
	v.Data = accessView{Grants: grants, Candidates: candidates}
	return s.renderStatus(w, status, "process_access", v)
}

func (s *server) allMembers(r *http.Request) ([]*keywarden.Member, error) {
	orgID := keywarden.PrincipalFromContext(r.Context()).OrgID
	var all []*keywarden.Member
	for offset := 0; ; offset += keywarden.MaxPageLimit {
		page, total, err := s.members.FindMembers(r.Context(), orgID, keywarden.Page{Offset: offset, Limit: keywarden.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if offset+keywarden.MaxPageLimit >= total {
			return all, nil
		}
	}
}

// handleGrantAccess gives a user-role member access to the process.
func (s *server) handleGrantAccess(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "access")
	if err != nil {
		return err
	}
	role := keywarden.ProcessRole(r.PostFormValue("role"))
	userID := r.PostFormValue("user_id")
	var val keywarden.Validation
	if role != keywarden.ProcessManager && role != keywarden.ProcessUser {
		val.Add("role", "invalid", "Choose manager or user.")
	}
	if !keywarden.IsID(userID) {
		val.Add("user_id", "required", "Choose a member.")
	}
	if err := val.Err(); err != nil {
		if err := formError(v, r, err); err != nil {
			return err
		}
		return s.renderAccess(w, r, v, http.StatusBadRequest)
	}
	e, err := s.auditEvent(r, keywarden.AuditProcessGrantSet, "member", userID, string(role), v.Process.ID)
	if err != nil {
		return err
	}
	g := &keywarden.ProcessGrant{OrgID: v.Process.OrgID, ProcessID: v.Process.ID, UserID: userID, Role: role}
	if err := s.members.SetProcessGrant(r.Context(), g, e); err != nil {
		return err
	}
	return redirect(w, r, "/processes/"+v.Process.ID+"/settings/access")
}

func (s *server) handleRemoveAccess(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "access")
	if err != nil {
		return err
	}
	userID := r.PathValue("userId")
	grants, err := s.members.FindProcessGrants(r.Context(), v.Process.OrgID, v.Process.ID)
	if err != nil {
		return err
	}
	who := "The member" // for the confirmation; a grant not found is the store's ENOTFOUND
	if i := slices.IndexFunc(grants, func(g *keywarden.ProcessGrant) bool { return g.UserID == userID }); i >= 0 {
		who = grants[i].Email
	}
	e, err := s.auditEvent(r, keywarden.AuditProcessGrantRemove, "member", userID, "", v.Process.ID)
	if err != nil {
		return err
	}
	if err := s.members.RemoveProcessGrant(r.Context(), v.Process.OrgID, v.Process.ID, userID, e); err != nil {
		return err
	}
	s.setFlash(w, r, who+" no longer has access to "+v.Process.Name+".")
	return redirect(w, r, "/processes/"+v.Process.ID+"/settings/access")
}

// keyPageSize is how many keys a console key table shows at once, newest
// first.
const keyPageSize = 25

// keysView is the API key screen of either level.
type keysView struct {
	Level       keywarden.Level
	APIPath     string // the API collection the page's script creates keys in
	Keys        []keyRow
	Pager       pager
	ScopeGroups []scopeGroup
	CanUseAll   bool // the person holds every scope of the level
	Presets     []preset
	DefaultDays int
	ScopeCount  int // how many scopes the checklist offers
	MaxDays     int
	MinDate     string
	MaxDate     string
	BaseURL     string // for the curl example
	RevokeAll   revokeAllView
}

// preset is an expiry choice of the create dialog, with the date it gives
// (as of the page's rendering; the script recomputes it when the dialog opens).
type preset struct {
	Days int
	Date string
}

type scopeGroup struct {
	Resource string
	Scopes   []keywarden.ScopeInfo
}

type keyRow struct {
	ID, Name, User string
	Scopes         []keywarden.Scope
	AllScopes      bool
	CreatedAt      time.Time
	CreatedBy      string
	ExpiresAt      time.Time
	ExpiringSoon   bool
	Expired        bool
	LastUsed       time.Time
	DeletePath     string
	PreviousUntil  time.Time     // when the secret the last rotation replaced stops; zero when it has
	Unused         bool          // not used for 90 days (or never, in 90 days)
	Spark          template.HTML // its daily uses, 30 days
	Href           string        // its own page
}

func (s *server) handleOrgKeysPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "API keys", "settings", "api-keys")
	if err != nil {
		return err
	}
	return s.renderKeys(w, r, v, "")
}

func (s *server) handleProcessKeys(w http.ResponseWriter, r *http.Request) error {
	v, err := s.processView(r, "api-keys")
	if err != nil {
		return err
	}
	return s.renderKeys(w, r, v, v.Process.ID)
}

// renderKeys renders the key table of the organization (processID empty)
// or of a process, with the create dialog offering only the scopes the
// level allows and the person may grant.
func (s *server) renderKeys(w http.ResponseWriter, r *http.Request, v *view, processID string) error {
	p := v.Principal
	level, apiPath, page := keywarden.LevelOrganization, "/api/v1/admin/api-keys", "settings_keys"
	if processID != "" {
		level, apiPath, page = keywarden.LevelProcess, "/api/v1/processes/"+processID+"/api-keys", "process_keys"
	}
	keys, pg, err := findConsolePage(r, keyPageSize, func(page keywarden.Page) ([]*keywarden.APIKey, int, error) {
		return s.apiKeys.FindAPIKeys(r.Context(), keywarden.APIKeyFilter{OrgID: p.OrgID, Level: level, ProcessID: processID, NewestFirst: true, Page: page})
	})
	if err != nil {
		return err
	}
	pg.Label, pg.Path = "API key pages", r.URL.Path
	now := s.Now()
	kv := keysView{Level: level, APIPath: apiPath, Pager: pg, CanUseAll: true,
		MaxDays: int(v.Org.MaxKeyLifetime / (24 * time.Hour)), BaseURL: s.baseURL(r)}
	for _, k := range keys {
		row := s.keyRow(k, apiPath, now)
		days, err := s.dailyUsage(r, k, now)
		if err != nil {
			return err
		}
		row.Spark = sparkline(k.Name, days)
		row.Href = r.URL.Path + "/" + k.ID
		kv.Keys = append(kv.Keys, row)
	}
	for _, info := range s.Catalogue.All() {
		if !s.Catalogue.AllowedAt(info.Name, level) {
			continue
		}
		if !p.HasScopeOn(processID, info.Name) {
			kv.CanUseAll = false
			continue
		}
		if n := len(kv.ScopeGroups); n == 0 || kv.ScopeGroups[n-1].Resource != info.Resource {
			kv.ScopeGroups = append(kv.ScopeGroups, scopeGroup{Resource: info.Resource})
		}
		g := &kv.ScopeGroups[len(kv.ScopeGroups)-1]
		g.Scopes = append(g.Scopes, info)
		kv.ScopeCount++
	}
	for _, d := range []int{30, 90, 180} {
		if d <= kv.MaxDays {
			kv.Presets = append(kv.Presets, preset{Days: d, Date: now.UTC().AddDate(0, 0, d).Format(time.DateOnly)})
		}
	}
	kv.DefaultDays = min(90, kv.MaxDays)
	kv.MinDate = now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	kv.MaxDate = now.UTC().Add(v.Org.MaxKeyLifetime).Format(time.DateOnly)
	kv.RevokeAll = revokeAllSection(v, processID, apiPath, pg.Total)
	v.Data = kv
	s.remindExpiring(r, v)
	return s.render(w, page, v)
}

// baseURL is the scheme and host the person reached Keywarden at, for the
// curl example in the "save your key" dialog.
func (s *server) baseURL(r *http.Request) string {
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *server) handleSettingsOrg(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Organization", "settings", "organization")
	if err != nil {
		return err
	}
	return s.render(w, "settings_org", v)
}

// handleUpdateOrg changes the organization's name and key policy. Existing
// keys keep their expiry; the policy bounds keys created from now on.
func (s *server) handleUpdateOrg(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Organization", "settings", "organization")
	if err != nil {
		return err
	}
	var val keywarden.Validation
	org := *v.Org
	org.Name = keywarden.ValidateName(r.PostFormValue("name"), "name", &val)
	days, convErr := strconv.Atoi(strings.TrimSpace(r.PostFormValue("max_key_lifetime_days")))
	if convErr != nil || days < 1 || days > 3650 {
		val.Add("max_key_lifetime_days", "invalid", "The maximum key lifetime must be a whole number of days from 1 to 3650.")
	}
	org.MaxKeyLifetime = time.Duration(days) * 24 * time.Hour
	if err := val.Err(); err != nil {
		if err := formError(v, r, err); err != nil {
			return err
		}
		return s.renderStatus(w, http.StatusBadRequest, "settings_org", v)
	}
	e, err := s.auditEvent(r, keywarden.AuditOrgUpdated, "organization", org.ID, fmt.Sprintf("%s, max key lifetime %d days", org.Name, days), "")
	if err != nil {
		return err
	}
	if err := s.orgs.UpdateOrganization(r.Context(), &org, e); err != nil {
		if keywarden.ErrorCode(err) == keywarden.ECONFLICT {
			val.Add("name", "taken", "%s", keywarden.ErrorMessage(err))
			if err := formError(v, r, val.Err()); err != nil {
				return err
			}
			return s.renderStatus(w, http.StatusConflict, "settings_org", v)
		}
		return err
	}
	return redirect(w, r, "/settings")
}

type membersView struct {
	Members    []*keywarden.Member
	InviteLink string
	Roles      []keywarden.Role
}

func (s *server) handleMembers(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Members", "settings", "members")
	if err != nil {
		return err
	}
	return s.renderMembers(w, r, v, http.StatusOK, "")
}

func (s *server) renderMembers(w http.ResponseWriter, r *http.Request, v *view, status int, inviteLink string) error {
	members, err := s.allMembers(r)
	if err != nil {
		return err
	}
	roles := []keywarden.Role{keywarden.RoleAdmin, keywarden.RoleUser}
	if v.Principal.Role == keywarden.RoleOwner {
		roles = append([]keywarden.Role{keywarden.RoleOwner}, roles...)
	}
	v.Data = membersView{Members: members, InviteLink: inviteLink, Roles: roles}
	return s.renderStatus(w, status, "settings_members", v)
}

// handleInvite creates a one-time invitation link for an email and role.
// The link is shown once, to the admin, who passes it on.
func (s *server) handleInvite(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Members", "settings", "members")
	if err != nil {
		return err
	}
	var val keywarden.Validation
	email := keywarden.NormalizeEmail(r.PostFormValue("email"), "email", &val)
	role := keywarden.Role(r.PostFormValue("role"))
	if role != keywarden.RoleAdmin && role != keywarden.RoleUser {
		val.Add("role", "invalid", "Choose admin or user.")
	}
	if err := val.Err(); err != nil {
		if err := formError(v, r, err); err != nil {
			return err
		}
		return s.renderMembers(w, r, v, http.StatusBadRequest, "")
	}
	token, err := s.randomToken()
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	inv := &keywarden.Invite{ID: tokenHash(token), OrgID: v.Org.ID, Email: email, Role: role,
		CreatedAt: now, ExpiresAt: now.Add(inviteLifetime), CreatedBy: v.Principal.Actor}
	e, err := s.auditEvent(r, keywarden.AuditMemberInvited, "member", "", email+" ("+string(role)+")", "")
	if err != nil {
		return err
	}
	if err := s.members.CreateInvite(r.Context(), inv, e); err != nil {
		return err
	}
	v.Notice = "Invitation created. Copy the link and send it to " + email + "; it works once, for 7 days."
	return s.renderMembers(w, r, v, http.StatusOK, s.baseURL(r)+"/invite?token="+token)
}

// handleChangeRole changes a member's role. Only owners make or unmake
// owners; the store refuses to demote the last owner.
func (s *server) handleChangeRole(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Members", "settings", "members")
	if err != nil {
		return err
	}
	userID := r.PathValue("userId")
	role := keywarden.Role(r.PostFormValue("role"))
	m, err := s.orgs.FindMembership(r.Context(), v.Org.ID, userID)
	if err != nil {
		return err
	}
	switch {
	case role != keywarden.RoleOwner && role != keywarden.RoleAdmin && role != keywarden.RoleUser:
		return keywarden.Errorf(keywarden.EINVALID, "Choose owner, admin or user.")
	case (role == keywarden.RoleOwner || m.Role == keywarden.RoleOwner) && v.Principal.Role != keywarden.RoleOwner:
		return keywarden.Errorf(keywarden.EFORBIDDEN, "Only an owner can make or unmake owners.")
	}
	e, err := s.auditEvent(r, keywarden.AuditMemberRoleChanged, "member", userID, string(m.Role)+" → "+string(role), "")
	if err != nil {
		return err
	}
	if err := s.members.SetMemberRole(r.Context(), v.Org.ID, userID, role, e); err != nil {
		if keywarden.ErrorCode(err) == keywarden.ECONFLICT {
			v.Error = keywarden.ErrorMessage(err)
			return s.renderMembers(w, r, v, http.StatusConflict, "")
		}
		return err
	}
	return redirect(w, r, "/settings/members")
}

// handleRemoveMember removes a member, their process access and sessions.
// The last owner cannot be removed.
func (s *server) handleRemoveMember(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Members", "settings", "members")
	if err != nil {
		return err
	}
	userID := r.PathValue("userId")
	m, err := s.orgs.FindMembership(r.Context(), v.Org.ID, userID)
	if err != nil {
		return err
	}
	if m.Role == keywarden.RoleOwner && v.Principal.Role != keywarden.RoleOwner {
		return keywarden.Errorf(keywarden.EFORBIDDEN, "Only an owner can remove an owner.")
	}
	u, err := s.members.FindUserByID(r.Context(), userID)
	if err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditMemberRemoved, "member", userID, u.Email, "")
	if err != nil {
		return err
	}
	if err := s.members.RemoveMember(r.Context(), v.Org.ID, userID, e); err != nil {
		if keywarden.ErrorCode(err) == keywarden.ECONFLICT {
			v.Error = keywarden.ErrorMessage(err)
			return s.renderMembers(w, r, v, http.StatusConflict, "")
		}
		return err
	}
	s.setFlash(w, r, u.Email+" was removed from the organization.")
	return redirect(w, r, "/settings/members")
}

type auditView struct {
	Events []*keywarden.AuditEvent
	Pager  pager
}

const auditPageSize = 50

func (s *server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Audit log", "settings", "audit")
	if err != nil {
		return err
	}
	events, pg, err := findConsolePage(r, auditPageSize, func(page keywarden.Page) ([]*keywarden.AuditEvent, int, error) {
		return s.audit.FindAuditEvents(r.Context(), v.Org.ID, page)
	})
	if err != nil {
		return err
	}
	pg.Label, pg.Path = "Audit log pages", "/settings/audit"
	v.Data = auditView{Events: events, Pager: pg}
	return s.render(w, "settings_audit", v)
}

// pager is the "26–50 of 120" line under a paged console table, with its
// Newer and Older links (every paged table lists newest first).
type pager struct {
	Label  string // the navigation's accessible name
	Path   string // the page the links go to, with ?offset=
	Offset int
	Count  int // rows on this page
	Total  int
	Size   int
}

func (p pager) First() int       { return p.Offset + 1 }
func (p pager) Last() int        { return p.Offset + p.Count }
func (p pager) HasNewer() bool   { return p.Offset > 0 }
func (p pager) HasOlder() bool   { return p.Offset+p.Count < p.Total }
func (p pager) NewerOffset() int { return max(p.Offset-p.Size, 0) }
func (p pager) OlderOffset() int { return p.Offset + p.Size }

// Paged says whether the table has more than one page; one that fits on a
// page shows no pager.
func (p pager) Paged() bool { return p.Total > p.Size }

// findConsolePage reads the page of a console table that the request's
// offset parameter names. An offset that is not a number reads the first
// page, and one past the end (the last key of the last page was just
// deleted, or an old link) the last page, so that a table with rows is never
// shown empty.
func findConsolePage[T any](r *http.Request, size int, find func(keywarden.Page) ([]T, int, error)) ([]T, pager, error) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	items, total, err := find(keywarden.Page{Offset: offset, Limit: size})
	if err == nil && len(items) == 0 && offset > 0 && total > 0 {
		offset = (total - 1) / size * size
		items, total, err = find(keywarden.Page{Offset: offset, Limit: size})
	}
	if err != nil {
		return nil, pager{}, err
	}
	return items, pager{Offset: offset, Count: len(items), Total: total, Size: size}, nil
}
