// Package client is a Go client for Keywarden's REST API v1: organization
// and process keys, processes, the scope catalogue, the calling key, and the
// verify API that other services use to check the keys they are handed.
//
// It speaks the wire types of package api, the same ones the server encodes,
// so the two cannot drift apart, and it imports only the standard library
// and Keywarden's own public packages: a service that uses it pulls in no
// database driver.
//
//	c := client.New("https://keywarden.internal", os.Getenv("KEYWARDEN_KEY"))
//	k, err := c.CreateOrgKey(ctx, api.CreateAPIKeyRequest{Name: "CI upload",
//		Scopes: []string{"workspace.file:upload"}, Exp: "2027-01-31T00:00:00Z"})
//	var e *client.Error
//	if errors.As(err, &e) && e.StatusCode == http.StatusBadRequest {
//		// e.Problem.Errors lists every invalid field.
//	}
//
// Every answer that is not 2xx is an *Error carrying the server's problem
// document. The key is sent only in the Authorization header, never in a
// URL, and never appears in an error message.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// DefaultTimeout bounds a whole exchange (connect, request, response) when
// the caller does not supply its own http.Client: http.DefaultClient has no
// timeout, and a client that can hang forever on a stuck server hangs its
// callers with it.
const DefaultTimeout = 10 * time.Second

// MaxResponseBytes bounds every response body the client reads, so a broken
// server or proxy cannot make it buffer without limit. The largest real
// answer, a page of 100 keys, is far below it.
const MaxResponseBytes = 1 << 20

// Client calls one Keywarden server with one key. It is safe for concurrent
// use.
type Client struct {
	base string // scheme://host[/prefix], without a trailing slash
	// user and pass are the key split at its first ':'; both empty for a
	// client without a key.
	user, pass string
	// secret is what must never show: pass, or the whole key if it has no
	// ':' (a secret pasted alone, say).
	secret string
	http   *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc, for a custom
// transport (TLS roots, proxies) or timeout. The caller then owns the
// redirect policy too; the default client follows none.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// New returns a client of the server at baseURL (e.g.
// "https://keywarden.internal"; the API's /api/v1 paths are appended to it)
// that authenticates with key, "user:pass". An empty key makes
// unauthenticated calls, which is all Verify needs.
//
// The default http.Client has a DefaultTimeout and follows no redirect: the
// API never redirects, so a redirect means a wrong base URL, and following
// it would turn a POST or DELETE into a GET, or send the key somewhere else.
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"),
		http: &http.Client{
			Timeout: DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	if key != "" {
		var ok bool
		c.user, c.pass, ok = strings.Cut(key, ":")
		c.secret = c.pass
		if !ok {
			c.secret = key
		}
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// String describes the client without its secret, so that printing or
// logging a Client (or a struct holding one) cannot leak the key.
func (c *Client) String() string {
	switch {
	case c.user == "" && c.pass == "":
		return "client.Client{" + c.base + "}"
	case keywarden.ValidKeyID(c.user):
		return "client.Client{" + c.base + " as " + c.user + "}"
	}
	// Not a key ID: it may be a secret in the wrong place.
	return "client.Client{" + c.base + " with a malformed key}"
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Page selects one page of a list. A zero Limit asks for the server's
type forwardedForKey struct{}

// WithForwardedFor returns a copy of ctx whose requests carry chain as
// X-Forwarded-For: the addresses of the client a service acts for. The
// middleware sets it on its verify calls, so that Keywarden counts failed
// authentications against that client rather than against the service;
// Keywarden believes it only when the service's address is in its
// --trusted-proxies.
func WithForwardedFor(ctx context.Context, chain string) context.Context {
	return context.WithValue(ctx, forwardedForKey{}, chain)
}

// default page size (20); the server accepts 1 to 100.
type Page struct {
	Offset int
	Limit  int
}

func (p Page) query() url.Values {
	q := url.Values{}
	if p.Offset != 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	return q
}

// Error is a non-2xx answer of the server. Problem is the server's problem
// document; when the body was not one (a proxy's HTML error page, say),
// Problem is made up from the status and its Detail says so.
type Error struct {
	StatusCode int
	Problem    api.Problem
}

// Error names the status, title, detail and every invalid field, which is
// what a person needs to fix the request. It never contains the key: the
// client removes the key's secret from every problem it decodes.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keywarden: %d", e.StatusCode)
	if e.Problem.Title != "" {
		b.WriteString(" " + e.Problem.Title)
	}
	if e.Problem.Detail != "" {
		b.WriteString(": " + e.Problem.Detail)
	}
	for i, f := range e.Problem.Errors {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Location + ": " + f.Message)
		if f.Type != "" {
			b.WriteString(" [" + f.Type + "]")
		}
	}
	if len(e.Problem.Errors) > 0 {
		b.WriteString(")")
	}
	return b.String()
}

// IsNotFound reports whether err is a 404: the object does not exist, or
// belongs to another organization or process (the server does not say which).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsUnauthorized reports whether err is a 401: the key is missing, wrong,
// expired or deleted (the server does not say which).
func IsUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsForbidden reports whether err is a 403: the key is good but lacks the
// scope or level the call needs.
func IsForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// request is one API call.
type request struct {
	method string
	path   string // under /api/v1, segments already escaped
	query  url.Values
	body   any
	// anonymous calls send no Authorization header even if the client has
	// a key: the verify API needs none, and a credential not needed is a
	// credential not exposed.
	anonymous bool
	// secrets are further strings to scrub from errors (the key a Verify
	// call carries in its body).
	secrets []string
}

// do performs r and decodes a 2xx body into out (unless out is nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("keywarden: encode %s %s: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + "/api/v1" + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("keywarden: %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", "application/json, "+api.ProblemContentType)
	req.Header.Set("User-Agent", "keywarden-go-client")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.anonymous && (c.user != "" || c.pass != "") {
		req.SetBasicAuth(c.user, c.pass)
	}
	if chain, _ := ctx.Value(forwardedForKey{}).(string); chain != "" {
		req.Header.Set("X-Forwarded-For", chain)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// A *url.Error names the URL, which carries IDs but never the key.
		return fmt.Errorf("keywarden: %w", err)
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, res.Body, 4<<10)
		res.Body.Close()
	}()
	data, tooLarge, readErr := readBounded(res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := &Error{StatusCode: res.StatusCode, Problem: problemOf(res, data, tooLarge, readErr)}
		c.scrub(&e.Problem, r.secrets)
		return e
	}
	if readErr != nil {
		return fmt.Errorf("keywarden: read response of %s %s: %w", r.method, r.path, readErr)
	}
	if tooLarge {
		return fmt.Errorf("keywarden: response of %s %s is larger than %d bytes", r.method, r.path, MaxResponseBytes)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("keywarden: decode response of %s %s (status %d): %w", r.method, r.path, res.StatusCode, err)
	}
	return nil
}

// readBounded reads at most MaxResponseBytes of r and reports whether
// there was more.
func readBounded(r io.Reader) (data []byte, tooLarge bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, MaxResponseBytes+1))
	if len(data) > MaxResponseBytes {
		return data[:MaxResponseBytes], true, err
	}
	return data, false, err
}

// problemOf decodes the problem document of an error answer, or makes one
// up from the status when the body is not one.
func problemOf(res *http.Response, data []byte, tooLarge bool, readErr error) api.Problem {
	// "about:blank" is RFC 9457's type for a problem that means no more
	// than its status.
	made := api.Problem{Type: "about:blank", Status: res.StatusCode, Title: http.StatusText(res.StatusCode),
		Instance: res.Request.URL.Path, Errors: []keywarden.FieldError{}}
	ct := res.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case readErr != nil:
		made.Detail = "The response body could not be read: " + readErr.Error()
	case tooLarge:
		made.Detail = fmt.Sprintf("The response body was not a problem document: it is larger than %d bytes.", MaxResponseBytes)
	case mt != api.ProblemContentType && mt != "application/json":
		if ct == "" {
			ct = "none"
		}
		made.Detail = "The response body was not a problem document (Content-Type " + ct + ")."
	default:
		var p api.Problem
		if err := json.Unmarshal(data, &p); err != nil || p.Status == 0 && p.Title == "" && p.Detail == "" {
			made.Detail = "The response body was not a problem document."
			return made
		}
		if p.Status == 0 {
			p.Status = res.StatusCode
		}
		return p
	}
	return made
}

// scrub removes the client's secret, and the other secrets of the call,
// from every string of p: a server or proxy that echoes a request back must
// not turn an error message into a leak.
func (c *Client) scrub(p *api.Problem, more []string) {
	secrets := make([]string, 0, 2+len(more))
	if c.secret != "" {
		// The Authorization header's own form too, should it be echoed.
		secrets = append(secrets, c.secret, base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)))
	}
	for _, s := range more {
		if _, pass, ok := strings.Cut(s, ":"); ok && pass != "" {
			secrets = append(secrets, pass)
		} else if s != "" {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) == 0 {
		return
	}
	clean := func(s string) string {
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
		return s
	}
	p.Type, p.Title, p.Detail, p.Instance = clean(p.Type), clean(p.Title), clean(p.Detail), clean(p.Instance)
	for i := range p.Errors {
		f := &p.Errors[i]
		f.Location, f.Message, f.Type = clean(f.Location), clean(f.Message), clean(f.Type)
	}
}

// segment escapes one path segment. An empty ID is refused before any
// request: it would name a different endpoint (the list, or, after the
// server cleans "//", another resource altogether).
func segment(what, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("keywarden: %s is required", what)
	}
	return url.PathEscape(id), nil
}
