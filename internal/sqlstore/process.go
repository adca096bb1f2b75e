package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

var processMessages = messages{
	notFound: "Process not found.",
	conflict: "A process with that ID already exists.",
}

// CreateProcess stores p and its audit event. An organization that does not
// exist is ENOTFOUND.
func (s *Store) CreateProcess(ctx context.Context, p *keywarden.Process, e *keywarden.AuditEvent) (err error) {
	const op = "CreateProcess"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `
			INSERT INTO processes (id, org_id, name, process_type_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, p.ProcessTypeID, s.d.Time(p.CreatedAt), s.d.Time(p.UpdatedAt))
		if err != nil {
			return s.storeError(op, err, messages{
				notFound: "Organization not found.",
				conflict: processMessages.conflict,
			})
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, messages{})
}

const processColumns = `id, org_id, name, process_type_id, created_at, updated_at`

func scanProcess(r scanner) (*keywarden.Process, error) {
	var p keywarden.Process
	if err := r.Scan(&p.ID, &p.OrgID, &p.Name, &p.ProcessTypeID, TimeDest{&p.CreatedAt}, TimeDest{&p.UpdatedAt}); err != nil {
		return nil, err
	}
	return &p, nil
}

// FindProcess returns the process id of organization orgID; a process of
// another organization is not found.
func (s *Store) FindProcess(ctx context.Context, orgID, id string) (_ *keywarden.Process, err error) {
	const op = "FindProcess"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	p, err := scanProcess(s.queryRow(ctx, s.db, `
		SELECT `+processColumns+` FROM processes WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, s.storeError(op, err, processMessages)
	}
	return p, nil
}

// FindProcesses returns one page of the organization's processes, oldest
// first, and the total count. When f.Restricted, only those in f.IDs: none
// at all when f.IDs is empty.
func (s *Store) FindProcesses(ctx context.Context, f keywarden.ProcessFilter) (_ []*keywarden.Process, _ int, err error) {
	const op = "FindProcesses"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	where, args := `WHERE org_id = ?`, []any{f.OrgID}
	if f.Restricted {
		// The IDs go in as one List, so that any number of them is one
		// statement with a fixed text; the org_id condition alone already
		// confines it to the tenant.
		ids, err := s.d.List(f.IDs)
		if err != nil {
			return nil, 0, s.storeError(op, err, messages{})
		}
		where, args = where+` AND `+s.d.InList("id"), append(args, ids)
	}
	procs, total, err := findPage(ctx, s, "processes", processColumns, where, oldestFirst, args, f.Page, scanProcess)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return procs, total, nil
}

// RenameProcess sets the name and updated time of a process of the
// organization, records e, and returns the process.
func (s *Store) RenameProcess(ctx context.Context, orgID, id, name string, now time.Time, e *keywarden.AuditEvent) (_ *keywarden.Process, err error) {
	const op = "RenameProcess"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	var p *keywarden.Process
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanProcess(s.queryRow(ctx, tx, `
			UPDATE processes SET name = ?, updated_at = ?
			WHERE org_id = ? AND id = ?
			RETURNING `+processColumns,
			name, s.d.Time(now), orgID, id))
		if err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	if err != nil {
		return nil, s.storeError(op, err, processMessages)
	}
	return p, nil
}

// DeleteProcess deletes a process of the organization, its keys and its
// grants, appends each key's deletion and the process's to the key change
// feed, and records e, in one transaction. The keys and grants are deleted explicitly rather than
// left to the foreign keys' cascades alone, so that they go even on a
// SQLite connection that somehow lacks foreign_keys.
func (s *Store) DeleteProcess(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) (err error) {
	const op = "DeleteProcess"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `
			DELETE FROM api_keys WHERE org_id = ? AND process_id = ? RETURNING `+apiKeyColumns, orgID, id)
		if err != nil {
			return err
		}
		keys, err := scanAll(rows, s.scanAPIKey)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `
			DELETE FROM process_grants WHERE org_id = ? AND process_id = ?`, orgID, id); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `
			DELETE FROM processes WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return err
		}
		if err := affectedOne(res, processMessages.notFound); err != nil {
			return err
		}
		if err := s.insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		// Each key's deletion, for what tells organizations of their keys
		// (webhooks), then the process's, for the caches.
		changes := make([]keywarden.KeyChange, 0, len(keys)+1)
		for _, k := range keys {
			changes = append(changes, keywarden.ChangeOf(keywarden.KeyChangeDeleted, k))
		}
		return s.recordKeyChanges(ctx, tx, append(changes, keywarden.KeyChange{Kind: keywarden.KeyChangeProcessDeleted, ProcessID: id, OrgID: orgID}))
	})
	return s.storeError(op, err, processMessages)
}
