package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestServeTLS: with --tls-cert and --tls-key, keywarden serves HTTPS
// itself (TLS 1.2 at least, and says https in its log); requests over it
// get HSTS and Secure cookies; net/http's own refusals are problems with
// HSTS; and a plain-HTTP request to the port gets a problem too.
func TestServeTLS(t *testing.T) {
	cert := testenv.MustSelfSignedCert(t)
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("the listening line says %s, want an https URL", srv.URL)
	}
	addr := strings.TrimPrefix(srv.URL, "https://")
	clientTLS := &tls.Config{RootCAs: cert.Pool}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: clientTLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, a auth) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if a != nil {
			a(req)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s over HTTPS: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	// The console's cookies are Secure over TLS, without any proxy saying so.
	res := get("/sign-in", nil)
	if len(res.Cookies()) == 0 {
		t.Fatal("GET /sign-in set no cookie")
	}
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s over HTTPS is not Secure", c.Name)
		}
	}
	for _, path := range []string{"/api/v1/me", "/sign-in", "/healthz"} {
		res := get(path, basic(root))
		if res.StatusCode != http.StatusOK || res.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("GET %s over HTTPS: %d, Strict-Transport-Security %q", path, res.StatusCode, res.Header.Get("Strict-Transport-Security"))
		}
		if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET %s: not over TLS 1.2 or later: %+v", path, res.TLS)
		}
	}

	u, _ := url.Parse(srv.URL)
	csrf := ""
	for _, c := range jar.Cookies(u) {
		if c.Name == "keywarden_csrf" {
			csrf = c.Value
		}
	}
	form := url.Values{"email": {"acme@example.com"}, "password": {"correct horse battery staple"}, "csrf_token": {csrf}}
	signIn, err := client.PostForm(srv.URL+"/sign-in", form)
	if err != nil {
		t.Fatal(err)
	}
	signIn.Body.Close()
	session := false
	for _, c := range signIn.Cookies() {
		session = session || c.Name == "keywarden_session" && c.Value != ""
		if c.Value != "" && !c.Secure {
			t.Errorf("cookie %s set at sign-in over HTTPS is not Secure", c.Name)
		}
	}
	if signIn.StatusCode != http.StatusSeeOther || !session {
		t.Errorf("sign-in over HTTPS: %d, session cookie set: %v", signIn.StatusCode, session)
	}

	// Older TLS is refused.
	old := &tls.Config{RootCAs: cert.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}

	// net/http's refusals over TLS: problems, with HSTS.
	for _, tc := range goRefusals {
		wantRawProblem(t, rawExchange(t, addr, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"}, tc.request), tc.status, true)
	}
	// Plain HTTP to the TLS port: a problem, in plain HTTP, without HSTS.
	p := wantRawProblem(t, rawExchange(t, addr, nil, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"), http.StatusBadRequest, false)
	if !strings.Contains(p.Detail, "HTTPS") {
		t.Errorf("the answer to plain HTTP says %q, not to use HTTPS", p.Detail)
	}
}

// TestServeTLSSetupURL: on first run the setup link in the log is https
// too.
func TestServeTLSSetupURL(t *testing.T) {
	cert := testenv.MustSelfSignedCert(t)
	srv := startServer(t, newFakeClock(), t.TempDir(), "--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile)
	m := setupURLRE.FindStringSubmatch(srv.Log.String())
	if m == nil || !strings.HasPrefix(m[1], srv.URL+"/setup?token=") || !strings.HasPrefix(srv.URL, "https://") {
		t.Errorf("setup URL %q, server URL %s: want both https\n%s", m, srv.URL, srv.Log)
	}
}

// TestServeTLSFlagsRefused: --tls-cert and --tls-key go together (from the
// command line or the environment), and a pair that does not load stops
// the server before it listens.
func TestServeTLSFlagsRefused(t *testing.T) {
	cert, other := testenv.MustSelfSignedCert(t), testenv.MustSelfSignedCert(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		usage bool
		says  string
	}{
		{"certificate without key", []string{"--tls-cert", cert.CertFile}, nil, true, "--tls-cert and --tls-key go together"},
		{"key without certificate", []string{"--tls-key", cert.KeyFile}, nil, true, "--tls-cert and --tls-key go together"},
		{"key from the environment only", nil, map[string]string{"KEYWARDEN_TLS_KEY": cert.KeyFile}, true, "--tls-cert and KEYWARDEN_TLS_KEY go together"},
		{"missing certificate file", []string{"--tls-cert", cert.CertFile + ".missing", "--tls-key", cert.KeyFile}, nil, false, cert.CertFile + ".missing"},
		{"not PEM", []string{"--tls-cert", garbage, "--tls-key", cert.KeyFile}, nil, false, garbage},
		{"key of another certificate", []string{"--tls-cert", cert.CertFile, "--tls-key", other.KeyFile}, nil, false, "private key does not match"},
		{"both from the environment, mismatched", nil, map[string]string{"KEYWARDEN_TLS_CERT": cert.CertFile, "KEYWARDEN_TLS_KEY": other.KeyFile}, false, "KEYWARDEN_TLS_CERT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &testenv.SyncBuffer{}
			a := &app{getenv: func(k string) string { return tc.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, now: newFakeClock().Now}
			// A server that starts anyway stops after a while, and fails.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := a.run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...))
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("serve %v: %v (usage error: %v), want an error saying %q (usage error: %v)", tc.args, err, errors.Is(err, errUsage), tc.says, tc.usage)
			}
			if strings.Contains(log.String(), "msg=listening") {
				t.Errorf("serve listened despite the error:\n%s", log)
			}
		})
	}
}
