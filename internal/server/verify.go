package server

import (
	"net/http"
	"strconv"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// handleVerify is the verify API: a service that is handed a key asks
// whether it is good for what the service is about to do. The caller needs
// no credential of its own. The key in the body is the proof, and the
// answer tells only what the key's holder may know about it: a failure is
// one INVALID whether the ID is unknown or the secret wrong, so the endpoint
// is no oracle for which key IDs exist. Each failure is counted like any
// failed authentication (authFailed).
func (s *server) handleVerify(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[api.VerifyRequest](r)
	if err != nil {
		return err
	}
	req, err := s.verifyRequirement(body)
	if err != nil {
		return err
	}
	if err := s.admit(r); err != nil {
		return err
	}
	// The original client's address (the trusted-proxy rule: a service
	// listed in --trusted-proxies passes it in X-Forwarded-For), for keys
	// with an allowlist.
	req.ClientAddr = s.ClientIPs.ClientIP(r)
	v, err := s.Verifier.VerifyKey(r.Context(), body.Key, req)
	if err != nil {
		return err
	}
	s.recordVerification(r, v)
	if v.Code == keywarden.VerifyValid {
		switch err := s.limitKey(r, v.Key); {
		case err == errKeyRateLimited:
			v = keywarden.Verification{Code: keywarden.VerifyRateLimited, User: v.User}
		case err != nil:
			return err
		}
	}
	res := api.VerifyResponse{Valid: v.Code == keywarden.VerifyValid, Code: v.Code}
	if res.Valid {
		k := v.Key
		res.Key = &api.VerifiedKey{ID: k.ID, User: k.User, OrgID: k.OrgID, ProcessID: k.ProcessID,
			Scopes: s.scopeNames(k.Scopes), Exp: timestamp(k.ExpiresAt)}
	}
	// The request carried a secret; no cache may keep the exchange.
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, res)
}

// verifyRequirement validates a verify request, every field at once: a
// key is required, and every scope must be in the catalogue (a scope no key
// can hold is a mistake of the caller, not a verdict on the key).
func (s *server) verifyRequirement(body api.VerifyRequest) (keywarden.Requirement, error) {
	var v keywarden.Validation
	if body.Key == "" {
		v.Add("body: key", "required", "key is required: the API key to check, \"user:pass\".")
	}
	req := keywarden.Requirement{ProcessID: body.ProcessID}
	for i, name := range body.Scopes {
		idx, ok := s.Catalogue.Index(keywarden.Scope(name))
		if !ok {
			v.Add("body: scopes["+strconv.Itoa(i)+"]", "unknown_scope", "Unknown scope %q.", name)
			continue
		}
		req.Scopes.Add(idx)
	}
	return req, v.Err()
}

// scopeNames lists set in catalogue order, never nil.
func (s *server) scopeNames(set keywarden.ScopeSet) []keywarden.Scope {
	names := s.Catalogue.ScopesOf(set)
	if names == nil {
		names = []keywarden.Scope{}
	}
	return names
}
