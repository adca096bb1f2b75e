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
	key, req, buf, err := s.readVerifyRequest(r)
	if buf != nil {
		defer putSecretBuffer(buf) // key lies in it
	}
	if err != nil {
		return err
	}
	info := infoOf(w)
	if err := s.admit(r, info); err != nil {
		return err
	}
	// The original client's address (the trusted-proxy rule: a service
	// listed in --trusted-proxies passes it in X-Forwarded-For), for keys
	// with an allowlist.
	req.ClientAddr, req.At = s.clientAddrOf(r, info), s.arrival(info)
	v, err := s.Verifier.VerifyKey(r.Context(), key, req)
	if err != nil {
		return err
	}
	s.recordVerification(r, info, v)
	if v.Code == keywarden.VerifyValid {
		switch err := s.limitKey(r, info, v.Key); {
		case err == errKeyRateLimited:
			v = keywarden.Verification{Code: keywarden.VerifyRateLimited, User: v.User}
		case err != nil:
			return err
		}
	}
	// The request carried a secret; no cache may keep the exchange.
	w.Header()["Cache-Control"] = headerNoStore
	if v.Code == keywarden.VerifyValid {
		// A key's answer depends on nothing but the key: remembered.
		writeJSONLine(w, http.StatusOK, s.verifiedOf(&v.Key))
		return nil
	}
	// api.VerifyResponse, as encode would write it.
	bp := buffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"valid":false,"code":`...)
	b = appendJSONString(b, string(v.Code))
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
	*bp = b
	putBuffer(bp)
	return nil
}

// appendVerified appends the verify API's answer for a valid key k,
// api.VerifyResponse as encode would write it, without its newline.
func (s *server) appendVerified(b []byte, k *keywarden.KeyIdentity) []byte {
	b = append(b, `{"valid":true,"code":`...)
	b = appendJSONString(b, string(keywarden.VerifyValid))
	b = append(b, `,"key":{"id":`...)
	b = appendJSONString(b, k.ID)
	b = append(b, `,"user":`...)
	b = appendJSONString(b, k.User)
	b = append(b, `,"orgId":`...)
	b = appendJSONString(b, k.OrgID)
	if k.ProcessID != "" {
		b = append(b, `,"processId":`...)
		b = appendJSONString(b, k.ProcessID)
	}
	b = append(b, `,"scopes":`...)
	b = append(b, s.scopesOf(k.Scopes).json...)
	b = append(b, `,"exp":`...)
	b = appendJSONTime(b, k.ExpiresAt)
	return append(b, "}}"...)
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
