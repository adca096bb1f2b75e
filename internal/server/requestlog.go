package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/requestlog"
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

// The keys of the other lines the server appends itself (the request's
// own line is requestlog's), each escaped once.
var (
	logPath     = logline.NewKey("path")
	logClientIP = logline.NewKey("client_ip")
	logKeyUser  = logline.NewKey("key_user")
	logReason   = logline.NewKey("reason")
)

// logRequest writes the request log line of st. end is the reading of
// s.Now that ends its duration d: the server's own line is dated by it,
// not by a reading of its own. (slog's lines read time.Now, which s.Now
// is in serve.)
func (s *server) logRequest(st *requestState, r *http.Request, end time.Time, d time.Duration) {
	info, rec := &st.info, st.rec
	level := levelFor(rec.status)
	if o := s.logOutput; o != nil && !o.Enabled(level) {
		return
	}
	requestlog.Write(r.Context(), s.logOutput, s.Logger, end, level, &requestlog.Line{
		Method: r.Method, Path: safePath(r.URL.Path), Status: rec.status, Bytes: rec.bytes, Duration: d,
		RemoteAddr: r.RemoteAddr, ClientIP: s.clientIPOf(r, info), KeyUser: info.keyUser, UserID: info.userID,
		AuthFailure: info.authFailure,
	})
}

// logAuthFailed writes a line of its own for a failed authentication of a
// key the request only reports: its reason and the key's public ID, never
// the secret.
func (s *server) logAuthFailed(r *http.Request, reason, keyUser, ip string) {
	if o := s.logOutput; o != nil {
		if o.Enabled(slog.LevelInfo) {
			l := o.Begin(s.Now(), slog.LevelInfo, "authentication failed")
			l.String(logReason, reason)
			l.String(logKeyUser, keyUser)
			l.String(logPath, safePath(r.URL.Path))
			l.String(logClientIP, ip)
			l.End()
		}
		return
	}
	s.Logger.InfoContext(r.Context(), "authentication failed", "reason", reason, "key_user", keyUser,
		"path", safePath(r.URL.Path), "client_ip", ip)
}
