package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden"
)

var processMessages = messages{
	notFound: "Process not found.",
	conflict: "A process with that ID already exists.",
}

// CreateProcess stores p and its audit event. An organization that does not
// exist is ENOTFOUND.
func (db *DB) CreateProcess(ctx context.Context, p *keywarden.Process, e *keywarden.AuditEvent) error {
	const op = "CreateProcess"
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO processes (id, org_id, name, process_type_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.OrgID, p.Name, p.ProcessTypeID, p.CreatedAt, p.UpdatedAt)
		if err != nil {
			return storeError(op, err, messages{
				notFound: "Organization not found.",
				conflict: processMessages.conflict,
			})
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError(op, err, messages{})
}

const processColumns = `id, org_id, name, process_type_id, created_at, updated_at`

func scanProcess(s scanner) (*keywarden.Process, error) {
	var p keywarden.Process
	if err := s.Scan(&p.ID, &p.OrgID, &p.Name, &p.ProcessTypeID, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt = utc(p.CreatedAt)
	p.UpdatedAt = utc(p.UpdatedAt)
	return &p, nil
}

// FindProcess returns the process id of organization orgID; a process of
// another organization is not found.
func (db *DB) FindProcess(ctx context.Context, orgID, id string) (*keywarden.Process, error) {
	p, err := scanProcess(db.pool.QueryRow(ctx, `
		SELECT `+processColumns+` FROM processes WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		return nil, storeError("FindProcess", err, processMessages)
	}
	return p, nil
}

// FindProcesses returns one page of the organization's processes, oldest
// first, and the total count. When f.Restricted, only those in f.IDs: none
// at all when f.IDs is empty.
func (db *DB) FindProcesses(ctx context.Context, f keywarden.ProcessFilter) ([]*keywarden.Process, int, error) {
	// The IDs go in as one array, so that any number of them is one
	// statement with a fixed text; the org_id condition alone already
	// confines it to the tenant.
	ids := f.IDs
	if ids == nil {
		ids = []string{} // nil would be NULL
	}
	const where = `WHERE org_id = $1 AND (NOT $2::boolean OR id = ANY($3::text[]))`
	procs, total, err := findPage(ctx, db, "processes", processColumns, where, oldestFirst,
		[]any{f.OrgID, f.Restricted, ids}, f.Page, scanProcess)
	if err != nil {
		return nil, 0, storeError("FindProcesses", err, messages{})
	}
	return procs, total, nil
}

// RenameProcess sets the name and updated time of a process of the
// organization, records e, and returns the process.
func (db *DB) RenameProcess(ctx context.Context, orgID, id, name string, now time.Time, e *keywarden.AuditEvent) (*keywarden.Process, error) {
	var p *keywarden.Process
	err := db.write(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = scanProcess(tx.QueryRow(ctx, `
			UPDATE processes SET name = $1, updated_at = $2
			WHERE org_id = $3 AND id = $4
			RETURNING `+processColumns,
			name, now, orgID, id))
		if err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	if err != nil {
		return nil, storeError("RenameProcess", err, processMessages)
	}
	return p, nil
}

// DeleteProcess deletes a process of the organization, its keys and its
// grants, appends the deletion to the key change feed (notifying the other
// nodes at commit), and records e, in one transaction. The keys and grants
// are deleted explicitly rather than left to the foreign keys' cascades
// alone, as the SQLite store does.
func (db *DB) DeleteProcess(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			DELETE FROM api_keys WHERE org_id = $1 AND process_id = $2`, orgID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM process_grants WHERE org_id = $1 AND process_id = $2`, orgID, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM processes WHERE org_id = $1 AND id = $2`, orgID, id)
		if err != nil {
			return err
		}
		if err := affectedOne(tag, processMessages.notFound); err != nil {
			return err
		}
		if err := insertAuditEvent(ctx, tx, e); err != nil {
			return err
		}
		return recordKeyChange(ctx, tx, keywarden.KeyChangeProcessDeleted, "", id)
	})
	return storeError("DeleteProcess", err, processMessages)
}
