package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// metric returns the value of one series in a Prometheus text page.
func metric(t *testing.T, page, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetrics: /metrics reports requests per route and status, verification
// outcomes, the cache, and store queries — and shows that repeated unknown
// keys and cached keys cost no database work. It needs no credentials.
func TestMetrics(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	scrape := func() string { return string(want(t, srv.do(t, nil, "GET", "/metrics", nil), http.StatusOK).Body) }
	lookups := `keywarden_store_queries_total{op="FindAPIKeyByUser"}`

	before := metric(t, scrape(), lookups)
	for i := 0; i < 50; i++ {
		want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	unknown, _ := keywarden.GenerateKey(nil, "kwo_")
	for i := 0; i < 50; i++ {
		want(t, srv.do(t, basic(unknown.Value()), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
	}
	want(t, srv.do(t, nil, "GET", "/api/v1/no-such-thing", nil), http.StatusNotFound)
	page := scrape()
	// The cache holds every key: the unknown one is answered from memory,
	// and so is the known one after its first use, which reads it whole.
	if n := metric(t, page, lookups) - before; n != 1 {
		t.Errorf("%v key lookups in the store for 50 requests with a valid key and 50 with an unknown one, want 1", n)
	}
	for series, min := range map[string]float64{
		`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="200"}`: 50,
		`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="401"}`: 50,
		`keywarden_key_verifications_total{code="VALID"}`:                                 50,
		`keywarden_key_verifications_total{code="INVALID"}`:                               50,
		`keywarden_cache_hits_total{cache="positive"}`:                                    50,
		`keywarden_cache_hits_total{cache="negative"}`:                                    50,
		`keywarden_cache_entries{cache="positive"}`:                                       1,
		`keywarden_cache_misses_total{cache="hot"}`:                                       1,
		// /metrics is a route of the table; the catch-all counts what no
		// route matched, under one label whatever the path.
		`keywarden_http_requests_total{method="GET",route="GET /metrics",status="200"}`: 1,
		`keywarden_http_requests_total{method="GET",route="unmatched",status="404"}`:    1,
	} {
		if got := metric(t, page, series); got < min {
			t.Errorf("%s = %v, want at least %v", series, got, min)
		}
	}
	if !strings.Contains(page, "go_goroutines") || !strings.Contains(page, "keywarden_http_request_duration_seconds_bucket") {
		t.Error("runtime metrics or latency histograms are missing")
	}
}

// TestMetricsOnTheirOwnAddress: with --metrics-addr, /metrics leaves the
// main listener.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	srv := startServer(t, newFakeClock(), t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`).FindStringSubmatch(srv.Log.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", srv.Log)
	}
	res, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics address: %v %v", res, err)
	}
	res.Body.Close()
	if r := srv.do(t, nil, "GET", "/metrics", nil); r.Status == http.StatusOK {
		t.Error("/metrics is still served on the main address")
	}
}
