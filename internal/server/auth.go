package server

import (
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// lastUsedResolution is how stale a key's lastUsedAt may get before a request
// writes it again. Writing on every request would turn each verification
// into a database write; a minute is precise enough for "watch last used".
const lastUsedResolution = time.Minute

var (
	errUnauthorized    = keywarden.Errorf(keywarden.EUNAUTHORIZED, "unauthorized")
	errProcessNotFound = keywarden.Errorf(keywarden.ENOTFOUND, "Process not found.")
)

// authenticate returns the principal of a request or the one 401 error. Why
// it failed is logged with the key's public ID (when the key was well-formed)
// and never sent to the caller. A store failure is a 500: fail closed, but do
// not tell a valid caller its key is wrong.
func (s *server) authenticate(r *http.Request) (*keywarden.Principal, error) {
	ctx := r.Context()
	values := r.Header.Values("Authorization")
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
				infoFrom(ctx).userID = p.UserID
				return p, nil
			}
		}
	}
	v := keywarden.Verification{Code: keywarden.VerifyInvalid, Reason: keywarden.ReasonMalformed}
	if len(values) == 1 {
		var err error
		if v, err = s.Verifier.VerifyAuthorization(ctx, values[0]); err != nil {
			return nil, err
		}
	}
	if s.Metrics != nil {
		s.Metrics.ObserveVerification(string(v.Code))
	}
	if v.Code != keywarden.VerifyValid {
		s.Logger.InfoContext(ctx, "authentication failed", "reason", v.Reason, "key_user", v.User, "path", safePath(r.URL.Path), "remote_addr", r.RemoteAddr)
		return nil, errUnauthorized
	}
	k := v.Key
	infoFrom(ctx).keyUser = k.User
	if now := s.Now(); now.Sub(k.LastUsedAt) >= lastUsedResolution {
		if err := s.Store.TouchAPIKey(ctx, k.User, now.UTC().Truncate(time.Microsecond)); err != nil && keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
			s.Logger.WarnContext(ctx, "record key use", "key_user", k.User, "error", err)
		}
	}
	return keywarden.PrincipalForKey(k, s.Catalogue), nil
}

// safeMethod reports whether method only reads.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
