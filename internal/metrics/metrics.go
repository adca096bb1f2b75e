// Package metrics is Keywarden's Prometheus instrumentation: HTTP requests,
// key verifications, the verification cache, store queries and the key
// usage that could not be recorded, served at /metrics. Everything hangs off
// a *Metrics with its own registry rather than the global one, so tests and
// several servers in one process never share counters, and the package
// holds no state of its own.
package metrics

import (
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "keywarden"

// Cache kinds: the verification cache keeps found keys (positive) and
// unknown key IDs (negative) apart.
const (
	CachePositive = "positive"
	CacheNegative = "negative"
)

// Metrics records what Keywarden does and serves it to Prometheus. Its
// methods are safe for concurrent use. The ones called on the verification
// hot path (ObserveVerification, the cache methods) do not allocate: their
// label children are resolved once, in New.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec

	verifications *prometheus.CounterVec
	verifyByCode  map[string]prometheus.Counter // read-only after New

	cacheHits      *prometheus.CounterVec
	cacheMisses    *prometheus.CounterVec
	cacheEvictions *prometheus.CounterVec
	cacheEntries   *prometheus.GaugeVec
	positive       cacheSeries
	negative       cacheSeries

	storeQueries  *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	storeOps      map[string]storeSeries // read-only after New
	storeTotal    atomic.Uint64

	usageDropped prometheus.Counter

	rateLimited       prometheus.Counter
	rateLimiterErrors prometheus.Counter
}

// cacheSeries are the label children of one cache kind.
type cacheSeries struct {
	hits, misses, evictions prometheus.Counter
	entries                 prometheus.Gauge
}

// storeSeries are the label children of one store operation.
type storeSeries struct {
	queries, errors prometheus.Counter
	duration        prometheus.Observer
}

// New returns Metrics registered on a registry of their own, with the Go
// runtime and process collectors beside Keywarden's metrics.
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help: "Time to serve an HTTP request, by route pattern and method.",
		// 50µs to 7.5s. A verification answered from the cache takes tens
		// of microseconds and one that reaches the database well under a
		// millisecond, while console sign-in runs argon2id on purpose and
		// takes hundreds of milliseconds. The client's default buckets
		// start at 5ms, which would put every verification in the first
		// bucket and hide a tenfold regression of the hot path.
		Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
	}, []string{"route", "method"})

	m.verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "key_verifications_total",
		Help: "API key verifications by outcome (VALID, INVALID, EXPIRED, ...).",
	}, []string{"code"})
	m.verifyByCode = make(map[string]prometheus.Counter)
	for _, code := range []keywarden.VerifyCode{
		keywarden.VerifyValid, keywarden.VerifyInvalid, keywarden.VerifyExpired,
		keywarden.VerifyInsufficientScope, keywarden.VerifyWrongProcess, keywarden.VerifyRateLimited,
	} {
		m.verifyByCode[string(code)] = m.verifications.WithLabelValues(string(code))
	}

	m.cacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_hits_total",
		Help: "Verification cache lookups answered from the cache, by cache.",
	}, []string{"cache"})
	m.cacheMisses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_misses_total",
		Help: "Verification cache lookups that went to the store, by cache.",
	}, []string{"cache"})
	m.cacheEvictions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_evictions_total",
		Help: "Entries evicted from the verification cache to make room, by cache.",
	}, []string{"cache"})
	m.cacheEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "cache_entries",
		Help: "Entries held in the verification cache, by cache.",
	}, []string{"cache"})
	m.positive = m.newCacheSeries(CachePositive)
	m.negative = m.newCacheSeries(CacheNegative)

	m.storeQueries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "store_queries_total",
		Help: "Store operations by method name.",
	}, []string{"op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "store_errors_total",
		Help: "Store operations that failed, by method name; not found is an answer, not an error.",
	}, []string{"op"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_query_duration_seconds",
		Help: "Time a store operation took, by method name.",
		// 10µs to 1.5s: an SQLite point read in the same process takes
		// microseconds, a PostgreSQL round trip or a synced write
		// milliseconds; anything near a second is an outage.
		Buckets: prometheus.ExponentialBuckets(0.00001, 2.5, 14),
	}, []string{"op"})
	// Every measured Store method gets its series now, so each starts at
	// zero (rate() sees the first query) and the wrapper finds it without
	// hashing labels. The names come from the interface itself, so they
	// cannot drift from the methods.
	m.storeOps = make(map[string]storeSeries)
	storeType := reflect.TypeFor[keywarden.Store]()
	for i := range storeType.NumMethod() {
		op := storeType.Method(i).Name
		if unmeasured(op) {
			continue
		}
		m.storeOps[op] = m.newStoreSeries(op)
	}

	m.usageDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "key_usage_dropped_total",
		Help: "Authentications whose usage (last use, hourly counts) was not recorded: the database could not take their flush, or too many keys were used at once.",
	})

	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "key_rate_limited_total",
		Help: "Requests refused because their API key's rate limit was reached.",
	})
	m.rateLimiterErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limiter_errors_total",
		Help: "Rate limit decisions the limiter could not make as configured (Redis unreachable or slow), decided by --rate-limit-redis-failure instead.",
	})
	m.registry.MustRegister(m.rateLimited, m.rateLimiterErrors)

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.requests, m.requestDuration,
		m.verifications,
		m.cacheHits, m.cacheMisses, m.cacheEvictions, m.cacheEntries,
		m.storeQueries, m.storeErrors, m.storeDuration,
		m.usageDropped,
	)

	// Built once: the handler registers its own error counter on the
	// registry, which a second registration would refuse. ContinueOnError
	// serves what could be gathered when one collector fails (the process
	// collector on a platform without /proc, say) and counts the failure in
	// promhttp_metric_handler_errors_total.
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		Registry:      m.registry,
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// Handler serves the metrics in the Prometheus exposition format, for /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ObserveRequest records one served HTTP request. route must be the mux
// pattern that matched ("GET /api/v1/me") or "unmatched", never the raw
// path: a label per URL would let any client grow the metrics without bound.
// For the same reason a method other than the standard ones is recorded as
// "OTHER".
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.requestDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveVerification records the outcome of one key verification.
func (m *Metrics) ObserveVerification(code string) {
	if c, ok := m.verifyByCode[code]; ok {
		c.Inc()
		return
	}
	m.verifications.WithLabelValues(code).Inc()
}

// CacheHit records a lookup answered by the cache of the given kind.
func (m *Metrics) CacheHit(kind string) {
	if c := m.cache(kind); c != nil {
		c.hits.Inc()
		return
	}
	m.cacheHits.WithLabelValues(kind).Inc()
}

// CacheMiss records a lookup the cache of the given kind could not answer.
func (m *Metrics) CacheMiss(kind string) {
	if c := m.cache(kind); c != nil {
		c.misses.Inc()
		return
	}
	m.cacheMisses.WithLabelValues(kind).Inc()
}

// CacheEviction records an entry evicted from the cache of the given kind.
func (m *Metrics) CacheEviction(kind string) {
	if c := m.cache(kind); c != nil {
		c.evictions.Inc()
		return
	}
	m.cacheEvictions.WithLabelValues(kind).Inc()
}

// SetCacheSize records how many entries the cache of the given kind holds.
func (m *Metrics) SetCacheSize(kind string, n int) {
	if c := m.cache(kind); c != nil {
		c.entries.Set(float64(n))
		return
	}
	m.cacheEntries.WithLabelValues(kind).Set(float64(n))
}

// UsageDropped counts authentications whose usage the usage recorder did
// not record (internal/usage).
func (m *Metrics) UsageDropped(n int) { m.usageDropped.Add(float64(n)) }

// StoreQueries returns how many store operations the wrapped stores have
// run, over every op: the load test divides it by the requests it sent.
func (m *Metrics) StoreQueries() float64 { return float64(m.storeTotal.Load()) }

func (m *Metrics) newCacheSeries(kind string) cacheSeries {
	return cacheSeries{
		hits:      m.cacheHits.WithLabelValues(kind),
		misses:    m.cacheMisses.WithLabelValues(kind),
		evictions: m.cacheEvictions.WithLabelValues(kind),
		entries:   m.cacheEntries.WithLabelValues(kind),
	}
}

// cache returns the resolved series of a known kind, nil for any other.
func (m *Metrics) cache(kind string) *cacheSeries {
	switch kind {
	case CachePositive:
		return &m.positive
	case CacheNegative:
		return &m.negative
	}
	return nil
}

func (m *Metrics) newStoreSeries(op string) storeSeries {
	return storeSeries{
		queries:  m.storeQueries.WithLabelValues(op),
		errors:   m.storeErrors.WithLabelValues(op),
		duration: m.storeDuration.WithLabelValues(op),
	}
}

// observeStore records one store operation. ENOTFOUND is the normal answer
// to a lookup of an unknown key, so it is not counted as an error.
func (m *Metrics) observeStore(op string, d time.Duration, err error) {
	s, ok := m.storeOps[op]
	if !ok {
		s = m.newStoreSeries(op)
	}
	s.queries.Inc()
	s.duration.Observe(d.Seconds())
	if err != nil && keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		s.errors.Inc()
	}
	m.storeTotal.Add(1)
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "OTHER"
}

// statusLabel spells the status codes Keywarden sends without allocating,
// as strconv.Itoa would for three digits.
func statusLabel(status int) string {
	switch status {
	case http.StatusOK:
		return "200"
	case http.StatusCreated:
		return "201"
	case http.StatusNoContent:
		return "204"
	case http.StatusFound:
		return "302"
	case http.StatusSeeOther:
		return "303"
	case http.StatusNotModified:
		return "304"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusNotFound:
		return "404"
	case http.StatusMethodNotAllowed:
		return "405"
	case http.StatusConflict:
		return "409"
	case http.StatusRequestEntityTooLarge:
		return "413"
	case http.StatusUnprocessableEntity:
		return "422"
	case http.StatusTooManyRequests:
		return "429"
	case http.StatusInternalServerError:
		return "500"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(status)
}

// ObserveRateLimited counts a request refused by its key's rate limit.
func (m *Metrics) ObserveRateLimited() { m.rateLimited.Inc() }

// ObserveRateLimiterError counts a decision the rate limiter could not make
// as configured.
func (m *Metrics) ObserveRateLimiterError() { m.rateLimiterErrors.Inc() }
