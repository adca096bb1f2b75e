package keywarden

import (
	"context"
	"time"
)

// Audit actions.
const (
	AuditAPIKeyCreated      = "api_key.created"
	AuditAPIKeyDeleted      = "api_key.deleted"
	AuditProcessCreated     = "process.created"
	AuditProcessRenamed     = "process.renamed"
	AuditProcessDeleted     = "process.deleted"
	AuditProcessGrantSet    = "process.access_granted"
	AuditProcessGrantRemove = "process.access_removed"
	AuditMemberInvited      = "member.invited"
	AuditMemberJoined       = "member.joined"
	AuditMemberRoleChanged  = "member.role_changed"
	AuditMemberRemoved      = "member.removed"
	AuditOrgUpdated         = "organization.updated"
)

// AuditEvent records who changed what, when, and from where. Stores write
// it in the same transaction as the change it records, so an acknowledged
// change is never missing from the log. It never holds a secret.
type AuditEvent struct {
	ID         string
	OrgID      string
	At         time.Time
	Actor      Actor
	Action     string
	TargetType string // "api_key", "process", "member", "organization"
	TargetID   string
	TargetName string
	ProcessID  string
	RemoteAddr string
}

// AuditStore reads the audit log.
type AuditStore interface {
	// FindAuditEvents returns one page of an organization's events, newest
	// first, and the total.
	FindAuditEvents(ctx context.Context, orgID string, page Page) ([]*AuditEvent, int, error)
}
