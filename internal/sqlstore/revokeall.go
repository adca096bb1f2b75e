package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/keywarden/keywarden"
)

// RevokeAPIKeys implements keywarden.APIKeyRevoker: in one transaction, a
// check that the organization or process exists, one DELETE … RETURNING of
// every key it names, each key's audit event and the summary, and one entry
// of the change log per key, so that every node's cache drops each of them
// as it drops a key deleted alone. The events and the log's entries are
// written many rows to a statement: a revocation of thousands of keys in an
// incident must not run out of its deadline.
func (s *Store) RevokeAPIKeys(ctx context.Context, r keywarden.RevokeAll) (_ []*keywarden.APIKey, err error) {
	const op = "RevokeAPIKeys"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	msgs := messages{notFound: "Organization not found."}
	owner, ownerArgs := `SELECT 1 FROM organizations WHERE id = ?`, []any{r.OrgID}
	where, args := `WHERE org_id = ?`, []any{r.OrgID}
	if r.ProcessID != "" {
		msgs.notFound = "Process not found."
		owner, ownerArgs = `SELECT 1 FROM processes WHERE org_id = ? AND id = ?`, []any{r.OrgID, r.ProcessID}
		where, args = `WHERE org_id = ? AND process_id = ?`, []any{r.OrgID, r.ProcessID}
	}
	var keys []*keywarden.APIKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := s.queryRow(ctx, tx, owner, ownerArgs...).Scan(&one); err != nil {
			return err // sql.ErrNoRows: not found
		}
		rows, err := s.query(ctx, tx, `DELETE FROM api_keys `+where+` RETURNING `+apiKeyColumns, args...)
		if err != nil {
			return err
		}
		if keys, err = scanAll(rows, s.scanAPIKey); err != nil {
			return err
		}
		// RETURNING has no order; the log and the caller get the keys in
		// the lists' order.
		slices.SortFunc(keys, func(a, b *keywarden.APIKey) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		events := make([]*keywarden.AuditEvent, 0, len(keys)+1)
		changes := make([]keywarden.KeyChange, len(keys))
		for i, k := range keys {
			if r.KeyEvent != nil {
				e, err := r.KeyEvent(k)
				if err != nil {
					return err
				}
				if e != nil {
					e.TargetAPIKey(k)
					events = append(events, e)
				}
			}
			changes[i] = keywarden.ChangeOf(keywarden.KeyChangeDeleted, k)
		}
		if r.Summary != nil {
			e, err := r.Summary(len(keys))
			if err != nil {
				return err
			}
			if e != nil {
				events = append(events, e)
			}
		}
		if err := s.insertAuditEvents(ctx, tx, events); err != nil {
			return err
		}
		return s.recordKeyChanges(ctx, tx, changes)
	})
	if err != nil {
		return nil, s.storeError(op, err, msgs)
	}
	if keys == nil {
		keys = []*keywarden.APIKey{}
	}
	return keys, nil
}

// auditBatch is how many events one INSERT of insertAuditEvents writes.
const auditBatch = 100

// insertAuditEvents is insertAuditEvent for many events of one change,
// auditBatch rows to a statement. Its error is internal for the same
// reason.
func (s *Store) insertAuditEvents(ctx context.Context, tx *sql.Tx, events []*keywarden.AuditEvent) error {
	for batch := range slices.Chunk(events, auditBatch) {
		args := make([]any, 0, 13*len(batch))
		for _, e := range batch {
			args = append(args, s.auditEventArgs(e)...)
		}
		_, err := s.exec(ctx, tx, `INSERT INTO audit_events (`+auditEventColumns+`) VALUES `+
			auditEventValues+strings.Repeat(", "+auditEventValues, len(batch)-1), args...)
		if err != nil {
			return s.storeError("insert audit events", err, messages{})
		}
	}
	return nil
}
