package main

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
	"github.com/keywarden/keywarden/internal/server"
)

// rawExchange sends request as it is over a new connection to addr (TLS
// when tlsConf is set) and returns everything the server answers until it
// closes the connection.
func rawExchange(t *testing.T, addr string, tlsConf *tls.Config, request string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
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
	if len(b) == 0 {
		t.Fatalf("no answer to %.60q: %v", request, err)
	}
	return b
}

// wantRawProblem checks that raw is one HTTP response: a problem document
// with status and the headers of every problem (server.ProblemHeaders,
// HSTS included over HTTPS).
func wantRawProblem(t *testing.T, raw []byte, status int, https bool) api.Problem {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("not an HTTP response: %v\n%q", err, raw)
	}
	body, _ := io.ReadAll(res.Body)
	checkProblemHeaders(t, res.Header, https, raw)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || res.StatusCode != status || p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Fatalf("want a %d problem, got %d %+v (%v)\n%s", status, res.StatusCode, p, err, raw)
	}
	return p
}

func checkProblemHeaders(t *testing.T, h http.Header, https bool, raw []byte) {
	t.Helper()
	want := server.ProblemHeaders(https)
	for name := range want {
		if h.Get(name) != want.Get(name) {
			t.Errorf("%s: %q, want %q\n%s", name, h.Get(name), want.Get(name), raw)
		}
	}
	if !https && h.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over plain HTTP\n%s", raw)
	}
}

// goRefusals are requests that net/http answers itself, before any
// handler, with the status it answers them with.
var goRefusals = []struct {
	name, request string
	status        int
}{
	{"malformed request line", "NOT HTTP AT ALL\r\n\r\n", http.StatusBadRequest},
	{"header line without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", http.StatusBadRequest},
	{"no Host on HTTP/1.1", "GET /healthz HTTP/1.1\r\n\r\n", http.StatusBadRequest},
	{"control character in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", http.StatusBadRequest},
	{"HTTP/0.9", "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", http.StatusHTTPVersionNotSupported},
	{"HTTP/2.0 in text", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusHTTPVersionNotSupported},
	{"headers over the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", maxHeaderBytes+8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	{"unsupported transfer encoding", "POST /api/v1/keys/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", http.StatusNotImplemented},
	{"two Content-Lengths", "POST /api/v1/keys/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{", http.StatusBadRequest},
	{"unsupported expectation", "POST /api/v1/keys/verify HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}", http.StatusExpectationFailed},
	{"request for *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest}, // the mux's, not net/http's
}

// TestGoErrorsAreProblems: the requests that net/http's server refuses
// itself, before any handler runs, get problem documents with the
// headers of every problem, from the real server over raw TCP; a normal
// request gets its handler's answer.
func TestGoErrorsAreProblems(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	srv := startServer(t, clock, dir)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range goRefusals {
		t.Run(tc.name, func(t *testing.T) {
			wantRawProblem(t, rawExchange(t, addr, nil, tc.request), tc.status, false)
		})
	}
	raw := rawExchange(t, addr, nil, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") == api.ProblemContentType {
		t.Errorf("GET /healthz: %v\n%s", err, raw)
	}
}

// TestUnroutedRequestsAreProblems: a path no route serves is a 404
// problem and a method a path does not serve a 405 problem with Allow,
// inside the API and outside it, never the mux's plain text.
func TestUnroutedRequestsAreProblems(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	srv := startServer(t, clock, dir)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/no-such-page", http.StatusNotFound, ""},
		{"GET", "/settings/no-such-tab", http.StatusNotFound, ""},
		{"GET", "/api/v1/no-such-endpoint", http.StatusNotFound, ""},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "GET"},
		{"POST", "/", http.StatusMethodNotAllowed, "GET"},
		{"DELETE", "/sign-in", http.StatusMethodNotAllowed, "GET, POST"},
		{"PUT", "/api/v1/me", http.StatusMethodNotAllowed, "GET"},
	} {
		r := srv.do(t, nil, tc.method, tc.path, nil)
		checkProblemHeaders(t, r.Header, false, r.Body)
		var p api.Problem
		if err := json.Unmarshal(r.Body, &p); err != nil || r.Status != tc.status || p.Status != tc.status || p.Instance != tc.path {
			t.Errorf("%s %s: %d %s, want a %d problem", tc.method, tc.path, r.Status, r.Body, tc.status)
		}
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// TestFieldNamesMustMatchExactly: encoding/json would fill "name" from
// "NAME" or "Name"; keywarden refuses both with a 400 naming the field,
// and creates nothing.
func TestFieldNamesMustMatchExactly(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	exp := clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	for _, name := range []string{"NAME", "Name"} {
		r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{name: "x", "scopes": []string{"all"}, "exp": exp}), http.StatusBadRequest)
		p := r.JSON(t)
		errs, _ := p["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["location"] != "body: "+name || errs[0].(map[string]any)["type"] != "unknown_field" {
			t.Errorf("%q: errors %v, want one unknown_field at body: %s", name, p["errors"], name)
		}
	}
	list := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys", nil), http.StatusOK).JSON(t)
	if n := list["pagination"].(map[string]any)["total"]; n != 1.0 {
		t.Fatalf("%v organization keys after the refused creations, want only the root key", n)
	}
	want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/api-keys", map[string]any{"name": "x", "scopes": []string{"all"}, "exp": exp}), http.StatusCreated)
}
