package keywarden

import (
	"context"
	"time"
)

// DefaultProcessTypeID is the process type of a process created without one.
const DefaultProcessTypeID = "custom"

// Process is one business workflow of an organization, e.g. "Invoices".
type Process struct {
	ID            string    `json:"id"`
	OrgID         string    `json:"orgId"`
	Name          string    `json:"name"`
	ProcessTypeID string    `json:"processTypeId"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// ProcessFilter selects processes of one organization. When Restricted, only
// the processes in IDs (possibly none): a process key sees only its own, a
// user-role member only those granted to them.
type ProcessFilter struct {
	OrgID      string
	Restricted bool
	IDs        []string
	Page
}

// ProcessStore keeps processes. Every method takes the organization ID, so a
// process of another tenant is simply not found. Every change takes the
// AuditEvent that records it (nil: not audited), written in the same
// transaction.
type ProcessStore interface {
	CreateProcess(ctx context.Context, p *Process, e *AuditEvent) error
	FindProcess(ctx context.Context, orgID, id string) (*Process, error)
	// FindProcesses returns one page, oldest first, and the total count.
	FindProcesses(ctx context.Context, f ProcessFilter) ([]*Process, int, error)
	// RenameProcess sets the name and updatedAt and returns the process.
	RenameProcess(ctx context.Context, orgID, id, name string, now time.Time, e *AuditEvent) (*Process, error)
	// DeleteProcess deletes the process and, in the same transaction, its
	// keys and grants.
	DeleteProcess(ctx context.Context, orgID, id string, e *AuditEvent) error
}

// ValidProcessTypeID reports whether s is a process type ID: 1–64 lower-case
// letters, digits, '-' or '_'.
func ValidProcessTypeID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
