package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/password"
)

// Sign-in throttling: a few mistakes are forgiven; guessing is not. Failures
// count per client address, and per account for untrusted clients or per
// device cookie for a browser that holds one (device.go), within the window.
const (
	signInFailuresPerAccount = 5
	signInFailuresPerIP      = 20
	signInWindow             = 15 * time.Minute
)

// inviteLifetime is how long an invite link works.
const inviteLifetime = 7 * 24 * time.Hour

func (s *server) handleStatic(w http.ResponseWriter, r *http.Request) error {
	s.assets.ServeStatic(w, r)
	return nil
}

// orgExists reports whether setup has already happened.
func (s *server) orgExists(r *http.Request) (bool, error) {
	_, total, err := s.orgs.FindOrganizations(r.Context(), keywarden.Page{Limit: 1})
	return total > 0, err
}

// setupAllowed checks the one-time setup token (printed in the server log
// at start-up) and that no organization exists yet.
func (s *server) setupAllowed(r *http.Request, token string) error {
	if s.SetupToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.SetupToken)) != 1 {
		return keywarden.Errorf(keywarden.ENOTFOUND, "This setup link is not valid. Use the link printed in the server log.")
	}
	exists, err := s.orgExists(r)
	if err != nil {
		return err
	}
	if exists {
		return errAlreadySetUp
	}
	return nil
}

// errAlreadySetUp answers a valid setup link once the organization exists.
var errAlreadySetUp = keywarden.Errorf(keywarden.ENOTFOUND, "Keywarden is already set up: its organization and owner exist. Sign in instead.")

// errorPage is the Data of the error page: where to go from there.
type errorPage struct {
	Href, Text string
}

// renderAlreadySetUp tells the holder of a used setup link where to go.
func (s *server) renderAlreadySetUp(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Keywarden is already set up", "", "")
	if err != nil {
		return err
	}
	v.Error = keywarden.ErrorMessage(errAlreadySetUp)
	v.Data = errorPage{Href: "/sign-in", Text: "Sign in"}
	return s.renderStatus(w, http.StatusNotFound, "error", v)
}

func (s *server) handleSetupPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if err := s.setupAllowed(r, token); err == errAlreadySetUp {
		return s.renderAlreadySetUp(w, r)
	} else if err != nil {
		return err
	}
	v, err := s.newView(r, "Set up Keywarden", "", "")
	if err != nil {
		return err
	}
	v.Data = map[string]string{"Token": token}
	return s.render(w, "setup", v)
}

// handleSetup creates the first organization and its owner, and signs the
// owner in.
func (s *server) handleSetup(w http.ResponseWriter, r *http.Request) error {
	token := r.PostFormValue("token")
	if err := s.setupAllowed(r, token); err == errAlreadySetUp {
		return s.renderAlreadySetUp(w, r)
	} else if err != nil {
		return err
	}
	v, err := s.newView(r, "Set up Keywarden", "", "")
	if err != nil {
		return err
	}
	v.Data = map[string]string{"Token": token}
	var val keywarden.Validation
	name := keywarden.ValidateName(r.PostFormValue("org_name"), "org_name", &val)
	email := keywarden.NormalizeEmail(r.PostFormValue("email"), "email", &val)
	pw := r.PostFormValue("password")
	if reason := password.Validate(pw); reason != "" {
		val.Add("password", "invalid", "%s", reason)
	} else if pw != r.PostFormValue("password_confirm") {
		val.Add("password_confirm", "mismatch", "The passwords do not match.")
	}
	if err := val.Err(); err != nil {
		if err := formError(v, r, err); err != nil {
			return err
		}
		return s.renderStatus(w, http.StatusBadRequest, "setup", v)
	}
	hash, err := s.hashPassword(w, r, pw)
	if err != nil {
		return err
	}
	orgID, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	userID, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	org := &keywarden.Organization{ID: orgID, Name: name, MaxKeyLifetime: keywarden.DefaultMaxKeyLifetime, CreatedAt: now}
	owner := &keywarden.User{ID: userID, Email: email, PasswordHash: hash, CreatedAt: now}
	e, err := s.orgCreatedEvent(r, org, owner)
	if err != nil {
		return err
	}
	if err := s.orgs.CreateOrganization(r.Context(), org, owner, e); err != nil {
		return err
	}
	s.Logger.InfoContext(r.Context(), "setup complete", "org_id", org.ID, "user_id", owner.ID)
	if err := s.startSession(w, r, owner.ID, org.ID); err != nil {
		return err
	}
	if err := s.setDeviceCookie(w, r, owner); err != nil { // device.go
		return err
	}
	return redirect(w, r, "/")
}

func (s *server) handleSignInPage(w http.ResponseWriter, r *http.Request) error {
	if stateFrom(r.Context()).session != nil {
		return redirect(w, r, safeNext(r.URL.Query().Get("next")))
	}
	v, err := s.newView(r, "Sign in", "", "")
	if err != nil {
		return err
	}
	v.Data = map[string]string{"Next": safeNext(r.URL.Query().Get("next"))}
	return s.render(w, "signin", v)
}

// errBadSignIn is the one answer to a wrong email or password: which one
// was wrong is not revealed.
var errBadSignIn = &keywarden.Error{Code: keywarden.EUNAUTHORIZED, Message: "The email or password is not correct."}

// handleSignIn checks the password (argon2id, constant-time), throttled per
// address and per account or device cookie, and starts a new session.
func (s *server) handleSignIn(w http.ResponseWriter, r *http.Request) error {
	v, err := s.newView(r, "Sign in", "", "")
	if err != nil {
		return err
	}
	next := safeNext(r.PostFormValue("next"))
	v.Data = map[string]string{"Next": next}
	var val keywarden.Validation
	email := keywarden.NormalizeEmail(r.PostFormValue("email"), "email", &val)
	pw := r.PostFormValue("password")
	fail := func(status int, err error) error {
		if ferr := formError(v, r, err); ferr != nil {
			return ferr
		}
		v.Form.Del("password")
		return s.renderStatus(w, status, "signin", v)
	}
	ip := s.clientIP(r)
	// Untrusted clients share the account's budget; a browser with a valid
	// device cookie for the account spends its own (device.go), so that
	// nobody else's failures lock it out. The address's budget binds all.
	// The cookie's key is the account's password hash: only a request that
	// carries one costs a lookup before the throttle decides.
	var user *keywarden.User
	looked := s.hasDeviceCookie(r) && val.Err() == nil
	if looked {
		if user, err = s.orgs.FindUserByEmail(r.Context(), email); ignoreNotFound(err) != nil {
			return err
		}
	}
	device := s.trustedDevice(r, user)
	budget, budgetKey := s.signInByAccount, email
	if device != "" {
		budget, budgetKey = s.signInByDevice, device
	}
	okAccount, waitAccount := budget.Allow(budgetKey)
	okIP, waitIP := s.signInByIP.Allow(ip)
	if !okAccount || !okIP {
		wait := max(waitAccount, waitIP)
		s.Logger.WarnContext(r.Context(), "sign-in throttled", "email", email, "remote_addr", ip, "trusted_device", device != "")
		s.auditSignInThrottled(r, email, !okAccount)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return fail(http.StatusTooManyRequests, keywarden.Errorf(keywarden.EFORBIDDEN,
			"Too many failed sign-in attempts. Try again in %d minutes.", int(wait.Minutes())+1))
	}
	if err := val.Err(); err != nil {
		return fail(http.StatusBadRequest, err)
	}
	if !looked {
		if user, err = s.orgs.FindUserByEmail(r.Context(), email); ignoreNotFound(err) != nil {
			return err
		}
	}
	// An unknown email still costs a hash, so timing does not tell which
	// accounts exist.
	hash := s.dummyPasswordHash
	if user != nil {
		hash = user.PasswordHash
	}
	match, err := s.checkPassword(w, r, pw, hash)
	if err != nil {
		return fail(http.StatusServiceUnavailable, err)
	}
	var memberships []*keywarden.Membership
	if match && user != nil {
		if memberships, err = s.members.FindUserMemberships(r.Context(), user.ID); err != nil {
			return err
		}
	}
	if len(memberships) == 0 {
		budget.Fail(budgetKey)
		s.signInByIP.Fail(ip)
		s.Logger.InfoContext(r.Context(), "sign-in failed", "email", email, "remote_addr", ip)
		s.auditSignInFailed(r, email, user)
		return fail(http.StatusUnauthorized, errBadSignIn)
	}
	// Success refills no budget: the untrusted clients' is every attacker's
	// too. The browser gets a fresh device cookie, and so a budget of its own.
	if err := s.setDeviceCookie(w, r, user); err != nil {
		return err
	}
	// Sign-ins are rare enough to sweep expired sessions on.
	if err := s.sessions.DeleteExpiredSessions(r.Context(), s.Now()); err != nil {
		s.Logger.WarnContext(r.Context(), "delete expired sessions", "error", err)
	}
	if err := s.startSession(w, r, user.ID, memberships[0].OrgID); err != nil {
		return err
	}
	s.Logger.InfoContext(r.Context(), "signed in", "user_id", user.ID, "org_id", memberships[0].OrgID, "remote_addr", ip)
	s.auditSignIn(r, user, memberships[0].OrgID)
	return redirect(w, r, next)
}

func (s *server) handleSignOut(w http.ResponseWriter, r *http.Request) error {
	if err := s.endSession(w, r); err != nil {
		return err
	}
	return redirect(w, r, "/sign-in")
}

// invite returns the live invite of the link's token.
func (s *server) invite(r *http.Request, token string) (*keywarden.Invite, error) {
	errInvalid := keywarden.Errorf(keywarden.ENOTFOUND, "This invitation link is not valid or has expired. Ask an admin for a new one.")
	if token == "" {
		return nil, errInvalid
	}
	inv, err := s.members.FindInvite(r.Context(), tokenHash(token))
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && !s.Now().Before(inv.ExpiresAt) {
		return nil, errInvalid
	}
	return inv, err
}

type inviteView struct {
	Token    string
	Email    string
	OrgName  string
	Existing bool // the email already has an account: confirm with its password
}

func (s *server) inviteView(r *http.Request, token string) (*view, *keywarden.Invite, *keywarden.User, error) {
	inv, err := s.invite(r, token)
	if err != nil {
		return nil, nil, nil, err
	}
	org, err := s.orgs.FindOrganizationByID(r.Context(), inv.OrgID)
	if err != nil {
		return nil, nil, nil, err
	}
	user, err := s.orgs.FindUserByEmail(r.Context(), inv.Email)
	if err != nil && keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		return nil, nil, nil, err
	}
	v, err := s.newView(r, "Join "+org.Name, "", "")
	if err != nil {
		return nil, nil, nil, err
	}
	v.Data = inviteView{Token: token, Email: inv.Email, OrgName: org.Name, Existing: user != nil}
	return v, inv, user, nil
}

func (s *server) handleInvitePage(w http.ResponseWriter, r *http.Request) error {
	v, _, _, err := s.inviteView(r, r.URL.Query().Get("token"))
	if err != nil {
		return err
	}
	return s.render(w, "invite", v)
}

// handleAcceptInvite joins the organization: a new person chooses a
// password, a person who already has an account confirms theirs.
func (s *server) handleAcceptInvite(w http.ResponseWriter, r *http.Request) error {
	v, inv, user, err := s.inviteView(r, r.PostFormValue("token"))
	if err != nil {
		return err
	}
	pw := r.PostFormValue("password")
	var val keywarden.Validation
	now := s.Now().UTC().Truncate(time.Microsecond)
	if user != nil {
		// An existing account proves itself with its password here, so the
		// address's sign-in budget applies: holding an invitation link must
		// not buy unthrottled guesses. (Only the address's: the account's
		// is for sign-in, where a stranger can reach it.)
		ip := s.clientIP(r)
		if ok, wait := s.signInByIP.Allow(ip); !ok {
			s.Logger.WarnContext(r.Context(), "invitation password throttled", "remote_addr", ip)
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			if err := formError(v, r, keywarden.Errorf(keywarden.EFORBIDDEN,
				"Too many failed attempts. Try again in %d minutes.", int(wait.Minutes())+1)); err != nil {
				return err
			}
			return s.renderStatus(w, http.StatusTooManyRequests, "invite", v)
		}
		if ok, err := s.checkPassword(w, r, pw, user.PasswordHash); err != nil {
			return err
		} else if !ok {
			s.signInByIP.Fail(ip)
			val.Add("password", "invalid", "The password is not correct.")
		}
	} else if reason := password.Validate(pw); reason != "" {
		val.Add("password", "invalid", "%s", reason)
	} else if pw != r.PostFormValue("password_confirm") {
		val.Add("password_confirm", "mismatch", "The passwords do not match.")
	} else {
		hash, err := s.hashPassword(w, r, pw)
		if err != nil {
			return err
		}
		id, err := keywarden.NewID(s.Rand)
		if err != nil {
			return err
		}
		user = &keywarden.User{ID: id, Email: inv.Email, PasswordHash: hash, CreatedAt: now}
	}
	if err := val.Err(); err != nil {
		if err := formError(v, r, err); err != nil {
			return err
		}
		return s.renderStatus(w, http.StatusBadRequest, "invite", v)
	}
	eventID, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	e := &keywarden.AuditEvent{ID: eventID, OrgID: inv.OrgID, At: now,
		Actor:  keywarden.Actor{Type: keywarden.ActorUser, ID: user.ID, Name: user.Email},
		Action: keywarden.AuditMemberJoined, TargetType: "member", TargetID: user.ID, TargetName: user.Email + " (" + string(inv.Role) + ")",
		RemoteAddr: s.clientIP(r), UserAgent: userAgent(r)}
	if err := s.members.AcceptInvite(r.Context(), inv.ID, user, now, e); err != nil {
		return err
	}
	if err := s.startSession(w, r, user.ID, inv.OrgID); err != nil {
		return err
	}
	if err := s.setDeviceCookie(w, r, user); err != nil { // device.go
		return err
	}
	return redirect(w, r, "/")
}
