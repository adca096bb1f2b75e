package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
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
// text — with a valid key that the cache holds.
type hotPath struct {
	handler http.Handler
	key     string // "user:pass"
	auth    string // its Authorization header
}

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
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m := metrics.New()
	store.ObserveWith(m)
	keys := cache.New(store, cache.Config{Catalogue: catalogue, Now: time.Now, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	if err := keys.Watch(ctx, 250*time.Millisecond, nil, func(err error) { tb.Error(err) }); err != nil {
		tb.Fatal(err)
	}
	recorder := usage.New(store, usage.Config{Now: time.Now, Logger: logger, Observer: m})
	tb.Cleanup(func() { recorder.Close() })
	table, err := routetable.Parse("routes.yaml", []byte(hotPathRoutes), catalogue)
	if err != nil {
		tb.Fatal(err)
	}
	handler := server.NewHandler(server.Config{
		Store: store, Keys: keys, Usage: recorder,
		Verifier: &keywarden.Verifier{Keys: keys, Processes: keys, Now: time.Now},
		Metrics:  m, ServeMetrics: true, Catalogue: catalogue, Logger: logger, Now: time.Now,
		ForwardRoutes: func() *routetable.Table { return table },
	})
	now := time.Now()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "hot path key", Scopes: []string{keywarden.ScopeAll},
		Exp: now.Add(24 * time.Hour).Format(time.RFC3339)}, keywarden.MintParams{Org: org, Catalogue: catalogue, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.CreateAPIKey(context.Background(), k, nil); err != nil {
		tb.Fatal(err)
	}
	if err := keys.Sync(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if _, found, _ := keys.LookupKey(ctx, []byte(km.User)); !found {
		tb.Fatal("the key is not cached")
	}
	return &hotPath{handler: handler, key: km.Value(),
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(km.Value()))}
}

// discardWriter is a minimal reusable ResponseWriter: a header map cleared
// between requests, the status, and a body that goes nowhere.
type discardWriter struct {
	h      http.Header
	status int
	n      int
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
	return len(b), nil
}
func (w *discardWriter) reset() { clear(w.h); w.status, w.n = 0, 0 }

// rewindBody is a request body that can be read again and again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// hotRequest is one of the three hot paths as a reusable request.
type hotRequest struct {
	name string
	req  *http.Request
	body *rewindBody
	data []byte
}

func (p *hotPath) requests(tb testing.TB) []*hotRequest {
	me, _ := http.NewRequest("GET", "http://keywarden.test/api/v1/me", http.NoBody)
	me.Header.Set("Authorization", p.auth)

	data := []byte(`{"key":"` + p.key + `","scopes":["workspace.file:upload"],"processId":"` + "" + `"}`)
	data = []byte(strings.Replace(string(data), `,"processId":""`, "", 1))
	verify, _ := http.NewRequest("POST", "http://keywarden.test/api/v1/keys/verify", nil)
	verify.Header.Set("Content-Type", "application/json")
	body := &rewindBody{}
	verify.Body, verify.ContentLength = body, int64(len(data))

	forward, _ := http.NewRequest("GET", "http://keywarden.test/api/v1/auth/forward", http.NoBody)
	forward.Header.Set("Authorization", p.auth)
	forward.Header.Set("X-Original-Method", "POST")
	forward.Header.Set("X-Original-URI", "/v1/things?x=1")

	out := []*hotRequest{{name: "me", req: me}, {name: "verify", req: verify, body: body, data: data}, {name: "forward", req: forward}}
	for _, r := range out {
		r.req.RemoteAddr = "192.0.2.10:43210"
		r.req.RequestURI = r.req.URL.RequestURI()
	}
	return out
}

// serve runs one request through h and checks that it succeeded.
func (r *hotRequest) serve(h http.Handler, w *discardWriter) {
	w.reset()
	req := r.req
	if r.body != nil {
		r.body.Reset(r.data)
		req.Body = r.body
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
			if w.status != http.StatusOK {
				b.Fatalf("status %d, want 200", w.status)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.serve(p.handler, w)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d, want 200", w.status)
			}
		})
	}
}
