package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/ratelimit"
)

// requestInfo is filled in as a request passes the middleware, for its log line.
type requestInfo struct {
	route string // the pattern of the route that served the request
	// series is the route's request metrics, resolved when it was registered.
	series *metrics.Route
	// keyUser is the public ID of the key that authenticated the request,
	// or, with authFailure, of the key it named that did not.
	keyUser string
	userID  string
	// authFailure is the reason the request's key did not authenticate
	// (keywarden.Reason*), for its log line.
	authFailure string
	// retryAfter, when set, is sent as Retry-After with the error.
	retryAfter time.Duration
	// rate, when hasRate, is the decision of the key's rate limit, sent in
	// the RateLimit headers of the response whatever it is.
	rate    ratelimit.Decision
	hasRate bool
	// instance is the problem documents' instance when it is not the
	// request's own path: forward-auth's refusals concern the original
	// request, and Caddy shows them to its client as they are.
	instance string
	// start is when the request reached logRequests.
	start time.Time
	// The client address (s.clientIPOf), decided once.
	ipDone bool
	ip     netip.Addr
	ipText string
	// principal is the caller, for a route that reads it here rather than
	// from the request's context (access.principalInInfo); keyPrincipal
	// holds it when a key authenticated the request.
	principal    *keywarden.Principal
	keyPrincipal keywarden.Principal
	// body bounds the request's body (limitBody).
	body limitedBody
}

// limitedBody is what http.MaxBytesReader returns, reading exactly as it
// does, for limitBody to hold in the request's pooled state. (Its writer is
// the statusRecorder, which http.MaxBytesReader could not tell to close the
// connection either.)
type limitedBody struct {
	r   io.ReadCloser
	i   int64 // the limit, for the error
	n   int64 // bytes left
	err error // sticky
}

func (l *limitedBody) Read(p []byte) (n int, err error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p))-1 > l.n {
		p = p[:l.n+1]
	}
	n, err = l.r.Read(p)
	if int64(n) <= l.n {
		l.n -= int64(n)
		l.err = err
		return n, err
	}
	n = int(l.n)
	l.n = 0
	l.err = &http.MaxBytesError{Limit: l.i}
	return n, l.err
}

func (l *limitedBody) Close() error { return l.r.Close() }

// statusRecorder remembers the status and size of a response for the log,
// and adds the headers that the request's info holds for any response.
type statusRecorder struct {
	http.ResponseWriter
	info   *requestInfo
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		if w.info != nil && w.info.hasRate {
			setRateLimitHeaders(w.Header(), &w.info.rate)
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request. It logs the path but never the
// query string or any header: keys travel in Authorization, and a key put in
// the URL by mistake must not reach the log either. The key's public ID is
// logged once authentication has established it.
func (s *server) logRequests(next http.Handler) http.Handler {
	unmatched := s.routeSeries("unmatched")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := requestStates.Get().(*requestState)
		st.info = requestInfo{start: s.Now()}
		st.rec = statusRecorder{ResponseWriter: w, info: &st.info}
		next.ServeHTTP(&st.rec, r)
		info, rec := &st.info, &st.rec
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		end := s.Now()
		d := end.Sub(info.start)
		if s.Metrics != nil {
			if info.series != nil {
				info.series.Observe(r.Method, rec.status, d)
			} else {
				unmatched.Observe(r.Method, rec.status, d)
			}
		}
		s.logRequest(st, r, end, d)
		st.info, st.rec = requestInfo{}, statusRecorder{} // hold nothing of the request
		requestStates.Put(st)
	})
}

// safePath returns the path for the log, with any segment that starts like
// a key — a key ID and a colon — redacted, whole or truncated, and so is
// any segment holding what may be a bare secret (a run of secretRun or more
// base62 characters): a client that put its key in the path by mistake must
// not leak even part of the secret. IDs (32 hex characters) are shorter.
//
// A path with nothing to redact, nearly every one, is returned as it is,
// with no allocation, from two scans of the whole path: with no colon,
// only a run of secretRun base62 characters could be redacted, and a '/'
// ends a run, so none in the whole path means none in any segment.
// Otherwise the segments are looked at in place, and a new string is
// built only from the first segment redacted.
func safePath(p string) string {
	if strings.IndexByte(p, ':') < 0 && (len(p) < secretRun || !hasBase62Run(p, secretRun)) {
		return p
	}
	var b []byte // nil until a segment is redacted
	for start := 0; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		seg := p[start:end]
		if redact := secretSegment(seg); redact && b == nil {
			b = append(make([]byte, 0, len(p)), p[:start]...)
			b = append(b, redacted...)
		} else if redact {
			b = append(b, redacted...)
		} else if b != nil {
			b = append(b, seg...)
		}
		if b != nil && end < len(p) {
			b = append(b, '/')
		}
		start = end + 1
	}
	if b == nil {
		return p
	}
	return string(b)
}

const redacted = "[REDACTED]"

// secretSegment reports whether a path segment starts like a key (a key ID
// and a colon) or holds what may be a bare secret.
func secretSegment(seg string) bool {
	user, _, ok := strings.Cut(seg, ":")
	return ok && keywarden.ValidKeyID(user) || hasBase62Run(seg, secretRun)
}

// secretRun is the length of a key's secret: 43 base62 characters.
const secretRun = 43

// hasBase62Run reports whether s holds n base62 characters in a row.
func hasBase62Run(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// strictTransport tells browsers that reached Keywarden over HTTPS
// (directly, or through a trusted proxy that says so) to use nothing else
// for a year (HSTS), so a later plain-HTTP request cannot be downgraded.
// Over plain HTTP it says nothing: the header is ignored there.
func (s *server) strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.secure(r) {
			w.Header().Set("Strict-Transport-Security", strictTransportSecurity)
		}
		next.ServeHTTP(w, r)
	})
}

// strictTransportSecurity is the HSTS policy: HTTPS only, for a year.
const strictTransportSecurity = "max-age=31536000"

// ProblemHeaders returns the headers of every problem document: its media
// type, no-store (an error may describe the caller's own request) and
// nosniff, and over HTTPS the HSTS policy. writeError and strictTransport
// set them from here, and cmd/keywarden gives this function to httperr
// for the errors net/http answers before any handler runs, so that one list
// says what every error response carries.
func ProblemHeaders(https bool) http.Header {
	h := http.Header{
		"Content-Type":           {api.ProblemContentType},
		"Cache-Control":          {"no-store"},
		"X-Content-Type-Options": {"nosniff"},
	}
	if https {
		h.Set("Strict-Transport-Security", strictTransportSecurity)
	}
	return h
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, keywarden.Errorf(keywarden.EINTERNAL, "panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body; decode reports the overflow as 413.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.MaxBodyBytes {
			s.writeError(w, r, keywarden.Errorf(keywarden.ETOOLARGE, "The request body is larger than %d bytes.", s.MaxBodyBytes))
			return
		}
		switch rec, _ := w.(*statusRecorder); {
		case r.Body == nil || r.Body == http.NoBody:
			// Nothing to bound.
		case rec != nil:
			// http.MaxBytesReader, in the request's pooled state.
			rec.info.body = limitedBody{r: r.Body, i: s.MaxBodyBytes, n: s.MaxBodyBytes}
			r.Body = &rec.info.body
		default:
			r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// credentialParams are query parameter names that would carry a credential.
var credentialParams = []string{"key", "api_key", "apikey", "api-key", "access_token", "token", "secret", "password", "auth", "authorization"}

// refuseKeysInURL rejects credentials in the query string: URLs end up in
// proxy logs, browser history and Referer headers. The request is refused
// (400), not merely ignored, so the client's author notices.
func (s *server) refuseKeysInURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" && strings.HasPrefix(r.URL.Path, "/api/") {
			if name, found := credentialInQuery(r.URL.RawQuery); found {
				s.writeError(w, r, &keywarden.Error{
					Code:    keywarden.EINVALID,
					Message: "API keys are accepted only in the Authorization header, never in the URL.",
					Fields: []keywarden.FieldError{{Location: "query: " + name, Type: "credential_in_url",
						Message: fmt.Sprintf("Remove %q from the URL and send the key in the Authorization header.", name)}},
				})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// credentialInQuery returns the first query parameter that looks like it
// carries a credential: by its name, or by a value shaped like a key. It
// reads the query as url.ParseQuery does (pairs it cannot unescape, or
// holding a semicolon, are left out) without building its map, and
// whatever the number of parameters (url.ParseQuery reads nothing of a
// query past its limit, 10,000 by default).
func credentialInQuery(rawQuery string) (name string, found bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if strings.Contains(pair, ";") {
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			continue
		}
		for _, p := range credentialParams {
			if strings.EqualFold(k, p) {
				return k, true
			}
		}
		if _, err := keywarden.ParseKey(v); err != keywarden.ErrMalformedKey {
			return k, true
		}
	}
	return "", false
}

// authorize authenticates the caller and enforces the route's declared access
// before its handler runs. Order matters: a process-confined key naming
// another process gets 404 before any scope check, so it learns nothing about
// that process; an organization-only route refuses process keys with 403.
func (s *server) authorize(rt route) http.Handler {
	series := s.routeSeries(rt.pattern)
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		info := infoOf(w)
		info.route, info.series = rt.pattern, series
		if rt.access.public || rt.access.checksKey {
			return rt.handle(w, r)
		}
		p, err := s.authenticate(r, info, rt.access.principalInInfo)
		if err != nil {
			return err
		}
		if rt.access.orgLevel && p.Level() != keywarden.LevelOrganization {
			return keywarden.Errorf(keywarden.EFORBIDDEN, "This endpoint is not available to process keys.")
		}
		pid := r.PathValue("processId")
		if pid != "" && !p.CanReachProcess(pid) {
			return errProcessNotFound
		}
		if rt.access.scope != "" && !holdsRouteScope(p, pid, rt.access) {
			return keywarden.Errorf(keywarden.EFORBIDDEN, "This endpoint requires the scope %s.", rt.access.scope)
		}
		if rt.access.principalInInfo {
			// The handler reads the principal from info: no copy of the
			// request for a context holding it.
			info.principal = p
			return rt.handle(w, r)
		}
		return rt.handle(w, r.WithContext(keywarden.NewContextWithPrincipal(r.Context(), p)))
	})
}

// holdsRouteScope reports whether p holds the scope a route declares. A
// route naming a process needs it on that process; any other route needs
// it at the principal's own level, or, for a list that the handler narrows
// to what the caller may see (GET /processes), on anything it reaches.
func holdsRouteScope(p *keywarden.Principal, pid string, a access) bool {
	if pid == "" && !a.orgLevel {
		return p.HoldsAnywhere(a.scope)
	}
	return p.HasScopeBit(pid, a.scopeIndex, a.scope)
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// logFailure puts the failed authentication v of the request's own key on
// the request's log line, where the design's one line per request tells
// its reason and the public ID the key named (never the secret). The first
// failure is kept: a request presents one key. v.User is the verifier's
// own copy, so the line may read it after the handler has returned.
func (info *requestInfo) logFailure(v keywarden.Verification) {
	if info.authFailure == "" {
		info.authFailure, info.keyUser = v.Reason, v.User
	}
}
