// Package storetest is the conformance suite every keywarden.Store must pass,
// so that the SQLite and PostgreSQL stores behave the same: the same error
// codes, the same tenant isolation, the same ordering and the same exact
// round trip of every field.
//
// A store's own tests call Run with a function that returns a fresh, empty,
// migrated store. Its helpers (New…, MustCreate…) are exported for other
// packages' tests that need a populated store.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// Run runs the suite. newStore must return an empty store, independent of
// every other store it returns, because the subtests run in parallel; it
// should close the store in t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Run("Organizations", func(t *testing.T) { testOrganizations(t, newStore) })
	t.Run("Processes", func(t *testing.T) { testProcesses(t, newStore) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, newStore) })
	t.Run("DeleteAPIKeyIsConfined", func(t *testing.T) { testDeleteAPIKeyIsConfined(t, newStore) })
	t.Run("RevokeAPIKeys", func(t *testing.T) { testRevokeAPIKeys(t, newStore) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, newStore) })
	t.Run("UpdateAPIKey", func(t *testing.T) { testUpdateAPIKey(t, newStore) })
	t.Run("FindAPIKeysExpiring", func(t *testing.T) { testFindAPIKeysExpiring(t, newStore) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, newStore) })
	t.Run("RedeliverWebhookDelivery", func(t *testing.T) { testRedeliverWebhookDelivery(t, newStore) })
	t.Run("ExpiryReminders", func(t *testing.T) { testExpiryReminders(t, newStore) })
	t.Run("KeyUsage", func(t *testing.T) { testKeyUsage(t, newStore) })
	t.Run("Members", func(t *testing.T) { testMembers(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("AuditEventsAfterACursor", func(t *testing.T) { testAuditEventsAfter(t, newStore) })
	t.Run("KeyChanges", func(t *testing.T) { testKeyChanges(t, newStore) })
	t.Run("KeyChangingMethodsAreLogged", func(t *testing.T) { testKeyChangingMethodsAreLogged(t, newStore) })
	t.Run("KeyChangesFollowedDuringConcurrentDeletions", func(t *testing.T) { testKeyChangeFollower(t, newStore) })
	t.Run("PingSucceeds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// At returns the suite's fixed time plus n seconds. The base has
// microseconds, the precision every store must keep.
func At(n int) time.Time {
	return time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(time.Duration(n) * time.Second)
}

// MustNewID returns a new random ID.
func MustNewID(tb testing.TB) string {
	tb.Helper()
	id, err := keywarden.NewID(nil)
	if err != nil {
		tb.Fatalf("NewID: %v", err)
	}
	return id
}

// NewOrganization returns an organization with a unique name, not yet stored.
func NewOrganization(tb testing.TB) *keywarden.Organization {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.Organization{
		ID:             id,
		Name:           "Org " + id[:12],
		MaxKeyLifetime: 90 * 24 * time.Hour,
		CreatedAt:      At(0),
	}
}

// NewUser returns a user with a unique email, not yet stored.
func NewUser(tb testing.TB) *keywarden.User {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.User{
		ID:           id,
		Email:        "owner-" + id[:12] + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		CreatedAt:    At(0),
	}
}

// MustCreateOrganization stores a new organization with a new owner.
func MustCreateOrganization(tb testing.TB, s keywarden.Store) (*keywarden.Organization, *keywarden.User) {
	tb.Helper()
	org, owner := NewOrganization(tb), NewUser(tb)
	if err := s.CreateOrganization(context.Background(), org, owner, nil); err != nil {
		tb.Fatalf("CreateOrganization: %v", err)
	}
	return org, owner
}

// NewProcess returns a process of orgID created at createdAt, not yet stored.
func NewProcess(tb testing.TB, orgID string, createdAt time.Time) *keywarden.Process {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.Process{
		ID:            id,
		OrgID:         orgID,
		Name:          "Invoices " + id[:8],
		ProcessTypeID: "invoices",
		CreatedAt:     createdAt,
		UpdatedAt:     createdAt,
	}
}

// MustCreateProcess stores a new process of orgID created at createdAt.
func MustCreateProcess(tb testing.TB, s keywarden.Store, orgID string, createdAt time.Time) *keywarden.Process {
	tb.Helper()
	p := NewProcess(tb, orgID, createdAt)
	if err := s.CreateProcess(context.Background(), p, nil); err != nil {
		tb.Fatalf("CreateProcess: %v", err)
	}
	return p
}

// NewAPIKey returns a key of orgID (and of processID when not empty)
// created at createdAt, not yet stored. Its scopes are deliberately not in
// catalogue order, to show that a store keeps the order it was given.
func NewAPIKey(tb testing.TB, orgID, processID string, createdAt time.Time) *keywarden.APIKey {
	tb.Helper()
	prefix := keywarden.DefaultOrgKeyPrefix
	scopes := []keywarden.Scope{"workspace.file:upload", keywarden.ScopeAdminAPIKeyManage, keywarden.ScopeProcessRead}
	if processID != "" {
		prefix = keywarden.DefaultProcessKeyPrefix
		scopes = []keywarden.Scope{"workspace.result:read", "workspace.file:upload", keywarden.ScopeProcessRead}
	}
	km, err := keywarden.GenerateKey(nil, prefix)
	if err != nil {
		tb.Fatalf("GenerateKey: %v", err)
	}
	id := MustNewID(tb)
	return &keywarden.APIKey{
		ID:         id,
		OrgID:      orgID,
		ProcessID:  processID,
		Name:       "CI upload " + id[:8],
		User:       km.User,
		SecretHash: km.Hash(),
		Scopes:     scopes,
		CreatedAt:  createdAt,
		CreatedBy:  keywarden.Actor{Type: keywarden.ActorUser, ID: MustNewID(tb), Name: "Ada Lovelace"},
		ExpiresAt:  createdAt.Add(90*24*time.Hour + 1500*time.Microsecond),
	}
}

// MustCreateAPIKey stores a new key of orgID (and of processID when not
// empty) created at createdAt.
func MustCreateAPIKey(tb testing.TB, s keywarden.Store, orgID, processID string, createdAt time.Time) *keywarden.APIKey {
	tb.Helper()
	k := NewAPIKey(tb, orgID, processID, createdAt)
	if err := s.CreateAPIKey(context.Background(), k, nil); err != nil {
		tb.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}

// NewInvite returns an invite to orgID with role, created at createdAt and
// valid for a week, not yet stored. Its ID stands for a token's hash.
func NewInvite(tb testing.TB, orgID string, role keywarden.Role, createdAt time.Time) *keywarden.Invite {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.Invite{
		ID:        id + id, // 64 hex characters, as a SHA-256
		OrgID:     orgID,
		Email:     "invitee-" + id[:12] + "@example.com",
		Role:      role,
		CreatedAt: createdAt,
		ExpiresAt: createdAt.Add(7*24*time.Hour + 1500*time.Microsecond),
		CreatedBy: keywarden.Actor{Type: keywarden.ActorUser, ID: MustNewID(tb), Name: "Ada Lovelace"},
	}
}

// MustCreateInvite stores a new invite to orgID with role, created at
// createdAt.
func MustCreateInvite(tb testing.TB, s keywarden.Store, orgID string, role keywarden.Role, createdAt time.Time) *keywarden.Invite {
	tb.Helper()
	inv := NewInvite(tb, orgID, role, createdAt)
	if err := s.CreateInvite(context.Background(), inv, nil); err != nil {
		tb.Fatalf("CreateInvite: %v", err)
	}
	return inv
}

// MustJoin makes u a member of orgID with role from joinedAt, through an
// invite (the only way in), creating u when it is new.
func MustJoin(tb testing.TB, s keywarden.Store, orgID string, u *keywarden.User, role keywarden.Role, joinedAt time.Time) {
	tb.Helper()
	inv := MustCreateInvite(tb, s, orgID, role, joinedAt)
	if err := s.AcceptInvite(context.Background(), inv.ID, u, joinedAt, nil); err != nil {
		tb.Fatalf("AcceptInvite: %v", err)
	}
}

// MustAddMember makes a new user a member of orgID with role from joinedAt.
func MustAddMember(tb testing.TB, s keywarden.Store, orgID string, role keywarden.Role, joinedAt time.Time) *keywarden.User {
	tb.Helper()
	u := NewUser(tb)
	u.CreatedAt = joinedAt
	MustJoin(tb, s, orgID, u, role, joinedAt)
	return u
}

// MustSetProcessGrant gives u role on process p and returns the grant as a
// store must read it back: with u's email.
func MustSetProcessGrant(tb testing.TB, s keywarden.Store, p *keywarden.Process, u *keywarden.User, role keywarden.ProcessRole) *keywarden.ProcessGrant {
	tb.Helper()
	g := &keywarden.ProcessGrant{OrgID: p.OrgID, ProcessID: p.ID, UserID: u.ID, Role: role}
	if err := s.SetProcessGrant(context.Background(), g, nil); err != nil {
		tb.Fatalf("SetProcessGrant: %v", err)
	}
	g.Email = u.Email
	return g
}

// NewSession returns a session of userID in orgID created at createdAt and
// valid for 12 hours, not yet stored. Its ID stands for a token's hash.
func NewSession(tb testing.TB, userID, orgID string, createdAt time.Time) *keywarden.Session {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.Session{
		ID:        id + id,
		UserID:    userID,
		OrgID:     orgID,
		CSRFToken: MustNewID(tb),
		CreatedAt: createdAt,
		ExpiresAt: createdAt.Add(12*time.Hour + 1500*time.Microsecond),
	}
}

// MustCreateSession stores a new session of userID in orgID created at
// createdAt.
func MustCreateSession(tb testing.TB, s keywarden.Store, userID, orgID string, createdAt time.Time) *keywarden.Session {
	tb.Helper()
	sess := NewSession(tb, userID, orgID, createdAt)
	if err := s.CreateSession(context.Background(), sess); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return sess
}

// NewAuditEvent returns an event of orgID at at with every field filled, as
// a caller must, for a store to write with a change.
func NewAuditEvent(tb testing.TB, orgID, action string, at time.Time) *keywarden.AuditEvent {
	tb.Helper()
	id := MustNewID(tb)
	return &keywarden.AuditEvent{
		ID:         id,
		OrgID:      orgID,
		At:         at,
		Actor:      keywarden.Actor{Type: keywarden.ActorUser, ID: MustNewID(tb), Name: "ada@example.com"},
		Action:     action,
		TargetType: "process",
		TargetID:   MustNewID(tb),
		TargetName: "Invoices " + id[:8],
		ProcessID:  MustNewID(tb),
		RemoteAddr: "192.0.2.7:51234",
		// Not ASCII, so that a store that mangles UTF-8 is caught.
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 ünïcødé",
	}
}

// wantAuditEvents fails tb unless the organization's audit log is exactly
// want, newest first.
func wantAuditEvents(tb testing.TB, s keywarden.Store, orgID string, want ...*keywarden.AuditEvent) {
	tb.Helper()
	events, total, err := s.FindAuditEvents(context.Background(), orgID, keywarden.Page{Limit: keywarden.MaxPageLimit})
	wantPage(tb, "FindAuditEvents", events, total, err, want, len(want))
}

// wantCode fails tb unless err carries the domain error code want.
func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if err == nil {
		tb.Errorf("got no error, want code %q", want)
	} else if got := keywarden.ErrorCode(err); got != want {
		tb.Errorf("got error %v (code %q), want code %q", err, got, want)
	}
}

// wantEqual fails tb unless got and want are deeply equal. Times compare
// deeply equal only when they are the same instant, both in UTC, so this
// checks that a store returns UTC and keeps every microsecond.
func wantEqual(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show formats v with one line per element of a slice.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Sprintf("%+v", deref(v))
	}
	s := fmt.Sprintf("%d items", rv.Len())
	for i := 0; i < rv.Len(); i++ {
		s += fmt.Sprintf("\n   [%d] %+v", i, deref(rv.Index(i).Interface()))
	}
	return s
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

// wantPage fails tb unless a list call returned want (in order) and total.
func wantPage[T any](tb testing.TB, what string, got []T, gotTotal int, err error, want []T, wantTotal int) {
	tb.Helper()
	if err != nil {
		tb.Errorf("%s: %v", what, err)
		return
	}
	if gotTotal != wantTotal {
		tb.Errorf("%s: total = %d, want %d", what, gotTotal, wantTotal)
	}
	if len(got) == 0 && len(want) == 0 {
		return // nil and empty are the same list
	}
	wantEqual(tb, what, got, want)
}

// DeleteAPIKey deletes the key id of orgID, of either level, as the
// command line does, and returns only the error.
func DeleteAPIKey(ctx context.Context, s keywarden.APIKeyStore, orgID, id string, e *keywarden.AuditEvent) error {
	_, err := s.DeleteAPIKey(ctx, keywarden.APIKeyRef{OrgID: orgID, ID: id}, e)
	return err
}
