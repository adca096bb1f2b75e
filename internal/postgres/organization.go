package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
// the owner's membership, all in one transaction: a taken email leaves no
// organization without an owner behind.
func (db *DB) CreateOrganization(ctx context.Context, org *keywarden.Organization, owner *keywarden.User) error {
	const op = "CreateOrganization"
	// Each statement's error is mapped where it happens, so that the
	// conflict message names what was taken.
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO organizations (id, name, max_key_lifetime_seconds, created_at)
			VALUES ($1, $2, $3, $4)`,
			org.ID, org.Name, int64(org.MaxKeyLifetime/time.Second), org.CreatedAt)
		if err != nil {
			return storeError(op, err, orgMessages)
		}
		if owner == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO users (id, email, password_hash, created_at)
			VALUES ($1, $2, $3, $4)`,
			owner.ID, owner.Email, owner.PasswordHash, owner.CreatedAt)
		if err != nil {
			return storeError(op, err, userMessages)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			org.ID, owner.ID, string(keywarden.RoleOwner), org.CreatedAt)
		return storeError(op, err, membershipMessages)
	})
	return storeError(op, err, messages{})
}

const orgColumns = `id, name, max_key_lifetime_seconds, created_at`

func scanOrganization(s scanner) (*keywarden.Organization, error) {
	var (
		org      keywarden.Organization
		lifetime int64
	)
	if err := s.Scan(&org.ID, &org.Name, &lifetime, &org.CreatedAt); err != nil {
		return nil, err
	}
	org.MaxKeyLifetime = time.Duration(lifetime) * time.Second
	org.CreatedAt = utc(org.CreatedAt)
	return &org, nil
}

// FindOrganizationByID returns the organization with the given ID.
func (db *DB) FindOrganizationByID(ctx context.Context, id string) (*keywarden.Organization, error) {
	org, err := scanOrganization(db.pool.QueryRow(ctx,
		`SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if err != nil {
		return nil, storeError("FindOrganizationByID", err, orgMessages)
	}
	return org, nil
}

// FindOrganizationByName returns the organization with exactly that name
// (case-sensitive).
func (db *DB) FindOrganizationByName(ctx context.Context, name string) (*keywarden.Organization, error) {
	org, err := scanOrganization(db.pool.QueryRow(ctx,
		`SELECT `+orgColumns+` FROM organizations WHERE name = $1`, name))
	if err != nil {
		return nil, storeError("FindOrganizationByName", err, orgMessages)
	}
	return org, nil
}

// FindOrganizations returns one page of organizations, oldest first, and
// the total count.
func (db *DB) FindOrganizations(ctx context.Context, page keywarden.Page) ([]*keywarden.Organization, int, error) {
	orgs, total, err := findPage(ctx, db, "organizations", orgColumns, "", oldestFirst, nil, page, scanOrganization)
	if err != nil {
		return nil, 0, storeError("FindOrganizations", err, messages{})
	}
	return orgs, total, nil
}

// UpdateOrganization stores org's name and key policy, and records e. Its
// creation time is not changed. A taken name is ECONFLICT.
func (db *DB) UpdateOrganization(ctx context.Context, org *keywarden.Organization, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE organizations SET name = $1, max_key_lifetime_seconds = $2 WHERE id = $3`,
			org.Name, int64(org.MaxKeyLifetime/time.Second), org.ID)
		if err != nil {
			return err
		}
		if err := affectedOne(tag, orgMessages.notFound); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("UpdateOrganization", err, orgMessages)
}

const userColumns = `id, email, password_hash, created_at`

func scanUser(s scanner) (*keywarden.User, error) {
	var u keywarden.User
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt = utc(u.CreatedAt)
	return &u, nil
}

// FindUserByEmail returns the user with exactly that (normalized) email.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*keywarden.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return nil, storeError("FindUserByEmail", err, userMessages)
	}
	return u, nil
}

// FindMembership returns the user's membership of the organization.
func (db *DB) FindMembership(ctx context.Context, orgID, userID string) (*keywarden.Membership, error) {
	m, err := scanMembership(db.pool.QueryRow(ctx, `
		SELECT `+membershipColumns+` FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID))
	if err != nil {
		return nil, storeError("FindMembership", err, membershipMessages)
	}
	return m, nil
}
