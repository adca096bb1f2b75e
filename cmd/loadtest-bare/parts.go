package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/logwriter"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/requestlog"
	"github.com/keywarden/keywarden/internal/throttle"
	"github.com/keywarden/keywarden/internal/usage"
)

// The throttle's settings as internal/server's: the default limit, which
// keywarden serve's flag defaults to, the window and the longest lockout
// (TestPartsThrottleAsTheNode holds them equal). The server package itself
// is not linked in, so that the baseline's binary stays a bare server.
const (
	defaultAuthFailuresPerIP = 60
	authWindow               = time.Minute
	maxAddressLockout        = time.Hour
)

// parts are the four things the node does for every request that presents
// a key besides checking it and answering, each done with the node's own
// package and called as internal/server calls it (auth.go's admit,
// recordVerification and authFailed; middleware.go's logRequests, whose
// line is requestlog's). The node's request path is internal/server's;
// this is the floor's copy of those calls, for measuring them alone.
type parts struct {
	metrics  *metrics.Metrics
	route    *metrics.Route
	throttle *throttle.Limiter
	usage    *usage.Recorder
	log      *logline.Output
	clientIP clientip.Resolver
	ipText   atomic.Pointer[addrText] // the last client address's text
	writers  sync.Pool                // *partsWriter
}

type addrText struct {
	addr netip.Addr
	text string
}

// newParts returns the parts over store (for the usage recorder), with
// the throttle's limit and the log written to out through the node's
// batching writer.
func newParts(store usage.Store, failuresPerMinute int, out io.Writer) *parts {
	m := metrics.New()
	logOutput := logline.NewText(logwriter.New(out), slog.LevelInfo)
	p := &parts{metrics: m, route: m.Route("GET /api/v1/me"),
		throttle: throttle.New(failuresPerMinute, authWindow, time.Now).Escalating(maxAddressLockout),
		usage:    usage.New(store, usage.Config{Now: time.Now, Logger: slog.New(logOutput.Handler()), Observer: m}),
		log:      logOutput}
	p.writers.New = func() any { return &partsWriter{} }
	return p
}

// partsWriter records the status and size of the answer, for the metrics
// and the log line.
type partsWriter struct {
	http.ResponseWriter
	status, bytes int
}

func (w *partsWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *partsWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// serve is k's ServeHTTP with the four parts around the key check.
func (p *parts) serve(w http.ResponseWriter, r *http.Request, k *keyCheck, authorization string) {
	start := time.Now()
	pw := p.writers.Get().(*partsWriter)
	*pw = partsWriter{ResponseWriter: w}
	addr, ip := p.client(r)
	var keyUser, failure string
	if ok, _ := p.throttle.AllowAt(ip, start); !ok {
		// The node answers its problem document (and audits the burst);
		// the load test sets a limit that no run reaches.
		pw.WriteHeader(http.StatusTooManyRequests)
	} else {
		v, err := k.v.VerifyAuthorization(r.Context(), authorization, keywarden.Requirement{ClientAddr: addr, At: start})
		p.metrics.ObserveVerification(string(v.Code))
		switch {
		case err != nil:
			pw.WriteHeader(http.StatusServiceUnavailable)
		case !v.Authenticated():
			if v.OrgID != "" {
				p.usage.Record(v.User, start, ip, false)
			} else {
				p.usage.Ignore(v.User, start, ip)
			}
			p.throttle.Fail(ip)
			p.throttle.Note(ip, v.OrgID, v.User)
			keyUser, failure = v.User, v.Reason
			k.refuse(pw, r)
		default:
			keyUser = v.Key.User
			p.usage.Record(v.Key.User, start, ip, true)
			k.next.ServeHTTP(pw, r)
		}
	}
	end := time.Now()
	d := end.Sub(start)
	p.route.Observe(r.Method, pw.status, d)
	// The load test's path holds nothing for the server's safePath to
	// redact, which passes such a path after one scan.
	requestlog.Write(r.Context(), p.log, nil, end, slog.LevelInfo, &requestlog.Line{
		Method: r.Method, Path: r.URL.Path, Status: pw.status, Bytes: pw.bytes, Duration: d,
		RemoteAddr: r.RemoteAddr, ClientIP: ip, KeyUser: keyUser, AuthFailure: failure,
	})
	*pw = partsWriter{}
	p.writers.Put(pw)
}

// client returns the request's client address and its text, the text
// remembered for the last address as the node's memo does.
func (p *parts) client(r *http.Request) (netip.Addr, string) {
	a := p.clientIP.ClientIP(r)
	if e := p.ipText.Load(); e != nil && e.addr == a {
		return a, e.text
	}
	e := &addrText{addr: a, text: a.String()}
	p.ipText.Store(e)
	return a, e.text
}
