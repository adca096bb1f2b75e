package keywarden

import (
	"context"
	"strconv"
)

// AuditAPIKeysRevokedAll is the audit action of a revocation of every key
// of a process or of the organization, as a whole; each key's deletion is
// an AuditAPIKeyDeleted of its own, as if the key had been deleted alone,
// so that "when did this key stop working, and who stopped it" has one
// answer whichever way it went.
const AuditAPIKeysRevokedAll = "api_key.revoked_all"

// APIKeyRevoker is the part of a store that revokes many keys at once.
type APIKeyRevoker interface {
	// RevokeAPIKeys deletes every key r names, with an audit event per key
	// (r.KeyEvent), r's summary and one change-log entry per key
	// (KeyChangeDeleted), in one transaction, and returns the deleted keys
	// oldest first: none is an empty list, not an error. An organization
	// that does not exist, or a process that is not one of it, is
	// ENOTFOUND. Once it returns the deletions are durable.
	RevokeAPIKeys(ctx context.Context, r RevokeAll) ([]*APIKey, error)
}

// RevokeAll is an emergency revocation, for an incident in which every key
// of a process, or of the whole organization, must be taken for
// compromised: all of them deleted in one transaction, so that there is no
// moment at which some are gone and others still work because the revoker
// was interrupted, and every node drops them as it drops any deletion (the
// key change log). Keys created after it are not affected.
type RevokeAll struct {
	OrgID string
	// ProcessID names the process whose keys go. Empty: every key of the
	// organization, its organization keys and the keys of each of its
	// processes.
	ProcessID string
	// KeyEvent returns the audit event of one key's deletion; the store
	// completes it with the key as its target and writes it in the same
	// transaction. Nil: the deletions are not audited one by one.
	KeyEvent func(k *APIKey) (*AuditEvent, error)
	// Summary returns the event of the revocation as a whole, given how
	// many keys it deleted, written in the same transaction; nil: none.
	Summary func(revoked int) (*AuditEvent, error)
}

// Level is what r revokes: the keys of one process, or of the organization.
func (r RevokeAll) Level() Level {
	if r.ProcessID == "" {
		return LevelOrganization
	}
	return LevelProcess
}

// ConfirmRevokeAll checks the confirmation of a revocation of every key:
// confirm must be name — the process's name at LevelProcess, the
// organization's otherwise — exactly, as typed. A name is what a person
// has to look at to type, unlike "yes"; so neither a reflex nor a script
// pointed at the wrong process or organization revokes anything. Anything
// else is EINVALID, naming "body: confirm".
func ConfirmRevokeAll(confirm, name string, level Level) error {
	if confirm == name && name != "" {
		return nil
	}
	msg := "Type the organization's name exactly to confirm."
	if level == LevelProcess {
		msg = "Type the process's name exactly to confirm."
	}
	typ := "mismatch"
	if confirm == "" {
		typ = "required"
	}
	var v Validation
	v.Add("body: confirm", typ, "%s", msg)
	return v.Err()
}

// Audited returns r with its events made from base — the actor, time and
// client of the revocation — each with its own ID from newID: every key's
// deletion an AuditAPIKeyDeleted (the store makes the key its target), and
// the summary an AuditAPIKeysRevokedAll whose target is the process or
// organization, named as the audit log shows it with the count,
// "Invoices (3 keys)". Every event of one revocation has base's time.
func (r RevokeAll) Audited(base AuditEvent, name string, newID func() (string, error)) RevokeAll {
	event := func(action string) (*AuditEvent, error) {
		id, err := newID()
		if err != nil {
			return nil, err
		}
		e := base
		e.ID, e.Action = id, action
		return &e, nil
	}
	r.KeyEvent = func(*APIKey) (*AuditEvent, error) { return event(AuditAPIKeyDeleted) }
	r.Summary = func(revoked int) (*AuditEvent, error) {
		e, err := event(AuditAPIKeysRevokedAll)
		if err != nil {
			return nil, err
		}
		e.TargetType, e.TargetID, e.ProcessID = "organization", r.OrgID, ""
		if r.ProcessID != "" {
			e.TargetType, e.TargetID, e.ProcessID = "process", r.ProcessID, r.ProcessID
		}
		e.TargetName = name + " (" + strconv.Itoa(revoked) + " keys)"
		if revoked == 1 {
			e.TargetName = name + " (1 key)"
		}
		return e, nil
	}
	return r
}
