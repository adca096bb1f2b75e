package sqlstore

import (
	"context"
	"database/sql"

	"github.com/keywarden/keywarden"
)

// insertAuditEvent writes e, when it is not nil, in tx: the transaction of
// the change it records, so that the change and its event commit together or
// not at all. The caller has filled every field; e is stored as it is.
//
// Its error is always internal, even for a foreign key or a taken ID: it
// means the caller built a wrong event, and must not read as the change's
// own "not found" or "conflict".
func (s *Store) insertAuditEvent(ctx context.Context, tx *sql.Tx, e *keywarden.AuditEvent) error {
	if e == nil {
		return nil
	}
	return s.storeError("insert audit event", s.execInsertAuditEvent(ctx, tx, e), messages{})
}

// execInsertAuditEvent is the one INSERT of an event, on q (a change's
// transaction, or the database for an event on its own). Its errors are
// raw.
func (s *Store) execInsertAuditEvent(ctx context.Context, q querier, e *keywarden.AuditEvent) error {
	_, err := s.exec(ctx, q, `
		INSERT INTO audit_events (`+auditEventColumns+`)
		VALUES `+auditEventValues, s.auditEventArgs(e)...)
	return err
}

// auditEventValues are the placeholders of one event's row, and
// auditEventArgs its arguments, in the order of auditEventColumns.
const auditEventValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *Store) auditEventArgs(e *keywarden.AuditEvent) []any {
	return []any{e.ID, e.OrgID, s.d.Time(e.At), e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Action,
		e.TargetType, e.TargetID, e.TargetName, e.ProcessID, e.RemoteAddr, e.UserAgent}
}

var auditMessages = messages{
	notFound: "Organization not found.",
	conflict: "An audit event with that ID already exists.",
}

// RecordAuditEvent implements keywarden.AuditStore: one INSERT, which is
// its own transaction. Unlike an event written with a change, this one is
// the whole operation, so an unknown organization or a taken ID is the
// caller's to hear about.
func (s *Store) RecordAuditEvent(ctx context.Context, e *keywarden.AuditEvent) (err error) {
	const op = "RecordAuditEvent"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	if e == nil {
		return keywarden.Errorf(keywarden.EINVALID, "An audit event is required.")
	}
	return s.storeError(op, s.execInsertAuditEvent(ctx, s.db, e), auditMessages)
}

const auditEventColumns = `id, org_id, at, actor_type, actor_id, actor_name, action,
	target_type, target_id, target_name, process_id, remote_addr, user_agent`

func scanAuditEvent(r scanner) (*keywarden.AuditEvent, error) {
	var e keywarden.AuditEvent
	err := r.Scan(&e.ID, &e.OrgID, TimeDest{&e.At}, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name, &e.Action,
		&e.TargetType, &e.TargetID, &e.TargetName, &e.ProcessID, &e.RemoteAddr, &e.UserAgent)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// FindAuditEvents returns one page of the organization's events, newest
// first, and the total count.
func (s *Store) FindAuditEvents(ctx context.Context, orgID string, page keywarden.Page) (_ []*keywarden.AuditEvent, _ int, err error) {
	const op = "FindAuditEvents"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	events, total, err := findPage(ctx, s, "audit_events", auditEventColumns,
		`WHERE org_id = ?`, `at DESC, id DESC`, []any{orgID}, page, scanAuditEvent)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return events, total, nil
}

// FindAuditEventsAfter implements keywarden.AuditStore. It reads one row
// more than the page, to know whether another page follows, and walks the
// (org_id, at DESC, id DESC) index from the cursor on: no OFFSET, so a
// client paging through a large log costs the same on every page.
func (s *Store) FindAuditEventsAfter(ctx context.Context, f keywarden.AuditFilter) (_ []*keywarden.AuditEvent, _ keywarden.AuditCursor, err error) {
	const op = "FindAuditEventsAfter"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	limit := f.Limit
	if limit == 0 {
		limit = keywarden.DefaultPageLimit
	}
	if limit < 0 || limit > keywarden.MaxPageLimit {
		return nil, keywarden.AuditCursor{}, keywarden.Errorf(keywarden.EINVALID, "limit must be an integer from 1 to %d.", keywarden.MaxPageLimit)
	}
	where, args := `WHERE org_id = ?`, []any{f.OrgID}
	for _, c := range []struct{ column, value string }{
		{"action", f.Action}, {"target_type", f.TargetType}, {"target_id", f.TargetID},
		{"process_id", f.ProcessID}, {"actor_id", f.ActorID},
	} {
		if c.value != "" {
			where += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	if !f.Since.IsZero() {
		where += ` AND at >= ?`
		args = append(args, s.d.Time(f.Since))
	}
	if !f.Until.IsZero() {
		where += ` AND at < ?`
		args = append(args, s.d.Time(f.Until))
	}
	if !f.After.IsZero() {
		where += ` AND (at < ? OR at = ? AND id < ?)`
		args = append(args, s.d.Time(f.After.At), s.d.Time(f.After.At), f.After.ID)
	}
	events, err := findAll(ctx, s, `SELECT `+auditEventColumns+` FROM audit_events `+where+`
		ORDER BY at DESC, id DESC LIMIT ?`, append(args, limit+1), scanAuditEvent)
	if err != nil {
		return nil, keywarden.AuditCursor{}, s.storeError(op, err, messages{})
	}
	var next keywarden.AuditCursor
	if len(events) > limit {
		events = events[:limit]
		last := events[limit-1]
		next = keywarden.AuditCursor{At: last.At, ID: last.ID}
	}
	return events, next, nil
}
