package send

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// slack is what a bounded wait may take beyond its bound on a loaded
// machine (the race detector, CI).
const slack = 2 * time.Second

func testDelivery(url string) Delivery {
	return Delivery{
		URL:        url,
		Body:       []byte(`{"id":"evt_1","type":"api_key.created"}`),
		EventID:    "evt_1",
		EventType:  "api_key.created",
		DeliveryID: "dlv_1",
		Secrets:    [][]byte{[]byte("whsec_test")},
	}
}

// receiver is an httptest server that remembers the requests it was sent
// and counts the connections it accepted.
type receiver struct {
	*httptest.Server
	conns  atomic.Int32
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
}

// newReceiver starts a receiver (over TLS if tls) that records each request
// and then calls h (nil: answer 200).
func newReceiver(t *testing.T, tls bool, h http.HandlerFunc) *receiver {
	t.Helper()
	rec := &receiver{}
	rec.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r)
		rec.bodies = append(rec.bodies, body)
		rec.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	}))
	rec.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rec.conns.Add(1)
		}
	}
	if tls {
		rec.StartTLS()
	} else {
		rec.Start()
	}
	t.Cleanup(rec.Close)
	return rec
}

func (rec *receiver) requests() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// port is the receiver's port, as a string.
func (rec *receiver) port() string {
	_, p, _ := net.SplitHostPort(rec.Listener.Addr().String())
	return p
}

// tlsConfig trusts the receiver's certificate (for 127.0.0.1, ::1,
// example.com and *.example.com).
func (rec *receiver) tlsConfig() *Config {
	return &Config{TLSConfig: rec.Client().Transport.(*http.Transport).TLSClientConfig}
}

// reasonOf returns the Reason of r.Err, failing if it is not an *Error.
func reasonOf(t *testing.T, r Result) Reason {
	t.Helper()
	var e *Error
	if !errors.As(r.Err, &e) {
		t.Fatalf("Err = %v (%T), want an *Error", r.Err, r.Err)
	}
	return e.Reason
}

func TestSendDeliversSignedHeadersAndBody(t *testing.T) {
	rec := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thanks")
	})
	at := time.Unix(1767225600, 0)
	s := New(Config{AllowPrivate: true, Now: func() time.Time { return at }})
	d := testDelivery(rec.URL + "/hooks/keywarden?team=7")
	d.Secrets = [][]byte{[]byte("whsec_test"), []byte("whsec_old")}
	res := s.Send(context.Background(), d)
	if res.Err != nil {
		t.Fatalf("Send: %v", res.Err)
	}
	if res.StatusCode != http.StatusAccepted || res.Snippet != "thanks" || res.Latency <= 0 {
		t.Errorf("Result = %+v, want 202, snippet \"thanks\" and a latency", res)
	}
	if rec.requests() != 1 {
		t.Fatalf("the receiver got %d requests, want 1", rec.requests())
	}
	r, body := rec.reqs[0], rec.bodies[0]
	if r.Method != http.MethodPost || r.URL.RequestURI() != "/hooks/keywarden?team=7" {
		t.Errorf("request = %s %s, want POST /hooks/keywarden?team=7", r.Method, r.URL.RequestURI())
	}
	if string(body) != string(d.Body) {
		t.Errorf("body = %q, want %q", body, d.Body)
	}
	// The signature as a receiver checks it: an HMAC of "<t>." + body by
	// each secret.
	v1 := func(secret string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("1767225600."))
		mac.Write(body)
		return hex.EncodeToString(mac.Sum(nil))
	}
	for h, want := range map[string]string{
		"Keywarden-Signature":   "t=1767225600,v1=" + v1("whsec_test") + ",v1=" + v1("whsec_old"),
		"Keywarden-Event-Id":    "evt_1",
		"Keywarden-Event-Type":  "api_key.created",
		"Keywarden-Delivery-Id": "dlv_1",
		"Content-Type":          "application/json",
		"User-Agent":            "Keywarden-Webhooks/1",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
		t.Error("the request carries credentials")
	}
}

func TestSendReportsAnErrorStatus(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusNotFound, http.StatusBadRequest} {
		rec := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, "boom")
		})
		res := New(Config{AllowPrivate: true}).Send(context.Background(), testDelivery(rec.URL))
		if reasonOf(t, res) != ReasonStatus || res.StatusCode != code || res.Snippet != "boom" {
			t.Errorf("a %d gave %+v, want a status failure with its code and snippet", code, res)
		}
		var e *Error
		errors.As(res.Err, &e)
		if e.StatusCode != code || !strings.Contains(e.Error(), http.StatusText(code)) {
			t.Errorf("Error = %+v (%q), want status %d", e, e, code)
		}
	}
}

// TestSendRefusesLoopbackUnlessAllowPrivate: httptest receivers are on
// loopback, so the production setting refuses them: http by the URL
// rule, https by the address rule, before any connection.
func TestSendRefusesLoopbackUnlessAllowPrivate(t *testing.T) {
	plain := newReceiver(t, false, nil)
	secure := newReceiver(t, true, nil)
	cfg := secure.tlsConfig()
	for _, c := range []struct{ name, url, why string }{
		{"http is refused", plain.URL, "must be https"},
		{"https to 127.0.0.1 is refused", "https://127.0.0.1:" + secure.port() + "/", "127.0.0.1 is a loopback address"},
		{"https to localhost is refused", "https://localhost:" + secure.port() + "/", "is a loopback address"},
		{"https to the mapped form is refused", "https://[::ffff:127.0.0.1]:" + secure.port() + "/", "127.0.0.1 is a loopback address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := New(*cfg).Send(context.Background(), testDelivery(c.url))
			if reasonOf(t, res) != ReasonRefused || !strings.Contains(res.Err.Error(), c.why) {
				t.Errorf("Send = %+v, want refused: %s", res, c.why)
			}
			if res.StatusCode != 0 {
				t.Errorf("StatusCode = %d, want 0", res.StatusCode)
			}
		})
	}
	if n := plain.conns.Load() + secure.conns.Load(); n != 0 {
		t.Errorf("the receivers accepted %d connections, want none", n)
	}
	t.Run("allowPrivate delivers", func(t *testing.T) {
		allowed := *cfg
		allowed.AllowPrivate = true
		for _, url := range []string{plain.URL, "https://127.0.0.1:" + secure.port() + "/"} {
			if res := New(allowed).Send(context.Background(), testDelivery(url)); res.Err != nil || res.StatusCode != http.StatusOK {
				t.Errorf("Send(%s) = %+v, want 200", url, res)
			}
		}
	})
}

// TestDNSRebindingIsRefusedAtConnect: a name that resolved to a public
// address when the webhook was created (CheckURL passes) resolves to
// 127.0.0.1 at delivery time. The check on the address being dialed
// refuses it before any connection; with AllowPrivate the same lookup
// reaches the receiver, so the refusal was the rule's and not a broken
// resolver's.
func TestDNSRebindingIsRefusedAtConnect(t *testing.T) {
	rec := newReceiver(t, true, nil)
	var lookups atomic.Int32
	rebinding := resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host != "hooks.example.com" {
			return nil, errors.New("unexpected lookup of " + host)
		}
		if lookups.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	url := "https://hooks.example.com:" + rec.port() + "/in"
	if err := CheckURL(context.Background(), url, false, rebinding); err != nil {
		t.Fatalf("CheckURL at creation: %v", err)
	}
	cfg := rec.tlsConfig()
	cfg.Resolver = rebinding
	res := New(*cfg).Send(context.Background(), testDelivery(url))
	if reasonOf(t, res) != ReasonRefused || !strings.Contains(res.Err.Error(), "127.0.0.1 is a loopback address") {
		t.Fatalf("Send = %+v, want refused as loopback", res)
	}
	var re *RefusedError
	if !errors.As(res.Err, &re) {
		t.Errorf("Err = %v, want a *RefusedError in its chain", res.Err)
	}
	if lookups.Load() != 2 {
		t.Errorf("%d lookups, want 2 (creation, delivery)", lookups.Load())
	}
	if rec.conns.Load() != 0 {
		t.Fatalf("the receiver accepted %d connections, want none", rec.conns.Load())
	}

	cfg.AllowPrivate = true
	if res := New(*cfg).Send(context.Background(), testDelivery(url)); res.Err != nil || rec.requests() != 1 {
		t.Fatalf("with AllowPrivate: Send = %+v and %d requests, want a delivery", res, rec.requests())
	}
}

// TestSendTriesEachAddress: a name with several addresses is dialed
// address by address; the forbidden ones are refused, each named in the
// error, and a later allowed one is used.
func TestSendTriesEachAddress(t *testing.T) {
	rec := newReceiver(t, true, nil)
	url := "https://hooks.example.com:" + rec.port() + "/"
	cfg := rec.tlsConfig()
	cfg.Resolver = resolveTo("10.0.0.1", "169.254.169.254")
	res := New(*cfg).Send(context.Background(), testDelivery(url))
	if reasonOf(t, res) != ReasonRefused {
		t.Fatalf("Send = %+v, want refused", res)
	}
	for _, want := range []string{"10.0.0.1 is a private address", "169.254.169.254 is a link-local address"} {
		if !strings.Contains(res.Err.Error(), want) {
			t.Errorf("Err = %q, want it to say %q", res.Err, want)
		}
	}

	// The receiver's 127.0.0.1 stands in for a public address: the check
	// lets it through and nothing else.
	cfg.Resolver = resolveTo("10.0.0.1", "127.0.0.1")
	s := New(*cfg)
	var dialed []string
	s.dialer.Control = func(network, address string, c syscall.RawConn) error {
		dialed = append(dialed, address)
		if address == "127.0.0.1:"+rec.port() {
			return nil
		}
		return control(network, address, c)
	}
	if res := s.Send(context.Background(), testDelivery(url)); res.Err != nil || rec.requests() != 1 {
		t.Fatalf("Send = %+v, want a delivery", res)
	}
	if want := []string{"10.0.0.1:" + rec.port(), "127.0.0.1:" + rec.port()}; !slices.Equal(dialed, want) {
		t.Errorf("dialed %v, want %v", dialed, want)
	}
}

// TestSendFollowsNoRedirect: receiver A redirects to receiver B (another
// host and port) or to itself; the 3xx is the answer, a failure, and
// nothing else is requested.
func TestSendFollowsNoRedirect(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		b := newReceiver(t, false, nil)
		var a *receiver
		a = newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
			target := b.URL + "/stolen"
			if r.URL.Path == "/same-host" {
				target = a.URL + "/elsewhere"
			}
			http.Redirect(w, r, target, code)
		})
		for _, path := range []string{"/other-host", "/same-host"} {
			res := New(Config{AllowPrivate: true}).Send(context.Background(), testDelivery(a.URL+path))
			if reasonOf(t, res) != ReasonStatus || res.StatusCode != code || !strings.Contains(res.Err.Error(), "redirects are not followed") {
				t.Errorf("a %d to %s gave %+v, want a status failure", code, path, res)
			}
		}
		if a.requests() != 2 || b.requests() != 0 || b.conns.Load() != 0 {
			t.Errorf("a %d: A got %d requests (want 2), B got %d and %d connections (want none)", code, a.requests(), b.requests(), b.conns.Load())
		}
	}
}

// newHangingReceiver starts a receiver that calls first (if not nil) and
// then blocks until its client goes or the test ends.
func newHangingReceiver(t *testing.T, first http.HandlerFunc) *receiver {
	release := make(chan struct{})
	rec := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
		if first != nil {
			first(w, r)
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before the receiver's Close, which waits for its handlers
	return rec
}

// TestSendCutsOffAHangingReceiver: whichever step hangs, Send returns
// within its bound with a timeout.
func TestSendCutsOffAHangingReceiver(t *testing.T) {
	const bound = 300 * time.Millisecond
	t.Run("no response header within Timeout", func(t *testing.T) {
		rec := newHangingReceiver(t, nil)
		start := time.Now()
		res := New(Config{AllowPrivate: true, Timeout: bound}).Send(context.Background(), testDelivery(rec.URL))
		checkTimedOut(t, res, start, bound)
	})
	t.Run("no response header within ResponseHeaderTimeout", func(t *testing.T) {
		rec := newHangingReceiver(t, nil)
		start := time.Now()
		res := New(Config{AllowPrivate: true, Timeout: time.Minute, ResponseHeaderTimeout: bound}).Send(context.Background(), testDelivery(rec.URL))
		checkTimedOut(t, res, start, bound)
	})
	t.Run("no TLS handshake within TLSHandshakeTimeout", func(t *testing.T) {
		// A TCP listener that accepts and never speaks.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		t.Cleanup(func() {
			l.Close()
			<-done
			for _, c := range conns {
				c.Close()
			}
		})
		start := time.Now()
		res := New(Config{AllowPrivate: true, Timeout: time.Minute, TLSHandshakeTimeout: bound}).Send(context.Background(), testDelivery("https://"+l.Addr().String()+"/"))
		checkTimedOut(t, res, start, bound)
	})
	t.Run("a 2xx followed by a hanging body is a success, cut off", func(t *testing.T) {
		rec := newHangingReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok so far")
			w.(http.Flusher).Flush()
		})
		start := time.Now()
		res := New(Config{AllowPrivate: true, Timeout: bound}).Send(context.Background(), testDelivery(rec.URL))
		if res.Err != nil || res.StatusCode != http.StatusOK || res.Snippet != "ok so far" {
			t.Errorf("Send = %+v, want a 200 with the snippet read before the deadline", res)
		}
		if d := time.Since(start); d < bound || d > bound+slack {
			t.Errorf("Send took %v, want from %v to %v", d, bound, bound+slack)
		}
	})
}

func checkTimedOut(t *testing.T, res Result, start time.Time, bound time.Duration) {
	t.Helper()
	d := time.Since(start)
	if reasonOf(t, res) != ReasonTimeout {
		t.Errorf("Send = %+v, want a timeout", res)
	}
	if d < bound || d > bound+slack {
		t.Errorf("Send took %v, want from %v to %v", d, bound, bound+slack)
	}
}

func TestSendClassifiesFailures(t *testing.T) {
	closed := newReceiver(t, false, nil)
	closedURL := closed.URL
	closed.Close()
	rec := newReceiver(t, false, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	noSuchHost := resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	})
	with := func(f func(*Delivery)) Delivery {
		d := testDelivery(rec.URL + "/hook?token=s3cr3t")
		f(&d)
		return d
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		r    Resolver
		d    Delivery
		want Reason
	}{
		{"a closed port is a connection failure", context.Background(), nil, testDelivery(closedURL + "/hook?token=s3cr3t"), ReasonConnection},
		{"a name that does not resolve is a connection failure", context.Background(), noSuchHost, testDelivery("http://hooks.example.com/hook?token=s3cr3t"), ReasonConnection},
		{"a canceled context is a cancellation", canceled, nil, with(func(*Delivery) {}), ReasonCanceled},
		{"a delivery without secrets is refused", context.Background(), nil, with(func(d *Delivery) { d.Secrets = nil }), ReasonRefused},
		{"a line break in an ID is refused", context.Background(), nil, with(func(d *Delivery) { d.EventID = "evt\r\nX-Evil: 1" }), ReasonRefused},
		{"a URL that breaks the rule is refused", context.Background(), nil, with(func(d *Delivery) { d.URL = "ftp" + strings.TrimPrefix(d.URL, "http") }), ReasonRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := New(Config{AllowPrivate: true, Resolver: c.r}).Send(c.ctx, c.d)
			if got := reasonOf(t, res); got != c.want {
				t.Errorf("Reason = %s (%v), want %s", got, res.Err, c.want)
			}
			// A URL may be a capability: errors never show it.
			if strings.Contains(res.Err.Error(), "s3cr3t") || strings.Contains(res.Err.Error(), "/hook") {
				t.Errorf("Err = %q shows the URL", res.Err)
			}
		})
	}
	if rec.requests() != 0 {
		t.Errorf("the receiver got %d requests, want none", rec.requests())
	}
}

// TestSnippetIsBounded: a huge response gives at most MaxSnippet bytes of
// valid UTF-8, even when the cut falls inside a rune.
func TestSnippetIsBounded(t *testing.T) {
	big := "a" + strings.Repeat("é", 1<<20) // é is 2 bytes: byte 1024 is the middle of one
	rec := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, big)
	})
	res := New(Config{AllowPrivate: true}).Send(context.Background(), testDelivery(rec.URL))
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("Send = %+v, want a 502", res)
	}
	if len(res.Snippet) != MaxSnippet-1 || !utf8.ValidString(res.Snippet) || !strings.HasPrefix(big, res.Snippet) {
		t.Errorf("snippet of %d bytes (valid UTF-8: %v), want the body's first %d bytes", len(res.Snippet), utf8.ValidString(res.Snippet), MaxSnippet-1)
	}
}

func TestSnippet(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"short text is kept", "ok", "ok"},
		{"an empty body is empty", "", ""},
		{"invalid bytes are replaced", "a\xffb", "a\uFFFDb"},
		{"a rune cut at the end is dropped", "ab\xc3", "ab"},
		{"long text is cut", strings.Repeat("x", 5000), strings.Repeat("x", MaxSnippet)},
		{"replacements do not make it longer", strings.Repeat("\xff\x00", 1000), strings.Repeat("\uFFFD\x00", MaxSnippet/4)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := snippet([]byte(c.in)); got != c.want {
				t.Errorf("snippet = %q, want %q", got, c.want)
			}
		})
	}
}

// endless is a body that never ends and counts what is read of it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestReadSnippetReadsAtMost64KiB: a body that never ends is read up to
// maxRead bytes and no further.
func TestReadSnippetReadsAtMost64KiB(t *testing.T) {
	body := &endless{}
	s, err := readSnippet(body)
	if err != nil || len(s) != MaxSnippet {
		t.Errorf("readSnippet = %d bytes, %v; want %d, nil", len(s), err, MaxSnippet)
	}
	if body.n > 64<<10 {
		t.Errorf("read %d bytes, want at most %d", body.n, 64<<10)
	}
}

func TestNewBoundsEveryTimeout(t *testing.T) {
	s := New(Config{})
	if s.cfg.Timeout != DefaultTimeout || s.cfg.DialTimeout != DefaultDialTimeout || s.cfg.TLSHandshakeTimeout != DefaultTLSHandshakeTimeout || s.cfg.ResponseHeaderTimeout != DefaultTimeout {
		t.Errorf("defaults: %+v", s.cfg)
	}
	s = New(Config{Timeout: time.Second, DialTimeout: time.Minute, TLSHandshakeTimeout: time.Minute, ResponseHeaderTimeout: time.Minute})
	if s.cfg.DialTimeout != time.Second || s.cfg.TLSHandshakeTimeout != time.Second || s.cfg.ResponseHeaderTimeout != time.Second {
		t.Errorf("timeouts beyond Timeout: %+v", s.cfg)
	}
	if s.dialer.Control == nil {
		t.Error("the production dialer has no address check")
	}
	tr := s.client.Transport.(*http.Transport)
	if tr.Proxy != nil || !tr.DisableCompression || tr.MaxResponseHeaderBytes != maxHeaderBytes {
		t.Errorf("transport: proxy %v, compression disabled %v, header limit %d", tr.Proxy != nil, tr.DisableCompression, tr.MaxResponseHeaderBytes)
	}
}
