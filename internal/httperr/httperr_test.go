package httperr_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/httperr"
	"github.com/keywarden/keywarden/internal/testenv"
)

var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// problemHeaders stands for server.ProblemHeaders.
func problemHeaders(https bool) http.Header {
	h := http.Header{"Content-Type": {api.ProblemContentType}, "Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}}
	if https {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return h
}

// handler answers every request it gets with a fixed response, its Date
// included, so that two servers answer byte for byte alike.
var handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", "Thu, 26 Nov 2026 12:00:00 GMT")
	switch r.URL.Path {
	case "/like-go":
		// As close to net/http's own 400 as a handler gets.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "400 Bad Request")
	case "/like-go-no-date":
		w.Header()["Date"] = nil
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "400 Bad Request")
	case "/tls":
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "no TLS state", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "over "+r.TLS.NegotiatedProtocol)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
})

// serve runs handler on ln, wrapped by httperr when cfg is not nil.
func serve(t *testing.T, cfg *httperr.Config) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = httperr.NewListener(ln, *cfg)
	}
	srv := &http.Server{Handler: handler, MaxHeaderBytes: 4 << 10, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr()
}

func plainConfig() *httperr.Config {
	return &httperr.Config{Header: problemHeaders, Now: func() time.Time { return fixedNow }}
}

// exchange writes request to addr over a fresh connection (TLS when
// tlsConf is set) and returns all that comes back until the server closes
// the connection.
func exchange(t *testing.T, addr net.Addr, tlsConf *tls.Config, request string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tlsConf != nil {
		c = tls.Client(c, tlsConf)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		t.Fatalf("reading the answer to %q: %v", request, err)
	}
	return b
}

// badRequests are requests net/http refuses before any handler runs, with
// the status it refuses them with.
var badRequests = []struct {
	name    string
	request string
	status  int
}{
	{"malformed request line", "GARBAGE\r\n\r\n", 400},
	{"request line without a version", "GET /\r\n\r\n", 400},
	{"header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400},
	{"no Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
	{"malformed Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505},
	{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
	{"headers over the limit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", 431},
	{"unsupported transfer encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", 400},
	{"unsupported expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417},
}

// TestGoErrorsBecomeProblems: every answer net/http writes by itself is a
// problem document with the problem headers (HSTS over TLS), the same
// status, and Connection: close. Without the listener, none is (checked
// too, so that a request net/http stops refusing is noticed).
func TestGoErrorsBecomeProblems(t *testing.T) {
	cert := testenv.MustSelfSignedCert(t)
	tlsCfg := plainConfig()
	tlsCfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	bare, plain, overTLS := serve(t, nil), serve(t, plainConfig()), serve(t, tlsCfg)
	client := &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"}
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			res := readResponse(t, exchange(t, bare, nil, tc.request))
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") == api.ProblemContentType {
				t.Fatalf("net/http alone: %d %s, want %d and no problem: the test no longer matches net/http", res.StatusCode, res.Header.Get("Content-Type"), tc.status)
			}
			checkProblem(t, exchange(t, plain, nil, tc.request), tc.status, false)
			checkProblem(t, exchange(t, overTLS, client, tc.request), tc.status, true)
		})
	}
}

// TestPlainHTTPToTheTLSPort: a plain-HTTP request to a TLS listener gets a
// 400 problem in plain HTTP (no HSTS: it means nothing there).
func TestPlainHTTPToTheTLSPort(t *testing.T) {
	cert := testenv.MustSelfSignedCert(t)
	cfg := plainConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair}, NextProtos: []string{"http/1.1"}}
	addr := serve(t, cfg)
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST /api/v1/keys/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"} {
		p := checkProblem(t, exchange(t, addr, nil, req), http.StatusBadRequest, false)
		if !strings.Contains(p.Detail, "HTTPS") {
			t.Errorf("detail %q does not say to use HTTPS", p.Detail)
		}
	}
}

// TestHandlerResponsesPassUntouched: what handlers write — including a
// response made to look like net/http's own 400 — goes out byte for byte
// as without the listener, over plain TCP; over TLS the handler sees the
// connection's TLS state.
func TestHandlerResponsesPassUntouched(t *testing.T) {
	bare, wrapped := serve(t, nil), serve(t, plainConfig())
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /like-go HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /like-go-no-date HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		// Two pipelined requests, then one net/http refuses: the first
		// two answers are untouched, the refusal is a problem.
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /like-go HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	} {
		want, got := exchange(t, bare, nil, req), exchange(t, wrapped, nil, req)
		if !bytes.Equal(got, want) {
			t.Errorf("%q:\nwith httperr:\n%s\nwithout:\n%s", req, got, want)
		}
	}

	out := exchange(t, wrapped, nil, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	first, rest, _ := bytes.Cut(out, []byte(`{"ok":true}`))
	if !bytes.HasPrefix(first, []byte("HTTP/1.1 200 OK\r\n")) {
		t.Fatalf("pipelined: the first answer is not the handler's:\n%s", out)
	}
	checkProblem(t, rest, http.StatusBadRequest, false)

	cert := testenv.MustSelfSignedCert(t)
	cfg := plainConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair}, NextProtos: []string{"http/1.1"}}
	res := readResponse(t, exchange(t, serve(t, cfg), &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", NextProtos: []string{"h2", "http/1.1"}}, "GET /tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	if body, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK || string(body) != "over http/1.1" {
		t.Errorf("over TLS: %d %q, want 200 with the TLS state", res.StatusCode, body)
	}
}

func readResponse(t *testing.T, b []byte) *http.Response {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("not an HTTP response: %v\n%q", err, b)
	}
	return res
}

// checkProblem checks that b is exactly one problem response with status.
func checkProblem(t *testing.T, b []byte, status int, https bool) api.Problem {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("not an HTTP response: %v\n%q", err, b)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Errorf("data after the response: %q", rest)
	}
	if !res.Close {
		t.Errorf("no Connection: close\n%s", b)
	}
	want := problemHeaders(https)
	for name := range want {
		if got := res.Header.Get(name); got != want.Get(name) {
			t.Errorf("%s: %q, want %q\n%s", name, got, want.Get(name), b)
		}
	}
	if !https && res.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over plain HTTP:\n%s", b)
	}
	if res.Header.Get("Date") != fixedNow.Format(http.TimeFormat) {
		t.Errorf("Date %q, want the configured clock's", res.Header.Get("Date"))
	}
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body is not a problem document: %v\n%s", err, body)
	}
	if res.StatusCode != status || p.Status != status || p.Title != http.StatusText(status) ||
		!strings.HasPrefix(p.Type, "urn:keywarden:problem:") || p.Detail == "" || p.Errors == nil ||
		p.Timestamp != fixedNow.Format(time.RFC3339) {
		t.Errorf("got %d %+v, want a %d problem", res.StatusCode, p, status)
	}
	return p
}
