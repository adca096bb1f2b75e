package server

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
)

// TestHTTPSDecidesSecureCookiesAndHSTS: a request is HTTPS when it came
// over TLS, or through a trusted proxy saying X-Forwarded-Proto: https —
// and then, and only then, its cookies are Secure and it gets HSTS. The
// same header from a peer that is not a trusted proxy proves nothing.
func TestHTTPSDecidesSecureCookiesAndHSTS(t *testing.T) {
	proxies, err := clientip.Parse("192.0.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	db := sqlitetest.MustOpen(t)
	h := NewHandler(Config{Store: db, ClientIPs: proxies})
	const proxy, stranger = "192.0.2.10:4711", "198.51.100.7:4711"
	for _, tc := range []struct {
		name       string
		remoteAddr string
		tls        bool
		forwarded  string // X-Forwarded-Proto
		https      bool
	}{
		{"plain HTTP", stranger, false, "", false},
		{"TLS", stranger, true, "", true},
		{"TLS, a stranger saying http", stranger, true, "http", true},
		{"trusted proxy saying https", proxy, false, "https", true},
		{"trusted proxy saying http", proxy, false, "http", false},
		{"trusted proxy saying nothing", proxy, false, "", false},
		{"stranger saying https", stranger, false, "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/sign-in", nil)
			r.RemoteAddr = tc.remoteAddr
			if tc.tls {
				r.TLS = &tls.ConnectionState{HandshakeComplete: true}
			}
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-Proto", tc.forwarded)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			cookies := res.Cookies()
			if len(cookies) == 0 {
				t.Fatalf("GET /sign-in set no cookie (%d)", res.StatusCode)
			}
			for _, c := range cookies {
				if c.Secure != tc.https {
					t.Errorf("cookie %s: Secure = %v, want %v", c.Name, c.Secure, tc.https)
				}
			}
			if hsts := res.Header.Get("Strict-Transport-Security"); (hsts != "") != tc.https {
				t.Errorf("Strict-Transport-Security %q, want it exactly over HTTPS (%v)", hsts, tc.https)
			}
		})
	}
}
