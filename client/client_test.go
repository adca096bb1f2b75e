package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
)

// cut splits a key into user and pass.
func cut(key string) (user, pass string, ok bool) { return strings.Cut(key, ":") }

// MustKey returns a well-formed key (right shape, right checksum) that no
// server knows.
func MustKey(tb testing.TB) string {
	tb.Helper()
	km, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	return km.Value()
}

// MustOtherPass returns the pass of another well-formed key.
func MustOtherPass(tb testing.TB) string {
	tb.Helper()
	_, pass, _ := cut(MustKey(tb))
	return pass
}

// recorder is a fake server that answers every request with one canned
// response and remembers what it was asked.
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	status   int
	ctype    string
	body     string
}

// Len returns the number of requests received.
func (rec *recorder) Len() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.requests = append(rec.requests, r)
	rec.bodies = append(rec.bodies, string(b))
	rec.mu.Unlock()
	if rec.ctype != "" {
		w.Header().Set("Content-Type", rec.ctype)
	}
	w.WriteHeader(rec.status)
	io.WriteString(w, rec.body)
}

// MustFake starts a fake server answering status, Content-Type ctype and body.
func MustFake(tb testing.TB, status int, ctype, body string) (*recorder, *httptest.Server) {
	tb.Helper()
	rec := &recorder{status: status, ctype: ctype, body: body}
	srv := httptest.NewServer(rec)
	tb.Cleanup(srv.Close)
	return rec, srv
}

func TestFailedAuthenticationIsAnErrorWithTheServersProblem(t *testing.T) {
	f := MustServer(t)
	user, _, _ := cut(f.adminKey)
	for name, key := range map[string]string{
		"unknown key":    MustKey(t),
		"wrong secret":   user + ":" + MustOtherPass(t),
		"no key":         "",
		"not a key":      "garbage-without-colon",
		"garbage secret": user + ":hunter2hunter2",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.New(f.srv.URL, key).Me(context.Background())
			e := MustError(t, err, http.StatusUnauthorized)
			want := api.Problem{Type: api.ProblemType(keywarden.EUNAUTHORIZED), Title: "Unauthorized", Status: 401,
				Detail: api.UnauthorizedDetail, Instance: "/api/v1/me", Timestamp: f.clock.Now().Format(time.RFC3339), Errors: []keywarden.FieldError{}}
			if fmt.Sprint(e.Problem) != fmt.Sprint(want) {
				t.Fatalf("problem = %+v\nwant      %+v", e.Problem, want)
			}
			if !client.IsUnauthorized(err) || !strings.Contains(err.Error(), "401 Unauthorized: "+api.UnauthorizedDetail) {
				t.Fatalf("Error() = %q", err)
			}
			MustNotLeak(t, err, key)
		})
	}
	t.Run("expired", func(t *testing.T) {
		key := MustStoreKey(t, f, "", []string{"workspace.process:read"}, time.Hour)
		c := client.New(f.srv.URL, key)
		if _, err := c.Me(context.Background()); err != nil {
			t.Fatalf("Me before expiry: %v", err)
		}
		f.clock.Advance(time.Hour)
		_, err := c.Me(context.Background())
		MustError(t, err, http.StatusUnauthorized)
		MustNotLeak(t, err, key)
	})
}

// MustNotLeak fails if err's message, or anything the fmt verbs make of
// it, contains the secret part of key.
func MustNotLeak(tb testing.TB, err error, key string) {
	tb.Helper()
	_, pass, ok := cut(key)
	if !ok || len(pass) < 4 {
		return
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(key))
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)} {
		if strings.Contains(s, pass) || strings.Contains(s, encoded) {
			tb.Fatalf("error shows the secret: %s", s)
		}
	}
}

func TestNonProblemErrorBodyStillGivesAnError(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		wantDetail        string
	}{
		{"html from a proxy", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", "The response body was not a problem document (Content-Type text/html)."},
		{"no content type", "", "upstream connect error", "The response body was not a problem document (Content-Type text/plain; charset=utf-8)."},
		{"json that is no problem", "application/json", `{"message":"bad gateway"}`, "The response body was not a problem document."},
		{"broken problem json", api.ProblemContentType, `{"type":`, "The response body was not a problem document."},
		{"too large", api.ProblemContentType, `{"detail":"` + strings.Repeat("x", client.MaxResponseBytes) + `"}`, "The response body was not a problem document: it is larger than 1048576 bytes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := MustFake(t, http.StatusBadGateway, tt.ctype, tt.body)
			key := MustKey(t)
			_, err := client.New(srv.URL, key).Me(context.Background())
			e := MustError(t, err, http.StatusBadGateway)
			if e.Problem.Title != "Bad Gateway" || e.Problem.Detail != tt.wantDetail || e.Problem.Instance != "/api/v1/me" {
				t.Fatalf("problem = %+v, want detail %q", e.Problem, tt.wantDetail)
			}
			if want := "keywarden: 502 Bad Gateway: " + tt.wantDetail; err.Error() != want {
				t.Fatalf("Error() = %q\nwant      %q", err, want)
			}
			MustNotLeak(t, err, key)
		})
	}
}

// A server (or a proxy) that echoes the request into its error must not
// make the client's error message carry the key.
func TestErrorsNeverShowTheKey(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := api.Problem{Type: "urn:echo", Title: "Echo " + r.Header.Get("Authorization"), Status: 400,
			Detail:   "You sent " + r.Header.Get("Authorization") + " and " + string(body),
			Instance: r.URL.Path, Errors: []keywarden.FieldError{{Location: "body: key", Message: string(body), Type: "echo"}}}
		if user, pass, ok := r.BasicAuth(); ok {
			p.Detail += " user=" + user + " pass=" + pass
		}
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(p)
	})
	srv := httptest.NewServer(echo)
	defer srv.Close()
	ctx := context.Background()
	key, checked := MustKey(t), MustKey(t)
	c := client.New(srv.URL, key)

	calls := map[string]func() error{
		"Me":           func() error { _, err := c.Me(ctx); return err },
		"CreateOrgKey": func() error { _, err := c.CreateOrgKey(ctx, api.CreateAPIKeyRequest{Name: key}); return err },
		"Verify":       func() error { _, err := c.Verify(ctx, api.VerifyRequest{Key: checked}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			MustError(t, err, http.StatusBadRequest)
			MustNotLeak(t, err, key)
			MustNotLeak(t, err, checked)
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Fatalf("Error() = %q: the echo was not redacted but removed?", err)
			}
		})
	}
	t.Run("transport errors", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		_, err := client.New(down.URL, key).Me(ctx)
		var e *client.Error
		if err == nil || errors.As(err, &e) {
			t.Fatalf("Me on a closed server = %v, want a transport error", err)
		}
		MustNotLeak(t, err, key)
	})
	t.Run("a secret without its user", func(t *testing.T) {
		_, pass, _ := cut(key)
		_, err := client.New(srv.URL, pass).Me(ctx)
		MustError(t, err, http.StatusBadRequest)
		if s := fmt.Sprintf("%v %v %+v %#v", err, client.New(srv.URL, pass), client.New(srv.URL, pass), client.New(srv.URL, pass)); strings.Contains(s, pass) {
			t.Fatalf("shows the secret: %s", s)
		}
	})
	t.Run("printing the client", func(t *testing.T) {
		_, pass, _ := cut(key)
		if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(s, pass) {
			t.Fatalf("printed client shows the secret: %s", s)
		}
	})
}

func TestRequestsAreWhatTheAPIExpects(t *testing.T) {
	rec, srv := MustFake(t, http.StatusOK, "application/json", `{}`)
	ctx := context.Background()
	key := MustKey(t)
	user, pass, _ := cut(key)
	c := client.New(srv.URL+"/", key) // a trailing slash is tolerated

	tests := []struct {
		name      string
		call      func() error
		method    string
		path      string // escaped
		query     string
		body      string
		anonymous bool
	}{
		{"list with the default page", func() error { _, err := c.ListOrgKeys(ctx, client.Page{}); return err }, "GET", "/api/v1/admin/api-keys", "", "", false},
		{"list with a page", func() error { _, err := c.ListProcesses(ctx, client.Page{Offset: 40, Limit: 20}); return err }, "GET", "/api/v1/processes", "limit=20&offset=40", "", false},
		{"ids are escaped", func() error { _, err := c.GetOrgKey(ctx, "a/b?c"); return err }, "GET", "/api/v1/admin/api-keys/a%2Fb%3Fc", "", "", false},
		{"process key paths are escaped", func() error { return c.DeleteProcessKey(ctx, "p/1", "k 2") }, "DELETE", "/api/v1/processes/p%2F1/api-keys/k%202", "", "", false},
		{"process key list", func() error { _, err := c.ListProcessKeys(ctx, "p1", client.Page{Limit: 5}); return err }, "GET", "/api/v1/processes/p1/api-keys", "limit=5", "", false},
		{"rename is a patch", func() error { _, err := c.RenameProcess(ctx, "p1", "New"); return err }, "PATCH", "/api/v1/processes/p1", "", `{"name":"New"}`, false},
		{"create process", func() error {
			_, err := c.CreateProcess(ctx, api.CreateProcessRequest{Name: "Invoices"})
			return err
		}, "POST", "/api/v1/processes", "", `{"name":"Invoices"}`, false},
		{"create process key", func() error {
			_, err := c.CreateProcessKey(ctx, "p1", api.CreateAPIKeyRequest{Name: "n", Scopes: []string{"all"}, Exp: "2027-01-01T00:00:00Z"})
			return err
		}, "POST", "/api/v1/processes/p1/api-keys", "", `{"name":"n","scopes":["all"],"exp":"2027-01-01T00:00:00Z"}`, false},
		{"verify sends no credential", func() error {
			_, err := c.Verify(ctx, api.VerifyRequest{Key: "u:p", Scopes: []string{"a.b:c"}})
			return err
		}, "POST", "/api/v1/keys/verify", "", `{"key":"u:p","scopes":["a.b:c"]}`, true},
		{"scopes", func() error { _, err := c.Scopes(ctx); return err }, "GET", "/api/v1/scopes", "", "", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.requests) != i+1 {
				t.Fatalf("%d requests, want %d", len(rec.requests), i+1)
			}
			r, body := rec.requests[i], rec.bodies[i]
			if r.Method != tt.method || r.URL.EscapedPath() != tt.path || r.URL.RawQuery != tt.query || strings.TrimSpace(body) != tt.body {
				t.Fatalf("request %s %s?%s %s\nwant    %s %s?%s %s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body, tt.method, tt.path, tt.query, tt.body)
			}
			gotUser, gotPass, ok := r.BasicAuth()
			if tt.anonymous {
				if h := r.Header.Get("Authorization"); h != "" {
					t.Fatalf("anonymous call sent Authorization %q", h)
				}
			} else if !ok || gotUser != user || gotPass != pass {
				t.Fatalf("Basic credentials %q:%q (%v), want the client's key", gotUser, gotPass, ok)
			}
			if tt.body != "" && r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestEmptyIDsAreRefusedBeforeAnyRequest(t *testing.T) {
	rec, srv := MustFake(t, http.StatusNoContent, "", "")
	c := client.New(srv.URL, MustKey(t))
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"DeleteOrgKey":              func() error { return c.DeleteOrgKey(ctx, "") },
		"DeleteProcess":             func() error { return c.DeleteProcess(ctx, "") },
		"DeleteProcessKey (no pid)": func() error { return c.DeleteProcessKey(ctx, "", "k") },
		"DeleteProcessKey (no id)":  func() error { return c.DeleteProcessKey(ctx, "p", "") },
		"GetProcess":                func() error { _, err := c.GetProcess(ctx, ""); return err },
		"CreateProcessKey":          func() error { _, err := c.CreateProcessKey(ctx, "", api.CreateAPIKeyRequest{}); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "is required") {
			t.Errorf("%s with an empty ID = %v, want an error", name, err)
		}
	}
	if rec.Len() != 0 {
		t.Fatalf("%d requests sent for empty IDs", rec.Len())
	}
}

func TestResponsesAreBounded(t *testing.T) {
	_, srv := MustFake(t, http.StatusOK, "application/json", `{"keyId":"`+strings.Repeat("x", client.MaxResponseBytes)+`"}`)
	_, err := client.New(srv.URL, MustKey(t)).Me(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Me with a 1 MiB+ body = %v, want an error", err)
	}
}

func TestUndecodableSuccessIsAnError(t *testing.T) {
	_, srv := MustFake(t, http.StatusOK, "application/json", `<html>`)
	_, err := client.New(srv.URL, "").Verify(context.Background(), api.VerifyRequest{Key: "k"})
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("Verify with an HTML 200 = %v, want a decoding error", err)
	}
}

// The API never redirects; the default client does not follow one, so a
// DELETE cannot become a GET elsewhere and the key goes nowhere else.
func TestRedirectsAreNotFollowed(t *testing.T) {
	target, targetSrv := MustFake(t, http.StatusOK, "application/json", `{}`)
	redirect := httptest.NewServer(http.RedirectHandler(targetSrv.URL+"/elsewhere", http.StatusFound))
	defer redirect.Close()
	err := client.New(redirect.URL, MustKey(t)).DeleteProcess(context.Background(), "p1")
	MustError(t, err, http.StatusFound)
	if target.Len() != 0 {
		t.Fatalf("the redirect was followed")
	}

	// A caller's own http.Client is used as given.
	_, err = client.New(redirect.URL, MustKey(t), client.WithHTTPClient(&http.Client{})).Me(context.Background())
	if err != nil || target.Len() != 1 {
		t.Fatalf("with a following http.Client: %v, %d requests at the target", err, target.Len())
	}
}

func TestContextCancelsTheCall(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.New(srv.URL, "").Verify(ctx, api.VerifyRequest{Key: "k"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify past the deadline = %v, want context.DeadlineExceeded", err)
	}
}

func TestDefaultHTTPClientHasATimeout(t *testing.T) {
	hc := client.HTTPClientOf(client.New("http://keywarden.invalid", ""))
	if hc == http.DefaultClient || hc.Timeout != client.DefaultTimeout || client.DefaultTimeout <= 0 {
		t.Fatalf("default http.Client %p with timeout %v", hc, hc.Timeout)
	}
	own := &http.Client{Timeout: time.Second}
	if got := client.HTTPClientOf(client.New("http://keywarden.invalid", "", client.WithHTTPClient(own))); got != own {
		t.Fatalf("WithHTTPClient was ignored")
	}
}
