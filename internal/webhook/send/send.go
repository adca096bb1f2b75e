// Package send makes one webhook delivery: it signs the body, sends it to
// the webhook's URL and tells what came of it. The queue that decides when
// to send, and retries by Backoff, is elsewhere; so are the webhooks.
//
// Webhook URLs are chosen by the organizations, so the server must not let
// them point its requests at what only the server can reach (SSRF): its
// own loopback, the private network, the cloud's metadata service. Two
// rules, both lifted by Config.AllowPrivate (the operator's
// --webhook-allow-private, for receivers on the operator's own network):
//
//   - The URL rule: https only (http only with AllowPrivate, since on the
//     public internet it would show every event to the networks between),
//     a host, no user name or password. CheckURL applies it when a webhook
//     is created, Send on every delivery.
//   - The address rule: no private (10/8, 172.16/12, 192.168/16,
//     fc00::/7), loopback, link-local (169.254/16, with 169.254.169.254,
//     and fe80::/10), carrier-grade NAT (100.64/10), multicast,
//     unspecified or otherwise reserved address, nor one of those in an
//     IPv4-mapped (::ffff:a.b.c.d), NAT64 or 6to4 form. Send checks it on
//     each address it connects to, in the dialer's Control function, after
//     DNS has answered: a name that resolved to a public address when the
//     webhook was created and resolves to 127.0.0.1 now (DNS rebinding)
//     is refused before a packet leaves. CheckURL checks it too, earlier,
//     to tell the user at once.
//
// Send follows no redirect, not even to the same host: a 3xx is the answer,
// a failure, so a receiver cannot bounce a delivery to a forbidden or
// unchecked place, and a URL that moved shows as failing in the delivery
// log instead of working by accident. It uses no proxy from the
// environment: through a proxy the rule would check the proxy's address,
// not the receiver's. Every step has a deadline, and the whole delivery
// has Config.Timeout.
//
// A delivery's URL may be a capability (a token in its path or query):
// no error of this package contains it.
package send

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of Config.
const (
	DefaultTimeout             = 10 * time.Second
	DefaultDialTimeout         = 5 * time.Second
	DefaultTLSHandshakeTimeout = 5 * time.Second
)

// MaxSnippet bounds Result.Snippet, in bytes; maxRead bounds what Send
// reads of a response body in all (the rest, read only so that the
// connection can be reused).
const (
	MaxSnippet = 1 << 10
	maxRead    = 64 << 10
	// maxHeaderBytes bounds a response's header (net/http's default is
	// 1 MB).
	maxHeaderBytes = 64 << 10
)

// Config configures a Sender. The zero value is the production setting.
type Config struct {
	// AllowPrivate lifts the URL and address rules (see the package
	// comment): the operator's --webhook-allow-private.
	AllowPrivate bool
	// Timeout bounds a whole delivery: lookup, connection, TLS, request,
	// response header and what is read of the body. Default 10 s.
	Timeout time.Duration
	// DialTimeout bounds each TCP connection attempt (default 5 s),
	// TLSHandshakeTimeout the TLS handshake (default 5 s), and
	// ResponseHeaderTimeout the wait for the response's header once the
	// request is sent (default Timeout). None exceeds Timeout.
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	// Resolver looks up hosts; nil is net.DefaultResolver.
	Resolver Resolver
	// TLSConfig is cloned for the connections; nil verifies servers
	// against the system's roots.
	TLSConfig *tls.Config
	// Now stamps the signatures; nil is time.Now. Latency is measured on
	// the monotonic clock whatever Now is.
	Now func() time.Time
}

// Delivery is one attempt to deliver one event to one webhook.
type Delivery struct {
	URL        string
	Body       []byte // the event's JSON, sent as is and signed
	EventID    string
	EventType  string
	DeliveryID string
	// Secrets are the webhook's live signing secrets: one, or two while a
	// secret is being rolled. Each gets its v1 in the signature.
	Secrets [][]byte
}

// Result is what came of a Delivery.
type Result struct {
	// StatusCode is the receiver's answer, 0 if there was none.
	StatusCode int
	// Latency runs from the start of Send to the response's header (or to
	// the failure).
	Latency time.Duration
	// Snippet is the start of the response body, for the delivery log: at
	// most MaxSnippet bytes of valid UTF-8.
	Snippet string
	// Err is nil when the receiver answered 2xx, and an *Error otherwise.
	Err error
}

// Reason classifies a failed delivery.
type Reason string

// Reasons of Error.
const (
	// ReasonRefused: Keywarden would not send it: the URL or an address it
	// resolved to breaks a rule (a *RefusedError is in the chain), or the
	// delivery has no secret.
	ReasonRefused Reason = "refused"
	// ReasonTimeout: a deadline passed (Config's, or the caller's).
	ReasonTimeout Reason = "timeout"
	// ReasonConnection: no answer for another reason: DNS, a refused or
	// reset connection, TLS.
	ReasonConnection Reason = "connection"
	// ReasonStatus: the receiver answered, but not 2xx (3xx included:
	// redirects are not followed).
	ReasonStatus Reason = "status"
	// ReasonCanceled: the caller's context was canceled (shut-down); not
	// the receiver's fault, and a queue need not count it as an attempt.
	ReasonCanceled Reason = "canceled"
)

// Error is why a delivery failed.
type Error struct {
	Reason     Reason
	StatusCode int   // with ReasonStatus
	Err        error // the cause; nil with ReasonStatus
}

func (e *Error) Error() string {
	if e.Reason == ReasonStatus {
		s := fmt.Sprintf("webhook: receiver answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.StatusCode >= 300 && e.StatusCode <= 399 {
			s += " (redirects are not followed)"
		}
		return s
	}
	return "webhook: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Sender sends deliveries. It is safe for concurrent use, and keeps idle
// connections for reuse (each was checked when it was made).
type Sender struct {
	cfg    Config
	dialer *net.Dialer
	client *http.Client
}

// New returns a Sender for cfg, its zero durations set to their defaults.
func New(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	bound := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
		*d = min(*d, cfg.Timeout)
	}
	bound(&cfg.DialTimeout, DefaultDialTimeout)
	bound(&cfg.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	bound(&cfg.ResponseHeaderTimeout, cfg.Timeout)
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sender{cfg: cfg, dialer: &net.Dialer{Timeout: cfg.DialTimeout}}
	if !cfg.AllowPrivate {
		s.dialer.Control = control
	}
	var tlsConfig *tls.Config
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            s.dial,
			TLSClientConfig:        tlsConfig,
			TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
			ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
			MaxResponseHeaderBytes: maxHeaderBytes,
			// Read the body as sent: no gzip bomb to inflate.
			DisableCompression: true,
			ForceAttemptHTTP2:  true,
			MaxIdleConns:       100,
			IdleConnTimeout:    90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// CloseIdleConnections closes the connections kept for reuse.
func (s *Sender) CloseIdleConnections() { s.client.CloseIdleConnections() }

// dial connects to address ("host:port") by resolving host with the
// Sender's resolver and trying each address in turn; the dialer's Control
// function (without AllowPrivate) refuses each forbidden one.
func (s *Sender) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", p)
	}
	addrs, err := lookup(ctx, s.cfg.Resolver, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		c, err := s.dialer.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// Send makes one attempt at d, signed at Config.Now, and returns within
// Config.Timeout (sooner if ctx ends). A 2xx is success, whatever the
// body; anything else is a failure with its Reason.
func (s *Sender) Send(ctx context.Context, d Delivery) Result {
	start := time.Now()
	fail := func(r Result, err *Error) Result {
		if r.Latency == 0 {
			r.Latency = time.Since(start)
		}
		r.Err = err
		return r
	}
	if len(d.Secrets) == 0 {
		return fail(Result{}, &Error{Reason: ReasonRefused, Err: errors.New("no signing secret: webhooks are never sent unsigned")})
	}
	if _, err := parseURL(d.URL, s.cfg.AllowPrivate); err != nil {
		return fail(Result{}, &Error{Reason: ReasonRefused, Err: err})
	}
	for _, v := range []string{d.EventID, d.EventType, d.DeliveryID} {
		if strings.ContainsAny(v, "\r\n\x00") {
			return fail(Result{}, &Error{Reason: ReasonRefused, Err: errors.New("an ID or type with a line break")})
		}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fail(Result{}, &Error{Reason: ReasonRefused, Err: unwrapURL(err)})
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderEventID, d.EventID)
	h.Set(HeaderEventType, d.EventType)
	h.Set(HeaderDeliveryID, d.DeliveryID)
	h.Set(HeaderSignature, Sign(d.Secrets, s.cfg.Now(), d.Body))

	res, err := s.client.Do(req)
	r := Result{Latency: time.Since(start)}
	if err != nil {
		return fail(r, classify(parent, err))
	}
	defer res.Body.Close()
	r.StatusCode = res.StatusCode
	// A read error (the deadline, mostly) only shortens the snippet: the
	// status has been given.
	r.Snippet, _ = readSnippet(res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fail(r, &Error{Reason: ReasonStatus, StatusCode: res.StatusCode})
	}
	return r
}

// classify turns an error of http.Client.Do into an *Error, without the
// URL that *url.Error would put in its message.
func classify(parent context.Context, err error) *Error {
	err = unwrapURL(err)
	var re *RefusedError
	var ne net.Error
	switch {
	case errors.As(err, &re):
		return &Error{Reason: ReasonRefused, Err: err}
	case errors.Is(parent.Err(), context.Canceled):
		return &Error{Reason: ReasonCanceled, Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Reason: ReasonTimeout, Err: err}
	}
	return &Error{Reason: ReasonConnection, Err: err}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readSnippet reads the start of body for the delivery log, then up to
// maxRead bytes in all so that the connection can be reused, and no more.
func readSnippet(body io.Reader) (string, error) {
	head := make([]byte, MaxSnippet)
	n, err := io.ReadFull(body, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return snippet(head[:n]), nil
	}
	if err == nil {
		_, err = io.CopyN(io.Discard, body, maxRead-MaxSnippet)
		if err == io.EOF {
			err = nil
		}
	}
	return snippet(head[:n]), err
}

// snippet returns b as valid UTF-8 of at most MaxSnippet bytes: a rune cut
// at the end is dropped, other invalid bytes replaced.
func snippet(b []byte) string {
	if len(b) > MaxSnippet {
		b = b[:MaxSnippet]
	}
	// Back up to the start of the last rune; drop it if it is incomplete.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > MaxSnippet { // replacements are longer than what they replace
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
