package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Route is the request series of one route pattern, for the HTTP server to
// resolve once, when it registers the route, instead of hashing the route's
// labels on every request. A series is created when it is first observed,
// exactly as ObserveRequest would create it, so /metrics shows the same
// series either way; after that, observing it neither allocates nor locks.
type Route struct {
	m       *Metrics
	route   string
	methods [len(methodLabels)]routeMethod
}

type routeMethod struct {
	duration atomic.Pointer[observerBox]
	byStatus [len(statusCodes)]atomic.Pointer[counterBox]
}

type observerBox struct{ prometheus.Observer }
type counterBox struct{ prometheus.Counter }

// methodLabels are the values of the method label (methodLabel).
var methodLabels = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, "OTHER"}

// statusCodes are the statuses statusLabel spells without allocating; the
// series of any other is looked up on each request.
var statusCodes = [...]int{http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusFound,
	http.StatusSeeOther, http.StatusNotModified, http.StatusBadRequest, http.StatusUnauthorized,
	http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusConflict,
	http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusServiceUnavailable}

// Route returns the series of route, a mux pattern or "unmatched" (see
// ObserveRequest). It creates no series.
func (m *Metrics) Route(route string) *Route { return &Route{m: m, route: route} }

// Observe records one served request of the route: what
// ObserveRequest(route, method, status, d) records.
func (r *Route) Observe(method string, status int, d time.Duration) {
	mi := methodIndex(method)
	rm := &r.methods[mi]
	si := statusIndex(status)
	if si < 0 {
		r.m.requests.WithLabelValues(r.route, methodLabels[mi], statusLabel(status)).Inc()
	} else {
		c := rm.byStatus[si].Load()
		if c == nil {
			c = &counterBox{r.m.requests.WithLabelValues(r.route, methodLabels[mi], statusLabel(status))}
			rm.byStatus[si].Store(c)
		}
		c.Inc()
	}
	o := rm.duration.Load()
	if o == nil {
		o = &observerBox{r.m.requestDuration.WithLabelValues(r.route, methodLabels[mi])}
		rm.duration.Store(o)
	}
	o.Observe(d.Seconds())
}

// methodIndex is the index in methodLabels of methodLabel(method).
func methodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7
}

// statusIndex is the index of status in statusCodes, or -1.
func statusIndex(status int) int {
	for i, c := range statusCodes {
		if c == status {
			return i
		}
	}
	return -1
}
