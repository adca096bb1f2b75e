package sqlite

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

// CreateProcess stores p. An organization that does not exist is ENOTFOUND.
func (db *DB) CreateProcess(ctx context.Context, p *keywarden.Process) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO processes (id, org_id, name, process_type_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, p.ProcessTypeID, micros(p.CreatedAt), micros(p.UpdatedAt))
		return storeError("CreateProcess", err, messages{
			notFound: "Organization not found.",
			conflict: processMessages.conflict,
		})
	})
	return storeError("CreateProcess", err, messages{})
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
// first, and the total count. A non-empty f.ID narrows both to that process.
func (db *DB) FindProcesses(ctx context.Context, f keywarden.ProcessFilter) ([]*keywarden.Process, int, error) {
	// (? = '' OR id = ?) keeps one statement for both cases; the org_id
	// condition alone already confines it to the tenant.
	const where = `WHERE org_id = ? AND (? = '' OR id = ?)`
	procs, total, err := findPage(ctx, db, "processes", processColumns, where, []any{f.OrgID, f.ID, f.ID}, f.Page, scanProcess)
	if err != nil {
		return nil, 0, storeError("FindProcesses", err, messages{})
	}
	return procs, total, nil
}

// RenameProcess sets the name and updated time of a process of the
// organization and returns the process.
func (db *DB) RenameProcess(ctx context.Context, orgID, id, name string, now time.Time) (*keywarden.Process, error) {
	var p *keywarden.Process
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanProcess(tx.QueryRowContext(ctx, `
			UPDATE processes SET name = ?, updated_at = ?
			WHERE org_id = ? AND id = ?
			RETURNING `+processColumns,
			name, micros(now), orgID, id))
		return err
	})
	if err != nil {
		return nil, storeError("RenameProcess", err, processMessages)
	}
	return p, nil
}

// DeleteProcess deletes a process of the organization and its keys, in one
// transaction. The keys are deleted explicitly rather than left to the
// foreign key's cascade alone, so that they go even on a connection that
// somehow lacks foreign_keys.
func (db *DB) DeleteProcess(ctx context.Context, orgID, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM api_keys WHERE org_id = ? AND process_id = ?`, orgID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM processes WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return err
		}
		return affectedOne(res, processMessages.notFound)
	})
	return storeError("DeleteProcess", err, processMessages)
}
