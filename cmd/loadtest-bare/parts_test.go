package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/server"
	"github.com/keywarden/keywarden/internal/testenv"
)

// The floor's throttle refuses where, and for as long as, the node's does.
func TestPartsThrottleAsTheNode(t *testing.T) {
	if defaultAuthFailuresPerIP != server.DefaultAuthFailuresPerIP {
		t.Errorf("-auth-failures-per-minute defaults to %d, serve's to %d", defaultAuthFailuresPerIP, server.DefaultAuthFailuresPerIP)
	}
	if authWindow != server.AuthWindow || maxAddressLockout != server.MaxAddressLockout {
		t.Errorf("window %v and lockout %v, the server's %v and %v", authWindow, maxAddressLockout, server.AuthWindow, server.MaxAddressLockout)
	}
}

// lines are the lines written to log so far.
func lines(log *testenv.SyncBuffer) []string {
	return strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
}

// With -parts the floor does the node's four parts around each key check:
// the throttle refuses the address once its failures reach the limit, every
// outcome is counted in the verification metric and every request in the
// route's, the key's usage is recorded (a success and a wrong secret), and
// every request writes the node's log line.
func TestFloorWithParts(t *testing.T) {
	ctx := context.Background()
	dir, keyID, km, other := floorKeys(t)
	v, db, err := verifier(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := parseAnswer([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
	if err != nil {
		t.Fatal(err)
	}
	refusal, err := parseAnswer([]byte("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/problem+json\r\nContent-Length: 14\r\n\r\n{\"status\":401}"))
	if err != nil {
		t.Fatal(err)
	}
	var log testenv.SyncBuffer
	p := newParts(db, 3, &log)
	srv := httptest.NewUnstartedServer(&keyCheck{v: v, next: a, refused: refusal, parts: p})
	srv.Config.ConnContext = clientip.ConnContext
	srv.Start()
	defer srv.Close()

	wrongSecret := keywarden.KeyMaterial{User: km.User, Secret: other.Secret}.Value()
	steps := []struct {
		authorization string
		status        int
		line          string // what the request's log line holds
	}{
		{basic(km.Value()), 200, "status=200 bytes=2 duration="},
		{basic(other.Value()), 401, "status=401 bytes=14 duration="},
		{basic(wrongSecret), 401, "status=401 bytes=14 duration="},
		{"", 401, "status=401 bytes=14 duration="},
		// Three failures from this address: the throttle's limit.
		{basic(km.Value()), 429, "status=429 bytes=0 duration="},
	}
	for i, st := range steps {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		if st.authorization != "" {
			req.Header.Set("Authorization", st.authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != st.status {
			t.Fatalf("request %d: status %d, want %d", i, resp.StatusCode, st.status)
		}
	}

	// The log writer batches lines for a few milliseconds.
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for got = lines(&log); len(got) < len(steps) && time.Now().Before(deadline); got = lines(&log) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(got) != len(steps) {
		t.Fatalf("%d log lines, want %d:\n%s", len(got), len(steps), strings.Join(got, "\n"))
	}
	for i, st := range steps {
		if !strings.Contains(got[i], "level=INFO msg=request method=GET path=/api/v1/me "+st.line) ||
			!strings.Contains(got[i], " client_ip=127.0.0.1 ") {
			t.Errorf("line %d: %s\nwant %q", i, got[i], st.line)
		}
	}
	for i, want := range []string{
		"key_user=" + km.User + ` user_id=""`,
		"key_user=" + other.User + ` user_id="" auth_failure=unknown_key`,
		"key_user=" + km.User + ` user_id="" auth_failure=wrong_secret`,
		`key_user="" user_id="" auth_failure=malformed`,
	} {
		if !strings.HasSuffix(got[i], want) {
			t.Errorf("line %d: %s\nwant it to end %q", i, got[i], want)
		}
	}

	p.usage.Flush()
	from := time.Now().Add(-2 * time.Hour)
	usage, err := db.FindKeyUsage(ctx, floorOrg, keyID, from, from.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var succeeded, failed int64
	for _, u := range usage {
		succeeded, failed = succeeded+u.Succeeded, failed+u.Failed
	}
	if succeeded != 1 || failed != 1 {
		t.Errorf("usage: %d succeeded, %d failed; want 1 and 1 (%+v)", succeeded, failed, usage)
	}

	rec := httptest.NewRecorder()
	p.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	scraped, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`keywarden_key_verifications_total{code="VALID"} 1`,
		`keywarden_key_verifications_total{code="INVALID"} 3`,
		`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="200"} 1`,
		`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="401"} 3`,
		`keywarden_http_requests_total{method="GET",route="GET /api/v1/me",status="429"} 1`,
	} {
		if !bytes.Contains(scraped, []byte(want+"\n")) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
