package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keywarden/keywarden"
)

// RedeliverWebhookDelivery implements keywarden.WebhookStore. The row is
// read and locked first (FOR UPDATE on PostgreSQL; SQLite's write
// transactions exclude each other), so that a claim cannot slip between
// the lease check and the reset: a delivery in a node's hands is left to
// that node, whose outcome the reset would otherwise fence out
// (CompleteWebhookAttempt checks the lease) after it had been sent.
func (s *Store) RedeliverWebhookDelivery(ctx context.Context, orgID, id string, now time.Time) (err error) {
	const op = "RedeliverWebhookDelivery"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		var (
			state string
			lease time.Time
		)
		if err := s.queryRow(ctx, tx, `SELECT state, lease_until FROM webhook_deliveries WHERE org_id = ? AND id = ?`+lockForUpdate(s.d),
			orgID, id).Scan(&state, TimeDest{&lease}); err != nil {
			return err // sql.ErrNoRows: not found
		}
		if state == keywarden.DeliveryPending && lease.After(now) {
			return keywarden.Errorf(keywarden.ECONFLICT, "The delivery is being attempted right now; see its outcome before sending it again.")
		}
		_, err := s.exec(ctx, tx, `
			UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, lease_until = NULL, delivered_at = NULL
			WHERE org_id = ? AND id = ?`,
			keywarden.DeliveryPending, s.d.Time(now), orgID, id)
		return err
	})
	return s.storeError(op, err, messages{notFound: "Delivery not found."})
}
