package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/metrics"
)

// MustScrape fetches m's /metrics page as Prometheus would.
func MustScrape(tb testing.TB, m *metrics.Metrics) string {
	tb.Helper()
	return mustScrapeHandler(tb, m.Handler())
}

// mustScrapeHandler fetches the page h serves.
func mustScrapeHandler(tb testing.TB, h http.Handler) string {
	tb.Helper()
	if h == nil {
		tb.Fatal("Handler returned nil")
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: status %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

// assertLines fails for each want that is not a whole line of the scrape.
func assertLines(tb testing.TB, body string, want ...string) {
	tb.Helper()
	lines := make(map[string]bool)
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, w := range want {
		if !lines[w] {
			tb.Errorf("scrape lacks the line\n\t%s", w)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Run("exposes every family after use", func(t *testing.T) {
		m := metrics.New()
		m.ObserveRequest("GET /api/v1/me", "GET", 200, 3*time.Millisecond)
		m.ObserveVerification("VALID")
		m.ObserveVerification("VALID")
		m.CacheHit("positive")
		m.CacheMiss("negative")
		m.CacheEviction("positive")
		m.SetCacheSize("positive", 42)

		body := MustScrape(t, m)
		assertLines(t, body,
			`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="200"} 1`,
			`keywarden_http_request_duration_seconds_count{method="GET",route="GET /api/v1/me"} 1`,
			`keywarden_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/me",le="0.001953125"} 0`,
			`keywarden_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/me",le="0.0048828125"} 1`,
			`keywarden_key_verifications_total{code="VALID"} 2`,
			`keywarden_cache_hits_total{cache="positive"} 1`,
			`keywarden_cache_misses_total{cache="negative"} 1`,
			`keywarden_cache_evictions_total{cache="positive"} 1`,
			`keywarden_cache_entries{cache="positive"} 42`,
		)
	})

	t.Run("known series start at zero", func(t *testing.T) {
		body := MustScrape(t, metrics.New())
		assertLines(t, body,
			`keywarden_key_verifications_total{code="VALID"} 0`,
			`keywarden_key_verifications_total{code="INVALID"} 0`,
			`keywarden_key_verifications_total{code="EXPIRED"} 0`,
			`keywarden_key_verifications_total{code="INSUFFICIENT_SCOPE"} 0`,
			`keywarden_key_verifications_total{code="WRONG_PROCESS"} 0`,
			`keywarden_key_verifications_total{code="RATE_LIMITED"} 0`,
			`keywarden_cache_hits_total{cache="negative"} 0`,
			`keywarden_cache_entries{cache="negative"} 0`,
			`keywarden_store_queries_total{op="FindAPIKeyByUser"} 0`,
			`keywarden_store_errors_total{op="RecordKeyUsage"} 0`,
			`keywarden_key_usage_dropped_total 0`,
		)
	})

	t.Run("unknown labels still count", func(t *testing.T) {
		m := metrics.New()
		m.ObserveRequest("unmatched", "PROPFIND", 418, time.Millisecond)
		m.ObserveVerification("SOMETHING_NEW")
		m.CacheHit("other")
		m.CacheMiss("other")
		m.CacheEviction("other")
		m.SetCacheSize("other", 7)

		assertLines(t, MustScrape(t, m),
			`keywarden_http_requests_total{method="OTHER",route="unmatched",status="418"} 1`,
			`keywarden_key_verifications_total{code="SOMETHING_NEW"} 1`,
			`keywarden_cache_hits_total{cache="other"} 1`,
			`keywarden_cache_misses_total{cache="other"} 1`,
			`keywarden_cache_evictions_total{cache="other"} 1`,
			`keywarden_cache_entries{cache="other"} 7`,
		)
	})

	t.Run("runtime and process metrics present", func(t *testing.T) {
		body := MustScrape(t, metrics.New())
		want := []string{"# TYPE go_goroutines gauge", "# TYPE go_build_info gauge"}
		if runtime.GOOS == "linux" {
			want = append(want, "# TYPE process_cpu_seconds_total counter")
		}
		assertLines(t, body, want...)
	})

	t.Run("each Metrics has its own registry", func(t *testing.T) {
		a, b := metrics.New(), metrics.New() // the global registry would panic on the second
		a.ObserveVerification("VALID")
		assertLines(t, MustScrape(t, a), `keywarden_key_verifications_total{code="VALID"} 1`)
		assertLines(t, MustScrape(t, b), `keywarden_key_verifications_total{code="VALID"} 0`)
	})

	// Both handlers serve the one registry, with the handler's own error
	// counter on it: what was recorded before and after the second call
	// shows through each.
	t.Run("can be asked for twice", func(t *testing.T) {
		m := metrics.New()
		first := m.Handler()
		m.ObserveVerification("VALID")
		second := m.Handler()
		m.ObserveVerification("VALID")
		for _, h := range []http.Handler{first, second} {
			assertLines(t, mustScrapeHandler(t, h),
				`keywarden_key_verifications_total{code="VALID"} 2`,
				`promhttp_metric_handler_errors_total{cause="gathering"} 0`,
			)
		}
	})
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := metrics.New()
	// ObserveRequest creates its series on first use; after that it, too,
	// must not allocate.
	m.ObserveRequest("POST /api/v1/verify", "POST", 200, time.Millisecond)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"CacheHit positive", func() { m.CacheHit("positive") }},
		{"CacheMiss negative", func() { m.CacheMiss("negative") }},
		{"CacheEviction positive", func() { m.CacheEviction("positive") }},
		{"SetCacheSize negative", func() { m.SetCacheSize("negative", 3) }},
		{"ObserveVerification VALID", func() { m.ObserveVerification("VALID") }},
		{"ObserveVerification RATE_LIMITED", func() { m.ObserveVerification("RATE_LIMITED") }},
		{"ObserveRequest seen route", func() { m.ObserveRequest("POST /api/v1/verify", "POST", 200, time.Millisecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

func BenchmarkCacheHit(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.CacheHit("positive")
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST /api/v1/verify", "POST", 200, 40*time.Microsecond)
	}
}

// TestRouteMatchesObserveRequest: a Route records exactly the series that
// ObserveRequest records, created only when first observed.
func TestRouteMatchesObserveRequest(t *testing.T) {
	byRoute, byCall := metrics.New(), metrics.New()
	rt := byRoute.Route("GET /api/v1/me")
	for _, o := range []struct {
		method string
		status int
	}{{"GET", 200}, {"GET", 200}, {"GET", 401}, {"BREW", 418}, {"POST", 599}, {"DELETE", 204}} {
		rt.Observe(o.method, o.status, 3*time.Millisecond)
		byCall.ObserveRequest("GET /api/v1/me", o.method, o.status, 3*time.Millisecond)
	}
	_ = byRoute.Route("GET /never") // creates nothing
	a, b := scrapeRequests(t, byRoute), scrapeRequests(t, byCall)
	if a != b {
		t.Errorf("Route recorded\n%s\nObserveRequest recorded\n%s", a, b)
	}
	if !strings.Contains(a, `status="418"`) || strings.Contains(a, "/never") {
		t.Errorf("unexpected series:\n%s", a)
	}
}

func TestRouteObserveAllocatesNothing(t *testing.T) {
	rt := metrics.New().Route("GET /api/v1/me")
	rt.Observe("GET", 200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { rt.Observe("GET", 200, time.Millisecond) }); n != 0 {
		t.Errorf("Route.Observe allocates %v times, want 0", n)
	}
}

func scrapeRequests(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var out []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "keywarden_http_request") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
