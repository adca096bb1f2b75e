package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

var (
	inviteMessages = messages{
		notFound: "Invite not found or expired.",
		conflict: "An invite with that ID already exists.",
	}
	grantMessages = messages{
		// A foreign key does not say which parent is missing.
		notFound: "Process or member not found.",
	}
)

// lastOwner is the conflict of a change that would leave an organization
// without an owner.
const lastOwner = "An organization must keep at least one owner."

// FindUserByID returns the user with the given ID.
func (s *Store) FindUserByID(ctx context.Context, id string) (_ *keywarden.User, err error) {
	const op = "FindUserByID"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	u, err := scanUser(s.queryRow(ctx, s.db,
		`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, s.storeError(op, err, userMessages)
	}
	return u, nil
}

const membershipColumns = `org_id, user_id, role`

func scanMembership(r scanner) (*keywarden.Membership, error) {
	var (
		m    keywarden.Membership
		role string
	)
	if err := r.Scan(&m.OrgID, &m.UserID, &role); err != nil {
		return nil, err
	}
	m.Role = keywarden.Role(role)
	return &m, nil
}

// FindUserMemberships returns every membership of the user, oldest first.
func (s *Store) FindUserMemberships(ctx context.Context, userID string) (_ []*keywarden.Membership, err error) {
	const op = "FindUserMemberships"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	ms, err := findAll(ctx, s, `
		SELECT `+membershipColumns+` FROM memberships WHERE user_id = ?
		ORDER BY created_at, org_id`, []any{userID}, scanMembership)
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return ms, nil
}

func scanMember(r scanner) (*keywarden.Member, error) {
	var (
		m    keywarden.Member
		role string
	)
	if err := r.Scan(&m.UserID, &m.Email, &role); err != nil {
		return nil, err
	}
	m.Role = keywarden.Role(role)
	return &m, nil
}

// FindMembers returns one page of the organization's members with their
// emails, oldest first, and the total count.
func (s *Store) FindMembers(ctx context.Context, orgID string, page keywarden.Page) (_ []*keywarden.Member, _ int, err error) {
	const op = "FindMembers"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	members, total, err := findPage(ctx, s,
		`memberships JOIN users ON users.id = memberships.user_id`,
		`memberships.user_id, users.email, memberships.role`,
		`WHERE memberships.org_id = ?`,
		`memberships.created_at, memberships.user_id`,
		[]any{orgID}, page, scanMember)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return members, total, nil
}

// keepAnOwner returns ECONFLICT when userID is the organization's last
// owner, whom the change about to be made in tx would take away, and a raw
// sql.ErrNoRows when userID is not a member.
//
// SQLite serializes writers (BEGIN IMMEDIATE), so no other transaction can
// remove another owner between this check and the change. PostgreSQL does
// not, so two owners demoting each other at once could each see the other
// as the remaining owner: there the dialect's LockRows (FOR NO KEY UPDATE)
// locks the organization's owner memberships and userID's until tx ends, in
// user ID order so that two such transactions cannot deadlock: the second
// waits for the first to commit, then re-reads the rows it locked, and so
// counts the owners as the first left them. FOR NO KEY UPDATE rather than
// FOR UPDATE lets foreign key checks (a new process grant for one of these
// members) proceed meanwhile. An owner promoted by a transaction that
// commits after this statement began is not counted: the count can only be
// low, which errs towards refusing.
func (s *Store) keepAnOwner(ctx context.Context, tx *sql.Tx, orgID, userID string) error {
	rows, err := s.query(ctx, tx, `
		SELECT user_id, role FROM memberships
		WHERE org_id = ? AND (role = 'owner' OR user_id = ?)
		ORDER BY user_id`+s.d.LockRows(), orgID, userID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		owners     int
		member     bool
		targetRole string
	)
	for rows.Next() {
		var id, role string
		if err := rows.Scan(&id, &role); err != nil {
			return err
		}
		if role == string(keywarden.RoleOwner) {
			owners++
		}
		if id == userID {
			member, targetRole = true, role
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !member {
		return sql.ErrNoRows
	}
	if targetRole == string(keywarden.RoleOwner) && owners == 1 {
		return keywarden.Errorf(keywarden.ECONFLICT, "%s", lastOwner)
	}
	return nil
}

// SetMemberRole changes a member's role and records e. Demoting the last
// owner is ECONFLICT.
func (s *Store) SetMemberRole(ctx context.Context, orgID, userID string, role keywarden.Role, e *keywarden.AuditEvent) (err error) {
	const op = "SetMemberRole"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		if role != keywarden.RoleOwner {
			if err := s.keepAnOwner(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		res, err := s.exec(ctx, tx, `
			UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?`, string(role), orgID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, membershipMessages.notFound); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, membershipMessages)
}

// RemoveMember removes a member, their process grants and their sessions of
// the organization, and records e, in one transaction: a removed member is
// signed out at once. The user stays, with any other memberships. Removing
// the last owner is ECONFLICT. The grants are deleted explicitly rather than
// left to the foreign key's cascade alone, as DeleteProcess does its keys.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID string, e *keywarden.AuditEvent) (err error) {
	const op = "RemoveMember"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := s.keepAnOwner(ctx, tx, orgID, userID); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `
			DELETE FROM process_grants WHERE org_id = ? AND user_id = ?`, orgID, userID); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `
			DELETE FROM sessions WHERE user_id = ? AND org_id = ?`, userID, orgID); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `
			DELETE FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, membershipMessages.notFound); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, membershipMessages)
}

// SetUserPassword replaces the user's password hash, deletes every session
// of theirs and records events, in one transaction.
func (s *Store) SetUserPassword(ctx context.Context, userID, passwordHash string, events []*keywarden.AuditEvent) (err error) {
	const op = "SetUserPassword"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `
			UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, userMessages.notFound); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `
			DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, e := range events {
			if err := s.insertAuditEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	return s.storeError(op, err, userMessages)
}

// CreateInvite stores inv and records e. An organization that does not
// exist is ENOTFOUND.
func (s *Store) CreateInvite(ctx context.Context, inv *keywarden.Invite, e *keywarden.AuditEvent) (err error) {
	const op = "CreateInvite"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `
			INSERT INTO invites (id, org_id, email, role, created_at, expires_at,
				created_by_type, created_by_id, created_by_name)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.OrgID, inv.Email, string(inv.Role), s.d.Time(inv.CreatedAt), s.d.Time(inv.ExpiresAt),
			inv.CreatedBy.Type, inv.CreatedBy.ID, inv.CreatedBy.Name)
		if err != nil {
			return s.storeError(op, err, messages{
				notFound: orgMessages.notFound,
				conflict: inviteMessages.conflict,
			})
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, messages{})
}

const inviteColumns = `id, org_id, email, role, created_at, expires_at,
	created_by_type, created_by_id, created_by_name`

func scanInvite(r scanner) (*keywarden.Invite, error) {
	var (
		inv  keywarden.Invite
		role string
	)
	err := r.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, TimeDest{&inv.CreatedAt}, TimeDest{&inv.ExpiresAt},
		&inv.CreatedBy.Type, &inv.CreatedBy.ID, &inv.CreatedBy.Name)
	if err != nil {
		return nil, err
	}
	inv.Role = keywarden.Role(role)
	return &inv, nil
}

// FindInvite returns the invite whose ID (token hash) is id, expired or not:
// the caller decides what an expired invite shows. It is not scoped to an
// organization because the token is the capability.
func (s *Store) FindInvite(ctx context.Context, id string) (_ *keywarden.Invite, err error) {
	const op = "FindInvite"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	inv, err := scanInvite(s.queryRow(ctx, s.db,
		`SELECT `+inviteColumns+` FROM invites WHERE id = ?`, id))
	if err != nil {
		return nil, s.storeError(op, err, inviteMessages)
	}
	return inv, nil
}

// AcceptInvite consumes the invite and makes user a member of its
// organization with its role, from now, and records e, in one transaction.
// The user is created unless a user with that ID exists. An invite that is
// absent or expired at now is ENOTFOUND; a taken email, or a user who is
// already a member, is ECONFLICT, and then the invite is left for another
// try.
func (s *Store) AcceptInvite(ctx context.Context, inviteID string, user *keywarden.User, now time.Time, e *keywarden.AuditEvent) (err error) {
	const op = "AcceptInvite"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		// Deleting first and in one statement makes the invite single-use:
		// on PostgreSQL a concurrent accept waits for the row lock this
		// takes, then finds the row gone (or, if this transaction rolls
		// back, takes it); a later failure rolls the deletion back.
		var orgID, role string
		err := s.queryRow(ctx, tx, `
			DELETE FROM invites WHERE id = ? AND expires_at > ?
			RETURNING org_id, role`, inviteID, s.d.Time(now)).Scan(&orgID, &role)
		if err != nil {
			return s.storeError(op, err, inviteMessages)
		}
		// An existing user is kept as they are; a new one whose email is
		// taken is a unique violation of the email, not of the ID.
		_, err = s.exec(ctx, tx, `
			INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			user.ID, user.Email, user.PasswordHash, s.d.Time(user.CreatedAt))
		if err != nil {
			return s.storeError(op, err, userMessages)
		}
		_, err = s.exec(ctx, tx, `
			INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
			orgID, user.ID, role, s.d.Time(now))
		if err != nil {
			return s.storeError(op, err, membershipMessages)
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, messages{})
}

// SetProcessGrant creates or replaces a member's access to a process and
// records e. The schema's foreign keys refuse a process or a member of
// another organization: ENOTFOUND.
func (s *Store) SetProcessGrant(ctx context.Context, g *keywarden.ProcessGrant, e *keywarden.AuditEvent) (err error) {
	const op = "SetProcessGrant"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `
			INSERT INTO process_grants (org_id, process_id, user_id, role) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, process_id, user_id) DO UPDATE SET role = excluded.role`,
			g.OrgID, g.ProcessID, g.UserID, string(g.Role))
		if err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, grantMessages)
}

// RemoveProcessGrant removes a member's access to a process and records e.
func (s *Store) RemoveProcessGrant(ctx context.Context, orgID, processID, userID string, e *keywarden.AuditEvent) (err error) {
	const op = "RemoveProcessGrant"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `
			DELETE FROM process_grants WHERE org_id = ? AND process_id = ? AND user_id = ?`,
			orgID, processID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, "Access grant not found."); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, messages{})
}

const grantColumns = `process_grants.org_id, process_grants.process_id, process_grants.user_id,
	users.email, process_grants.role`

func scanGrant(r scanner) (*keywarden.ProcessGrant, error) {
	var (
		g    keywarden.ProcessGrant
		role string
	)
	if err := r.Scan(&g.OrgID, &g.ProcessID, &g.UserID, &g.Email, &role); err != nil {
		return nil, err
	}
	g.Role = keywarden.ProcessRole(role)
	return &g, nil
}

// FindProcessGrants returns the grants of one process of the organization,
// by email.
func (s *Store) FindProcessGrants(ctx context.Context, orgID, processID string) (_ []*keywarden.ProcessGrant, err error) {
	const op = "FindProcessGrants"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	grants, err := findAll(ctx, s, `
		SELECT `+grantColumns+`
		FROM process_grants JOIN users ON users.id = process_grants.user_id
		WHERE process_grants.org_id = ? AND process_grants.process_id = ?
		ORDER BY users.email`, []any{orgID, processID}, scanGrant)
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return grants, nil
}

// FindUserGrants returns the grants of one member of the organization, in
// the order of their processes (oldest first).
func (s *Store) FindUserGrants(ctx context.Context, orgID, userID string) (_ []*keywarden.ProcessGrant, err error) {
	const op = "FindUserGrants"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	grants, err := findAll(ctx, s, `
		SELECT `+grantColumns+`
		FROM process_grants
		JOIN processes ON processes.org_id = process_grants.org_id AND processes.id = process_grants.process_id
		JOIN users ON users.id = process_grants.user_id
		WHERE process_grants.org_id = ? AND process_grants.user_id = ?
		ORDER BY processes.created_at, processes.id`, []any{orgID, userID}, scanGrant)
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return grants, nil
}
