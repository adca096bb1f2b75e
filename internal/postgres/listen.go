package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnection backoff of ListenKeyChanges: doubled after each failure,
// reset once listening again.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 2 * time.Second
)

// ListenKeyChanges listens on KeyChangeChannel until ctx ends; call it in a
// goroutine. For every notification it sends a wake-up on wake, without
// blocking (a wake already pending covers the new one, so wake should have
// a buffer of one): the reader then follows the feed (KeyChangesSince).
//
// It holds a connection of its own, outside the pool, named
// Config.ListenerName in pg_stat_activity. When that connection fails it
// reports onEvent("listener lost", err), waits (100 ms, doubling up to 2 s)
// and reconnects; each time it is listening it reports
// onEvent("listening", nil) and wakes the reader once, so that the reader
// catches up on changes made while nobody listened. The order matters: it
// LISTENs first and wakes after, so every change is either notified or
// committed before the catch-up read. onEvent may be nil.
func (db *DB) ListenKeyChanges(ctx context.Context, wake chan<- struct{}, onEvent func(msg string, err error)) {
	if onEvent == nil {
		onEvent = func(string, error) {}
	}
	backoff := listenMinBackoff
	for {
		err := db.listenOnce(ctx, wake, func() {
			onEvent("listening", nil)
			backoff = listenMinBackoff
		})
		if ctx.Err() != nil {
			return
		}
		onEvent("listener lost", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, listens and wakes until the connection fails or ctx
// ends, and returns why.
func (db *DB) listenOnce(ctx context.Context, wake chan<- struct{}, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.listen)
	if err != nil {
		return err
	}
	defer func() {
		// ctx may be over; closing sends a Terminate, which must not wait
		// on a dead peer.
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{KeyChangeChannel}.Sanitize()); err != nil {
		return err
	}
	listening()
	signal(wake)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(wake)
	}
}

// signal sends on wake unless a wake-up is already pending.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
