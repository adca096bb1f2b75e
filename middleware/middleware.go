// Package middleware puts Keywarden in front of the HTTP handlers of another
// Go service: callers must present a Keywarden API key, the middleware asks
// Keywarden's verify API whether the key holds the route's scopes (and
// reaches the route's process), and the handler runs only if it does, with
// the caller's identity in its request context.
//
//	package main
//
//	import (
//		"log"
//		"net/http"
//		"time"
//
//		"github.com/keywarden/keywarden/client"
//		"github.com/keywarden/keywarden/middleware"
//	)
//
//	func main() {
//		kw, err := middleware.New(middleware.Config{
//			Client:   client.New("https://keywarden.internal", ""),
//			CacheTTL: 10 * time.Second, // a deleted key may work here for up to 10 s
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//		upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			id, _ := middleware.IdentityFrom(r.Context())
//			log.Printf("upload by key %s of org %s", id.User, id.OrgID)
//		})
//		mux := http.NewServeMux()
//		mux.Handle("POST /v1/processes/{processId}/files",
//			kw.RequireInProcess("processId", "workspace.file:upload")(upload))
//		mux.Handle("GET /v1/destinations",
//			kw.Require("workspace.destination:read")(http.NotFoundHandler()))
//		srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//		log.Fatal(srv.ListenAndServe())
//	}
//
// Callers send the key as Keywarden's own API takes it: "Authorization:
// Basic base64(user:pass)" (curl -u "$KEY") or "Authorization: Bearer
// user:pass". The answers are Keywarden's too, problem documents of the
// same shape: 401 with the same body for every failed authentication, 403
// when the key lacks a scope or cannot reach the process, 429 when Keywarden
// rate-limits the key, and 503 when Keywarden cannot be asked or cannot
// check — the middleware fails closed, it never lets a request through
// without a VALID answer.
//
// It imports only the standard library and Keywarden's public packages, so
// a service that uses it pulls in no database driver.
package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
)

// KeyVerifier is what the middleware needs of Keywarden: its verify API.
// *client.Client is the implementation; the interface lets a service's own
// tests substitute a fake.
type KeyVerifier interface {
	Verify(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error)
}

var _ KeyVerifier = (*client.Client)(nil)

const (
	// DefaultTimeout bounds each verify call when Config.Timeout is zero.
	// The caller's request waits for it, so it is kept short: past it the
	// answer is 503.
	DefaultTimeout = 5 * time.Second
	// MaxCacheTTL is the longest Config.CacheTTL New accepts. The TTL is
	// how long a deleted key keeps working through the middleware, and
	// Keywarden promises that a deletion takes effect within a short,
	// stated bound; a minute is the most this package lets a service add.
	MaxCacheTTL = time.Minute
	// DefaultCacheSize is the number of cached answers when
	// Config.CacheSize is zero.
	DefaultCacheSize = 10_000
)

// Config configures a Guard.
type Config struct {
	// Client asks Keywarden; typically client.New(url, ""), since the
	// verify API needs no credential of its own. Required.
	Client KeyVerifier
	// Timeout bounds each verify call (DefaultTimeout when zero), on top of
	// the incoming request's own context.
	Timeout time.Duration
	// CacheTTL turns on an in-process cache of Keywarden's answers when
	// positive, to spare a network round trip per request. It is exactly
	// how long a deleted key may keep working through this middleware
	// after its deletion, and how long a refused key stays refused here;
	// at most MaxCacheTTL. A valid key is never cached past its expiry.
	CacheTTL time.Duration
	// CacheSize bounds the cache (DefaultCacheSize when zero).
	CacheSize int
	// Logger receives failures to verify (Keywarden down, slow, 5xx, or
	// misconfiguration); it never receives a key's secret. Discarded when
	// nil.
	Logger *slog.Logger
	// Now is the clock of the cache; time.Now when nil.
	Now func() time.Time
}

// Guard wraps handlers so that they run only for callers holding a
// suitable key. It is safe for concurrent use.
type Guard struct {
	verifier KeyVerifier
	timeout  time.Duration
	ttl      time.Duration
	cache    *cache // nil when caching is off
	logger   *slog.Logger
	now      func() time.Time
}

// New returns a Guard, or an error if cfg is unusable.
func New(cfg Config) (*Guard, error) {
	var problems []string
	if cfg.Client == nil {
		problems = append(problems, "Client is required")
	}
	if cfg.Timeout < 0 {
		problems = append(problems, "Timeout must not be negative")
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL {
		problems = append(problems, fmt.Sprintf("CacheTTL must be from 0 (off) to %v, not %v: it is how long a deleted key keeps working", MaxCacheTTL, cfg.CacheTTL))
	}
	if cfg.CacheSize < 0 {
		problems = append(problems, "CacheSize must not be negative")
	}
	if len(problems) > 0 {
		return nil, errors.New("middleware: " + strings.Join(problems, "; "))
	}
	g := &Guard{verifier: cfg.Client, timeout: cfg.Timeout, ttl: cfg.CacheTTL, logger: cfg.Logger, now: cfg.Now}
	if g.timeout == 0 {
		g.timeout = DefaultTimeout
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.ttl > 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		g.cache = newCache(size)
	}
	return g, nil
}

// Require returns middleware that lets a request through only if its key
// holds every one of scopes. Use RequireInProcess for routes that concern
// one process, or a process key would pass for every process.
//
// It panics, like http.ServeMux.Handle on a bad pattern, if no scope is
// given or a scope is not written namespace.resource:action: a route that
// requires nothing is a bug, not a default.
func (g *Guard) Require(scopes ...string) func(http.Handler) http.Handler {
	return g.middleware(newRequirement("Require", "", scopes))
}

// RequireInProcess is Require for a route whose path names a process: the
// key must also reach the process whose ID is the request's path value
// wildcard (r.PathValue, set by http.ServeMux on the route the handler is
// registered on) — a process key only its own process, an organization key
// its organization's processes. A request without that path value is
// refused with 500: the route and the wildcard do not match.
func (g *Guard) RequireInProcess(wildcard string, scopes ...string) func(http.Handler) http.Handler {
	if wildcard == "" {
		panic("middleware: RequireInProcess needs the name of the path wildcard that holds the process ID")
	}
	return g.middleware(newRequirement("RequireInProcess", wildcard, scopes))
}

// AnyKey returns middleware that lets through any valid key, whatever its
// scopes: for the few routes that need a caller and no permission, such as
// one that describes the caller to itself. Prefer Require.
func (g *Guard) AnyKey() func(http.Handler) http.Handler {
	return g.middleware(requirement{})
}

// requirement is what a route asks of its keys.
type requirement struct {
	scopes   []string // sorted, without duplicates
	wildcard string   // the path value naming the process; empty for none
	detail   string   // the 403 detail when a scope is missing
}

func newRequirement(fn, wildcard string, scopes []string) requirement {
	if len(scopes) == 0 {
		panic("middleware: " + fn + " needs at least one scope: deny by default")
	}
	for _, s := range scopes {
		if !keywarden.ValidScopeName(s) {
			panic(fmt.Sprintf("middleware: %s: %q is not a scope (namespace.resource:action)", fn, s))
		}
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	detail := "This endpoint requires the scope " + scopes[0] + "."
	if len(scopes) > 1 {
		detail = "This endpoint requires the scopes " + strings.Join(scopes, ", ") + "."
	}
	return requirement{scopes: scopes, wildcard: wildcard, detail: detail}
}

func (g *Guard) middleware(req requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := credentials(r)
			if !ok {
				g.refuse(w, r, http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
				return
			}
			var processID string
			if req.wildcard != "" {
				if processID = r.PathValue(req.wildcard); processID == "" {
					g.logger.ErrorContext(r.Context(), "keywarden middleware: the route has no such path wildcard; refusing",
						"wildcard", req.wildcard, "path", r.URL.Path)
					g.refuse(w, r, http.StatusInternalServerError, keywarden.EINTERNAL, detailCannotCheck)
					return
				}
			}
			v, err := g.check(client.WithForwardedFor(r.Context(), forwardedFor(r)), key, req, processID)
			if err != nil {
				g.cannotCheck(w, r, key, err)
				return
			}
			switch v.code {
			case keywarden.VerifyValid:
				next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), v.identity)))
				return
			case keywarden.VerifyInvalid, keywarden.VerifyExpired:
				g.refuse(w, r, http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
			case keywarden.VerifyInsufficientScope:
				g.refuse(w, r, http.StatusForbidden, keywarden.EFORBIDDEN, req.detail)
			case keywarden.VerifyWrongProcess:
				g.refuse(w, r, http.StatusForbidden, keywarden.EFORBIDDEN, "This key cannot reach that process.")
			case keywarden.VerifyRateLimited:
				g.refuse(w, r, http.StatusTooManyRequests, "rate_limited", "Too many requests with this key. Try again later.")
			}
			g.logger.DebugContext(r.Context(), "keywarden middleware: key refused", "code", string(v.code), "key_user", keyUser(key), "path", r.URL.Path)
		})
	}
}

// forwardedFor is the X-Forwarded-For chain of r's client as this service
// sees it: what arrived, then the peer. Keywarden reads it from the right
// and believes it only from its trusted proxies, so a client cannot choose
// the address its failures count against.
func forwardedFor(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); prior != "" {
		return prior + ", " + peer
	}
	return peer
}

const detailCannotCheck = "The API key could not be checked. Try again later."

// cannotCheck answers a request whose key got no verdict: fail closed.
// Keywarden refusing the verify call itself (4xx other than 429: a scope
// its catalogue lacks, a wrong base URL) is this service's configuration,
// which retrying will not fix: 500. Anything else — unreachable, too slow,
// 5xx, 429, an answer that makes no sense — is 503.
func (g *Guard) cannotCheck(w http.ResponseWriter, r *http.Request, key string, err error) {
	ctx := r.Context()
	var ce *client.Error
	if errors.As(err, &ce) && ce.StatusCode >= 400 && ce.StatusCode < 500 && ce.StatusCode != http.StatusTooManyRequests {
		g.logger.ErrorContext(ctx, "keywarden middleware: Keywarden refused the verify request; are the route's scopes in its catalogue?",
			"key_user", keyUser(key), "path", r.URL.Path, "error", err)
		g.refuse(w, r, http.StatusInternalServerError, keywarden.EINTERNAL, detailCannotCheck)
		return
	}
	level := slog.LevelWarn
	if ctx.Err() != nil {
		level = slog.LevelDebug // the caller gave up; nobody waits for the answer
	}
	g.logger.Log(ctx, level, "keywarden middleware: cannot verify key; refusing", "key_user", keyUser(key), "path", r.URL.Path, "error", err)
	g.refuse(w, r, http.StatusServiceUnavailable, "unavailable", detailCannotCheck)
}

// verdict is Keywarden's answer for one key and requirement.
type verdict struct {
	code     keywarden.VerifyCode
	identity *api.VerifiedKey // set when code is VALID; never handed out itself
}

// check returns Keywarden's verdict on key for req and processID, from the
// cache when it holds one.
func (g *Guard) check(ctx context.Context, key string, req requirement, processID string) (verdict, error) {
	var ck cacheKey
	if g.cache != nil {
		ck = newCacheKey(key, processID, req.scopes)
		if v, ok := g.cache.get(ck, g.now()); ok {
			return v.copy(), nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	res, err := g.verifier.Verify(ctx, api.VerifyRequest{Key: key, Scopes: req.scopes, ProcessID: processID})
	if err != nil {
		return verdict{}, err
	}
	v, err := verdictOf(res, req, processID)
	if err != nil {
		return verdict{}, err
	}
	if g.cache != nil {
		now := g.now()
		switch v.code {
		case keywarden.VerifyValid:
			until := now.Add(g.ttl)
			// A valid answer lasts no longer than the key.
			if exp, err := time.Parse(time.RFC3339, v.identity.Exp); err == nil {
				if exp.Before(until) {
					until = exp
				}
				g.cache.put(ck, v, until, now)
			}
		case keywarden.VerifyInvalid, keywarden.VerifyExpired, keywarden.VerifyInsufficientScope, keywarden.VerifyWrongProcess:
			// Definite refusals are cached too, so a flood of one bad key
			// costs Keywarden one call per TTL. RATE_LIMITED is not: it
			// passes when the bucket refills.
			g.cache.put(ck, v, now.Add(g.ttl), now)
		}
	}
	return v.copy(), nil
}

// verdictOf checks that Keywarden's answer is one of the verdicts this
// package knows and is consistent with itself and the request; anything
// else is an error, and the request is refused.
func verdictOf(res *api.VerifyResponse, req requirement, processID string) (verdict, error) {
	if res == nil {
		return verdict{}, errors.New("keywarden: empty verify response")
	}
	switch res.Code {
	case keywarden.VerifyValid:
		k := res.Key
		if !res.Valid || k == nil {
			return verdict{}, errors.New("keywarden: VALID verdict without valid=true and a key")
		}
		for _, s := range req.scopes {
			if !slices.Contains(k.Scopes, keywarden.Scope(s)) {
				return verdict{}, fmt.Errorf("keywarden: VALID verdict for key %s lacks the required scope %s", k.User, s)
			}
		}
		if processID != "" && k.ProcessID != "" && k.ProcessID != processID {
			return verdict{}, fmt.Errorf("keywarden: VALID verdict for process key %s on another process", k.User)
		}
		id := *k
		return verdict{code: res.Code, identity: &id}, nil
	case keywarden.VerifyInvalid, keywarden.VerifyExpired, keywarden.VerifyInsufficientScope,
		keywarden.VerifyWrongProcess, keywarden.VerifyRateLimited:
		if res.Valid {
			return verdict{}, fmt.Errorf("keywarden: verdict %s with valid=true", res.Code)
		}
		return verdict{code: res.Code}, nil
	}
	return verdict{}, fmt.Errorf("keywarden: unknown verdict %q", res.Code)
}

// copy returns v with an identity of its own, so a handler that changes
// its identity changes neither the cache nor other requests.
func (v verdict) copy() verdict {
	if v.identity != nil {
		id := *v.identity
		id.Scopes = slices.Clone(id.Scopes)
		v.identity = &id
	}
	return v
}

type identityKey struct{}

// IdentityFrom returns the identity of the key that the middleware let
// through, inside the handler it wraps.
func IdentityFrom(ctx context.Context) (*api.VerifiedKey, bool) {
	id, ok := ctx.Value(identityKey{}).(*api.VerifiedKey)
	return id, ok && id != nil
}

// NewContext returns ctx carrying id, as the middleware passes it to the
// handler; for a service's tests of handlers that read IdentityFrom.
func NewContext(ctx context.Context, id *api.VerifiedKey) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}
