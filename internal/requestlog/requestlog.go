// Package requestlog writes the request log's line: one line per request,
// the same fields in the same order, whoever writes it — the server
// (internal/server), and the load test's floor (cmd/loadtest-bare), which
// must cost what the server's line costs.
package requestlog

import (
	"context"
	"log/slog"
	"time"

	"github.com/keywarden/keywarden/internal/logline"
)

// Line is one request's line. Path is the one to log, already redacted
// (the server's safePath): the line never holds a query string or a header.
type Line struct {
	Method     string
	Path       string
	Status     int
	Bytes      int
	Duration   time.Duration
	RemoteAddr string
	ClientIP   string
	KeyUser    string // the key's public ID, with AuthFailure the one that failed
	UserID     string
	// AuthFailure is why the request's key did not authenticate
	// (keywarden.Reason*), empty when it did or there was none.
	AuthFailure string
}

// The keys of the lines appended through a logline.Output, each escaped once.
var (
	keyMethod      = logline.NewKey("method")
	keyPath        = logline.NewKey("path")
	keyStatus      = logline.NewKey("status")
	keyBytes       = logline.NewKey("bytes")
	keyDuration    = logline.NewKey("duration")
	keyRemoteAddr  = logline.NewKey("remote_addr")
	keyClientIP    = logline.NewKey("client_ip")
	keyKeyUser     = logline.NewKey("key_user")
	keyUserID      = logline.NewKey("user_id")
	keyAuthFailure = logline.NewKey("auth_failure")
)

// Write writes l at level, dated end. With o (serve's output) it appends
// the line itself to a pooled buffer, byte for byte as o's handler would,
// and allocates nothing; the caller has checked o.Enabled(level). Without
// it, the line goes through logger (a test's, one with attributes or
// groups), dated by slog.
func Write(ctx context.Context, o *logline.Output, logger *slog.Logger, end time.Time, level slog.Level, l *Line) {
	if o != nil {
		b := o.Begin(end, level, "request")
		b.String(keyMethod, l.Method)
		b.String(keyPath, l.Path)
		b.Int(keyStatus, l.Status)
		b.Int(keyBytes, l.Bytes)
		b.Duration(keyDuration, l.Duration)
		b.String(keyRemoteAddr, l.RemoteAddr)
		b.String(keyClientIP, l.ClientIP)
		b.String(keyKeyUser, l.KeyUser)
		b.String(keyUserID, l.UserID)
		if l.AuthFailure != "" {
			b.String(keyAuthFailure, l.AuthFailure)
		}
		b.End()
		return
	}
	attrs := []slog.Attr{
		slog.String("method", l.Method),
		slog.String("path", l.Path),
		slog.Int("status", l.Status),
		slog.Int("bytes", l.Bytes),
		slog.Duration("duration", l.Duration),
		slog.String("remote_addr", l.RemoteAddr),
		slog.String("client_ip", l.ClientIP),
		slog.String("key_user", l.KeyUser),
		slog.String("user_id", l.UserID),
	}
	if l.AuthFailure != "" {
		attrs = append(attrs, slog.String("auth_failure", l.AuthFailure))
	}
	logger.LogAttrs(ctx, level, "request", attrs...)
}
