package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
func (db *DB) FindUserByID(ctx context.Context, id string) (*keywarden.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, storeError("FindUserByID", err, userMessages)
	}
	return u, nil
}

const membershipColumns = `org_id, user_id, role`

func scanMembership(s scanner) (*keywarden.Membership, error) {
	var (
		m    keywarden.Membership
		role string
	)
	if err := s.Scan(&m.OrgID, &m.UserID, &role); err != nil {
		return nil, err
	}
	m.Role = keywarden.Role(role)
	return &m, nil
}

// FindUserMemberships returns every membership of the user, oldest first.
func (db *DB) FindUserMemberships(ctx context.Context, userID string) ([]*keywarden.Membership, error) {
	ms, err := findAll(ctx, db, `
		SELECT `+membershipColumns+` FROM memberships WHERE user_id = $1
		ORDER BY created_at, org_id`, []any{userID}, scanMembership)
	if err != nil {
		return nil, storeError("FindUserMemberships", err, messages{})
	}
	return ms, nil
}

func scanMember(s scanner) (*keywarden.Member, error) {
	var (
		m    keywarden.Member
		role string
	)
	if err := s.Scan(&m.UserID, &m.Email, &role); err != nil {
		return nil, err
	}
	m.Role = keywarden.Role(role)
	return &m, nil
}

// FindMembers returns one page of the organization's members with their
// emails, oldest first, and the total count.
func (db *DB) FindMembers(ctx context.Context, orgID string, page keywarden.Page) ([]*keywarden.Member, int, error) {
	members, total, err := findPage(ctx, db,
		`memberships JOIN users ON users.id = memberships.user_id`,
		`memberships.user_id, users.email, memberships.role`,
		`WHERE memberships.org_id = $1`,
		`memberships.created_at, memberships.user_id`,
		[]any{orgID}, page, scanMember)
	if err != nil {
		return nil, 0, storeError("FindMembers", err, messages{})
	}
	return members, total, nil
}

// keepAnOwner returns ECONFLICT when userID is the organization's last
// owner, whom the change about to be made in tx would take away, and a raw
// pgx.ErrNoRows when userID is not a member.
//
// SQLite serializes writers; PostgreSQL does not, so two owners demoting
// each other at once could each see the other as the remaining owner. This
// locks the organization's owner memberships and userID's until tx ends, in
// user ID order so that two such transactions cannot deadlock: the second
// waits for the first to commit, then re-reads the rows it locked, and so
// counts the owners as the first left them. FOR NO KEY UPDATE rather than
// FOR UPDATE lets foreign key checks (a new process grant for one of these
// members) proceed meanwhile. An owner promoted by a transaction that
// commits after this statement began is not counted: the count can only be
// low, which errs towards refusing.
func keepAnOwner(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	rows, err := tx.Query(ctx, `
		SELECT user_id, role FROM memberships
		WHERE org_id = $1 AND (role = 'owner' OR user_id = $2)
		ORDER BY user_id
		FOR NO KEY UPDATE`, orgID, userID)
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
		return pgx.ErrNoRows
	}
	if targetRole == string(keywarden.RoleOwner) && owners == 1 {
		return keywarden.Errorf(keywarden.ECONFLICT, "%s", lastOwner)
	}
	return nil
}

// SetMemberRole changes a member's role and records e. Demoting the last
// owner is ECONFLICT.
func (db *DB) SetMemberRole(ctx context.Context, orgID, userID string, role keywarden.Role, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		if role != keywarden.RoleOwner {
			if err := keepAnOwner(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `
			UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3`, string(role), orgID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(tag, membershipMessages.notFound); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("SetMemberRole", err, membershipMessages)
}

// RemoveMember removes a member, their process grants and their sessions of
// the organization, and records e, in one transaction: a removed member is
// signed out at once. The user stays, with any other memberships. Removing
// the last owner is ECONFLICT. The grants are deleted explicitly rather than
// left to the foreign key's cascade alone, as DeleteProcess does its keys.
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		if err := keepAnOwner(ctx, tx, orgID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM process_grants WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM sessions WHERE user_id = $1 AND org_id = $2`, userID, orgID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(tag, membershipMessages.notFound); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("RemoveMember", err, membershipMessages)
}

// CreateInvite stores inv and records e. An organization that does not
// exist is ENOTFOUND.
func (db *DB) CreateInvite(ctx context.Context, inv *keywarden.Invite, e *keywarden.AuditEvent) error {
	const op = "CreateInvite"
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO invites (id, org_id, email, role, created_at, expires_at,
				created_by_type, created_by_id, created_by_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			inv.ID, inv.OrgID, inv.Email, string(inv.Role), inv.CreatedAt, inv.ExpiresAt,
			inv.CreatedBy.Type, inv.CreatedBy.ID, inv.CreatedBy.Name)
		if err != nil {
			return storeError(op, err, messages{
				notFound: orgMessages.notFound,
				conflict: inviteMessages.conflict,
			})
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError(op, err, messages{})
}

const inviteColumns = `id, org_id, email, role, created_at, expires_at,
	created_by_type, created_by_id, created_by_name`

func scanInvite(s scanner) (*keywarden.Invite, error) {
	var (
		inv  keywarden.Invite
		role string
	)
	err := s.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.CreatedAt, &inv.ExpiresAt,
		&inv.CreatedBy.Type, &inv.CreatedBy.ID, &inv.CreatedBy.Name)
	if err != nil {
		return nil, err
	}
	inv.Role = keywarden.Role(role)
	inv.CreatedAt = utc(inv.CreatedAt)
	inv.ExpiresAt = utc(inv.ExpiresAt)
	return &inv, nil
}

// FindInvite returns the invite whose ID (token hash) is id, expired or not:
// the caller decides what an expired invite shows. It is not scoped to an
// organization because the token is the capability.
func (db *DB) FindInvite(ctx context.Context, id string) (*keywarden.Invite, error) {
	inv, err := scanInvite(db.pool.QueryRow(ctx,
		`SELECT `+inviteColumns+` FROM invites WHERE id = $1`, id))
	if err != nil {
		return nil, storeError("FindInvite", err, inviteMessages)
	}
	return inv, nil
}

// AcceptInvite consumes the invite and makes user a member of its
// organization with its role, from now, and records e, in one transaction.
// The user is created unless a user with that ID exists. An invite that is
// absent or expired at now is ENOTFOUND; a taken email, or a user who is
// already a member, is ECONFLICT, and then the invite is left for another
// try.
func (db *DB) AcceptInvite(ctx context.Context, inviteID string, user *keywarden.User, now time.Time, e *keywarden.AuditEvent) error {
	const op = "AcceptInvite"
	err := db.write(ctx, func(tx pgx.Tx) error {
		// Deleting first and in one statement makes the invite single-use:
		// a concurrent accept waits for the row lock this takes, then finds
		// the row gone (or, if this transaction rolls back, takes it).
		var orgID, role string
		err := tx.QueryRow(ctx, `
			DELETE FROM invites WHERE id = $1 AND expires_at > $2
			RETURNING org_id, role`, inviteID, now).Scan(&orgID, &role)
		if err != nil {
			return storeError(op, err, inviteMessages)
		}
		// An existing user is kept as they are; a new one whose email is
		// taken is a unique violation of the email, not of the ID.
		_, err = tx.Exec(ctx, `
			INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`,
			user.ID, user.Email, user.PasswordHash, user.CreatedAt)
		if err != nil {
			return storeError(op, err, userMessages)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			orgID, user.ID, role, now)
		if err != nil {
			return storeError(op, err, membershipMessages)
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError(op, err, messages{})
}

// SetProcessGrant creates or replaces a member's access to a process and
// records e. The schema's foreign keys refuse a process or a member of
// another organization: ENOTFOUND.
func (db *DB) SetProcessGrant(ctx context.Context, g *keywarden.ProcessGrant, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO process_grants (org_id, process_id, user_id, role) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, process_id, user_id) DO UPDATE SET role = excluded.role`,
			g.OrgID, g.ProcessID, g.UserID, string(g.Role))
		if err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("SetProcessGrant", err, grantMessages)
}

// RemoveProcessGrant removes a member's access to a process and records e.
func (db *DB) RemoveProcessGrant(ctx context.Context, orgID, processID, userID string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			DELETE FROM process_grants WHERE org_id = $1 AND process_id = $2 AND user_id = $3`,
			orgID, processID, userID)
		if err != nil {
			return err
		}
		if err := affectedOne(tag, "Access grant not found."); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("RemoveProcessGrant", err, messages{})
}

const grantColumns = `process_grants.org_id, process_grants.process_id, process_grants.user_id,
	users.email, process_grants.role`

func scanGrant(s scanner) (*keywarden.ProcessGrant, error) {
	var (
		g    keywarden.ProcessGrant
		role string
	)
	if err := s.Scan(&g.OrgID, &g.ProcessID, &g.UserID, &g.Email, &role); err != nil {
		return nil, err
	}
	g.Role = keywarden.ProcessRole(role)
	return &g, nil
}

// FindProcessGrants returns the grants of one process of the organization,
// by email.
func (db *DB) FindProcessGrants(ctx context.Context, orgID, processID string) ([]*keywarden.ProcessGrant, error) {
	grants, err := findAll(ctx, db, `
		SELECT `+grantColumns+`
		FROM process_grants JOIN users ON users.id = process_grants.user_id
		WHERE process_grants.org_id = $1 AND process_grants.process_id = $2
		ORDER BY users.email`, []any{orgID, processID}, scanGrant)
	if err != nil {
		return nil, storeError("FindProcessGrants", err, messages{})
	}
	return grants, nil
}

// FindUserGrants returns the grants of one member of the organization, in
// the order of their processes (oldest first).
func (db *DB) FindUserGrants(ctx context.Context, orgID, userID string) ([]*keywarden.ProcessGrant, error) {
	grants, err := findAll(ctx, db, `
		SELECT `+grantColumns+`
		FROM process_grants
		JOIN processes ON processes.org_id = process_grants.org_id AND processes.id = process_grants.process_id
		JOIN users ON users.id = process_grants.user_id
		WHERE process_grants.org_id = $1 AND process_grants.user_id = $2
		ORDER BY processes.created_at, processes.id`, []any{orgID, userID}, scanGrant)
	if err != nil {
		return nil, storeError("FindUserGrants", err, messages{})
	}
	return grants, nil
}
