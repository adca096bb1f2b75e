package metrics

import (
	"context"
	"time"

	"github.com/keywarden/keywarden"
)

// store measures every query of the Store it wraps. It forwards each method
// by hand instead of embedding the inner Store, so a method added to the
// interface fails to compile here rather than running unmeasured.
//
// Ping and Close are forwarded without metrics: neither is a query of
// Keywarden's data, and counting the /readyz probe's Ping would skew the
// queries-per-request figure the load test reads from StoreQueries.
type store struct {
	inner keywarden.Store
	m     *Metrics
}

var _ keywarden.Store = (*store)(nil)

// WrapStore returns s measured: each call counts in
// keywarden_store_queries_total and keywarden_store_query_duration_seconds
// under its method name, and a failure other than ENOTFOUND in
// keywarden_store_errors_total. Results and errors pass through unchanged.
func (m *Metrics) WrapStore(s keywarden.Store) keywarden.Store {
	return &store{inner: s, m: m}
}

// unmeasured names the Store methods the wrapper forwards without metrics.
func unmeasured(op string) bool { return op == "Ping" || op == "Close" }

// observe is deferred by every measured method with time.Now() evaluated at
// the defer, so it sees the start time and, through errp, the final error.
// Durations use the wall clock's monotonic reading, not an injected clock:
// they measure real work, not the domain's notion of now.
func (st *store) observe(op string, start time.Time, errp *error) {
	st.m.observeStore(op, time.Since(start), *errp)
}

func (st *store) Ping(ctx context.Context) error { return st.inner.Ping(ctx) }

func (st *store) Close() error { return st.inner.Close() }

// OrganizationStore methods.

func (st *store) CreateOrganization(ctx context.Context, org *keywarden.Organization, owner *keywarden.User) (err error) {
	defer st.observe("CreateOrganization", time.Now(), &err)
	return st.inner.CreateOrganization(ctx, org, owner)
}

func (st *store) FindOrganizationByID(ctx context.Context, id string) (_ *keywarden.Organization, err error) {
	defer st.observe("FindOrganizationByID", time.Now(), &err)
	return st.inner.FindOrganizationByID(ctx, id)
}

func (st *store) FindOrganizationByName(ctx context.Context, name string) (_ *keywarden.Organization, err error) {
	defer st.observe("FindOrganizationByName", time.Now(), &err)
	return st.inner.FindOrganizationByName(ctx, name)
}

func (st *store) FindOrganizations(ctx context.Context, page keywarden.Page) (_ []*keywarden.Organization, total int, err error) {
	defer st.observe("FindOrganizations", time.Now(), &err)
	return st.inner.FindOrganizations(ctx, page)
}

func (st *store) UpdateOrganization(ctx context.Context, org *keywarden.Organization, e *keywarden.AuditEvent) (err error) {
	defer st.observe("UpdateOrganization", time.Now(), &err)
	return st.inner.UpdateOrganization(ctx, org, e)
}

func (st *store) FindUserByEmail(ctx context.Context, email string) (_ *keywarden.User, err error) {
	defer st.observe("FindUserByEmail", time.Now(), &err)
	return st.inner.FindUserByEmail(ctx, email)
}

func (st *store) FindMembership(ctx context.Context, orgID, userID string) (_ *keywarden.Membership, err error) {
	defer st.observe("FindMembership", time.Now(), &err)
	return st.inner.FindMembership(ctx, orgID, userID)
}

// MemberStore methods.

func (st *store) FindUserByID(ctx context.Context, id string) (_ *keywarden.User, err error) {
	defer st.observe("FindUserByID", time.Now(), &err)
	return st.inner.FindUserByID(ctx, id)
}

func (st *store) FindUserMemberships(ctx context.Context, userID string) (_ []*keywarden.Membership, err error) {
	defer st.observe("FindUserMemberships", time.Now(), &err)
	return st.inner.FindUserMemberships(ctx, userID)
}

func (st *store) FindMembers(ctx context.Context, orgID string, page keywarden.Page) (_ []*keywarden.Member, total int, err error) {
	defer st.observe("FindMembers", time.Now(), &err)
	return st.inner.FindMembers(ctx, orgID, page)
}

func (st *store) SetMemberRole(ctx context.Context, orgID, userID string, role keywarden.Role, e *keywarden.AuditEvent) (err error) {
	defer st.observe("SetMemberRole", time.Now(), &err)
	return st.inner.SetMemberRole(ctx, orgID, userID, role, e)
}

func (st *store) RemoveMember(ctx context.Context, orgID, userID string, e *keywarden.AuditEvent) (err error) {
	defer st.observe("RemoveMember", time.Now(), &err)
	return st.inner.RemoveMember(ctx, orgID, userID, e)
}

func (st *store) CreateInvite(ctx context.Context, inv *keywarden.Invite, e *keywarden.AuditEvent) (err error) {
	defer st.observe("CreateInvite", time.Now(), &err)
	return st.inner.CreateInvite(ctx, inv, e)
}

func (st *store) FindInvite(ctx context.Context, id string) (_ *keywarden.Invite, err error) {
	defer st.observe("FindInvite", time.Now(), &err)
	return st.inner.FindInvite(ctx, id)
}

func (st *store) AcceptInvite(ctx context.Context, inviteID string, user *keywarden.User, now time.Time, e *keywarden.AuditEvent) (err error) {
	defer st.observe("AcceptInvite", time.Now(), &err)
	return st.inner.AcceptInvite(ctx, inviteID, user, now, e)
}

func (st *store) SetProcessGrant(ctx context.Context, g *keywarden.ProcessGrant, e *keywarden.AuditEvent) (err error) {
	defer st.observe("SetProcessGrant", time.Now(), &err)
	return st.inner.SetProcessGrant(ctx, g, e)
}

func (st *store) RemoveProcessGrant(ctx context.Context, orgID, processID, userID string, e *keywarden.AuditEvent) (err error) {
	defer st.observe("RemoveProcessGrant", time.Now(), &err)
	return st.inner.RemoveProcessGrant(ctx, orgID, processID, userID, e)
}

func (st *store) FindProcessGrants(ctx context.Context, orgID, processID string) (_ []*keywarden.ProcessGrant, err error) {
	defer st.observe("FindProcessGrants", time.Now(), &err)
	return st.inner.FindProcessGrants(ctx, orgID, processID)
}

func (st *store) FindUserGrants(ctx context.Context, orgID, userID string) (_ []*keywarden.ProcessGrant, err error) {
	defer st.observe("FindUserGrants", time.Now(), &err)
	return st.inner.FindUserGrants(ctx, orgID, userID)
}

// ProcessStore methods.

func (st *store) CreateProcess(ctx context.Context, p *keywarden.Process, e *keywarden.AuditEvent) (err error) {
	defer st.observe("CreateProcess", time.Now(), &err)
	return st.inner.CreateProcess(ctx, p, e)
}

func (st *store) FindProcess(ctx context.Context, orgID, id string) (_ *keywarden.Process, err error) {
	defer st.observe("FindProcess", time.Now(), &err)
	return st.inner.FindProcess(ctx, orgID, id)
}

func (st *store) FindProcesses(ctx context.Context, f keywarden.ProcessFilter) (_ []*keywarden.Process, total int, err error) {
	defer st.observe("FindProcesses", time.Now(), &err)
	return st.inner.FindProcesses(ctx, f)
}

func (st *store) RenameProcess(ctx context.Context, orgID, id, name string, now time.Time, e *keywarden.AuditEvent) (_ *keywarden.Process, err error) {
	defer st.observe("RenameProcess", time.Now(), &err)
	return st.inner.RenameProcess(ctx, orgID, id, name, now, e)
}

func (st *store) DeleteProcess(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) (err error) {
	defer st.observe("DeleteProcess", time.Now(), &err)
	return st.inner.DeleteProcess(ctx, orgID, id, e)
}

// APIKeyStore methods.

func (st *store) CreateAPIKey(ctx context.Context, k *keywarden.APIKey, e *keywarden.AuditEvent) (err error) {
	defer st.observe("CreateAPIKey", time.Now(), &err)
	return st.inner.CreateAPIKey(ctx, k, e)
}

func (st *store) FindAPIKey(ctx context.Context, orgID, id string) (_ *keywarden.APIKey, err error) {
	defer st.observe("FindAPIKey", time.Now(), &err)
	return st.inner.FindAPIKey(ctx, orgID, id)
}

func (st *store) FindAPIKeyByUser(ctx context.Context, user string) (_ *keywarden.APIKey, err error) {
	defer st.observe("FindAPIKeyByUser", time.Now(), &err)
	return st.inner.FindAPIKeyByUser(ctx, user)
}

func (st *store) FindAPIKeys(ctx context.Context, f keywarden.APIKeyFilter) (_ []*keywarden.APIKey, total int, err error) {
	defer st.observe("FindAPIKeys", time.Now(), &err)
	return st.inner.FindAPIKeys(ctx, f)
}

func (st *store) DeleteAPIKey(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) (err error) {
	defer st.observe("DeleteAPIKey", time.Now(), &err)
	return st.inner.DeleteAPIKey(ctx, orgID, id, e)
}

func (st *store) TouchAPIKey(ctx context.Context, user string, at time.Time) (err error) {
	defer st.observe("TouchAPIKey", time.Now(), &err)
	return st.inner.TouchAPIKey(ctx, user, at)
}

// SessionStore methods.

func (st *store) CreateSession(ctx context.Context, s *keywarden.Session) (err error) {
	defer st.observe("CreateSession", time.Now(), &err)
	return st.inner.CreateSession(ctx, s)
}

func (st *store) FindSession(ctx context.Context, id string) (_ *keywarden.Session, err error) {
	defer st.observe("FindSession", time.Now(), &err)
	return st.inner.FindSession(ctx, id)
}

func (st *store) DeleteSession(ctx context.Context, id string) (err error) {
	defer st.observe("DeleteSession", time.Now(), &err)
	return st.inner.DeleteSession(ctx, id)
}

func (st *store) DeleteExpiredSessions(ctx context.Context, now time.Time) (err error) {
	defer st.observe("DeleteExpiredSessions", time.Now(), &err)
	return st.inner.DeleteExpiredSessions(ctx, now)
}

// AuditStore methods.

func (st *store) FindAuditEvents(ctx context.Context, orgID string, page keywarden.Page) (_ []*keywarden.AuditEvent, total int, err error) {
	defer st.observe("FindAuditEvents", time.Now(), &err)
	return st.inner.FindAuditEvents(ctx, orgID, page)
}

func (st *store) KeyChangesSince(ctx context.Context, after int64, limit int) (_ []keywarden.KeyChange, err error) {
	defer st.observe("KeyChangesSince", time.Now(), &err)
	return st.inner.KeyChangesSince(ctx, after, limit)
}

func (st *store) LatestKeyChange(ctx context.Context) (_ int64, err error) {
	defer st.observe("LatestKeyChange", time.Now(), &err)
	return st.inner.LatestKeyChange(ctx)
}
