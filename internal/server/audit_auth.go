package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
)

// The audit trail of authentication: events that change nothing in the
// store, each written on its own (recordEvent), into the organization that
// the attempt concerned. An attempt that names nothing real — an unknown
// email, a burst of keys that exist nowhere — concerns no organization, and
// goes to the server log only: there is nobody to tell, and a flood of made-up
// names must not be able to fill the audit log.
//
// Failed attempts are not recorded one by one on the API, where they cost
// the attacker nothing: only the moment a client address is throttled, once
// per burst (throttle.Limiter.Refused), so that refused requests cost no
// database write. Failed sign-ins are recorded one by one: each costs a
// password hash, and the sign-in throttle allows few.

// anonymous is the actor of an attempt by nobody yet known.
var anonymous = keywarden.Actor{Type: keywarden.ActorAnonymous}

// memberTarget makes the account of u the event's target.
func memberTarget(e *keywarden.AuditEvent, userID, email string) {
	e.TargetType, e.TargetID, e.TargetName = "member", userID, email
}

// auditSignIn records that u signed in to orgID.
func (s *server) auditSignIn(r *http.Request, u *keywarden.User, orgID string) {
	e, err := s.requestEvent(r, orgID, keywarden.Actor{Type: keywarden.ActorUser, ID: u.ID, Name: u.Email}, keywarden.AuditSignedIn)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "audit event not recorded", "action", keywarden.AuditSignedIn, "error", err)
		return
	}
	memberTarget(e, u.ID, u.Email)
	s.recordEvent(r, e)
}

// auditSignInFailed records a failed sign-in as email, whose account is u
// (nil when the email is nobody's: then the server log, where the failure
// already is, is the only record). The event goes to every organization
// the account belongs to, each of which may want to know that someone is
// trying it; the attempted password is never kept. It also notes the
// account against the client address and the email, for the event of a
// throttled burst (auditSignInThrottled).
func (s *server) auditSignInFailed(r *http.Request, email string, u *keywarden.User) {
	if u == nil {
		return
	}
	s.signInByIP.Note(s.clientIP(r), u.ID, u.Email)
	s.signInByAccount.Note(email, u.ID, u.Email)
	s.auditAccount(r, keywarden.AuditSignInFailed, u.ID, u.Email)
}

// auditSignInThrottled records, once per burst, that sign-in was refused
// for the client address or, when byAccount, for the account email: in the
// organizations of the account that the burst's latest failure named, or
// in none (the server log only) when no failure named a real account.
func (s *server) auditSignInThrottled(r *http.Request, email string, byAccount bool) {
	lim, key := s.signInByIP, s.clientIP(r)
	if byAccount {
		lim, key = s.signInByAccount, email
	}
	first, userID, userEmail := lim.Refused(key)
	if !first {
		return
	}
	s.Logger.InfoContext(r.Context(), "sign-in throttling began", "client_ip", s.clientIP(r), "email", email,
		"by_account", byAccount, "user_id", userID)
	if userID != "" {
		s.auditAccount(r, keywarden.AuditAuthThrottled, userID, userEmail)
	}
}

// auditAccount records action, by an anonymous caller on the account of
// userID, in each organization the account belongs to.
func (s *server) auditAccount(r *http.Request, action, userID, email string) {
	ms, err := s.members.FindUserMemberships(r.Context(), userID)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "audit event not recorded", "action", action, "user_id", userID, "error", err)
		return
	}
	for _, m := range ms {
		e, err := s.requestEvent(r, m.OrgID, anonymous, action)
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "audit event not recorded", "action", action, "error", err)
			return
		}
		memberTarget(e, userID, email)
		s.recordEvent(r, e)
	}
}

// noteAuthFailure notes, against the client address, the key that a failed
// authentication named when it is a real key (a wrong secret, an expired
// key: v.OrgID is set), for the event of a throttled burst (auditThrottled).
func (s *server) noteAuthFailure(ip string, v keywarden.Verification) {
	// The same work whether or not the failure named a real key: this
	// runs on every failure, and must not tell them apart in time
	// (docs/security.md, "No existence oracle").
	s.authByIP.Note(ip, v.OrgID, v.User)
}

// auditThrottled records, once per burst, that the client address ip was
// refused for failing API-key authentication too often: in the
// organization of the latest real key that the burst's failures named, or
// in none (the server log only) when none named a real key. It is called
// for every refused request, and costs a store read and write only for the
// first of a burst.
func (s *server) auditThrottled(r *http.Request, ip string) {
	first, orgID, user := s.authByIP.Refused(ip)
	if !first {
		return
	}
	s.Logger.InfoContext(r.Context(), "authentication throttling began", "client_ip", ip, "org_id", orgID, "key_user", user)
	if orgID == "" {
		return
	}
	e, err := s.requestEvent(r, orgID, anonymous, keywarden.AuditAuthThrottled)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "audit event not recorded", "action", keywarden.AuditAuthThrottled, "error", err)
		return
	}
	e.TargetType, e.TargetName = "api_key", user
	// The key, if it still exists, names the target as every key event
	// does, so that the log can be filtered by its ID.
	if k, err := s.apiKeys.FindAPIKeyByUser(r.Context(), user); err == nil && k.OrgID == orgID {
		e.TargetAPIKey(k)
	}
	s.recordEvent(r, e)
}

// orgCreatedEvent returns the event of the setup page's creation of org
// with its owner, who is its actor.
func (s *server) orgCreatedEvent(r *http.Request, org *keywarden.Organization, owner *keywarden.User) (*keywarden.AuditEvent, error) {
	e, err := s.requestEvent(r, org.ID, keywarden.Actor{Type: keywarden.ActorUser, ID: owner.ID, Name: owner.Email}, keywarden.AuditOrgCreated)
	if err != nil {
		return nil, err
	}
	e.TargetType, e.TargetID, e.TargetName = "organization", org.ID, org.Name
	return e, nil
}
