package server

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/routetable"
)

// Forward-auth errors. They are 403s, whatever went wrong short of the key
// itself: nginx's auth_request understands only 2xx, 401 and 403, so any
// other answer would reach the client as a 500.
var (
	errNoOriginal = keywarden.Errorf(keywarden.EFORBIDDEN,
		"The gateway did not say which request to authorize: send X-Original-Method and X-Original-URI (nginx) or X-Forwarded-Method and X-Forwarded-Uri (Caddy, Traefik).")
	errNoRoute          = keywarden.Errorf(keywarden.EFORBIDDEN, "No route of the forward-auth table allows this request.")
	errWrongProcess     = keywarden.Errorf(keywarden.EFORBIDDEN, "This key cannot reach that process.")
	errKeyInURL         = keywarden.Errorf(keywarden.EFORBIDDEN, "API keys are accepted only in the Authorization header, never in the URL.")
	errForwardThrottled = keywarden.Errorf(keywarden.EFORBIDDEN, "Too many failed authentications from this address. Try again later.")
	// errForwardKeyRateLimited is errKeyRateLimited as forward-auth says it.
	errForwardKeyRateLimited = keywarden.Errorf(keywarden.EFORBIDDEN, "This API key's rate limit is reached. Try again after the time in Retry-After.")
)

// handleForwardAuth answers a gateway's question "may this request pass?"
// for a service behind it. The gateway sends the client's Authorization
// header and the original method and URI; the route table maps them to the
// scopes and process they need; the one key check decides. A 200 carries
// the caller's identity in headers for the gateway to copy upstream.
func (s *server) handleForwardAuth(w http.ResponseWriter, r *http.Request) error {
	method, uri := originalRequest(r)
	// Refusals name the original path (never its query string, where a
	// careless client may have put a key).
	path, query, _ := strings.Cut(uri, "?")
	info := infoOf(w)
	info.instance = safePath(path)
	if method == "" || uri == "" {
		s.Logger.WarnContext(r.Context(), "forward-auth request without the original method and URI: check the gateway's configuration")
		return errNoOriginal
	}
	if query != "" {
		if name, found := credentialInQuery(query); found {
			s.Logger.InfoContext(r.Context(), "forward-auth refused a key in the URL", "param", name)
			return errKeyInURL
		}
	}
	var table *routetable.Table
	if s.ForwardRoutes != nil {
		table = s.ForwardRoutes()
	}
	if table == nil {
		return errNoRoute
	}
	m, ok := table.Match(method, uri)
	if !ok {
		// For the operator writing the table.
		s.Logger.InfoContext(r.Context(), "forward-auth: no route matches", "original_method", method, "original_path", safePath(path))
		return errNoRoute
	}
	if m.Route.Public {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	v, err := s.verifyHeader(r, info, keywarden.Requirement{Scopes: m.Route.Set, ProcessID: m.ProcessID})
	if err == errKeyRateLimited {
		// As below: a 403 that nginx passes on, with Retry-After and the
		// RateLimit headers.
		return errForwardKeyRateLimited
	} else if err != nil && keywarden.ErrorCode(err) == keywarden.ERATELIMITED {
		// nginx's auth_request turns a 429 into a 500: refuse with a 403,
		// which it passes on, Retry-After included.
		return errForwardThrottled
	} else if err != nil {
		return err
	}
	switch v.Code {
	case keywarden.VerifyValid:
	case keywarden.VerifyWrongProcess:
		return errWrongProcess
	case keywarden.VerifyInsufficientScope:
		return keywarden.Errorf(keywarden.EFORBIDDEN, "This request requires the scope %s.", joinScopes(s.Catalogue.ScopesOf(v.Missing), ", "))
	default:
		return errUnauthorized
	}
	k := v.Key
	id := s.identityOf(&k)
	h := w.Header()
	h[api.HeaderKeyID] = id[0:1:1]
	h[api.HeaderKeyUser] = id[1:2:2]
	h[api.HeaderOrgID] = id[2:3:3]
	if k.ProcessID != "" {
		h[api.HeaderProcessID] = id[3:4:4]
	}
	h[api.HeaderScopes] = id[4:5:5]
	h["Cache-Control"] = headerNoStore
	w.WriteHeader(http.StatusOK)
	return nil
}

// originalRequest returns the method and URI of the request the gateway
// asks about: nginx sends what its configuration sets, X-Original-*; Caddy
// and Traefik send X-Forwarded-*.
func originalRequest(r *http.Request) (method, uri string) {
	method, uri = headerValue(r.Header, hdrOriginalMethod), headerValue(r.Header, hdrOriginalURI)
	if method == "" && uri == "" {
		method, uri = headerValue(r.Header, hdrForwardedMethod), headerValue(r.Header, hdrForwardedURI)
	}
	return method, uri
}

// The original request's headers, canonical: Header.Get would canonicalize
// X-Original-URI into a new string on every request.
var (
	hdrOriginalMethod  = textproto.CanonicalMIMEHeaderKey(api.HeaderOriginalMethod)
	hdrOriginalURI     = textproto.CanonicalMIMEHeaderKey(api.HeaderOriginalURI)
	hdrForwardedMethod = textproto.CanonicalMIMEHeaderKey(api.HeaderForwardedMethod)
	hdrForwardedURI    = textproto.CanonicalMIMEHeaderKey(api.HeaderForwardedURI)
)

// headerValue is h.Get(key) for a canonical key.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func joinScopes(scopes []keywarden.Scope, sep string) string {
	var b strings.Builder
	for i, sc := range scopes {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(string(sc))
	}
	return b.String()
}
