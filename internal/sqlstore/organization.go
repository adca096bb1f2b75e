package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

var (
	orgMessages = messages{
		notFound: "Organization not found.",
		conflict: "An organization with that name already exists.",
	}
	userMessages = messages{
		notFound: "User not found.",
		conflict: "A user with that email address already exists.",
	}
	membershipMessages = messages{
		notFound: "Membership not found.",
		conflict: "The user is already a member of the organization.",
	}
)

// CreateOrganization stores org and, when owner is not nil, the owner and
// the owner's membership, and records e, all in one transaction: a taken
// email leaves no organization without an owner behind, and no event of a
// creation that did not happen.
func (s *Store) CreateOrganization(ctx context.Context, org *keywarden.Organization, owner *keywarden.User, e *keywarden.AuditEvent) (err error) {
	const op = "CreateOrganization"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	// Each statement's error is mapped where it happens, so that the
	// conflict message names what was taken.
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `
			INSERT INTO organizations (id, name, max_key_lifetime_seconds, created_at)
			VALUES (?, ?, ?, ?)`,
			org.ID, org.Name, int64(org.MaxKeyLifetime/time.Second), s.d.Time(org.CreatedAt))
		if err != nil {
			return s.storeError(op, err, orgMessages)
		}
		if owner != nil {
			_, err = s.exec(ctx, tx, `
				INSERT INTO users (id, email, password_hash, created_at)
				VALUES (?, ?, ?, ?)`,
				owner.ID, owner.Email, owner.PasswordHash, s.d.Time(owner.CreatedAt))
			if err != nil {
				return s.storeError(op, err, userMessages)
			}
			_, err = s.exec(ctx, tx, `
				INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
				org.ID, owner.ID, string(keywarden.RoleOwner), s.d.Time(org.CreatedAt))
			if err != nil {
				return s.storeError(op, err, membershipMessages)
			}
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, messages{})
}

const orgColumns = `id, name, max_key_lifetime_seconds, created_at`

func scanOrganization(r scanner) (*keywarden.Organization, error) {
	var (
		org      keywarden.Organization
		lifetime int64
	)
	if err := r.Scan(&org.ID, &org.Name, &lifetime, TimeDest{&org.CreatedAt}); err != nil {
		return nil, err
	}
	org.MaxKeyLifetime = time.Duration(lifetime) * time.Second
	return &org, nil
}

// FindOrganizationByID returns the organization with the given ID.
func (s *Store) FindOrganizationByID(ctx context.Context, id string) (_ *keywarden.Organization, err error) {
	const op = "FindOrganizationByID"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	org, err := scanOrganization(s.queryRow(ctx, s.db,
		`SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
	if err != nil {
		return nil, s.storeError(op, err, orgMessages)
	}
	return org, nil
}

// FindOrganizationByName returns the organization with exactly that name
// (case-sensitive).
func (s *Store) FindOrganizationByName(ctx context.Context, name string) (_ *keywarden.Organization, err error) {
	const op = "FindOrganizationByName"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	org, err := scanOrganization(s.queryRow(ctx, s.db,
		`SELECT `+orgColumns+` FROM organizations WHERE name = ?`, name))
	if err != nil {
		return nil, s.storeError(op, err, orgMessages)
	}
	return org, nil
}

// FindOrganizations returns one page of organizations, oldest first, and
// the total count.
func (s *Store) FindOrganizations(ctx context.Context, page keywarden.Page) (_ []*keywarden.Organization, _ int, err error) {
	const op = "FindOrganizations"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	orgs, total, err := findPage(ctx, s, "organizations", orgColumns, "", oldestFirst, nil, page, scanOrganization)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return orgs, total, nil
}

// UpdateOrganization stores org's name and key policy, and records e. Its
// creation time is not changed. A taken name is ECONFLICT.
func (s *Store) UpdateOrganization(ctx context.Context, org *keywarden.Organization, e *keywarden.AuditEvent) (err error) {
	const op = "UpdateOrganization"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `
			UPDATE organizations SET name = ?, max_key_lifetime_seconds = ? WHERE id = ?`,
			org.Name, int64(org.MaxKeyLifetime/time.Second), org.ID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, orgMessages.notFound); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, orgMessages)
}

const userColumns = `id, email, password_hash, created_at`

func scanUser(r scanner) (*keywarden.User, error) {
	var u keywarden.User
	if err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, TimeDest{&u.CreatedAt}); err != nil {
		return nil, err
	}
	return &u, nil
}

// FindUserByEmail returns the user with exactly that (normalized) email.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (_ *keywarden.User, err error) {
	const op = "FindUserByEmail"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	u, err := scanUser(s.queryRow(ctx, s.db,
		`SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if err != nil {
		return nil, s.storeError(op, err, userMessages)
	}
	return u, nil
}

// FindMembership returns the user's membership of the organization.
func (s *Store) FindMembership(ctx context.Context, orgID, userID string) (_ *keywarden.Membership, err error) {
	const op = "FindMembership"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	m, err := scanMembership(s.queryRow(ctx, s.db, `
		SELECT `+membershipColumns+` FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID))
	if err != nil {
		return nil, s.storeError(op, err, membershipMessages)
	}
	return m, nil
}
