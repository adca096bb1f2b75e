package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
)

// insertAuditEvent writes e, when it is not nil, in tx: the transaction of
// the change it records, so that the change and its event commit together or
// not at all. The caller has filled every field; e is stored as it is.
//
// Its error is always internal, even for a foreign key or a taken ID: it
// means the caller built a wrong event, and must not read as the change's
// own "not found" or "conflict".
func insertAuditEvent(ctx context.Context, tx pgx.Tx, e *keywarden.AuditEvent) error {
	if e == nil {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_events (id, org_id, at, actor_type, actor_id, actor_name, action,
			target_type, target_id, target_name, process_id, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.OrgID, e.At, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Action,
		e.TargetType, e.TargetID, e.TargetName, e.ProcessID, e.RemoteAddr)
	return storeError("insert audit event", err, messages{})
}

const auditEventColumns = `id, org_id, at, actor_type, actor_id, actor_name, action,
	target_type, target_id, target_name, process_id, remote_addr`

func scanAuditEvent(s scanner) (*keywarden.AuditEvent, error) {
	var e keywarden.AuditEvent
	err := s.Scan(&e.ID, &e.OrgID, &e.At, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name, &e.Action,
		&e.TargetType, &e.TargetID, &e.TargetName, &e.ProcessID, &e.RemoteAddr)
	if err != nil {
		return nil, err
	}
	e.At = utc(e.At)
	return &e, nil
}

// FindAuditEvents returns one page of the organization's events, newest
// first, and the total count.
func (db *DB) FindAuditEvents(ctx context.Context, orgID string, page keywarden.Page) ([]*keywarden.AuditEvent, int, error) {
	events, total, err := findPage(ctx, db, "audit_events", auditEventColumns,
		`WHERE org_id = $1`, `at DESC, id DESC`, []any{orgID}, page, scanAuditEvent)
	if err != nil {
		return nil, 0, storeError("FindAuditEvents", err, messages{})
	}
	return events, total, nil
}
