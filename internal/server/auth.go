package server

import (
	"context"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// Failed authentication is throttled per client address (the trusted-proxy
// rule of package clientip), on every path that checks a key: past
// Config.AuthFailuresPerIP failures within AuthWindow, the address is
// refused before any key work until the oldest failure leaves the window.
// Guessing is slowed for the attacker's address only; a key's holder
// elsewhere is not affected.
//
// A client address that comes back for more is locked out for longer each
// time (throttle.Limiter.Escalating): two minutes, then four, eight, … up
// to MaxAddressLockout, forgiven after as long without a lockout. The same
// holds for console sign-in per address. Budgets that strangers share (an
// account's) do not escalate: that would lock their owner out for longer.
const (
	DefaultAuthFailuresPerIP = 60
	AuthWindow               = time.Minute
	MaxAddressLockout        = time.Hour
)

var (
	errThrottled       = keywarden.Errorf(keywarden.ERATELIMITED, "Too many failed authentications from this address. Try again later.")
	errUnauthorized    = keywarden.Errorf(keywarden.EUNAUTHORIZED, "unauthorized")
	errProcessNotFound = keywarden.Errorf(keywarden.ENOTFOUND, "Process not found.")
)

// authenticate returns the principal of a request or the one 401 error. Why
// it failed is logged with the key's public ID (when the key was well-formed)
// and never sent to the caller. A store failure is a 500: fail closed, but do
// not tell a valid caller its key is wrong. A key's principal is held in
// info when inInfo (the handler reads it there, for this request only), and
// allocated otherwise (it goes into the request's context).
func (s *server) authenticate(r *http.Request, info *requestInfo, inInfo bool) (*keywarden.Principal, error) {
	values := authorizationOf(r)
	// The console calls the API with its session cookie instead of a key;
	// a state-changing call must then carry the session's CSRF token.
	if len(values) == 0 {
		if _, err := r.Cookie(sessionCookie); err == nil {
			sess, p, err := s.session(r)
			if err != nil {
				return nil, err
			}
			if sess != nil {
				if !safeMethod(r.Method) {
					if err := s.checkCSRF(r, sess.CSRFToken, false); err != nil {
						return nil, err
					}
				}
				info.userID = p.UserID
				return p, nil
			}
		}
	}
	v, err := s.verifyHeader(r, info, keywarden.Requirement{})
	if err != nil {
		return nil, err
	}
	if v.Code != keywarden.VerifyValid {
		return nil, errUnauthorized
	}
	if !inInfo {
		return keywarden.PrincipalForKey(v.Key, s.Catalogue), nil
	}
	info.keyPrincipal = s.principalForKey(v.Key)
	return &info.keyPrincipal, nil
}

// principalForKey is keywarden.PrincipalForKey, with the scope names the
// server remembers for the key's set (shared: never modify them).
// TestPrincipalForKey holds the two the same.
func (s *server) principalForKey(k keywarden.KeyIdentity) keywarden.Principal {
	return keywarden.Principal{
		OrgID:     k.OrgID,
		ProcessID: k.ProcessID,
		Scopes:    s.scopesOf(k.Scopes).names,
		Set:       k.Scopes,
		Actor:     keywarden.Actor{Type: keywarden.ActorAPIKey, ID: k.ID, Name: k.Name},
		KeyID:     k.ID,
		KeyUser:   k.User,
		ExpiresAt: k.ExpiresAt,
	}
}

// authorizationOf returns the request's Authorization headers. net/http
// stores header names canonical, so the map is read directly: Values
// would canonicalize the name again on every request.
func authorizationOf(r *http.Request) []string { return r.Header["Authorization"] }

// verifyHeader runs the one key check on the request's Authorization
// header against req. A request with no such header, or several, is
// malformed. The error is non-nil only when a lookup failed.
func (s *server) verifyHeader(r *http.Request, info *requestInfo, req keywarden.Requirement) (keywarden.Verification, error) {
	if err := s.admit(r, info); err != nil {
		return keywarden.Verification{}, err
	}
	values := authorizationOf(r)
	if len(values) != 1 {
		v := keywarden.Verification{Code: keywarden.VerifyInvalid, Reason: keywarden.ReasonMalformed}
		s.recordVerification(r, info, v)
		return v, nil
	}
	req.ClientAddr, req.At = s.clientAddrOf(r, info), s.arrival(info)
	v, err := s.Verifier.VerifyAuthorization(r.Context(), values[0], req)
	if err != nil {
		return v, err
	}
	s.recordVerification(r, info, v)
	if v.Code == keywarden.VerifyValid {
		if err := s.limitKey(r, info, v.Key); err != nil {
			return v, err
		}
	}
	return v, nil
}

// recordVerification is where the outcome of every key check ends,
// whichever entry point ran it (REST API, verify API, forward-auth): the
// metrics, the key's usage, and authFailed for a key that did not
// authenticate. The usage is dated when the request arrived.
func (s *server) recordVerification(r *http.Request, info *requestInfo, v keywarden.Verification) {
	if s.Metrics != nil {
		s.Metrics.ObserveVerification(string(v.Code))
	}
	// Every outcome for a key that exists is counted (Config.Usage adds
	// them up in memory and writes them in the background): a success, or
	// a failure such as a wrong secret or an expired key, which its holder
	// should see. An ID that names no key has no usage to count, but costs
	// the same (Ignore): a wrong secret must not take longer to refuse
	// than an unknown ID.
	now := s.arrival(info)
	if !v.Authenticated() {
		if ip := s.clientIPOf(r, info); v.OrgID != "" {
			s.Usage.Record(v.User, now, ip, false)
		} else {
			s.Usage.Ignore(v.User, now, ip)
		}
		s.authFailed(r, info, v)
		info.logFailure(v)
		return
	}
	k := v.Key
	info.keyUser = k.User
	s.Usage.Record(k.User, now, s.clientIPOf(r, info), true)
}

// authFailed is called once for every failed authentication, from every
// entry point. It is the one place where throttling of failed
// authentication per client address hooks in, so that no entry point (the
// verify API above all, where the key in the body is the only credential)
// can be used to guess keys unthrottled. The reason goes to the log, never
// to the caller: on the request's own line when it was the request's
// credential that failed (requestInfo.logFailure), on a line of its
// own for a key the request only reports (leakNotLive).
func (s *server) authFailed(r *http.Request, info *requestInfo, v keywarden.Verification) {
	ip := s.clientIPOf(r, info)
	s.authByIP.Fail(ip)
	s.noteAuthFailure(ip, v)
	if v.Reason == keywarden.ReasonAddressNotAllowed {
		s.auditAddressDenied(r, v)
	}
}

// admit refuses, before any key work, a client address that has failed
// authentication too often lately (ERATELIMITED, with Retry-After).
func (s *server) admit(r *http.Request, info *requestInfo) error {
	ip := s.clientIPOf(r, info)
	ok, wait := s.authByIP.AllowAt(ip, s.arrival(info))
	if ok {
		return nil
	}
	info.retryAfter = wait
	s.auditThrottled(r, ip)
	s.Logger.WarnContext(r.Context(), "authentication throttled", "client_ip", ip, "path", safePath(r.URL.Path), "retry_after", wait)
	return errThrottled
}

// arrival is when the request arrived: logRequests' reading of the clock,
// which the key check, the throttle and the usage share, or a reading of
// its own for a request that came in another way.
func (s *server) arrival(info *requestInfo) time.Time {
	if info.start.IsZero() {
		return s.Now()
	}
	return info.start
}

// safeMethod reports whether method only reads.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// changeKeys runs op, a store call that changes which keys verify
// (creating or deleting a key, deleting a process), and then has the
// verification cache read the change log before the request is answered:
// the one path by which a change made here takes effect here. A cache that
// cannot read the log empties itself, so the error is only logged: the
// change itself is durable.
func (s *server) changeKeys(ctx context.Context, op func() error) error {
	if err := op(); err != nil {
		return err
	}
	if s.Keys != nil {
		if err := s.Keys.Sync(ctx); err != nil {
			s.Logger.ErrorContext(ctx, "key change log unreadable after a change: verification cache emptied", "error", err)
		}
	}
	return nil
}

// grantKeys is changeKeys for a change that makes a key work where it did
// not (a creation, a new secret, a wider allowlist or limit): the answer
// that hands the key out waits until KeyPropagation has passed since the
// commit, so that no other node refuses it at its first use
// (docs/security.md, "Keys created on another node").
func (s *server) grantKeys(ctx context.Context, op func() error) error {
	if err := s.changeKeys(ctx, op); err != nil {
		return err
	}
	if s.KeyPropagation > 0 {
		t := time.NewTimer(s.KeyPropagation)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
