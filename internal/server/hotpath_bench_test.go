package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
	"github.com/keywarden/keywarden/internal/storetest"
	"github.com/keywarden/keywarden/internal/usage"
)

// hotPath is the handler as keywarden serve builds it for production —
// the verification cache over SQLite, metrics (on the store too), the
// usage recorder, throttling of failed authentication, the forward-auth
// route table and the request log at serve's default level (info), in
// text — with a valid key that the cache holds, and another with an IP
// allowlist and a rate limit.
type hotPath struct {
	handler    http.Handler
	key        keywarden.KeyMaterial
	restricted keywarden.KeyMaterial // allowlist and rate limit: (b2) of scripts/loadtest.sh
	processID  string                // a process of the key's organization
	clock      *hotClock             // the server's
}

// hotClock is the server's clock in the harness. It stands still but for
// refused requests, each of which moves it on a second: the failures of
// the harness's one client address then leave the window of the throttle
// of failed authentication as fast as they come, and the address is never
// refused (429) however long a benchmark runs. A request of the
// rate-limited key moves it on by the time its bucket takes to win back
// the token the request spent: the bucket stays full.
type hotClock struct {
	start   time.Time
	elapsed atomic.Int64 // nanoseconds
}

func (c *hotClock) Now() time.Time { return c.start.Add(time.Duration(c.elapsed.Load())) }

const hotPathRoutes = `
routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:upload]
    process: processId
  - route: POST /v1/things
    scopes: [workspace.file:upload]
`

func newHotPath(tb testing.TB) *hotPath {
	tb.Helper()
	store := sqlitetest.MustOpen(tb)
	org, _ := storetest.MustCreateOrganization(tb, store)
	catalogue := keywarden.MustDefaultCatalogue()
	logOutput := logline.NewText(io.Discard, slog.LevelInfo) // as serve's
	logger := slog.New(logOutput.Handler())
	m := metrics.New()
	store.ObserveWith(m)
	keys := cache.New(store, cache.Config{Catalogue: catalogue, Now: time.Now, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	if err := keys.Watch(ctx, 250*time.Millisecond, nil, func(err error) { tb.Error(err) }); err != nil {
		tb.Fatal(err)
	}
	clock := &hotClock{start: time.Now()}
	recorder := usage.New(store, usage.Config{Now: time.Now, Logger: logger, Observer: m})
	tb.Cleanup(func() { recorder.Close() })
	table, err := routetable.Parse("routes.yaml", []byte(hotPathRoutes), catalogue)
	if err != nil {
		tb.Fatal(err)
	}
	handler := server.NewHandler(server.Config{
		Store: store, Keys: keys, Usage: recorder,
		Verifier: &keywarden.Verifier{Keys: keys, Processes: keys, Now: time.Now},
		Metrics:  m, ServeMetrics: true, Catalogue: catalogue, Logger: logger, LogOutput: logOutput, Now: clock.Now,
		ForwardRoutes: func() *routetable.Table { return table },
	})
	now := time.Now()
	mint := func(req keywarden.CreateAPIKeyRequest) keywarden.KeyMaterial {
		req.Scopes, req.Exp = []string{keywarden.ScopeAll}, now.Add(24*time.Hour).Format(time.RFC3339)
		k, km, err := keywarden.MintAPIKey(req, keywarden.MintParams{Org: org, Catalogue: catalogue, Now: now})
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.CreateAPIKey(context.Background(), k, nil); err != nil {
			tb.Fatal(err)
		}
		return km
	}
	km := mint(keywarden.CreateAPIKeyRequest{Name: "hot path key"})
	// As the load test's restricted key: the client's network is the last
	// of three, and the limit is never reached (see hotClock).
	restricted := mint(keywarden.CreateAPIKeyRequest{Name: "hot path restricted key",
		AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.0/24"},
		RateLimit:  &keywarden.RateLimitRequest{Limit: keywarden.MaxRateLimit, WindowSeconds: 1}})
	if err := keys.Sync(context.Background()); err != nil {
		tb.Fatal(err)
	}
	for _, k := range []keywarden.KeyMaterial{km, restricted} {
		if _, found, _ := keys.LookupKey(ctx, []byte(k.User)); !found {
			tb.Fatal("the key is not cached")
		}
	}
	proc := storetest.MustCreateProcess(tb, store, org.ID, now)
	return &hotPath{handler: handler, key: km, restricted: restricted, processID: proc.ID, clock: clock}
}

// discardWriter is a minimal reusable ResponseWriter: a header map cleared
// between requests, the status, and the body's last write, kept in a
// buffer it reuses.
type discardWriter struct {
	h      http.Header
	status int
	n      int
	last   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	w.last = append(w.last[:0], b...)
	return len(b), nil
}
func (w *discardWriter) reset() { clear(w.h); w.status, w.n = 0, 0 }

// rewindBody is a request body that can be read again and again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// hotRequest is one of the hot paths as a reusable request, and the
// status it must get.
type hotRequest struct {
	name   string
	req    *http.Request
	body   *rewindBody
	data   []byte
	status int
	clock  *hotClock     // moved on by step for each request
	step   time.Duration // see hotClock
}

// basicAuth is the Authorization header of key.
func basicAuth(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key)) }

// requests returns the hot paths with the harness's valid key (me, verify,
// the same on a process of its organization, forward), and then refused:
// an ID that names no key, the real ID with a wrong secret, a bad
// checksum, and a header that is no key at all, each as /api/v1/me and
// forward-auth refuse it (401), and an unknown key as the verify API
// refuses it (200, valid false).
func (p *hotPath) requests(tb testing.TB) []*hotRequest {
	tb.Helper()
	valid := p.key.Value()
	other, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	unknown := other.Value()
	wrongSecret := keywarden.KeyMaterial{User: p.key.User, Secret: other.Secret}.Value()
	badChecksum := valid[:len(valid)-1] + map[bool]string{true: "A", false: "B"}[valid[len(valid)-1] != 'A']

	me := func(name, key string, status int) *hotRequest {
		r, _ := http.NewRequest("GET", "http://keywarden.test/api/v1/me", http.NoBody)
		r.Header.Set("Authorization", key)
		return &hotRequest{name: name, req: r, status: status}
	}
	verify := func(name, key string, processID ...string) *hotRequest {
		data := []byte(`{"key":"` + key + `","scopes":["workspace.file:upload"]}`)
		if len(processID) > 0 {
			data = []byte(`{"key":"` + key + `","scopes":["workspace.file:upload"],"processId":"` + processID[0] + `"}`)
		}
		r, _ := http.NewRequest("POST", "http://keywarden.test/api/v1/keys/verify", nil)
		r.Header.Set("Content-Type", "application/json")
		body := &rewindBody{}
		r.Body, r.ContentLength = body, int64(len(data))
		return &hotRequest{name: name, req: r, body: body, data: data, status: http.StatusOK}
	}
	forward := func(name, key string, status int) *hotRequest {
		r, _ := http.NewRequest("GET", "http://keywarden.test/api/v1/auth/forward", http.NoBody)
		r.Header.Set("Authorization", key)
		r.Header.Set("X-Original-Method", "POST")
		r.Header.Set("X-Original-URI", "/v1/things?x=1")
		return &hotRequest{name: name, req: r, status: status}
	}
	out := []*hotRequest{
		me("me", basicAuth(valid), http.StatusOK),
		verify("verify", valid),
		verify("verify/process", valid, p.processID),
		forward("forward", basicAuth(valid), http.StatusOK),
		me("me/restricted", basicAuth(p.restricted.Value()), http.StatusOK),
		me("me/unknown-key", basicAuth(unknown), http.StatusUnauthorized),
		me("me/wrong-secret", basicAuth(wrongSecret), http.StatusUnauthorized),
		me("me/bad-checksum", basicAuth(badChecksum), http.StatusUnauthorized),
		me("me/malformed", "Bearer not-a-key", http.StatusUnauthorized),
		verify("verify/unknown-key", unknown),
		forward("forward/unknown-key", basicAuth(unknown), http.StatusUnauthorized),
		forward("forward/wrong-secret", basicAuth(wrongSecret), http.StatusUnauthorized),
	}
	steps := map[string]time.Duration{"me": 0, "verify": 0, "verify/process": 0, "forward": 0,
		"me/restricted": time.Second / keywarden.MaxRateLimit}
	for _, r := range out {
		r.req.RemoteAddr = "192.0.2.10:43210"
		// As serve's http.Server gives each connection's requests.
		r.req = r.req.WithContext(clientip.WithPeer(r.req.Context(), r.req.RemoteAddr))
		r.req.RequestURI = r.req.URL.RequestURI()
		step, accepted := steps[r.name]
		if !accepted {
			step = time.Second
		}
		if step > 0 {
			r.clock, r.step = p.clock, step
		}
	}
	return out
}

// serve runs one request through h.
func (r *hotRequest) serve(h http.Handler, w *discardWriter) {
	w.reset()
	req := r.req
	if r.body != nil {
		r.body.Reset(r.data)
		req.Body = r.body
	}
	if r.clock != nil {
		r.clock.elapsed.Add(int64(r.step))
	}
	// The mux and the handlers may set these; a fresh request has them empty.
	req.Pattern = ""
	h.ServeHTTP(w, req)
}

func BenchmarkHotPath(b *testing.B) {
	p := newHotPath(b)
	for _, r := range p.requests(b) {
		b.Run(r.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			r.serve(p.handler, w)
			if w.status != r.status {
				b.Fatalf("status %d, want %d", w.status, r.status)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.serve(p.handler, w)
			}
			if w.status != r.status {
				b.Fatalf("status %d, want %d", w.status, r.status)
			}
		})
	}
}

// BenchmarkHotPathParallel is BenchmarkHotPath's valid-key requests from
// GOMAXPROCS goroutines at once, as a server under load runs them: what
// one goroutine never shows — a shared cache line written on every request
// and moved between cores, a lock taken for each — shows here as ns/op
// (per request, all goroutines together) above the serial benchmark's
// divided by the goroutines.
func BenchmarkHotPathParallel(b *testing.B) {
	p := newHotPath(b)
	for _, name := range []string{"me", "verify", "forward"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var r *hotRequest
				for _, x := range p.requests(b) {
					if x.name == name {
						r = x
					}
				}
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					r.serve(p.handler, w)
					if w.status != r.status {
						b.Errorf("status %d, want %d", w.status, r.status)
						return
					}
				}
			})
		})
	}
}
