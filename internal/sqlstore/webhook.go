package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keywarden/keywarden"
)

var webhookMessages = messages{notFound: "Webhook not found.", conflict: "A webhook with that ID already exists."}

const webhookColumns = `id, org_id, url, description, events, enabled, secret, previous_secret, previous_secret_expires_at,
	created_at, created_by_type, created_by_id, created_by_name, updated_at`

func (s *Store) scanWebhook(r scanner) (*keywarden.Webhook, error) {
	var (
		w      keywarden.Webhook
		events any
	)
	err := r.Scan(&w.ID, &w.OrgID, &w.URL, &w.Description, &events, &w.Enabled, &w.Secret, &w.PreviousSecret,
		TimeDest{&w.PreviousSecretExpiresAt}, TimeDest{&w.CreatedAt}, &w.CreatedBy.Type, &w.CreatedBy.ID, &w.CreatedBy.Name,
		TimeDest{&w.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if w.Events, err = s.d.ScanList(events); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	return &w, nil
}

// CreateWebhook implements keywarden.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w *keywarden.Webhook, e *keywarden.AuditEvent) (err error) {
	const op = "CreateWebhook"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	events, err := s.d.List(w.Events)
	if err != nil {
		return s.storeError(op, err, messages{})
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.OrgID, w.URL, w.Description, events, w.Enabled, w.Secret, w.PreviousSecret, s.nullTime(w.PreviousSecretExpiresAt),
			s.d.Time(w.CreatedAt), w.CreatedBy.Type, w.CreatedBy.ID, w.CreatedBy.Name, s.d.Time(w.UpdatedAt)); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	msgs := webhookMessages
	msgs.notFound = "Organization not found."
	return s.storeError(op, err, msgs)
}

// FindWebhook implements keywarden.WebhookStore.
func (s *Store) FindWebhook(ctx context.Context, orgID, id string) (_ *keywarden.Webhook, err error) {
	const op = "FindWebhook"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	w, err := s.scanWebhook(s.queryRow(ctx, s.db, `SELECT `+webhookColumns+` FROM webhooks WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, s.storeError(op, err, webhookMessages)
	}
	return w, nil
}

// FindWebhooks implements keywarden.WebhookStore: an organization has few.
func (s *Store) FindWebhooks(ctx context.Context, orgID string) (_ []*keywarden.Webhook, err error) {
	const op = "FindWebhooks"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	ws, err := findAll(ctx, s, `SELECT `+webhookColumns+` FROM webhooks WHERE org_id = ? ORDER BY created_at, id`, []any{orgID}, s.scanWebhook)
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return ws, nil
}

// UpdateWebhook implements keywarden.WebhookStore.
func (s *Store) UpdateWebhook(ctx context.Context, w *keywarden.Webhook, e *keywarden.AuditEvent) (err error) {
	const op = "UpdateWebhook"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	events, err := s.d.List(w.Events)
	if err != nil {
		return s.storeError(op, err, messages{})
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `
			UPDATE webhooks SET url = ?, description = ?, events = ?, enabled = ?, secret = ?, previous_secret = ?,
				previous_secret_expires_at = ?, updated_at = ?
			WHERE org_id = ? AND id = ?`,
			w.URL, w.Description, events, w.Enabled, w.Secret, w.PreviousSecret, s.nullTime(w.PreviousSecretExpiresAt),
			s.d.Time(w.UpdatedAt), w.OrgID, w.ID)
		if err != nil {
			return err
		}
		if err := affectedOne(res, webhookMessages.notFound); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, webhookMessages)
}

// DeleteWebhook implements keywarden.WebhookStore; its deliveries go with it.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string, e *keywarden.AuditEvent) (err error) {
	const op = "DeleteWebhook"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `DELETE FROM webhooks WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return err
		}
		if err := affectedOne(res, webhookMessages.notFound); err != nil {
			return err
		}
		return s.insertAuditEvent(ctx, tx, e)
	})
	return s.storeError(op, err, webhookMessages)
}

// EnqueueWebhookEvents implements keywarden.WebhookStore. The cursor's row
// is locked first (SELECT … FOR UPDATE on PostgreSQL; SQLite's write
// transactions exclude each other), so that two nodes never queue the same
// entries; the deliveries' UNIQUE (webhook_id, event_id) would refuse a
// second copy anyway.
func (s *Store) EnqueueWebhookEvents(ctx context.Context, now time.Time, limit int, payload func(keywarden.KeyChange) (string, []byte, bool)) (_ int, err error) {
	const op = "EnqueueWebhookEvents"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	read := 0
	err = s.write(ctx, func(tx *sql.Tx) error {
		var cursor int64
		if err := s.queryRow(ctx, tx, `SELECT seq FROM webhook_cursor WHERE id = 1`+lockForUpdate(s.d)).Scan(&cursor); err != nil {
			return err
		}
		rows, err := s.query(ctx, tx, `
			SELECT `+keyChangeColumns+` FROM key_changes WHERE seq > ? ORDER BY seq LIMIT ?`, cursor, limit)
		if err != nil {
			return err
		}
		changes, err := scanAll(rows, scanKeyChange)
		if err != nil || len(changes) == 0 {
			return err
		}
		hooks := map[string][]*keywarden.Webhook{} // by organization, read once per transaction
		for _, c := range changes {
			if c.OrgID == "" {
				continue
			}
			typ, body, ok := payload(c)
			if !ok {
				continue
			}
			ws, seen := hooks[c.OrgID]
			if !seen {
				rows, err := s.query(ctx, tx, `SELECT `+webhookColumns+` FROM webhooks WHERE org_id = ? AND enabled = ? ORDER BY id`, c.OrgID, true)
				if err != nil {
					return err
				}
				if ws, err = scanAll(rows, s.scanWebhook); err != nil {
					return err
				}
				hooks[c.OrgID] = ws
			}
			for _, w := range ws {
				if !w.Subscribes(typ) {
					continue
				}
				id, err := keywarden.NewID(nil)
				if err != nil {
					return err
				}
				if err := s.insertDelivery(ctx, tx, &keywarden.WebhookDelivery{ID: id, WebhookID: w.ID, OrgID: w.OrgID,
					EventID: keywarden.EventID(c.Seq), EventType: typ, Payload: body, CreatedAt: now, NextAttempt: now}); err != nil {
					return err
				}
			}
		}
		read = len(changes)
		_, err = s.exec(ctx, tx, `UPDATE webhook_cursor SET seq = ? WHERE id = 1`, changes[len(changes)-1].Seq)
		return err
	})
	if err != nil {
		return 0, s.storeError(op, err, messages{})
	}
	return read, nil
}

// lockForUpdate locks the one row a SELECT reads until the transaction
// ends, where writers are not serialized anyway.
func lockForUpdate(d Dialect) string {
	if d.LockRows() == "" {
		return ""
	}
	return ` FOR UPDATE`
}

func (s *Store) insertDelivery(ctx context.Context, tx *sql.Tx, d *keywarden.WebhookDelivery) error {
	_, err := s.exec(ctx, tx, `
		INSERT INTO webhook_deliveries (id, webhook_id, org_id, event_id, event_type, payload, created_at, state, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.WebhookID, d.OrgID, d.EventID, d.EventType, d.Payload, s.d.Time(d.CreatedAt), keywarden.DeliveryPending, s.d.Time(d.NextAttempt))
	return err
}

// EnqueueWebhookDelivery implements keywarden.WebhookStore.
func (s *Store) EnqueueWebhookDelivery(ctx context.Context, d *keywarden.WebhookDelivery) (err error) {
	const op = "EnqueueWebhookDelivery"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	err = s.write(ctx, func(tx *sql.Tx) error { return s.insertDelivery(ctx, tx, d) })
	msgs := messages{notFound: webhookMessages.notFound, conflict: "That event is already queued for this webhook."}
	return s.storeError(op, err, msgs)
}

const deliveryColumns = `id, webhook_id, org_id, event_id, event_type, payload, created_at, state, attempts, next_attempt_at,
	lease_until, last_status, last_error, last_latency_us, delivered_at`

func scanDelivery(r scanner) (*keywarden.WebhookDelivery, error) {
	var (
		d       keywarden.WebhookDelivery
		latency int64
	)
	err := r.Scan(&d.ID, &d.WebhookID, &d.OrgID, &d.EventID, &d.EventType, &d.Payload, TimeDest{&d.CreatedAt}, &d.State, &d.Attempts,
		TimeDest{&d.NextAttempt}, TimeDest{&d.LeaseUntil}, &d.LastStatus, &d.LastError, &latency, TimeDest{&d.DeliveredAt})
	d.LastLatency = time.Duration(latency) * time.Microsecond
	return &d, err
}

// ClaimWebhookDeliveries implements keywarden.WebhookStore. On PostgreSQL
// the rows are chosen FOR UPDATE SKIP LOCKED, so that concurrent claimers
// take different ones, and the UPDATE checks the conditions again on the
// row it locked.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []*keywarden.WebhookDelivery, err error) {
	const op = "ClaimWebhookDeliveries"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	t, until := s.d.Time(now), s.d.Time(now.Add(lease))
	var claimed []*keywarden.WebhookDelivery
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `
			UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1
			WHERE id IN (
				SELECT id FROM webhook_deliveries
				WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_attempt_at, id LIMIT ?`+s.d.SkipLocked()+`)
			AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?)
			RETURNING `+deliveryColumns, until, t, t, limit, t)
		if err != nil {
			return err
		}
		claimed, err = scanAll(rows, scanDelivery)
		return err
	})
	if err != nil {
		return nil, s.storeError(op, err, messages{})
	}
	return claimed, nil
}

// CompleteWebhookAttempt implements keywarden.WebhookStore. The lease the
// caller was given fences the update: a node whose lease ran out and whose
// delivery another node has claimed since records nothing.
func (s *Store) CompleteWebhookAttempt(ctx context.Context, d *keywarden.WebhookDelivery, o keywarden.WebhookOutcome) (err error) {
	const op = "CompleteWebhookAttempt"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	a := o.Attempt
	state, next, delivered := keywarden.DeliveryPending, o.Next, time.Time{}
	switch {
	case o.Done && o.Success:
		state, next, delivered = keywarden.DeliverySucceeded, a.At, a.At
	case o.Done:
		state, next = keywarden.DeliveryFailed, a.At
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `
			UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, lease_until = NULL, last_status = ?, last_error = ?,
				last_latency_us = ?, delivered_at = ?
			WHERE id = ? AND attempts = ? AND lease_until = ?`,
			state, s.d.Time(next), a.Status, a.Error, a.Latency.Microseconds(), s.nullTime(delivered),
			d.ID, d.Attempts, s.d.Time(d.LeaseUntil))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return keywarden.Errorf(keywarden.ECONFLICT, "The delivery's lease has passed to another node.")
		}
		_, err = s.exec(ctx, tx, `
			INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, latency_us) VALUES (?, ?, ?, ?, ?, ?)`,
			d.ID, d.Attempts, s.d.Time(a.At), a.Status, a.Error, a.Latency.Microseconds())
		return err
	})
	return s.storeError(op, err, messages{})
}

// FindWebhookDeliveries implements keywarden.WebhookStore: newest first.
func (s *Store) FindWebhookDeliveries(ctx context.Context, orgID, webhookID string, page keywarden.Page) (_ []*keywarden.WebhookDelivery, _ int, err error) {
	const op = "FindWebhookDeliveries"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	ds, total, err := findPage(ctx, s, "webhook_deliveries", deliveryColumns, `WHERE org_id = ? AND webhook_id = ?`,
		`created_at DESC, id DESC`, []any{orgID, webhookID}, page, scanDelivery)
	if err != nil {
		return nil, 0, s.storeError(op, err, messages{})
	}
	return ds, total, nil
}

// FindWebhookDelivery implements keywarden.WebhookStore.
func (s *Store) FindWebhookDelivery(ctx context.Context, orgID, id string) (_ *keywarden.WebhookDelivery, _ []*keywarden.WebhookAttempt, err error) {
	const op = "FindWebhookDelivery"
	ctx, done := s.begin(ctx, op, &err)
	defer done()
	d, err := scanDelivery(s.queryRow(ctx, s.db, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, nil, s.storeError(op, err, messages{notFound: "Delivery not found."})
	}
	attempts, err := findAll(ctx, s, `SELECT delivery_id, attempt, at, status, error, latency_us FROM webhook_attempts
		WHERE delivery_id = ? ORDER BY attempt`, []any{id}, func(r scanner) (*keywarden.WebhookAttempt, error) {
		var (
			a       keywarden.WebhookAttempt
			latency int64
		)
		err := r.Scan(&a.DeliveryID, &a.Attempt, TimeDest{&a.At}, &a.Status, &a.Error, &latency)
		a.Latency = time.Duration(latency) * time.Microsecond
		return &a, err
	})
	if err != nil {
		return nil, nil, s.storeError(op, err, messages{})
	}
	return d, attempts, nil
}
