package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

// fakeClock is the server's and command line's clock in tests, so expiry can
// be crossed without waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	follow bool          // Now is the real time, plus skew
	skew   time.Duration // what Advance added since Follow
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.follow {
		return time.Now().Add(c.skew)
	}
	return c.now
}

// Follow makes the clock real; Advance then moves it ahead of the real
// time (for a browser test, whose cookies expire by the real clock).
func (c *fakeClock) Follow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.follow = true
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	if c.follow {
		c.skew += d
	}
}

// noEnv is an empty environment, so the developer's KEYWARDEN_* variables
// cannot change what a test runs.
func noEnv(string) string { return "" }

// cli runs one command-line invocation against dataDir and returns its
// standard output and error.
func cli(t *testing.T, clock *fakeClock, dataDir, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{getenv: noEnv, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, now: clock.Now}
	err := a.run(context.Background(), append(args, "--data-dir", dataDir))
	return stdout.String(), stderr.String(), err
}

// mustCLI is cli for invocations that must succeed.
func mustCLI(t *testing.T, clock *fakeClock, dataDir, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := cli(t, clock, dataDir, stdin, args...)
	if err != nil {
		t.Fatalf("keywarden %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// testServer is "keywarden serve" running through run's code path on port 0.
// Its clock is a fakeClock unless useRealClock is called (browser tests, in
// which the browser's own clock computes expiry dates).
type testServer struct {
	URL    string
	clock  *fakeClock
	Log    *testenv.SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// listeningRE finds the address and URL (https with --tls-cert) the server
// logs once it listens.
var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+) url=(\S+)`)

// startServer runs "keywarden serve" on a free port and waits until it
// listens. The server stops when the test ends.
func startServer(t *testing.T, clock *fakeClock, dataDir string, extraArgs ...string) *testServer {
	t.Helper()
	s := launchServer(t, clock, dataDir, extraArgs...)
	s.waitListening(t)
	return s
}

// launchServer starts "keywarden serve" without waiting for it.
func launchServer(t *testing.T, clock *fakeClock, dataDir string, extraArgs ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{Log: &testenv.SyncBuffer{}, cancel: cancel, done: make(chan error, 1), clock: clock}
	a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.Log, now: clock.Now}
	// Usage is flushed every 50 ms rather than 5 s, so that a key's use
	// shows within moments (eventually waits 5 s); a test that needs
	// another interval passes its own, which wins.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--usage-flush-interval", "50ms"}, extraArgs...)
	go func() { s.done <- a.run(ctx, args) }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// waitListening waits until the server logs that it listens.
func (s *testServer) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.Log.String()); m != nil {
			s.URL = m[2]
			return
		}
		select {
		case err := <-s.done:
			s.cancel = nil
			t.Fatalf("serve exited before listening: %v\nlog:\n%s", err, s.Log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start listening within 20s\nlog:\n%s", s.Log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// useRealClock sets the server's clock to now and lets it follow real time.
func (s *testServer) useRealClock() { s.clock.Follow() }

// Stop shuts the server down gracefully and fails the test if run returned
// an error. It is safe to call twice.
func (s *testServer) Stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop within 20s of cancellation")
	}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test if it is not JSON.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// auth sets the Authorization header of a request.
type auth func(*http.Request)

// basic authenticates as curl -u "$KEY" does.
func basic(key string) auth {
	return func(r *http.Request) {
		user, pass, _ := strings.Cut(key, ":")
		r.SetBasicAuth(user, pass)
	}
}

func bearer(key string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
}

func rawAuthorization(v string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", v) }
}

// do sends one request; body may be nil, a string or []byte (sent as is),
// an io.Reader (sent chunked) or a value (sent as JSON).
func (s *testServer) do(t *testing.T, a auth, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader: // of unknown length: sent chunked
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a != nil {
		a(req)
	}
	return send(t, req)
}

// send sends req and reads the whole answer.
func send(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// want fails the test unless r has the status.
func want(t *testing.T, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\nbody: %s", r.Status, status, r.Body)
	}
	return r
}

// setupOrg creates an organization named name with an owner and an
// organization key holding every scope, through the command line, and
// returns the org ID and the key.
func setupOrg(t *testing.T, clock *fakeClock, dataDir, name string) (orgID, rootKey string) {
	t.Helper()
	return setupOrgWith(t, clock, dataDir, name)
}

// setupOrgWith is setupOrg with extra command-line flags (--database-url).
func setupOrgWith(t *testing.T, clock *fakeClock, dataDir, name string, flags ...string) (orgID, rootKey string) {
	t.Helper()
	out := mustCLI(t, clock, dataDir, "correct horse battery staple\n", append([]string{"orgs", "create", "--name", name,
		"--owner-email", strings.ToLower(strings.ReplaceAll(name, " ", "")) + "@example.com", "--password-stdin", "--json"}, flags...)...)
	var org struct{ ID string }
	if err := json.Unmarshal([]byte(out), &org); err != nil || org.ID == "" {
		t.Fatalf("orgs create --json printed %q: %v", out, err)
	}
	key := strings.TrimSpace(mustCLI(t, clock, dataDir, "", append([]string{"keys", "create", "--org", name, "--name", "root", "--scopes", "all"}, flags...)...))
	return org.ID, key
}

// createProcess creates a process with key and returns its ID.
func (s *testServer) createProcess(t *testing.T, key, name string) string {
	t.Helper()
	r := want(t, s.do(t, basic(key), "POST", "/api/v1/processes", map[string]any{"name": name}), http.StatusCreated)
	return r.JSON(t)["id"].(string)
}

// createKey creates a key at path (an api-keys collection) and returns the
// create response's JSON.
func (s *testServer) createKey(t *testing.T, key, path string, scopes []string, clock *fakeClock) map[string]any {
	t.Helper()
	body := map[string]any{"name": "test key", "scopes": scopes, "exp": clock.Now().Add(90 * 24 * time.Hour).Format(time.RFC3339)}
	return want(t, s.do(t, basic(key), "POST", path, body), http.StatusCreated).JSON(t)
}

// eventually waits up to five seconds for cond, for what the server does in
// the background (recording a key's use, reading the key change feed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: not yet: %s", what)
		}
	}
}
