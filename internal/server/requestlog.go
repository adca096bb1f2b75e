package server

import (
	"log/slog"
	"net/http"
	"time"
)

// The request log writes one line per request. A request whose key did
// not authenticate says why on that line (auth_failure, with the key's
// public ID in key_user): a flood of refused keys costs one line a
// request, like any other traffic. A key that a request only reports (a
// leak report) gets a line of its own (logAuthFailed). With
// Config.LogOutput (serve's), the server appends the lines itself to a
// pooled buffer, byte for byte as its handler would, and allocates
// nothing. With any other logger (a test's, one with attributes or
// groups), they go through Logger.

// logRequest writes the request log line of st. end is the reading of
// s.Now that ends its duration d: the server's own line is dated by it,
// not by a reading of its own. (slog's lines read time.Now, which s.Now
// is in serve.)
func (s *server) logRequest(st *requestState, r *http.Request, end time.Time, d time.Duration) {
	info, rec := &st.info, st.rec
	level := levelFor(rec.status)
	if o := s.logOutput; o != nil {
		if !o.Enabled(level) {
			return
		}
		l := o.Begin(end, level, "request")
		l.String("method", r.Method)
		l.String("path", safePath(r.URL.Path))
		l.Int("status", rec.status)
		l.Int("bytes", rec.bytes)
		l.Duration("duration", d)
		l.String("remote_addr", r.RemoteAddr)
		l.String("client_ip", s.clientIPOf(r, info))
		l.String("key_user", info.keyUser)
		l.String("user_id", info.userID)
		if info.authFailure != "" {
			l.String("auth_failure", info.authFailure)
		}
		l.End()
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", safePath(r.URL.Path)),
		slog.Int("status", rec.status),
		slog.Int("bytes", rec.bytes),
		slog.Duration("duration", d),
		slog.String("remote_addr", r.RemoteAddr),
		slog.String("client_ip", s.clientIPOf(r, info)),
		slog.String("key_user", info.keyUser),
		slog.String("user_id", info.userID),
	}
	if info.authFailure != "" {
		attrs = append(attrs, slog.String("auth_failure", info.authFailure))
	}
	s.Logger.LogAttrs(r.Context(), level, "request", attrs...)
}

// logAuthFailed writes a line of its own for a failed authentication of a
// key the request only reports: its reason and the key's public ID, never
// the secret.
func (s *server) logAuthFailed(r *http.Request, reason, keyUser, ip string) {
	if o := s.logOutput; o != nil {
		if o.Enabled(slog.LevelInfo) {
			l := o.Begin(s.Now(), slog.LevelInfo, "authentication failed")
			l.String("reason", reason)
			l.String("key_user", keyUser)
			l.String("path", safePath(r.URL.Path))
			l.String("client_ip", ip)
			l.End()
		}
		return
	}
	s.Logger.InfoContext(r.Context(), "authentication failed", "reason", reason, "key_user", keyUser,
		"path", safePath(r.URL.Path), "client_ip", ip)
}
