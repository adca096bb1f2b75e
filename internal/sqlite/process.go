package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

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
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO processes (id, org_id, name, process_type_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, p.ProcessTypeID, micros(p.CreatedAt), micros(p.UpdatedAt))
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
	var (
		p                    keywarden.Process
		createdAt, updatedAt int64
	)
	if err := s.Scan(&p.ID, &p.OrgID, &p.Name, &p.ProcessTypeID, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMicros(createdAt)
	p.UpdatedAt = fromMicros(updatedAt)
	return &p, nil
}

// FindProcess returns the process id of organization orgID; a process of
// another organization is not found.
func (db *DB) FindProcess(ctx context.Context, orgID, id string) (*keywarden.Process, error) {
	p, err := scanProcess(db.db.QueryRowContext(ctx, `
		SELECT `+processColumns+` FROM processes WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, storeError("FindProcess", err, processMessages)
	}
	return p, nil
}

// FindProcesses returns one page of the organization's processes, oldest
// first, and the total count. When f.Restricted, only those in f.IDs: none
// at all when f.IDs is empty.
func (db *DB) FindProcesses(ctx context.Context, f keywarden.ProcessFilter) ([]*keywarden.Process, int, error) {
	const op = "FindProcesses"
	// The IDs go in as one JSON array, so that any number of them is one
	// statement with a fixed text; the org_id condition alone already
	// confines it to the tenant.
	ids := f.IDs
	if ids == nil {
		ids = []string{}
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, 0, storeError(op, err, messages{})
	}
	restricted := 0
	if f.Restricted {
		restricted = 1
	}
	const where = `WHERE org_id = ? AND (? = 0 OR id IN (SELECT value FROM json_each(?)))`
	procs, total, err := findPage(ctx, db, "processes", processColumns, where, oldestFirst,
		[]any{f.OrgID, restricted, string(idsJSON)}, f.Page, scanProcess)
	if err != nil {
		return nil, 0, storeError(op, err, messages{})
	}
	return procs, total, nil
}

// RenameProcess sets the name and updated time of a process of the
// organization, records e, and returns the process.
func (db *DB) RenameProcess(ctx context.Context, orgID, id, name string, now time.Time, e *keywarden.AuditEvent) (*keywarden.Process, error) {
	var p *keywarden.Process
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanProcess(tx.QueryRowContext(ctx, `
			UPDATE processes SET name = ?, updated_at = ?
			WHERE org_id = ? AND id = ?
			RETURNING `+processColumns,
			name, micros(now), orgID, id))
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
// grants, and records e, in one transaction. The keys and grants are deleted
// explicitly rather than left to the foreign keys' cascades alone, so that
// they go even on a connection that somehow lacks foreign_keys.
func (db *DB) DeleteProcess(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM api_keys WHERE org_id = ? AND process_id = ?`, orgID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM process_grants WHERE org_id = ? AND process_id = ?`, orgID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM processes WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return err
		}
		if err := affectedOne(res, processMessages.notFound); err != nil {
			return err
		}
		if err := recordKeyChange(ctx, tx, keywarden.KeyChangeProcessDeleted, "", id); err != nil {
			return err
		}
		return insertAuditEvent(ctx, tx, e)
	})
	return storeError("DeleteProcess", err, processMessages)
}
