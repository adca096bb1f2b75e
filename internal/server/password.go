package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/password"
)

// passwordWait is how long a request waits for a hashing slot before it is
// told to come back (503). A hash takes tens of milliseconds, so a few
// seconds absorb a burst of sign-ins; a flood gets refusals that cost no
// memory instead of a queue that costs 64 MiB a head.
const passwordWait = 3 * time.Second

// Every password the server hashes or checks goes through s.passwords, the
// node's bound on concurrent argon2id work (see password.Bound for why the
// bound belongs to the server rather than the password package).

// checkPassword is password.Check within the bound.
func (s *server) checkPassword(w http.ResponseWriter, r *http.Request, pw, hash string) (bool, error) {
	ok, err := s.passwords.Check(r.Context(), pw, hash)
	return ok, s.passwordBusy(w, r, err)
}

// hashPassword is password.Hash within the bound.
func (s *server) hashPassword(w http.ResponseWriter, r *http.Request, pw string) (string, error) {
	h, err := s.passwords.Hash(r.Context(), pw)
	return h, s.passwordBusy(w, r, err)
}

// passwordBusy turns a refused hashing slot into a 503 with Retry-After,
// which the console's error page and form re-render both show; nobody's
// password was checked, so no failure is counted.
func (s *server) passwordBusy(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, password.ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.Logger.WarnContext(r.Context(), "password hashing busy", "path", safePath(r.URL.Path), "remote_addr", s.clientIP(r))
		w.Header().Set("Retry-After", "2")
		return keywarden.Errorf(keywarden.EUNAVAILABLE, "Keywarden is busy. Try again in a few seconds.")
	}
	if err != nil {
		return keywarden.Errorf(keywarden.EINTERNAL, "password: %v", err)
	}
	return nil
}
