// Package server is Keywarden's HTTP surface: the REST API under /api/v1 and
// the health endpoints. NewHandler wires it; routes.go lists every route with
// the scope it requires.
package server

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/password"
	"github.com/keywarden/keywarden/internal/ratelimit"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/secretbox"
	"github.com/keywarden/keywarden/internal/throttle"
	"github.com/keywarden/keywarden/internal/usage"
	"github.com/keywarden/keywarden/internal/web"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// DefaultMaxBodyBytes bounds every request body.
const DefaultMaxBodyBytes = 1 << 20

// Config is what the handler depends on. Everything with state — store,
// clock, randomness, logger — is passed in, so tests control it.
type Config struct {
	Store keywarden.Store
	// Verifier checks API keys; a keywarden.Verifier querying Store when
	// nil. In production its key source is the cache package's.
	Verifier keywarden.KeyVerifier
	// Keys is the verification cache behind Verifier, told of every
	// change to keys this node makes; nil when there is none.
	Keys KeyCache
	// KeyPropagation is how long a creation, a rotation or an edit waits
	// after its commit before it is answered, when other nodes verify
	// keys from the same database: every node's propagation window
	// (cache.Config.PropagationWindow), so that by the time anyone holds
	// the new key or secret, every node that refuses unknown keys from
	// memory has read it. Zero when this node is the only one.
	KeyPropagation time.Duration
	// Usage records key uses off the request path; a usage.Recorder over
	// Store when nil.
	Usage     UsageRecorder
	Catalogue *keywarden.Catalogue
	Logger    *slog.Logger
	// LogOutput, when Logger's handler is its Handler (serve's), has the
	// server write the request log line and the line of a failed
	// authentication itself: the bytes slog would write, dated by Now, at
	// a fraction of slog's cost. Otherwise they go through Logger.
	LogOutput *logline.Output
	Now       func() time.Time
	Rand      io.Reader // crypto/rand.Reader when nil

	// OrgKeyPrefix and ProcessKeyPrefix prefix new key IDs; the
	// keywarden.Default… prefixes when empty.
	OrgKeyPrefix     string
	ProcessKeyPrefix string

	MaxBodyBytes int64 // DefaultMaxBodyBytes when zero

	// RateLimiter decides keys' rate limits; a ratelimit.Local (each node
	// on its own) when nil.
	RateLimiter ratelimit.Limiter
	// Metrics records requests and verifications; nil records nothing.
	Metrics *metrics.Metrics
	// ServeMetrics mounts GET /metrics on this handler (unauthenticated, as
	// Prometheus scrapes it); off when the operator binds it elsewhere.
	ServeMetrics bool

	// SetupToken guards the first-run setup page; empty disables it.
	SetupToken string

	// ForwardRoutes returns the forward-auth route table in force (it may
	// change on reload); nil, or a nil table, denies every request.
	ForwardRoutes func() *routetable.Table

	// AuthFailuresPerIP is how many failed authentications a client
	// address may make per minute before it is refused (429) for the rest
	// of the minute; DefaultAuthFailuresPerIP when zero.
	AuthFailuresPerIP int

	// ClientIPs decides a request's client address and whether its
	// X-Forwarded-* headers come from a trusted proxy; nil trusts nobody.
	ClientIPs *clientip.Resolver

	// WebhookBox seals webhooks' signing secrets (--webhook-secret-key);
	// nil: webhooks can be listed, edited and deleted, but neither created
	// nor given a new secret (503).
	WebhookBox *secretbox.Box
	// WebhookAllowPrivate lets webhook URLs be plain http and reach
	// private, loopback and link-local addresses (--webhook-allow-private).
	WebhookAllowPrivate bool
	// WebhookResolver looks up a webhook URL's host when it is given, for
	// the destination check (send.CheckURL); nil is net.DefaultResolver.
	WebhookResolver send.Resolver
}

// KeyCache is what the server tells the verification cache. The cache
// learns of changes to keys only from the store's change log; Sync makes
// it read the log now, so that a change this node just made is in force
// here before the node answers.
// Fresh says whether it answers from memory: /readyz reports a node whose
// cache is not as unready, so load balancers move traffic away.
type KeyCache interface {
	Sync(ctx context.Context) error
	Fresh() bool
}

// UsageRecorder takes the outcome of each authentication with a known key
// — a success (ok), or a wrong secret or an expired key — to write it in
// the background: no database write sits on the request path. Ignore is
// for a failure whose key ID names no key: it costs what Record costs, so
// that the time of a failure tells nothing about which IDs exist.
type UsageRecorder interface {
	Record(user string, at time.Time, from string, ok bool)
	Ignore(user string, at time.Time, from string)
}

// server holds the configured dependencies the handlers share.
type server struct {
	Config
	// The store, by role: each handler names the part it uses, so what an
	// endpoint or page can touch is plain to see (the member pages use
	// members, and nothing of apiKeys). Config.Store is only for wiring,
	// and for the readiness check's Ping.
	orgs      keywarden.OrganizationStore
	members   keywarden.MemberStore
	processes keywarden.ProcessStore
	apiKeys   keywarden.APIKeyStore
	usage     keywarden.UsageStore // read only; Config.Usage (the recorder) writes
	sessions  keywarden.SessionStore
	audit     keywarden.AuditStore
	webhooks  keywarden.WebhookStore
	assets    *web.Assets
	// Sign-in failures are counted per client address, and per account
	// for untrusted clients or per device cookie for a browser that holds
	// one (device.go).
	signInByAccount *throttle.Limiter
	signInByDevice  *throttle.Limiter
	signInByIP      *throttle.Limiter
	// passwords bounds this node's concurrent argon2id work (password.go).
	passwords *password.Bound
	// Failed key authentications are counted per client address.
	authByIP *throttle.Limiter
	// addressAudits spaces the audit events of allowlist refusals.
	addressAudits addressAudits
	// dummyPasswordHash is checked against when a sign-in names an unknown
	// email, so that the answer takes as long as for a known one.
	dummyPasswordHash string
	// mux holds the routes, for the Allow header of the fallback's 405.
	mux *http.ServeMux
	// logOutput is Config.LogOutput when it is Logger's (requestlog.go).
	logOutput *logline.Output
	// Renderings remembered for the request path (hotpath.go).
	ipTexts    *ipTexts
	scopeTexts *scopeRenderings
	// What the hot paths answer about a valid key, per key.
	identities    *keyMemo[[5]string]
	meAnswers     *keyMemo[[]byte]
	verifyAnswers *keyMemo[[]byte]
	processIDs    *texts // the verify API's process IDs
}

// NewHandler returns the HTTP handler serving the API and health endpoints.
func NewHandler(cfg Config) http.Handler {
	if cfg.Catalogue == nil {
		cfg.Catalogue = keywarden.MustDefaultCatalogue()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OrgKeyPrefix == "" {
		cfg.OrgKeyPrefix = keywarden.DefaultOrgKeyPrefix
	}
	if cfg.ProcessKeyPrefix == "" {
		cfg.ProcessKeyPrefix = keywarden.DefaultProcessKeyPrefix
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.AuthFailuresPerIP <= 0 {
		cfg.AuthFailuresPerIP = DefaultAuthFailuresPerIP
	}
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = ratelimit.NewLocal(cfg.Now)
	}
	if cfg.ClientIPs == nil {
		cfg.ClientIPs = &clientip.Resolver{}
	}
	if cfg.Verifier == nil {
		cfg.Verifier = &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: cfg.Store, Catalogue: cfg.Catalogue}, Processes: keywarden.StoreProcesses{Finder: cfg.Store}, Now: cfg.Now}
	}
	if cfg.Usage == nil {
		cfg.Usage = usage.New(cfg.Store, usage.Config{Now: cfg.Now, Logger: cfg.Logger})
	}
	s := &server{Config: cfg, assets: web.MustLoad(), signInByAccount: throttle.New(signInFailuresPerAccount, signInWindow, cfg.Now),
		signInByDevice: throttle.New(signInFailuresPerDevice, signInWindow, cfg.Now),
		signInByIP:     throttle.New(signInFailuresPerIP, signInWindow, cfg.Now).Escalating(MaxAddressLockout),
		authByIP:       throttle.New(cfg.AuthFailuresPerIP, AuthWindow, cfg.Now).Escalating(MaxAddressLockout),
		passwords:      password.NewBound(password.DefaultConcurrency(), passwordWait),
		ipTexts:        &ipTexts{}, scopeTexts: &scopeRenderings{}, identities: &keyMemo[[5]string]{}, meAnswers: &keyMemo[[]byte]{}, verifyAnswers: &keyMemo[[]byte]{},
		processIDs: &texts{}}
	if cfg.LogOutput != nil && cfg.Logger.Handler() == cfg.LogOutput.Handler() {
		s.logOutput = cfg.LogOutput
	}
	s.orgs, s.members, s.processes, s.apiKeys, s.sessions, s.audit = cfg.Store, cfg.Store, cfg.Store, cfg.Store, cfg.Store, cfg.Store
	s.usage = cfg.Store
	s.webhooks = cfg.Store
	s.dummyPasswordHash = mustDummyPasswordHash()

	routes := s.routes()
	patterns := make([]string, len(routes))
	for i, rt := range routes {
		patterns[i] = rt.pattern
	}
	mux := s.newMux(routes)

	// The middleware chain, outermost first: recover from panics, HSTS over
	// HTTPS, log one line per request, bound the body, refuse keys in the
	// URL, and requests for "*" that the mux would refuse in plain text;
	// then the routes without wildcards, and the mux.
	var h http.Handler = newExactRoutes(mux, patterns)
	h = s.refuseAsteriskForm(h)
	h = s.refuseKeysInURL(h)
	h = s.limitBody(h)
	h = s.logRequests(h)
	h = s.strictTransport(h)
	h = s.recoverPanics(h)
	return h
}

// newMux registers routes, each behind the checks its access declares. It
// panics on a route that declares no access or contradicts itself, or
// requires a scope the catalogue lacks: a wrong table must fail the boot,
// not serve.
func (s *server) newMux(routes []route) *http.ServeMux {
	mux := http.NewServeMux()
	s.mux = mux
	for _, rt := range routes {
		if why := rt.check(); why != "" {
			panic("server: route " + rt.pattern + " " + why)
		}
		if rt.access.scope != "" {
			i, ok := s.Catalogue.Index(rt.access.scope)
			if !ok {
				panic("server: route " + rt.pattern + " requires " + string(rt.access.scope) + ", which the catalogue lacks")
			}
			rt.access.scopeIndex = i
		}
		switch {
		case rt.access.console:
			mux.Handle(rt.pattern, s.page(rt))
		case rt.access.fallback:
			// No route matched: no credentials to check, and no pattern
			// to log, so the request is counted as unmatched.
			mux.Handle(rt.pattern, s.errorHandler(rt.handle))
		default:
			mux.Handle(rt.pattern, s.authorize(rt))
		}
	}
	return mux
}

// handleUnrouted answers a request that no route matches.
func (s *server) handleUnrouted(w http.ResponseWriter, r *http.Request) error {
	if allow := allowedMethods(s.mux, r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return keywarden.Errorf(EMETHOD, "This endpoint does not support %s.", r.Method)
	}
	return keywarden.Errorf(keywarden.ENOTFOUND, "No such endpoint.")
}

// refuseAsteriskForm answers a request for "*" (other than OPTIONS *,
// which net/http answers itself) with a 400 problem: http.ServeMux answers
// it with an empty 400 of its own, before any route, fallback included.
func (s *server) refuseAsteriskForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			w.Header().Set("Connection", "close") // as the mux does
			s.writeError(w, r, keywarden.Errorf(keywarden.EINVALID, "The request target \"*\" is only for OPTIONS."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleMetrics serves the Prometheus page; routes says why it is public.
func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	s.Metrics.Handler().ServeHTTP(w, r)
	return nil
}

// EMETHOD is the server's own error code for a known path with an unknown
// method, and EMEDIATYPE for a body that is not JSON; only the HTTP layer
// can produce them.
const (
	EMETHOD    = "method_not_allowed"
	EMEDIATYPE = "unsupported_media_type"
)

// allowedMethods returns the methods that some route serves at r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/api/v1/" && pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// mustDummyPasswordHash hashes a random password with the real parameters.
func mustDummyPasswordHash() string {
	pw := make([]byte, 32)
	if _, err := rand.Read(pw); err != nil {
		panic(err)
	}
	h, err := password.Hash(string(pw))
	if err != nil {
		panic(err)
	}
	return h
}
