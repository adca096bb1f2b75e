package keywarden

import (
	"context"
	"time"
)

// ProcessRole is a member's role in one process: managers also manage the
// process's API keys and settings.
type ProcessRole string

const (
	ProcessManager ProcessRole = "manager"
	ProcessUser    ProcessRole = "user"
)

// Member is a membership with its user's email, as the console lists it.
type Member struct {
	UserID string
	Email  string
	Role   Role
}

// ProcessGrant gives a user-role member access to one process.
type ProcessGrant struct {
	OrgID     string
	ProcessID string
	UserID    string
	Email     string // filled in by the store when reading
	Role      ProcessRole
}

// Invite lets the holder of a one-time link join an organization. ID is the
// SHA-256 (hex) of the link's token: the token itself is never stored.
type Invite struct {
	ID        string
	OrgID     string
	Email     string
	Role      Role
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy Actor
}

// MemberStore keeps the people of organizations and their access.
type MemberStore interface {
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserMemberships returns every membership of the user, oldest first.
	FindUserMemberships(ctx context.Context, userID string) ([]*Membership, error)
	// FindMembers returns one page of an organization's members, oldest
	// first, and the total.
	FindMembers(ctx context.Context, orgID string, page Page) ([]*Member, int, error)
	// SetMemberRole changes a member's role. Demoting the last owner is
	// ECONFLICT: an organization always keeps an owner.
	SetMemberRole(ctx context.Context, orgID, userID string, role Role, e *AuditEvent) error
	// RemoveMember removes a member, their process grants and their sessions
	// in the organization. Removing the last owner is ECONFLICT.
	RemoveMember(ctx context.Context, orgID, userID string, e *AuditEvent) error
	// SetUserPassword replaces the user's password hash and ends every
	// session of theirs, in every organization, recording events (one per
	// organization the user belongs to): a password reset because it leaked
	// must also sign out whoever used it. An unknown user is ENOTFOUND.
	SetUserPassword(ctx context.Context, userID, passwordHash string, events []*AuditEvent) error

	CreateInvite(ctx context.Context, inv *Invite, e *AuditEvent) error
	// FindInvite returns the invite whose ID (token hash) is id, expired or
	// not: the caller checks ExpiresAt.
	FindInvite(ctx context.Context, id string) (*Invite, error)
	// AcceptInvite consumes the invite (ENOTFOUND if absent or expired at now)
	// and makes user a member with the invite's role, creating the user when
	// no user has that ID yet. A user who is already a member is ECONFLICT.
	AcceptInvite(ctx context.Context, inviteID string, user *User, now time.Time, e *AuditEvent) error

	// SetProcessGrant creates or replaces the member's access to a process.
	SetProcessGrant(ctx context.Context, g *ProcessGrant, e *AuditEvent) error
	RemoveProcessGrant(ctx context.Context, orgID, processID, userID string, e *AuditEvent) error
	// FindProcessGrants returns the grants of one process, by email.
	FindProcessGrants(ctx context.Context, orgID, processID string) ([]*ProcessGrant, error)
	// FindUserGrants returns the grants of one member in an organization.
	FindUserGrants(ctx context.Context, orgID, userID string) ([]*ProcessGrant, error)
}

// ProcessScopes returns the scopes a process role holds on its process:
// managers every process-level scope, users everything but managing keys
// and changing the process.
func (c *Catalogue) ProcessScopes(role ProcessRole) []Scope {
	all := c.ForLevel(LevelProcess)
	if role == ProcessManager {
		return all
	}
	var out []Scope
	for _, s := range all {
		if s != ScopeProcessAPIKeyManage && s != ScopeProcessUpdate {
			out = append(out, s)
		}
	}
	return out
}
