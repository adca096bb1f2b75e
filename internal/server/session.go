package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"time"

	"github.com/keywarden/keywarden"
)

// Console sessions. The cookie holds a 256-bit random token; the store holds
// only its SHA-256, so a copy of the database yields no live session. Each
// session has its own CSRF token, sent back in forms (csrf_token) and in
// the console's API calls (X-CSRF-Token).
const (
	sessionCookie   = "keywarden_session"
	csrfCookie      = "keywarden_csrf" // before sign-in: double-submit token
	sessionLifetime = 12 * time.Hour
	csrfField       = "csrf_token"
	csrfHeader      = "X-CSRF-Token"
)

var errCSRF = keywarden.Errorf(keywarden.EFORBIDDEN, "The form has expired or did not come from this site. Reload the page and try again.")

// randomToken returns 256 random bits, URL-safe.
func (s *server) randomToken() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := r.Read(b); err != nil {
		return "", keywarden.Errorf(keywarden.EINTERNAL, "random token: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenHash is the stored form of a session or invite token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// secure reports whether the request reached Keywarden over HTTPS: over
// TLS to Keywarden itself (--tls-cert), or through a proxy in
// --trusted-proxies that says so in X-Forwarded-Proto (from anyone else the
// header proves nothing). It is the one answer to that question: HSTS
// (strictTransport), the Secure flag of every cookie (setCookie,
// clearCookie, the device cookie's name) and anything else that depends on
// HTTPS ask it, so that they cannot disagree.
func (s *server) secure(r *http.Request) bool {
	return r.TLS != nil || s.ClientIPs.TrustsPeer(r) && r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// startSession signs user in to org with a fresh session (rotation: any
// session the browser had is ended, so a planted cookie cannot be promoted).
func (s *server) startSession(w http.ResponseWriter, r *http.Request, userID, orgID string) error {
	if err := s.deleteSession(r); err != nil {
		return err
	}
	token, err := s.randomToken()
	if err != nil {
		return err
	}
	csrf, err := s.randomToken()
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	sess := &keywarden.Session{ID: tokenHash(token), UserID: userID, OrgID: orgID, CSRFToken: csrf,
		CreatedAt: now, ExpiresAt: now.Add(sessionLifetime)}
	if err := s.sessions.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	s.setCookie(w, r, sessionCookie, token, sessionLifetime)
	s.clearCookie(w, r, csrfCookie)
	return nil
}

// endSession deletes the browser's session, if any, and its cookie.
func (s *server) endSession(w http.ResponseWriter, r *http.Request) error {
	s.clearCookie(w, r, sessionCookie)
	return s.deleteSession(r)
}

// deleteSession deletes the session the request's cookie names, if any.
func (s *server) deleteSession(r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return s.sessions.DeleteSession(r.Context(), tokenHash(c.Value))
	}
	return nil
}

// session returns the request's live session and its principal, or nil
// when there is none (no cookie, unknown, expired, or the member was
// removed). Only a store failure is an error.
func (s *server) session(r *http.Request) (*keywarden.Session, *keywarden.Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil, nil
	}
	ctx := r.Context()
	sess, err := s.sessions.FindSession(ctx, tokenHash(c.Value))
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if !s.Now().Before(sess.ExpiresAt) {
		return nil, nil, nil
	}
	user, err := s.members.FindUserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, ignoreNotFound(err)
	}
	m, err := s.orgs.FindMembership(ctx, sess.OrgID, sess.UserID)
	if err != nil {
		return nil, nil, ignoreNotFound(err)
	}
	var grants []*keywarden.ProcessGrant
	if m.Role == keywarden.RoleUser {
		if grants, err = s.members.FindUserGrants(ctx, sess.OrgID, sess.UserID); err != nil {
			return nil, nil, err
		}
	}
	return sess, keywarden.PrincipalForMember(user, m, grants, s.Catalogue), nil
}

func ignoreNotFound(err error) error {
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return nil
	}
	return err
}

// anonymousCSRF returns the double-submit token of a visitor who is not
// signed in, setting its cookie when there is none yet.
func (s *server) anonymousCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value, nil
	}
	token, err := s.randomToken()
	if err != nil {
		return "", err
	}
	s.setCookie(w, r, csrfCookie, token, sessionLifetime)
	return token, nil
}

// checkCSRF verifies a state-changing console request: it must come from
// this site (Origin, when the browser sends it) and carry the expected token
// in the X-CSRF-Token header or, for console forms, the form. SameSite=Lax already keeps the
// cookie off cross-site posts; this is the second lock.
func (s *server) checkCSRF(r *http.Request, expected string, formAllowed bool) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return errCSRF
		}
	}
	got := r.Header.Get(csrfHeader)
	if got == "" && formAllowed {
		got = r.PostFormValue(csrfField)
	}
	if expected == "" || subtle.ConstantTimeCompare([]byte(got), []byte(expected)) != 1 {
		return errCSRF
	}
	return nil
}
