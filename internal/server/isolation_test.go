package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/storetest"
)

var isolationSeed = flag.Uint64("isolation.seed", 0,
	"seed of TestTenantIsolation; 0 takes $KEYWARDEN_ISOLATION_SEED, and without it a random seed")

// TestTenantIsolation checks DESIGN.md's tenant binding (§3, §9: "no key
// ever reaches another organization's or another process's data") in bulk.
// It builds several organizations with processes and keys of random scopes
// through the API of the real server over SQLite, then sends random
// requests to every route of the server's route table — path parameters
// drawn from every tenant's real IDs and from IDs that never existed,
// bodies valid for the route — each one with every key the test holds
// (organization and process keys, live, expired and deleted) and with no
// key or a forged one.
//
// Every answer is checked against an oracle written from DESIGN.md, not
// from the server's code: a model of who owns what, updated with each
// successful change, says whether the request is allowed (then the answer
// is 2xx), or why not (401, 403 or 404); and no answer shows another
// tenant's IDs. Routes are taken from the table, so a route added later is
// covered without an edit here; a route that changes state or checks a key
// must have a recipe in isolationRecipes, or the test fails.
//
// Rerun a failure with the seed it prints: -isolation.seed=N or
// KEYWARDEN_ISOLATION_SEED=N.
func TestTenantIsolation(t *testing.T) {
	seed := isolationSeedFor(t)
	t.Logf("seed %d (rerun: go test -run TestTenantIsolation ./internal/server/ -isolation.seed=%d, or KEYWARDEN_ISOLATION_SEED=%d)", seed, seed, seed)
	templates := 500 // each sent with some 30 callers
	if testing.Short() {
		templates = 100
	}
	w := newWorld(t, seed)
	for i := 0; i < templates; i++ {
		w.step(i, w.pickRoute())
	}
	if !testing.Short() {
		templates += w.coverEveryRoute(templates)
	}
	w.report(templates)
}

// step sends one random template of rt; every 20 steps an hour passes, so
// that keys with a short life expire mid-run.
func (w *world) step(i int, rt *isoRoute) {
	if i > 0 && i%20 == 0 {
		w.srv.Clock.Advance(time.Hour)
	}
	w.replenish()
	w.run(w.newTemplate(rt))
}

// maxExtraTemplates bounds coverEveryRoute's work per route. A route that
// succeeds for a fair share of its templates needs none; one that still
// has not after this many is broken or no longer reachable by the test.
const maxExtraTemplates = 60

// coverEveryRoute sends more random templates of each API route that has
// not yet succeeded, or not yet been asked for another organization's
// object, until it has or maxExtraTemplates are spent on it; it returns
// how many it sent. The dealt rounds give every route its share, but a
// share is a handful of templates, and with some seeds a route's draws all
// miss: a live target of the caller's own organization is one draw in a
// few. The top-up keeps report's coverage check from depending on luck.
func (w *world) coverEveryRoute(next int) int {
	sent := 0
	for _, rt := range w.routes {
		if rt.kind != keyedRoute && rt.kind != checksKeyRoute {
			continue
		}
		for range maxExtraTemplates {
			if rs := w.stats.perRoute[rt.Pattern]; rs != nil && rs.ok > 0 && (len(rt.params) == 0 || rs.crossTenant > 0) {
				break
			}
			w.step(next+sent, rt)
			sent++
		}
	}
	if sent > 0 {
		w.t.Logf("%d more templates sent to routes that had not yet succeeded or been asked for another organization's object", sent)
	}
	return sent
}

func isolationSeedFor(t *testing.T) uint64 {
	t.Helper()
	if *isolationSeed != 0 {
		return *isolationSeed
	}
	if s := os.Getenv("KEYWARDEN_ISOLATION_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KEYWARDEN_ISOLATION_SEED=%q: %v", s, err)
		}
		return n
	}
	return rand.Uint64()
}

// The model: what each ID belongs to, and the state of every process and
// key the test made or saw made.
type (
	// tenant is what an ID belongs to: an organization and, for what lives
	// inside one process (the process itself, its keys), that process.
	tenant struct{ org, process string }

	isoOrg struct {
		*keywarden.Organization
		label    string // A, B, C… in messages
		operator keywarden.KeyMaterial
	}
	isoProcess struct {
		id, org string
		deleted bool
	}
	isoKey struct {
		id, user, org, process string
		scopes                 map[keywarden.Scope]bool
		all                    bool // created with "all"
		exp                    time.Time
		deleted                bool
		km                     keywarden.KeyMaterial
		caller                 bool // among the keys that send requests
	}
)

func (k *isoKey) live(now time.Time) bool { return !k.deleted && now.Before(k.exp) }

// caller is one way of sending a request: one of the model's keys with its
// true secret, or no key, or a forged one.
type caller struct {
	name  string
	key   *isoKey // nil: not a key of the model with its secret
	auth  string  // the Authorization header for forged credentials; "" sends none
	value string  // what the verify API is asked about
}

type world struct {
	t   *testing.T
	rng *rand.Rand
	srv *servertest.Server
	h   http.Handler
	// forward is the forward-auth table the server was given.
	forward []forwardRoute

	catalogue   []keywarden.ScopeInfo
	routeScopes []keywarden.Scope // the scopes the route table requires
	routes      []*isoRoute
	deck        []*isoRoute // the routes still to be drawn this round
	// table is a mux holding the route table's patterns, to tell which
	// route a request reaches (the catch-all above all).
	table *http.ServeMux

	orgs    []*isoOrg
	procs   map[string]*isoProcess
	procSeq []*isoProcess // every process, in creation order
	keys    map[string]*isoKey
	keySeq  []*isoKey
	owners  map[string]tenant // every ID and key user the test knows of
	callers []*isoKey
	seq     int
	// webhooks is the webhooks' part of the model (webhook_isolation_test.go).
	webhooks *hookModel

	stats      isoStats
	violations []violation
}

type isoStats struct {
	requests, templates int
	status              map[int]int
	outcome             map[string]int
	mutations           map[string]int
	verify              map[string]int
	perRoute            map[string]*routeStats
}

type routeStats struct{ requests, ok, crossTenant int }

const (
	orgsInWorld      = 3
	processesPerOrg  = 3
	orgKeysPerOrg    = 3
	maxLiveCallers   = 22
	deadCallersSent  = 3
	violationsToShow = 8
)

func newWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	w := &world{
		t:         t,
		rng:       rand.New(rand.NewPCG(seed, 0x7e4a47)),
		catalogue: keywarden.DefaultScopes(),
		procs:     map[string]*isoProcess{},
		keys:      map[string]*isoKey{},
		owners:    map[string]tenant{},
		stats: isoStats{status: map[int]int{}, outcome: map[string]int{}, mutations: map[string]int{},
			verify: map[string]int{}, perRoute: map[string]*routeStats{}},
		forward: []forwardRoute{
			{"POST", "/v1/processes/{processId}/files", "workspace.file:upload", true},
			{"GET", "/v1/processes/{processId}/results", "workspace.result:read", true},
			{"GET", "/v1/destinations", "workspace.destination:read", false},
			{"GET", "/v1/collections", "workspace.collection:read", false},
		},
	}
	var yaml strings.Builder
	yaml.WriteString("routes:\n")
	for _, fr := range w.forward {
		fmt.Fprintf(&yaml, "  - route: %s %s\n    scopes: [%s]\n", fr.method, fr.path, fr.scope)
		if fr.process {
			yaml.WriteString("    process: processId\n")
		}
	}
	table, err := routetable.Parse("isolation-routes.yaml", []byte(yaml.String()), keywarden.MustDefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	w.srv = servertest.New(t, func(c *server.Config) {
		c.ForwardRoutes = func() *routetable.Table { return table }
		// Every route of the table is served, /metrics too.
		c.ServeMetrics, c.Metrics = true, metrics.New()
		c.WebhookBox = MustWebhookBox(t)
	})
	w.h = w.srv.HTTP.Config.Handler // the same handler, without a socket per request
	w.loadRoutes()

	// The organizations: servertest's, with its root key, and more, each
	// with an operator key holding every scope, stored as the command line
	// stores it. The operators build each organization through the API and
	// keep it stocked; they are neither callers nor targets, so that the
	// random requests cannot delete them.
	root, err := keywarden.ParseKey(w.srv.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	w.addOrg(w.srv.Org, root)
	for len(w.orgs) < orgsInWorld {
		org, _ := storetest.MustCreateOrganization(t, w.srv.Store)
		w.addOrg(org, w.storeOperatorKey(org))
	}
	// Each with processes, keys of random scopes, and keys that will have
	// expired by the time the requests start.
	for _, o := range w.orgs {
		for range processesPerOrg {
			p := w.createProcess(o)
			w.createKey(o, p.id, nil, w.lifetime())
			w.createKey(o, p.id, nil, w.lifetime())
		}
		w.createKey(o, "", []string{keywarden.ScopeAll}, w.lifetime())
		for range orgKeysPerOrg {
			w.createKey(o, "", nil, w.lifetime())
		}
		w.createKey(o, "", nil, 30*time.Minute)
		w.createKey(o, w.procSeq[len(w.procSeq)-1].id, nil, 30*time.Minute)
	}
	w.srv.Clock.Advance(time.Hour)
	return w
}

func (w *world) now() time.Time { return w.srv.Clock.Now() }

func (w *world) addOrg(org *keywarden.Organization, operator keywarden.KeyMaterial) {
	o := &isoOrg{Organization: org, label: string(rune('A' + len(w.orgs))), operator: operator}
	w.orgs = append(w.orgs, o)
	w.owners[org.ID] = tenant{org: org.ID}
	// Its people are its data too.
	members, _, err := w.srv.Store.FindMembers(w.t.Context(), org.ID, keywarden.Page{Limit: keywarden.MaxPageLimit})
	if err != nil {
		w.t.Fatalf("the members of %s: %v", o.label, err)
	}
	for _, m := range members {
		w.owners[m.UserID] = tenant{org: org.ID}
	}
	stored, err := w.srv.Store.FindAPIKeyByUser(w.t.Context(), operator.User)
	if err != nil {
		w.t.Fatalf("the operator key of %s: %v", o.label, err)
	}
	w.owners[stored.ID] = tenant{org: org.ID}
	w.owners[operator.User] = tenant{org: org.ID}
}

// storeOperatorKey stores a key of org with every scope, as the command
// line does.
func (w *world) storeOperatorKey(org *keywarden.Organization) keywarden.KeyMaterial {
	now := w.now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "operator", Scopes: []string{keywarden.ScopeAll},
		Exp: now.Add(60 * 24 * time.Hour).Format(time.RFC3339)}, keywarden.MintParams{Org: org,
		Catalogue: keywarden.MustDefaultCatalogue(), Now: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI}})
	if err != nil {
		w.t.Fatalf("MintAPIKey: %v", err)
	}
	if err := w.srv.Store.CreateAPIKey(w.t.Context(), k, nil); err != nil {
		w.t.Fatalf("CreateAPIKey: %v", err)
	}
	return km
}

// operate sends a request of o's operator that must succeed.
func (w *world) operate(o *isoOrg, method, path string, body any, want int, v any) {
	data, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(data))
	req.SetBasicAuth(o.operator.User, o.operator.Pass())
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	if rec.Code != want {
		w.t.Fatalf("the operator of %s: %s %s: %d, want %d\n%s", o.label, method, path, rec.Code, want, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		w.t.Fatalf("the operator of %s: %s %s: %v", o.label, method, path, err)
	}
}

func (w *world) orgLabel(id string) string {
	for _, o := range w.orgs {
		if o.ID == id {
			return o.label
		}
	}
	return "?" + id
}

// createProcess creates a process of o through the API.
func (w *world) createProcess(o *isoOrg) *isoProcess {
	var p api.Process
	w.operate(o, http.MethodPost, "/api/v1/processes", api.CreateProcessRequest{Name: w.name("process")}, http.StatusCreated, &p)
	return w.addProcess(p.ID, o.ID)
}

func (w *world) addProcess(id, org string) *isoProcess {
	p := &isoProcess{id: id, org: org}
	w.procs[id] = p
	w.procSeq = append(w.procSeq, p)
	w.owners[id] = tenant{org: org, process: id}
	return p
}

// createKey creates a key of o through the API — of processID when not
// empty — with scopes (random ones when nil), and makes it a caller.
func (w *world) createKey(o *isoOrg, processID string, scopes []string, lifetime time.Duration) *isoKey {
	level, path := keywarden.LevelOrganization, "/api/v1/admin/api-keys"
	if processID != "" {
		level, path = keywarden.LevelProcess, "/api/v1/processes/"+processID+"/api-keys"
	}
	if scopes == nil {
		scopes = w.randomScopes(level, nil)
	}
	var k api.APIKey
	exp := w.now().Add(lifetime).Format(time.RFC3339)
	w.operate(o, http.MethodPost, path, keywarden.CreateAPIKeyRequest{Name: w.name("key"), Scopes: scopes, Exp: exp}, http.StatusCreated, &k)
	km, err := keywarden.ParseKey(k.Key)
	if err != nil {
		w.t.Fatalf("created key %s: %v", k.ID, err)
	}
	expAt, _ := time.Parse(time.RFC3339, k.Exp)
	return w.addKey(&isoKey{id: k.ID, user: k.User, org: o.ID, process: processID, scopes: w.expand(scopes, level),
		all: scopes[0] == keywarden.ScopeAll, exp: expAt, km: km}, true)
}

func (w *world) addKey(k *isoKey, caller bool) *isoKey {
	w.keys[k.id] = k
	w.keySeq = append(w.keySeq, k)
	w.owners[k.id] = tenant{org: k.org, process: k.process}
	w.owners[k.user] = tenant{org: k.org, process: k.process}
	if caller {
		k.caller = true
		w.callers = append(w.callers, k)
	}
	return k
}

func (w *world) liveCallers() int {
	n := 0
	for _, k := range w.callers {
		if k.live(w.now()) {
			n++
		}
	}
	return n
}

// replenish keeps every organization stocked with live processes and live
// keys to send requests with, however many the requests deleted.
func (w *world) replenish() {
	now := w.now()
	w.replenishWebhooks()
	for _, o := range w.orgs {
		live, orgKeys := 0, 0
		for _, p := range w.procSeq {
			if p.org == o.ID && !p.deleted {
				live++
			}
		}
		for ; live < processesPerOrg; live++ {
			w.createProcess(o)
		}
		for _, k := range w.callers {
			if k.org == o.ID && k.process == "" && k.live(now) {
				orgKeys++
			}
		}
		for ; orgKeys < orgKeysPerOrg; orgKeys++ {
			w.createKey(o, "", nil, w.lifetime())
		}
		// One of them holds every scope, so that every route has a caller
		// it must serve in each organization.
		if !slices.ContainsFunc(w.callers, func(k *isoKey) bool { return k.org == o.ID && k.process == "" && k.all && k.live(now) }) {
			w.createKey(o, "", []string{keywarden.ScopeAll}, w.lifetime())
		}
		// A few processes of each organization have keys of their own
		// among the callers.
		withKeys := 0
		var without []*isoProcess
		for _, p := range w.procSeq {
			if p.org != o.ID || p.deleted {
				continue
			}
			if slices.ContainsFunc(w.callers, func(k *isoKey) bool { return k.process == p.id && k.live(now) }) {
				withKeys++
			} else {
				without = append(without, p)
			}
		}
		for ; withKeys < processesPerOrg; withKeys++ {
			w.createKey(o, without[0].id, nil, w.lifetime())
			without = without[1:]
		}
	}
}

// lifetime is a new key's: most live for weeks, some only hours, so that
// keys expire while the requests run. None outlives the shortest policy
// of the organizations (a longer one is a 400, not the test's subject).
func (w *world) lifetime() time.Duration {
	if w.rng.IntN(6) == 0 {
		return time.Duration(1+w.rng.IntN(20)) * time.Hour
	}
	maxDays := 365
	for _, o := range w.orgs {
		maxDays = min(maxDays, int(o.MaxKeyLifetime/(24*time.Hour))-1)
	}
	return time.Duration(1+w.rng.IntN(max(1, maxDays))) * 24 * time.Hour
}

func (w *world) name(what string) string {
	w.seq++
	return fmt.Sprintf("isolation %s %d", what, w.seq)
}

// levelScopes is every scope a key of level may hold (DESIGN.md §3: process
// keys only the process-level ones).
func (w *world) levelScopes(level keywarden.Level) []keywarden.Scope {
	var out []keywarden.Scope
	for _, s := range w.catalogue {
		if level == keywarden.LevelOrganization || s.ProcessLevel {
			out = append(out, s.Name)
		}
	}
	return out
}

// expand is what a key created with scopes holds: "all" is every scope of
// its level.
func (w *world) expand(scopes []string, level keywarden.Level) map[keywarden.Scope]bool {
	if slices.Contains(scopes, keywarden.ScopeAll) {
		return setOf(w.levelScopes(level))
	}
	out := map[keywarden.Scope]bool{}
	for _, s := range scopes {
		out[keywarden.Scope(s)] = true
	}
	return out
}

func setOf(scopes []keywarden.Scope) map[keywarden.Scope]bool {
	out := make(map[keywarden.Scope]bool, len(scopes))
	for _, s := range scopes {
		out[s] = true
	}
	return out
}

// randomScopes returns the scopes of a create request for a key of level:
// "all" now and then; otherwise a few scopes, often among those the routes
// require (so that keys both hold and lack each), and, when held is not
// nil, mostly among held.
func (w *world) randomScopes(level keywarden.Level, held map[keywarden.Scope]bool) []string {
	if w.rng.IntN(5) == 0 {
		return []string{keywarden.ScopeAll}
	}
	allowed := w.levelScopes(level)
	var routeScopes, heldScopes []keywarden.Scope
	for _, s := range allowed {
		if slices.Contains(w.routeScopes, s) {
			routeScopes = append(routeScopes, s)
		}
		if held[s] {
			heldScopes = append(heldScopes, s)
		}
	}
	want := map[keywarden.Scope]bool{}
	for n := 1 + w.rng.IntN(5); len(want) < n; {
		from := allowed
		switch r := w.rng.IntN(10); {
		case held != nil && len(heldScopes) > 0 && r < 8:
			from = heldScopes
		case held == nil && r < 6:
			from = routeScopes
		}
		want[from[w.rng.IntN(len(from))]] = true
		if held != nil && len(want) >= len(heldScopes) && w.rng.IntN(2) == 0 {
			break
		}
	}
	var out []string
	for _, s := range allowed { // catalogue order, as stored
		if want[s] {
			out = append(out, string(s))
		}
	}
	return out
}

// randomID is an ID of the right shape that names nothing.
func (w *world) randomID() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 32)
	for i := range b {
		b[i] = hex[w.rng.IntN(16)]
	}
	return string(b)
}

// Routes, from the server's table.

type routeKind int

const (
	keyedRoute     routeKind = iota // an API route that takes a key: any valid key, or a scope
	checksKeyRoute                  // the key in the request is what it checks
	fallbackRoute                   // a catch-all: /api/v1/, /
	pageRoute                       // outside the API: console pages, probes, static files
)

type isoRoute struct {
	server.RouteInfo
	method, path string // method "" when the pattern takes any
	params       []string
	kind         routeKind
	recipe       *recipe
}

func (rt *isoRoute) hasParam(name string) bool { return slices.Contains(rt.params, name) }

var wildcard = regexp.MustCompile(`\{([^}.$]+)(\.\.\.)?\}`)

// loadRoutes takes every route of the server's table. An API route that
// changes state (any method but GET) or checks the key it is given must
// have a recipe, and an API route's path parameters must be ones the model
// knows, or the test fails: an unknown route would otherwise be tested
// with a wrong body or an oracle that does not know what it does.
func (w *world) loadRoutes() {
	recipes := isolationRecipes()
	used := map[string]bool{}
	w.table = http.NewServeMux()
	scopes := map[keywarden.Scope]bool{}
	for _, info := range server.Routes() {
		method, path, found := strings.Cut(info.Pattern, " ")
		if !found {
			method, path = "", info.Pattern
		}
		rt := &isoRoute{RouteInfo: info, method: method, path: path}
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			rt.params = append(rt.params, m[1])
		}
		api := strings.HasPrefix(path, "/api/v1/")
		switch {
		case info.Fallback:
			rt.kind = fallbackRoute
		case !api:
			rt.kind = pageRoute
		case info.ChecksKey:
			rt.kind = checksKeyRoute
		default:
			rt.kind = keyedRoute
		}
		if r, ok := recipes[info.Pattern]; ok {
			rt.recipe, used[info.Pattern] = &r, true
		}
		if api && !info.Fallback {
			for _, p := range rt.params {
				if p != "processId" && !(p == "id" && strings.Contains(path, "/api-keys/{id}")) && !webhookParam(path, p) {
					w.t.Errorf("route %q: the isolation test does not know what {%s} names; teach fillParams and the oracle", info.Pattern, p)
				}
			}
			if rt.recipe == nil && (method != http.MethodGet || info.ChecksKey) {
				w.t.Errorf("route %q changes state or checks a key, and isolationRecipes has no recipe for it: add one (its body, and what a success changes in the model)", info.Pattern)
			}
		}
		if info.Scope != "" {
			scopes[info.Scope] = true
		}
		w.table.HandleFunc(info.Pattern, func(http.ResponseWriter, *http.Request) {})
		w.routes = append(w.routes, rt)
	}
	for p := range recipes {
		if !used[p] {
			w.t.Errorf("isolationRecipes has a recipe for %q, which is not a route", p)
		}
	}
	for _, s := range w.catalogue {
		if scopes[s.Name] {
			w.routeScopes = append(w.routeScopes, s.Name)
		}
	}
	if w.t.Failed() {
		w.t.FailNow()
	}
}

// pickRoute deals the routes in rounds, so that each gets its share: every
// API route twice a round, each catch-all once, and a few routes outside
// the API, which only need to show that a key opens nothing there.
func (w *world) pickRoute() *isoRoute {
	if len(w.deck) == 0 {
		var pages []*isoRoute
		for _, rt := range w.routes {
			switch rt.kind {
			case keyedRoute, checksKeyRoute:
				w.deck = append(w.deck, rt, rt)
			case fallbackRoute:
				w.deck = append(w.deck, rt)
			case pageRoute:
				pages = append(pages, rt)
			}
		}
		for range min(3, len(pages)) {
			w.deck = append(w.deck, pages[w.rng.IntN(len(pages))])
		}
		w.rng.Shuffle(len(w.deck), func(i, j int) { w.deck[i], w.deck[j] = w.deck[j], w.deck[i] })
	}
	rt := w.deck[0]
	w.deck = w.deck[1:]
	return rt
}

// routeOf returns the pattern of the table that serves method and path.
func (w *world) routeOf(method, path string) string {
	_, pattern := w.table.Handler(httptest.NewRequest(method, path, nil))
	return pattern
}

// template is one random request: a route, its targets and the choices of
// its recipe, sent once with every caller.
type template struct {
	rt           *isoRoute
	method, path string
	query        string
	params       map[string]string
	// Choices of the recipes, the same for every caller.
	verify      api.VerifyRequest
	forward     forwardRoute
	forwardURI  string
	leaked      *isoKey
	leakedExact bool
}

type forwardRoute struct {
	method, path string
	scope        keywarden.Scope
	process      bool
}

func (w *world) newTemplate(rt *isoRoute) *template {
	tm := &template{rt: rt, method: rt.method, params: map[string]string{}}
	if tm.method == "" {
		tm.method = http.MethodGet
	}
	switch rt.kind {
	case fallbackRoute:
		w.fallbackRequest(tm)
		return tm
	case pageRoute:
		for _, p := range rt.params {
			tm.params[p] = w.pageParam(p)
		}
	default:
		w.fillParams(tm)
	}
	tm.path = fill(rt.path, tm.params)
	if rt.kind == keyedRoute && tm.method == http.MethodGet && w.rng.IntN(2) == 0 {
		// Later pages of lists too: a leak may hide past the first.
		tm.query = "?limit=100&offset=" + strconv.Itoa([]int{0, 0, 20, 60, 100}[w.rng.IntN(5)])
	}
	if rt.recipe != nil && rt.recipe.prepare != nil {
		rt.recipe.prepare(w, tm)
	}
	if got := w.routeOf(tm.method, tm.path); got != rt.Pattern {
		w.t.Fatalf("the test built %s %s for route %q, but the table serves it with %q", tm.method, tm.path, rt.Pattern, got)
	}
	return tm
}

func fill(path string, params map[string]string) string {
	path = strings.ReplaceAll(path, "{$}", "")
	return wildcard.ReplaceAllStringFunc(path, func(m string) string {
		return params[wildcard.FindStringSubmatch(m)[1]]
	})
}

// fillParams draws an API route's targets from every tenant's real IDs —
// live and deleted — and from IDs that never existed.
func (w *world) fillParams(tm *template) {
	rt := tm.rt
	if w.fillWebhookParams(tm) {
		return
	}
	if rt.hasParam("processId") && rt.hasParam("id") && w.rng.IntN(2) == 0 {
		// A live key and its own process: the requests that may succeed.
		if k := w.pickLive(func(k *isoKey) bool { return k.process != "" }); k != nil {
			tm.params["processId"], tm.params["id"] = k.process, k.id
			return
		}
	}
	if rt.hasParam("processId") {
		tm.params["processId"] = w.pickProcess()
	}
	if rt.hasParam("id") {
		tm.params["id"] = w.pickKey(tm.params["processId"])
	}
}

// pickProcess draws a process ID: often one whose keys are among the
// callers, else any live process, a deleted one, or one that never
// existed.
func (w *world) pickProcess() string {
	switch r := w.rng.IntN(20); {
	case r < 7:
		if k := w.pickLive(func(k *isoKey) bool { return k.caller && k.process != "" }); k != nil {
			return k.process
		}
		fallthrough
	case r < 14:
		var live []*isoProcess
		for _, p := range w.procSeq {
			if !p.deleted {
				live = append(live, p)
			}
		}
		return live[w.rng.IntN(len(live))].id
	case r < 17:
		return w.procSeq[w.rng.IntN(len(w.procSeq))].id // deleted ones among them
	case r < 19:
		return w.randomID()
	}
	return "not-a-process"
}

// pickKey draws a key ID: often a key of processID (an organization key
// when empty), live or not, else any key of any tenant, or none at all.
func (w *world) pickKey(processID string) string {
	switch r := w.rng.IntN(20); {
	case r < 9:
		if k := w.pickLive(func(k *isoKey) bool { return k.process == processID }); k != nil {
			return k.id
		}
		fallthrough
	case r < 12:
		var of []*isoKey
		for _, k := range w.keySeq {
			if k.process == processID {
				of = append(of, k)
			}
		}
		if len(of) > 0 {
			return of[w.rng.IntN(len(of))].id
		}
		fallthrough
	case r < 16:
		return w.keySeq[w.rng.IntN(len(w.keySeq))].id
	}
	return w.randomID()
}

// pickLive returns a random key that is not deleted and matches, or nil.
func (w *world) pickLive(match func(*isoKey) bool) *isoKey {
	var of []*isoKey
	for _, k := range w.keySeq {
		if !k.deleted && match(k) {
			of = append(of, k)
		}
	}
	if len(of) == 0 {
		return nil
	}
	return of[w.rng.IntN(len(of))]
}

func (w *world) pageParam(name string) string {
	switch name {
	case "processId":
		return w.pickProcess()
	case "name":
		return "isolation.css"
	}
	ids := make([]string, 0, len(w.owners))
	for id := range w.owners {
		if keywarden.IsID(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > 0 && w.rng.IntN(3) > 0 {
		return ids[w.rng.IntN(len(ids))]
	}
	return w.randomID()
}

// fallbackRequest builds a request that no route but the catch-all serves:
// an unknown path, or a known one with a method no route of that path
// takes.
func (w *world) fallbackRequest(tm *template) {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	for range 20 {
		path := tm.rt.path + "isolation-no-such-endpoint/" + w.pickProcess()
		if rt := w.routes[w.rng.IntN(len(w.routes))]; w.rng.IntN(2) == 0 && rt.kind != fallbackRoute {
			params := map[string]string{}
			for _, p := range rt.params {
				params[p] = w.pickProcess()
			}
			path = fill(rt.path, params)
		}
		if method := methods[w.rng.IntN(len(methods))]; w.routeOf(method, path) == tm.rt.Pattern {
			tm.method, tm.path = method, path
			return
		}
	}
	tm.method, tm.path = http.MethodGet, tm.rt.path+"isolation-no-such-endpoint"
}

// Callers.

// panel is everyone a template is sent with: every live key, a few dead
// ones (expired, deleted, of a deleted process), no key, and forgeries.
func (w *world) panel() []*caller {
	now := w.now()
	var out []*caller
	var dead []*isoKey
	for _, k := range w.callers {
		if k.live(now) {
			out = append(out, w.keyCaller(k))
		} else {
			dead = append(dead, k)
		}
	}
	for range min(deadCallersSent, len(dead)) {
		i := w.rng.IntN(len(dead))
		out = append(out, w.keyCaller(dead[i]))
		dead = slices.Delete(dead, i, i+1)
	}
	some := w.keySeq[w.rng.IntN(len(w.keySeq))].km
	unknown, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		w.t.Fatal(err)
	}
	// The last character is the checksum's: another one breaks it.
	badSum := some.Value()
	if last := badSum[len(badSum)-1]; last == 'A' {
		badSum = badSum[:len(badSum)-1] + "B"
	} else {
		badSum = badSum[:len(badSum)-1] + "A"
	}
	// A well-formed key, checksum and all, with the ID of a real key and
	// another secret.
	wrongSecret := keywarden.KeyMaterial{User: some.User, Secret: some.Secret[1:] + some.Secret[:1]}.Value()
	basic := func(v string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(v)) }
	out = append(out,
		&caller{name: "no key"},
		&caller{name: "a malformed credential", auth: basic("not-a-key"), value: "not-a-key"},
		&caller{name: "a key with a bad checksum", auth: basic(badSum), value: badSum},
		&caller{name: "an unknown key ID", auth: "Bearer " + unknown.Value(), value: unknown.Value()},
		&caller{name: "a wrong secret for " + some.User, auth: basic(wrongSecret), value: wrongSecret},
	)
	w.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (w *world) keyCaller(k *isoKey) *caller {
	return &caller{name: w.describeKey(k), key: k, value: k.km.Value()}
}

func (w *world) describeKey(k *isoKey) string {
	var b strings.Builder
	if k.process == "" {
		fmt.Fprintf(&b, "organization key %s of %s", k.user, w.orgLabel(k.org))
	} else {
		fmt.Fprintf(&b, "process key %s of process %s of %s", k.user, k.process, w.orgLabel(k.org))
	}
	switch now := w.now(); {
	case k.deleted:
		b.WriteString(", deleted")
	case !now.Before(k.exp):
		b.WriteString(", expired")
	}
	if k.all {
		b.WriteString(", scopes all")
	} else {
		var s []string
		for _, info := range w.catalogue {
			if k.scopes[info.Name] {
				s = append(s, string(info.Name))
			}
		}
		fmt.Fprintf(&b, ", scopes %v", s)
	}
	return b.String()
}

// exchange is one request of a template, by one caller, with what the
// oracle expects of it.
type exchange struct {
	tm     *template
	c      *caller
	header http.Header
	body   []byte
	// identity is the key whose tenant an answer may show; nil: nobody's.
	identity *isoKey
	denials  []denial
	// status, when not zero, is the one status the answer must have,
	// whatever the denials say.
	status int
	// check looks at a 2xx answer beyond its status ("" when it is
	// right); apply changes the model after one.
	check func(res *response) string
	apply func(res *response)
	// crossTenant: an authenticated key named a real object of another
	// organization.
	crossTenant bool
	// verdictInBody: a 2xx answer carries a verdict (the verify API's),
	// which check judges; the status alone grants nothing. verdict is the
	// one the oracle wants, for the report.
	verdictInBody bool
	verdict       string
}

// denial is one reason of the oracle to refuse a request. An early one
// (no valid key; a process key outside its process or on an organization
// route) decides alone: DESIGN.md has the process checked before scopes,
// so that a key learns nothing of what it cannot reach. Late ones
// (scope, existence, escalation) may be checked in any order.
type denial struct {
	status int
	early  bool
	why    string
}

func (x *exchange) deny(status int, early bool, why string) {
	x.denials = append(x.denials, denial{status, early, why})
}

func (x *exchange) setJSON(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	x.body = data
	x.header.Set("Content-Type", "application/json")
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func decodeBody[T any](res *response) (T, string) {
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		return v, fmt.Sprintf("the body does not decode as %T: %v", v, err)
	}
	return v, ""
}

func (w *world) run(tm *template) {
	w.stats.templates++
	var baseline *response
	callers := w.panel()
	if tm.rt.kind == pageRoute {
		// Outside the API a key counts for nothing: every caller must get
		// what a request without credentials gets. That one goes first.
		i := slices.IndexFunc(callers, func(c *caller) bool { return c.name == "no key" })
		callers[0], callers[i] = callers[i], callers[0]
	}
	for _, c := range callers {
		x := &exchange{tm: tm, c: c, header: http.Header{}}
		if c.key != nil {
			if w.rng.IntN(4) == 0 {
				x.header.Set("Authorization", "Bearer "+c.key.km.Value())
			} else {
				x.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.key.km.Value())))
			}
		} else if c.auth != "" {
			x.header.Set("Authorization", c.auth)
		}
		switch tm.rt.kind {
		case keyedRoute:
			w.keyedOracle(x)
			if tm.rt.recipe != nil {
				tm.rt.recipe.build(w, x)
			}
		case checksKeyRoute:
			tm.rt.recipe.build(w, x)
		case fallbackRoute:
			// Whoever asks: a key reaches nothing through the catch-all.
			x.deny(http.StatusNotFound, true, "no route serves this path")
			x.deny(http.StatusMethodNotAllowed, true, "no route serves this method")
		case pageRoute:
		}
		res := w.send(x)
		if tm.rt.kind == pageRoute && baseline == nil {
			baseline = res
		}
		w.judge(x, res, baseline)
	}
}

func (w *world) send(x *exchange) *response {
	req := httptest.NewRequest(x.tm.method, x.tm.path+x.tm.query, bytes.NewReader(x.body))
	for k, v := range x.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return &response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// keyedOracle decides a request to an API route that takes a key, from
// the route's declared access and DESIGN.md's rules.
func (w *world) keyedOracle(x *exchange) {
	k, rt, now := x.c.key, x.tm.rt, w.now()
	switch {
	case k == nil:
		x.deny(http.StatusUnauthorized, true, "no valid key")
	case k.deleted:
		x.deny(http.StatusUnauthorized, true, "the key was deleted")
	case !now.Before(k.exp):
		x.deny(http.StatusUnauthorized, true, "the key has expired")
	}
	if len(x.denials) > 0 {
		return
	}
	x.identity = k
	if rt.OrgLevel && k.process != "" {
		x.deny(http.StatusForbidden, true, "a process key on an organization-level route")
	}
	pid, hasPID := x.tm.params["processId"]
	if hasPID && k.process != "" && pid != k.process {
		x.deny(http.StatusNotFound, true, "a process key naming another process")
	}
	if rt.Scope != "" && !k.scopes[rt.Scope] {
		x.deny(http.StatusForbidden, false, "the key lacks "+string(rt.Scope))
	}
	if hasPID {
		switch p := w.procs[pid]; {
		case p == nil:
			x.deny(http.StatusNotFound, false, "no such process")
		case p.org != k.org:
			x.crossTenant = true
			x.deny(http.StatusNotFound, false, "a process of organization "+w.orgLabel(p.org))
		case p.deleted:
			x.deny(http.StatusNotFound, false, "a deleted process")
		}
	}
	if id, ok := x.tm.params["id"]; ok && !w.webhookOracle(x) {
		switch t := w.keys[id]; {
		case t == nil:
			x.deny(http.StatusNotFound, false, "no such key")
		case t.org != k.org:
			x.crossTenant = true
			x.deny(http.StatusNotFound, false, "a key of organization "+w.orgLabel(t.org))
		case t.process != pid:
			x.deny(http.StatusNotFound, false, "a key of another process or level")
		case t.deleted:
			x.deny(http.StatusNotFound, false, "a deleted key")
		}
	}
}

// expected returns the statuses the oracle accepts for a refused request.
func (x *exchange) expected() []int {
	var early, all []int
	for _, d := range x.denials {
		all = append(all, d.status)
		if d.early {
			early = append(early, d.status)
		}
	}
	if len(early) > 0 {
		all = early
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// judge checks one answer against the oracle and counts it.
func (w *world) judge(x *exchange, res *response, baseline *response) {
	w.stats.requests++
	w.stats.status[res.status]++
	rs := w.stats.perRoute[x.tm.rt.Pattern]
	if rs == nil {
		rs = &routeStats{}
		w.stats.perRoute[x.tm.rt.Pattern] = rs
	}
	rs.requests++
	ok := res.status >= 200 && res.status < 300
	if ok {
		rs.ok++
	}
	if x.crossTenant {
		rs.crossTenant++
		w.stats.outcome["cross-tenant requests"]++
	}
	var problems []string
	switch {
	case res.status >= 500:
		problems = append(problems, "a server error")
	case baseline != nil:
		if res.status != baseline.status || res.header.Get("Location") != baseline.header.Get("Location") {
			problems = append(problems, fmt.Sprintf("outside the API a key must change nothing, but without credentials the answer is %d %s",
				baseline.status, baseline.header.Get("Location")))
		}
		w.stats.outcome["page: same answer as without a key"]++
	case x.status != 0:
		if res.status != x.status {
			problems = append(problems, fmt.Sprintf("want %d", x.status))
		}
	case len(x.denials) == 0:
		if !ok {
			problems = append(problems, "the oracle allows this request: want 2xx")
		}
		w.stats.outcome["allowed, so 2xx"]++
	default:
		want := x.expected()
		if !slices.Contains(want, res.status) {
			problems = append(problems, fmt.Sprintf("want %v", want))
		}
		if res.status == http.StatusUnauthorized && res.header.Get("WWW-Authenticate") == "" {
			problems = append(problems, "a 401 without WWW-Authenticate")
		}
		for _, d := range x.denials {
			if d.status == res.status {
				w.stats.outcome[fmt.Sprintf("refused %d: %s", d.status, category(d.why))]++
			}
		}
	}
	if x.crossTenant && ok && !x.verdictInBody {
		problems = append(problems, "a key reached another organization's object")
	}
	problems = append(problems, w.leaks(x, res)...)
	if ok && x.check != nil {
		if p := x.check(res); p != "" {
			problems = append(problems, p)
		}
	}
	if ok && x.apply != nil {
		x.apply(res)
	}
	if len(problems) > 0 {
		w.violate(x, res, baseline, problems)
	}
}

// category folds the oracle's reasons for the report.
func category(why string) string {
	switch {
	case strings.HasPrefix(why, "the key lacks"):
		return "lacks the route's scope"
	case strings.HasPrefix(why, "a process of organization"), strings.HasPrefix(why, "a key of organization"):
		return "another organization's object"
	case strings.HasPrefix(why, "escalation"):
		return "would grant scopes it does not hold"
	case strings.HasPrefix(why, "the key cannot reach process"):
		return "forward-auth for a process the key cannot reach"
	}
	return why
}

// leaks reports the IDs of other tenants in an answer (body and headers):
// of another organization, or, for a process key, of another process. A
// 2xx answer may show none at all; a refusal none but those the request
// itself carried (a problem's instance is the request's path).
func (w *world) leaks(x *exchange, res *response) []string {
	var text strings.Builder
	text.Write(res.body)
	for name, values := range res.header {
		text.WriteString("\n" + name + ": " + strings.Join(values, ", "))
	}
	ok := res.status >= 200 && res.status < 300
	request := x.tm.path + x.tm.query + "\n" + string(x.body)
	for name, values := range x.header {
		request += "\n" + name + ": " + strings.Join(values, ", ")
	}
	var found []string
	seen := map[string]bool{}
	for _, tok := range words(text.String()) {
		owner, known := w.owners[tok]
		if !known || seen[tok] || !w.foreign(owner, x.identity) {
			continue
		}
		seen[tok] = true
		if !ok && strings.Contains(request, tok) {
			continue
		}
		what := "organization " + w.orgLabel(owner.org)
		if owner.process != "" {
			what += ", process " + owner.process
		}
		if x.identity == nil {
			found = append(found, fmt.Sprintf("the answer shows %s, of %s, where it may show nobody's IDs", tok, what))
		} else {
			found = append(found, fmt.Sprintf("the answer shows %s, of %s, out of the caller's reach", tok, what))
		}
	}
	return found
}

// words splits s into runs of letters, digits and underscores: IDs (32
// hex digits) and key users (prefix_ and 20 base62) are such words.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	})
}

// foreign reports whether something of owner is out of reach of id.
func (w *world) foreign(owner tenant, id *isoKey) bool {
	switch {
	case id == nil, owner.org != id.org:
		return true
	}
	return id.process != "" && owner.process != "" && owner.process != id.process
}

func (w *world) violate(x *exchange, res, baseline *response, problems []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s\n    route %q, caller: %s\n", x.tm.method, x.tm.path, x.tm.query, x.tm.rt.Pattern, x.c.name)
	for name, v := range x.header {
		if name != "Authorization" {
			fmt.Fprintf(&b, "    request %s: %s\n", name, strings.Join(v, ", "))
		}
	}
	if len(x.body) > 0 {
		fmt.Fprintf(&b, "    request body: %s\n", redact(string(x.body)))
	}
	// What the request names, besides the caller.
	request := x.tm.path + x.tm.query + " " + string(x.body)
	for name, v := range x.header {
		if name != "Authorization" {
			request += " " + strings.Join(v, " ")
		}
	}
	named := map[string]bool{}
	for _, word := range words(request) {
		if _, known := w.owners[word]; known && !named[word] && (x.c.key == nil || word != x.c.key.user) {
			named[word] = true
			fmt.Fprintf(&b, "    it names %s: %s\n", word, w.describeTarget(word))
		}
	}
	for _, d := range x.denials {
		fmt.Fprintf(&b, "    oracle: %d (%s)\n", d.status, d.why)
	}
	switch {
	case x.status != 0:
		fmt.Fprintf(&b, "    oracle: %d %s\n", x.status, x.verdict)
	case baseline != nil:
		fmt.Fprintf(&b, "    oracle: as without a key, %d %s\n", baseline.status, baseline.header.Get("Location"))
	case len(x.denials) == 0:
		b.WriteString("    oracle: allowed\n")
	}
	body := redact(string(res.body))
	if len(body) > 800 {
		body = body[:800] + "…"
	}
	fmt.Fprintf(&b, "    got %d: %s\n    violation: %s", res.status, body, strings.Join(problems, "; "))
	// The kind, for the report: route, answer, and what the oracle wanted.
	want := "2xx"
	switch {
	case x.status != 0:
		want = strings.TrimSpace(strconv.Itoa(x.status) + " " + x.verdict)
	case len(x.denials) > 0:
		want = fmt.Sprint(x.expected())
	case baseline != nil:
		want = "the answer without a key"
	}
	kind := fmt.Sprintf("%s answered %d, want %s", x.tm.rt.Pattern, res.status, want)
	leak := slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, "the answer shows") })
	if leak {
		kind += "; another tenant's IDs in the answer"
	}
	reached := leak || res.status >= 200 && res.status < 300 && len(x.denials) > 0 ||
		slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, "verdict VALID") })
	w.violations = append(w.violations, violation{text: b.String(), kind: kind, reached: reached})
}

// violation is one answer the oracle refutes. reached marks the worst:
// a refused request answered 2xx, or another tenant's IDs shown.
type violation struct {
	text, kind string
	reached    bool
}

func (w *world) describeTarget(id string) string {
	if p := w.procs[id]; p != nil {
		s := "a process of " + w.orgLabel(p.org)
		if p.deleted {
			s += ", deleted"
		}
		return s
	}
	for _, k := range w.keySeq {
		if k.id == id || k.user == id {
			return "the " + w.describeKey(k)
		}
	}
	if o, known := w.owners[id]; known {
		return "of organization " + w.orgLabel(o.org)
	}
	return "nothing"
}

var secretInText = regexp.MustCompile(`(kw[op]_[0-9A-Za-z]{20}):[0-9A-Za-z]+`)

// redact keeps secrets out of the test's output.
func redact(s string) string { return secretInText.ReplaceAllString(s, "$1:[REDACTED]") }

func (w *world) report(templates int) {
	t := w.t
	st := w.stats
	t.Logf("%d requests checked: %d random requests × every caller (%d routes of the table, %d organizations, %d processes and %d keys made in all)",
		st.requests, st.templates, len(w.routes), len(w.orgs), len(w.procSeq), len(w.keySeq))
	t.Logf("statuses: %s", countsOf(st.status))
	t.Logf("outcomes: %s", countsOf(st.outcome))
	t.Logf("verify API verdicts: %s", countsOf(st.verify))
	t.Logf("changes made through the API: %s", countsOf(st.mutations))
	t.Logf("violations: %d", len(w.violations))
	kinds := map[string]int{}
	for _, v := range w.violations {
		kinds[v.kind]++
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		t.Errorf("%4d× %s", kinds[k], k)
	}
	// The worst first: what reached another tenant or process.
	shown := slices.Clone(w.violations)
	slices.SortStableFunc(shown, func(a, b violation) int {
		switch {
		case a.reached == b.reached:
			return 0
		case a.reached:
			return -1
		}
		return 1
	})
	for i, v := range shown {
		if i == violationsToShow {
			t.Errorf("… and %d more violations", len(shown)-violationsToShow)
			break
		}
		t.Errorf("isolation violation %d of %d:\n%s", i+1, len(shown), v.text)
	}
	// The generator must keep exercising every API route: each one must
	// have said yes at least once, and each one that names an object must
	// have been asked for another organization's. A short run is too short
	// to be sure of it.
	for _, rt := range w.routes {
		if testing.Short() {
			break
		}
		if rt.kind != keyedRoute && rt.kind != checksKeyRoute {
			continue
		}
		rs := w.stats.perRoute[rt.Pattern]
		switch {
		case rs == nil:
			t.Errorf("route %q was never requested in %d random requests", rt.Pattern, templates)
		case rs.ok == 0:
			t.Errorf("route %q never succeeded in %d requests: the test no longer exercises it", rt.Pattern, rs.requests)
		case len(rt.params) > 0 && rs.crossTenant == 0:
			t.Errorf("route %q was never asked for another organization's object in %d requests", rt.Pattern, rs.requests)
		}
	}
}

func countsOf[K comparable](m map[K]int) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range m {
		all = append(all, kv{fmt.Sprint(k), n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].k < all[j].k })
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s: %d", e.k, e.n))
	}
	return strings.Join(parts, ", ")
}

// Recipes.

// recipe is what the test needs to know of a route beyond its declared
// access: the body a valid request carries, the refusals only the body can
// cause, and what a success changes in the model. A route that checks the
// key it is given has its whole oracle here.
type recipe struct {
	prepare func(w *world, tm *template) // choices shared by every caller
	build   func(w *world, x *exchange)
}

// isolationRecipes is keyed by route pattern. loadRoutes fails the test for
// an API route that changes state or checks a key and has none here.
func isolationRecipes() map[string]recipe {
	return map[string]recipe{
		"POST /api/v1/admin/api-keys":                        {build: createKey},
		"DELETE /api/v1/admin/api-keys/{id}":                 {build: deleteKey},
		"POST /api/v1/processes":                             {build: createProcess},
		"PATCH /api/v1/processes/{processId}":                {build: renameProcess},
		"DELETE /api/v1/processes/{processId}":               {build: deleteProcess},
		"POST /api/v1/processes/{processId}/api-keys":        {build: createKey},
		"DELETE /api/v1/processes/{processId}/api-keys/{id}": {build: deleteKey},
		"POST /api/v1/keys/verify":                           {prepare: prepareVerify, build: verifyKey},
		"/api/v1/auth/forward":                               {prepare: prepareForward, build: forwardAuth},
		"POST /api/v1/keys/revoke-leaked":                    {prepare: prepareLeak, build: revokeLeaked},
		// lifecycle_isolation_test.go
		"POST /api/v1/admin/api-keys/{id}/rotate":                 {build: rotateKey},
		"POST /api/v1/processes/{processId}/api-keys/{id}/rotate": {build: rotateKey},
		"PATCH /api/v1/admin/api-keys/{id}":                       {build: editKey},
		"PATCH /api/v1/processes/{processId}/api-keys/{id}":       {build: editKey},
		// revokeall_isolation_test.go
		"POST /api/v1/processes/{processId}/api-keys/revoke-all": {build: revokeProcessKeys},
		"POST /api/v1/admin/api-keys/revoke-all":                 {build: revokeOrgKeys},
		// webhook_isolation_test.go
		"POST /api/v1/admin/webhooks":                                        {build: createWebhook},
		"PATCH /api/v1/admin/webhooks/{id}":                                  {build: editWebhook},
		"DELETE /api/v1/admin/webhooks/{id}":                                 {build: deleteWebhook},
		"POST /api/v1/admin/webhooks/{id}/test":                              {build: testWebhook},
		"POST /api/v1/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver": {build: redeliverWebhook},
	}
}

// createKey asks for a key of the route's level (a process key when the
// route names a process) with scopes mostly among the caller's own; any it
// does not hold is an escalation, refused with 403 (DESIGN.md §3).
func createKey(w *world, x *exchange) {
	pid := x.tm.params["processId"]
	level := keywarden.LevelOrganization
	if pid != "" {
		level = keywarden.LevelProcess
	}
	var held map[keywarden.Scope]bool
	if x.c.key != nil {
		held = x.c.key.scopes
	}
	scopes := w.randomScopes(level, held)
	exp := w.now().Add(w.lifetime()).UTC().Truncate(time.Second)
	x.setJSON(keywarden.CreateAPIKeyRequest{Name: w.name("key"), Scopes: scopes, Exp: exp.Format(time.RFC3339)})
	want := w.expand(scopes, level)
	if x.identity != nil {
		var missing []string
		for _, s := range w.levelScopes(level) {
			if want[s] && !x.identity.scopes[s] {
				missing = append(missing, string(s))
			}
		}
		if len(missing) > 0 {
			x.deny(http.StatusForbidden, false, "escalation: the key would grant "+strings.Join(missing, ", "))
		}
	}
	x.check = func(res *response) string {
		k, bad := decodeBody[api.APIKey](res)
		if bad != "" {
			return bad
		}
		if !maps.Equal(setOf(k.Scopes), want) || k.ProcessID != pid || k.Level != level || k.Exp != exp.Format(time.RFC3339) {
			return fmt.Sprintf("created key %+v, want level %s, process %q, scopes %v, exp %s", k, level, pid, scopes, exp.Format(time.RFC3339))
		}
		return ""
	}
	x.apply = func(res *response) {
		k, bad := decodeBody[api.APIKey](res)
		if bad != "" {
			return
		}
		km, err := keywarden.ParseKey(k.Key)
		if err != nil {
			w.t.Errorf("created key %s: %q does not parse: %v", k.ID, redact(k.Key), err)
			return
		}
		expAt, _ := time.Parse(time.RFC3339, k.Exp)
		w.stats.mutations["keys created"]++
		// The model records what the server did, so that it stays true
		// even after a violation; check compared it with what it should.
		w.addKey(&isoKey{id: k.ID, user: k.User, org: k.OrgID, process: k.ProcessID, scopes: setOf(k.Scopes),
			all: scopes[0] == keywarden.ScopeAll, exp: expAt, km: km}, w.liveCallers() < maxLiveCallers)
	}
}

// deleteKey: a success deletes the key named, and it no longer
// authenticates anywhere (DESIGN.md §1).
func deleteKey(w *world, x *exchange) {
	id := x.tm.params["id"]
	x.apply = func(*response) {
		if k := w.keys[id]; k != nil && !k.deleted {
			k.deleted = true
			w.stats.mutations["keys deleted"]++
		}
	}
}

func createProcess(w *world, x *exchange) {
	x.setJSON(api.CreateProcessRequest{Name: w.name("process"), ProcessTypeID: "invoices"})
	x.apply = func(res *response) {
		if p, bad := decodeBody[api.Process](res); bad == "" {
			w.addProcess(p.ID, p.OrgID)
			w.stats.mutations["processes created"]++
		}
	}
}

func renameProcess(w *world, x *exchange) {
	name := w.name("renamed process")
	x.setJSON(api.RenameProcessRequest{Name: name})
	x.check = func(res *response) string {
		if p, bad := decodeBody[api.Process](res); bad != "" || p.Name != name || p.ID != x.tm.params["processId"] {
			return fmt.Sprintf("renamed process %s, want %s named %q", res.body, x.tm.params["processId"], name)
		}
		return ""
	}
	x.apply = func(*response) { w.stats.mutations["processes renamed"]++ }
}

// deleteProcess: a success deletes the process and all its keys.
func deleteProcess(w *world, x *exchange) {
	pid := x.tm.params["processId"]
	x.apply = func(*response) {
		p := w.procs[pid]
		if p == nil || p.deleted {
			return
		}
		p.deleted = true
		w.stats.mutations["processes deleted"]++
		for _, k := range w.keySeq {
			if k.process == pid && !k.deleted {
				k.deleted = true
				w.stats.mutations["keys deleted with their process"]++
			}
		}
	}
}

// prepareVerify picks what the verify API is asked: a process (any
// tenant's, or none) and a few scopes of the catalogue.
func prepareVerify(w *world, tm *template) {
	if w.rng.IntN(5) > 1 {
		tm.verify.ProcessID = w.pickProcess()
	}
	for range w.rng.IntN(3) {
		tm.verify.Scopes = append(tm.verify.Scopes, string(w.catalogue[w.rng.IntN(len(w.catalogue))].Name))
	}
}

// verifyKey asks about the caller's own key: DESIGN.md §5's codes, and the
// key's identity only when it is VALID.
func verifyKey(w *world, x *exchange) {
	body := x.tm.verify
	body.Key = x.c.value
	if x.c.key != nil {
		// Its current secret: a rotation earlier in the panel replaced it.
		body.Key = x.c.key.km.Value()
	}
	x.setJSON(body)
	if body.Key == "" {
		x.status = http.StatusBadRequest
		return
	}
	k := x.c.key
	want := keywarden.VerifyValid
	switch {
	case k == nil || k.deleted:
		want = keywarden.VerifyInvalid
	case !w.now().Before(k.exp):
		want = keywarden.VerifyExpired
	case body.ProcessID != "" && !w.reaches(k, body.ProcessID):
		want = keywarden.VerifyWrongProcess
		if p := w.procs[body.ProcessID]; p != nil && p.org != k.org {
			x.crossTenant = true
		}
	case slices.ContainsFunc(body.Scopes, func(s string) bool { return !k.scopes[keywarden.Scope(s)] }):
		want = keywarden.VerifyInsufficientScope
	}
	if want == keywarden.VerifyValid {
		x.identity = k
	}
	x.status, x.verdictInBody, x.verdict = http.StatusOK, true, string(want)
	x.check = func(res *response) string {
		v, bad := decodeBody[api.VerifyResponse](res)
		w.stats.verify[string(v.Code)]++
		switch {
		case bad != "":
			return bad
		case v.Code != want || v.Valid != (want == keywarden.VerifyValid):
			return fmt.Sprintf("verdict %s, want %s", v.Code, want)
		case want != keywarden.VerifyValid && v.Key != nil:
			return "a key that is not VALID is described"
		case want == keywarden.VerifyValid && (v.Key == nil || v.Key.ID != k.id || v.Key.OrgID != k.org || v.Key.ProcessID != k.process ||
			!maps.Equal(setOf(v.Key.Scopes), k.scopes)):
			return fmt.Sprintf("the VALID key is described as %+v", v.Key)
		}
		return ""
	}
}

// reaches reports whether key k may act on process pid: its own process
// for a process key, any live process of its organization for an
// organization key (DESIGN.md §1).
func (w *world) reaches(k *isoKey, pid string) bool {
	if k.process != "" {
		return k.process == pid
	}
	p := w.procs[pid]
	return p != nil && !p.deleted && p.org == k.org
}

func prepareForward(w *world, tm *template) {
	tm.forward = w.forward[w.rng.IntN(len(w.forward))]
	tm.forwardURI = strings.ReplaceAll(tm.forward.path, "{processId}", w.pickProcess())
}

// forwardAuth asks, for a gateway, whether the caller may send the chosen
// request to a service behind it: 401 without a valid key, 403 for
// another tenant's process or a missing scope, else 200 with the caller's
// identity.
func forwardAuth(w *world, x *exchange) {
	fr := x.tm.forward
	x.header.Set(api.HeaderForwardedMethod, fr.method)
	x.header.Set(api.HeaderForwardedURI, x.tm.forwardURI)
	k := x.c.key
	switch {
	case k == nil || k.deleted || !w.now().Before(k.exp):
		x.deny(http.StatusUnauthorized, true, "no valid key")
		return
	}
	if fr.process {
		pid := strings.Split(x.tm.forwardURI, "/")[3]
		if !w.reaches(k, pid) {
			if p := w.procs[pid]; p != nil && p.org != k.org {
				x.crossTenant = true
			}
			x.deny(http.StatusForbidden, true, "the key cannot reach process "+pid)
		}
	}
	if !k.scopes[fr.scope] {
		x.deny(http.StatusForbidden, false, "the key lacks "+string(fr.scope))
	}
	x.identity = k
	x.check = func(res *response) string {
		h := res.header
		if h.Get(api.HeaderKeyID) != k.id || h.Get(api.HeaderOrgID) != k.org || h.Get(api.HeaderProcessID) != k.process {
			return fmt.Sprintf("identity headers %s=%q %s=%q %s=%q", api.HeaderKeyID, h.Get(api.HeaderKeyID),
				api.HeaderOrgID, h.Get(api.HeaderOrgID), api.HeaderProcessID, h.Get(api.HeaderProcessID))
		}
		return ""
	}
}

func prepareLeak(w *world, tm *template) {
	tm.leaked = w.keySeq[w.rng.IntN(len(w.keySeq))]
	tm.leakedExact = w.rng.IntN(2) == 0
}

// revokeLeaked reports one key as leaked — its true value, or its ID with
// a wrong secret — whoever sends the report: only the true value of a
// stored key revokes it, and only it.
func revokeLeaked(w *world, x *exchange) {
	k := x.tm.leaked
	token := k.km.Value()
	if !x.tm.leakedExact {
		token = keywarden.KeyMaterial{User: k.km.User, Secret: k.km.Secret[1:] + "Z"}.Value()
	}
	x.setJSON([]api.LeakReport{{Token: token, Type: "keywarden_api_key", Source: "content"}})
	x.status = http.StatusOK
	x.check = func(res *response) string {
		v, bad := decodeBody[[]api.LeakVerdict](res)
		if bad != "" || len(v) != 1 {
			return "want one verdict"
		}
		want := api.LeakFalsePositive
		if x.tm.leakedExact && !k.deleted {
			want = api.LeakTruePositive
		}
		// DESIGN.md does not say whether an expired key that leaks is
		// revoked; either answer is right, and the model follows it.
		if v[0].Label != want && !(x.tm.leakedExact && !k.deleted && !w.now().Before(k.exp)) {
			return fmt.Sprintf("label %s, want %s for %s", v[0].Label, want, w.describeKey(k))
		}
		return ""
	}
	x.apply = func(res *response) {
		if v, bad := decodeBody[[]api.LeakVerdict](res); bad == "" && len(v) == 1 && v[0].Label == api.LeakTruePositive && !k.deleted {
			k.deleted = true
			w.stats.mutations["keys revoked as leaked"]++
		}
	}
}
