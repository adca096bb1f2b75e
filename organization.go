package keywarden

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxKeyLifetime is an organization's key policy unless it sets another:
// no key may be created to live longer than this.
const DefaultMaxKeyLifetime = 365 * 24 * time.Hour

// Organization is a tenant. Everything else belongs to exactly one.
type Organization struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	MaxKeyLifetime time.Duration `json:"-"`
	CreatedAt      time.Time     `json:"createdAt"`
}

// Role is a member's role in an organization.
type Role string

const (
	RoleOwner Role = "owner" // an admin who cannot be removed while the last owner
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// User is a person who signs in to the console with email and password.
// An API key is never a user's login.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"` // argon2id, PHC string format
	CreatedAt    time.Time `json:"createdAt"`
}

// Membership ties a user to an organization with a role.
type Membership struct {
	OrgID  string `json:"orgId"`
	UserID string `json:"userId"`
	Role   Role   `json:"role"`
}

// OrganizationStore keeps organizations and their people.
type OrganizationStore interface {
	// CreateOrganization stores org, its owner (when not nil) and the
	// owner's membership, and records e (when not nil, an event of org), in
	// one transaction. A taken organization name or email is ECONFLICT.
	CreateOrganization(ctx context.Context, org *Organization, owner *User, e *AuditEvent) error
	FindOrganizationByID(ctx context.Context, id string) (*Organization, error)
	FindOrganizationByName(ctx context.Context, name string) (*Organization, error)
	FindOrganizations(ctx context.Context, page Page) ([]*Organization, int, error)
	// UpdateOrganization stores org's name and key policy: ENOTFOUND when
	// it does not exist, ECONFLICT when another organization has the name.
	UpdateOrganization(ctx context.Context, org *Organization, e *AuditEvent) error
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	FindMembership(ctx context.Context, orgID, userID string) (*Membership, error)
}

// Page selects a window of a list.
type Page struct {
	Offset int
	Limit  int
}

// Pagination limits.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// MaxNameLength bounds the names people give to organizations, processes and
// keys, in characters.
const MaxNameLength = 100

// ValidateName checks a display name and returns it trimmed. Control
// characters are refused because names end up in logs, tables and terminals.
func ValidateName(name, location string, v *Validation) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		v.Add(location, "required", "Name is required.")
	case !utf8.ValidString(name):
		v.Add(location, "invalid", "Name must be valid UTF-8.")
	case utf8.RuneCountInString(name) > MaxNameLength:
		v.Add(location, "too_long", "Name must be at most %d characters.", MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		v.Add(location, "invalid", "Name must not contain control characters.")
	}
	return name
}

// NormalizeEmail lower-cases and trims an email address and checks its rough
// shape; delivery is what proves an address, not a regular expression.
func NormalizeEmail(email, location string, v *Validation) string {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 || len(email) > 254 || strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		v.Add(location, "invalid", "A valid email address is required.")
	}
	return email
}
