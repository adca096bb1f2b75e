package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/testenv"
)

// The example gateway configurations run here for real: nginx with
// examples/nginx/keywarden.conf and Caddy with examples/caddy/Caddyfile,
// each in front of the example service (examples/upstream, built from
// source) and asking Keywarden, which loads examples/routes.yaml. Every
// request is made as a client makes it, to the gateway; what the service
// received is read back from it (GET /v1/me echoes the identity headers,
// its log records those of every request).

// Example addresses, which the configurations use literally and the tests
// replace with free ports.
const (
	exampleGatewayAddr   = "127.0.0.1:8000"
	exampleKeywardenAddr = "127.0.0.1:8080"
	exampleUpstreamAddr  = "127.0.0.1:9000"
)

// TestGateway builds the example service once and runs the whole matrix
// through each gateway.
func TestGateway(t *testing.T) {
	upstream := buildUpstream(t)
	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		nginx := testenv.Program(t, "nginx", "nginx", "/usr/sbin/nginx")
		fx := newGatewayFixture(t, upstream, false)
		gw := startNginx(t, nginx, fx)
		testGateway(t, fx, gw)
	})
	t.Run("caddy", func(t *testing.T) {
		t.Parallel()
		caddy := testenv.Program(t, "caddy", "caddy", "/usr/bin/caddy")
		fx := newGatewayFixture(t, upstream, false)
		gw := startCaddy(t, caddy, fx)
		testGateway(t, fx, gw)
	})
	// The same service without a gateway, checking keys itself with the
	// Go middleware: the same matrix, but a request no route matches is
	// the service's own 404 or 405, as for any Go ServeMux.
	t.Run("go middleware", func(t *testing.T) {
		t.Parallel()
		fx := newGatewayFixture(t, upstream, true)
		testGateway(t, fx, &gateway{URL: fx.upstream.URL, direct: true})
	})
}

// testKey is a key created for the tests.
type testKey struct {
	ID, User, Key string
}

func keyOf(t *testing.T, created map[string]any) testKey {
	t.Helper()
	k := testKey{ID: created["id"].(string), User: created["user"].(string), Key: created["key"].(string)}
	if !strings.HasPrefix(k.Key, k.User+":") {
		t.Fatalf("key %q does not start with its user %q", k.Key, k.User)
	}
	return k
}

// gatewayFixture is what one gateway is tested against: Keywarden with the
// example route table, the example service, and two organizations' keys.
type gatewayFixture struct {
	clock      *fakeClock
	kw         *testServer
	upstream   *daemon
	orgID      string
	root       testKey  // Acme's organization key
	rootScopes []string // every scope
	proc       string   // Acme's process the requests are about
	writer     testKey  // process key of proc: file upload and download
	reader     testKey  // process key of proc: file download only
	stranger   testKey  // process key of another Acme process, file upload
	outsider   testKey  // Globex's organization key, every scope
	expired    testKey
	deleted    testKey
	// forged is Globex's identity as identity headers: what a client
	// forging them would claim.
	forged http.Header
	// uploads lists the files the tests stored through the gateway.
	uploads []string
}

// With middleware, the service checks keys itself with the Go middleware
// against this Keywarden instead of trusting a gateway.
func newGatewayFixture(t *testing.T, upstreamBin string, middleware bool) *gatewayFixture {
	t.Helper()
	fx := &gatewayFixture{clock: newFakeClock()}
	dir := t.TempDir()
	orgID, root := setupOrg(t, fx.clock, dir, "Acme")
	globexID, outsider := setupOrg(t, fx.clock, dir, "Globex")
	fx.orgID = orgID
	fx.kw = startServer(t, fx.clock, dir, "--routes", exampleFile(t, "routes.yaml"), "--trusted-proxies", "127.0.0.1")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keywarden log:\n%s", fx.kw.Log)
		}
	})
	var upstreamArgs []string
	if middleware {
		upstreamArgs = []string{"-keywarden", fx.kw.URL}
	}
	fx.upstream = startUpstream(t, upstreamBin, upstreamArgs...)

	srv, clock := fx.kw, fx.clock
	me := want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK).JSON(t)
	fx.root = testKey{ID: me["keyId"].(string), User: me["user"].(string), Key: root}
	for _, sc := range me["scopes"].([]any) {
		fx.rootScopes = append(fx.rootScopes, sc.(string))
	}
	fx.outsider = testKey{User: strings.SplitN(outsider, ":", 2)[0], Key: outsider}
	fx.proc = srv.createProcess(t, root, "Invoices")
	other := srv.createProcess(t, root, "Contracts")
	keys := func(proc string, scopes ...string) testKey {
		return keyOf(t, srv.createKey(t, root, "/api/v1/processes/"+proc+"/api-keys", scopes, clock))
	}
	fx.writer = keys(fx.proc, "workspace.file:upload", "workspace.file:download")
	fx.reader = keys(fx.proc, "workspace.file:download")
	fx.stranger = keys(other, "workspace.file:upload")
	fx.deleted = keys(fx.proc, "workspace.file:upload")
	want(t, srv.do(t, basic(root), "DELETE", "/api/v1/processes/"+fx.proc+"/api-keys/"+fx.deleted.ID, nil), http.StatusNoContent)
	fx.expired = keyOf(t, want(t, srv.do(t, basic(root), "POST", "/api/v1/processes/"+fx.proc+"/api-keys", map[string]any{
		"name": "short-lived", "scopes": []string{"workspace.file:upload"}, "exp": clock.Now().Add(time.Hour).Format(time.RFC3339),
	}), http.StatusCreated).JSON(t))
	clock.Advance(2 * time.Hour) // past the expired key's exp, well before the others'

	globexProc := srv.createProcess(t, outsider, "Globex process")
	g := keyOf(t, srv.createKey(t, outsider, "/api/v1/processes/"+globexProc+"/api-keys", []string{"workspace.file:upload"}, clock))
	fx.forged = http.Header{}
	fx.forged.Set(api.HeaderKeyID, g.ID)
	fx.forged.Set(api.HeaderKeyUser, g.User)
	fx.forged.Set(api.HeaderOrgID, globexID)
	fx.forged.Set(api.HeaderProcessID, globexProc)
	fx.forged.Set(api.HeaderScopes, "workspace.file:upload workspace.admin.api_key:manage")
	return fx
}

// testGateway is the matrix every gateway must pass.
func testGateway(t *testing.T, fx *gatewayFixture, gw *gateway) {
	procFiles := "/v1/processes/" + fx.proc + "/files"

	t.Run("process key with the scope uploads a file", func(t *testing.T) {
		content := randomBytes(t, 3000)
		r := gw.want(t, gw.do(t, basic(fx.writer.Key), "POST", procFiles+"?name=report.pdf", content, nil), http.StatusCreated)
		f := fx.uploaded(t, r)
		if f.UploadedBy != fx.writer.ID || f.ProcessID != fx.proc || f.Name != "report.pdf" || f.Size != len(content) {
			t.Errorf("upload answered %+v; want uploadedBy %s, processId %s, name report.pdf, size %d", f, fx.writer.ID, fx.proc, len(content))
		}
		// The body reached the service whole, after the auth request.
		got := gw.want(t, gw.do(t, basic(fx.writer.Key), "GET", procFiles+"/"+f.ID, nil, nil), http.StatusOK)
		if !bytes.Equal(got.Body, content) {
			t.Errorf("downloaded %d bytes, not the %d uploaded", len(got.Body), len(content))
		}
	})
	t.Run("service sees the key's identity and nothing else", func(t *testing.T) {
		got := gw.identity(t, basic(fx.writer.Key), nil)
		fx.wantIdentity(t, got, fx.writer, fx.proc, "workspace.file:upload", "workspace.file:download")
	})
	t.Run("organization key reaches its process and has no process ID", func(t *testing.T) {
		r := gw.want(t, gw.do(t, basic(fx.root.Key), "POST", procFiles+"?name=org.txt", []byte("from the org key"), nil), http.StatusCreated)
		if f := fx.uploaded(t, r); f.UploadedBy != fx.root.ID {
			t.Errorf("uploadedBy = %q, want %s", f.UploadedBy, fx.root.ID)
		}
		got := gw.identity(t, basic(fx.root.Key), nil)
		fx.wantIdentity(t, got, fx.root, "", fx.rootScopes...)
	})
	t.Run("bearer credentials work too", func(t *testing.T) {
		r := gw.want(t, gw.do(t, bearer(fx.writer.Key), "POST", procFiles+"?name=bearer.txt", []byte("bearer"), nil), http.StatusCreated)
		if f := fx.uploaded(t, r); f.UploadedBy != fx.writer.ID {
			t.Errorf("uploadedBy = %q, want %s", f.UploadedBy, fx.writer.ID)
		}
	})

	t.Run("forged identity headers never reach the service", func(t *testing.T) {
		t.Run("process key", func(t *testing.T) {
			got := gw.identity(t, basic(fx.writer.Key), fx.forged)
			fx.wantIdentity(t, got, fx.writer, fx.proc, "workspace.file:upload", "workspace.file:download")
			r := gw.want(t, gw.do(t, basic(fx.writer.Key), "POST", procFiles+"?name=forged.txt", []byte("x"), fx.forged), http.StatusCreated)
			if f := fx.uploaded(t, r); f.UploadedBy != fx.writer.ID {
				t.Errorf("uploadedBy = %q, want %s", f.UploadedBy, fx.writer.ID)
			}
		})
		t.Run("organization key, which has no process ID", func(t *testing.T) {
			got := gw.identity(t, basic(fx.root.Key), fx.forged)
			fx.wantIdentity(t, got, fx.root, "", fx.rootScopes...)
		})
		t.Run("public route", func(t *testing.T) {
			for name, a := range map[string]auth{"without a key": nil, "with a key": basic(fx.writer.Key)} {
				reqID := "health-" + hex.EncodeToString(randomBytes(t, 6))
				h := fx.forged.Clone()
				h.Set("X-Request-Id", reqID)
				gw.want(t, gw.do(t, a, "GET", "/v1/health", nil, h), http.StatusOK)
				line := fx.upstreamLogLine(t, reqID)
				for _, attr := range []string{"key_id", "key_user", "org_id", "process_id", "scopes"} {
					if line[attr] != "" {
						t.Errorf("%s: service received %s=%q on a public route", name, attr, line[attr])
					}
				}
			}
		})
	})

	forbidden := []struct {
		name         string
		a            auth
		method, path string
		direct       int // the status without a gateway: the service's ServeMux's own
	}{
		{"key without the scope is forbidden", basic(fx.reader.Key), "POST", procFiles, http.StatusForbidden},
		{"process key on another process's path is forbidden", basic(fx.stranger.Key), "POST", procFiles, http.StatusForbidden},
		{"another organization's key is forbidden", basic(fx.outsider.Key), "POST", procFiles, http.StatusForbidden},
		{"path no route matches is refused", basic(fx.writer.Key), "DELETE", procFiles + "/file_1", http.StatusMethodNotAllowed},
		{"unlisted path is refused", basic(fx.writer.Key), "GET", "/v1/whoami", http.StatusNotFound},
		// Without a gateway, ServeMux gives the file route the ID
		// "../../results", which names no file.
		{"unclean path is refused", basic(fx.writer.Key), "GET", "/v1/processes/" + fx.proc + "/files/..%2F..%2Fresults", http.StatusNotFound},
	}
	for _, tt := range forbidden {
		t.Run(tt.name, func(t *testing.T) {
			status := http.StatusForbidden
			if gw.direct {
				status = tt.direct
			}
			r := gw.want(t, gw.do(t, tt.a, tt.method, tt.path, []byte("must not be stored"), fx.forged), status)
			if status == http.StatusForbidden {
				wantProblem(t, r, http.StatusForbidden)
			}
		})
	}

	wrongSecret := fx.writer.User + ":" + keywardenKeyWithSecret(t, fx.writer.User)
	unknown, err := keywarden.GenerateKey(nil, keywarden.DefaultProcessKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	unauthorized := []struct {
		name string
		a    auth
	}{
		{"no key", nil},
		{"garbage key", rawAuthorization("Basic not-base64!")},
		{"well-formed unknown key", basic(unknown.Value())},
		{"wrong secret", basic(wrongSecret)},
		{"expired key", basic(fx.expired.Key)},
		{"deleted key", basic(fx.deleted.Key)},
		{"wrong secret as bearer", bearer(wrongSecret)},
	}
	for _, tt := range unauthorized {
		t.Run(tt.name+" is unauthorized", func(t *testing.T) {
			r := gw.want(t, gw.do(t, tt.a, "POST", procFiles+"?name=denied.txt", []byte("must not be stored"), fx.forged), http.StatusUnauthorized)
			if got := r.Header.Get("WWW-Authenticate"); got != api.WWWAuthenticate {
				t.Errorf("WWW-Authenticate = %q, want %q", got, api.WWWAuthenticate)
			}
			wantProblem(t, r, http.StatusUnauthorized)
		})
	}

	t.Run("python requests uploads with HTTPBasicAuth", func(t *testing.T) {
		python := pythonWithRequests(t)
		file := filepath.Join(t.TempDir(), "invoice-42.txt")
		content := []byte("Invoice 42: 3 pages.\n")
		if err := os.WriteFile(file, content, 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runUploadScript(t, python, gw.URL, fx.writer.Key, fx.proc, file)
		if err != nil {
			t.Fatalf("upload.py: %v\nstderr:\n%s", err, stderr)
		}
		var out struct {
			Upload uploadedFile   `json:"upload"`
			Files  []uploadedFile `json:"files"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("upload.py printed no JSON: %v\n%s", err, stdout)
		}
		fx.uploads = append(fx.uploads, out.Upload.ID)
		if u := out.Upload; u.UploadedBy != fx.writer.ID || u.ProcessID != fx.proc || u.Name != "invoice-42.txt" || u.Size != len(content) {
			t.Errorf("upload.py printed upload %+v; want uploadedBy %s, processId %s, name invoice-42.txt, size %d", u, fx.writer.ID, fx.proc, len(content))
		}
		if !slices.ContainsFunc(out.Files, func(f uploadedFile) bool { return f.ID == out.Upload.ID }) {
			t.Errorf("upload.py's file list %+v lacks the upload %s", out.Files, out.Upload.ID)
		}
	})
	t.Run("python requests with a wrong key exits non-zero", func(t *testing.T) {
		python := pythonWithRequests(t)
		_, stderr, err := runUploadScript(t, python, gw.URL, wrongSecret, fx.proc, "")
		if err == nil {
			t.Fatal("upload.py exited 0 with a wrong key")
		}
		if !strings.Contains(stderr, "HTTP 401") || !strings.Contains(stderr, "urn:keywarden:problem:unauthorized") {
			t.Errorf("upload.py's stderr does not show the 401 and its problem document:\n%s", stderr)
		}
	})

	// Last: every request that was refused above also tried to store a
	// file, with forged headers the service would have believed.
	t.Run("refused requests stored nothing", func(t *testing.T) {
		r := gw.want(t, gw.do(t, basic(fx.writer.Key), "GET", procFiles, nil, nil), http.StatusOK)
		var list struct{ Files []uploadedFile }
		if err := json.Unmarshal(r.Body, &list); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range list.Files {
			ids = append(ids, f.ID)
		}
		slices.Sort(ids)
		slices.Sort(fx.uploads)
		if !slices.Equal(ids, fx.uploads) {
			t.Errorf("the service stored files %v, want only %v", ids, fx.uploads)
		}
	})
}

// uploadedFile is the service's answer to an upload.
type uploadedFile struct {
	ID         string `json:"id"`
	ProcessID  string `json:"processId"`
	Name       string `json:"name"`
	Size       int    `json:"size"`
	UploadedBy string `json:"uploadedBy"`
}

// uploaded decodes an upload's answer and records the file.
func (fx *gatewayFixture) uploaded(t *testing.T, r response) uploadedFile {
	t.Helper()
	var f uploadedFile
	if err := json.Unmarshal(r.Body, &f); err != nil || f.ID == "" {
		t.Fatalf("upload answered %s (%v)", r.Body, err)
	}
	fx.uploads = append(fx.uploads, f.ID)
	return f
}

// wantIdentity checks that the service received the identity headers of
// Acme's key k and no others, each once: the process ID only when proc is
// set, and the scopes in any order, separated by single spaces.
func (fx *gatewayFixture) wantIdentity(t *testing.T, got map[string][]string, k testKey, proc string, scopes ...string) {
	t.Helper()
	want := map[string][]string{
		api.HeaderKeyID:   {k.ID},
		api.HeaderKeyUser: {k.User},
		api.HeaderOrgID:   {fx.orgID},
	}
	if proc != "" {
		want[api.HeaderProcessID] = []string{proc}
	}
	var gotScopes []string
	if v := got[api.HeaderScopes]; len(v) == 1 && v[0] == strings.Join(strings.Fields(v[0]), " ") {
		gotScopes = strings.Fields(v[0])
		slices.Sort(gotScopes)
		want[api.HeaderScopes] = v
	}
	wantScopes := slices.Sorted(slices.Values(scopes))
	if !maps.EqualFunc(got, want, slices.Equal) || !slices.Equal(gotScopes, wantScopes) {
		t.Errorf("service received identity headers %q\nwant %q with %s %q", got, want, api.HeaderScopes, strings.Join(wantScopes, " "))
	}
}

// upstreamLogLine waits for the service's log line of the request with
// X-Request-Id reqID and returns its attributes. The service logs after
// answering, so the line may lag the response a little.
func (fx *gatewayFixture) upstreamLogLine(t *testing.T, reqID string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(fx.upstream.out.String(), "\n") {
			if attrs := logAttrs(line); attrs["msg"] == "request" && attrs["request_id"] == reqID {
				return attrs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service logged no request with X-Request-Id %s; did the gateway pass it on?", reqID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var logAttrRE = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// logAttrs parses a line of slog's text format.
func logAttrs(line string) map[string]string {
	attrs := make(map[string]string)
	for _, m := range logAttrRE.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
		}
		attrs[m[1]] = v
	}
	return attrs
}

func wantProblem(t *testing.T, r response, status int) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Errorf("Content-Type = %q, want %s", ct, api.ProblemContentType)
	}
	var p api.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != status || p.Type == "" {
		t.Errorf("body is not a problem document with status %d: %v\n%s", status, err, r.Body)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// gateway is a running nginx or Caddy, at URL.
type gateway struct {
	URL string
	// direct is the service itself, with the Go middleware: no gateway
	// answers for requests that no route of the service matches.
	direct bool
}

// do sends one request to the gateway, with the extra headers h.
func (g *gateway) do(t *testing.T, a auth, method, path string, body []byte, h http.Header) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range h {
		req.Header[name] = values
	}
	if a != nil {
		a(req)
	}
	return send(t, req)
}

// want is the package's want, also showing the headers of a wrong answer.
func (g *gateway) want(t *testing.T, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\nheaders: %v\nbody: %s", r.Status, status, r.Header, r.Body)
	}
	return r
}

// identity asks the service, through the gateway, which identity headers
// it received, sending the extra headers h.
func (g *gateway) identity(t *testing.T, a auth, h http.Header) map[string][]string {
	t.Helper()
	r := g.want(t, g.do(t, a, "GET", "/v1/me", nil, h), http.StatusOK)
	var me struct{ Headers map[string][]string }
	if err := json.Unmarshal(r.Body, &me); err != nil {
		t.Fatalf("GET /v1/me answered %s: %v", r.Body, err)
	}
	return me.Headers
}

// exampleFile returns the path of a file under examples/.
func exampleFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// exampleConfig reads an example gateway configuration with its addresses
// replaced by the test's, failing if one of them no longer appears in it.
func exampleConfig(t *testing.T, name, gatewayAddr string, fx *gatewayFixture) string {
	t.Helper()
	b, err := os.ReadFile(exampleFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, addr := range []string{exampleGatewayAddr, exampleKeywardenAddr, exampleUpstreamAddr} {
		if !strings.Contains(conf, addr) {
			t.Fatalf("%s no longer mentions %s, which the test replaces", name, addr)
		}
	}
	return strings.NewReplacer(
		exampleGatewayAddr, gatewayAddr,
		exampleKeywardenAddr, strings.TrimPrefix(fx.kw.URL, "http://"),
		exampleUpstreamAddr, strings.TrimPrefix(fx.upstream.URL, "http://"),
	).Replace(conf)
}

// buildUpstream builds examples/upstream into a temporary directory.
func buildUpstream(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own first in PATH
	if err != nil {
		t.Fatal(err)
	}
	// go test caches a passing result until a file the test opened
	// changes; go build opening the sources does not count.
	sources, err := filepath.Glob(filepath.Join("..", "..", "examples", "upstream", "*.go"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no sources in examples/upstream: %v", err)
	}
	for _, src := range sources {
		if _, err := os.ReadFile(src); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "upstream")
	cmd := exec.Command(goTool, "build", "-o", bin, "./examples/upstream")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/upstream: %v\n%s", err, out)
	}
	return bin
}

// daemon is an outside program run for one test: the example service,
// nginx or Caddy. Its output is kept, and shown with its log files when
// the test fails.
type daemon struct {
	name string
	URL  string
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done is closed
}

// startDaemon starts cmd and stops it with stop when the test ends.
// logFiles are shown, with its output, if the test failed.
func startDaemon(t *testing.T, name string, cmd *exec.Cmd, stop os.Signal, logFiles ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: cmd, out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
			t.Errorf("%s exited during the test: %v", name, d.err)
		default:
			cmd.Process.Signal(stop)
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s did not stop within 10s of %v", name, stop)
				cmd.Process.Kill()
				<-d.done
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.out)
			for _, f := range logFiles {
				b, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, b)
			}
		}
	})
	return d
}

// waitReady waits until GET url answers 200.
func (d *daemon) waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited before it answered %s: %v\n%s", d.name, url, d.err, d.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer GET %s with 200 within 20s (last: %v)\n%s", d.name, url, err, d.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var upstreamListeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startUpstream runs the example service on a port of its choosing.
func startUpstream(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	d := startDaemon(t, "the example service", exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...), syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := upstreamListeningRE.FindStringSubmatch(d.out.String()); m != nil {
			d.URL = "http://" + m[1]
			break
		}
		select {
		case <-d.done:
			t.Fatalf("the example service exited: %v\n%s", d.err, d.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example service did not listen within 10s\n%s", d.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.waitReady(t, d.URL+"/v1/health")
	return d
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNginx runs nginx with examples/nginx/keywarden.conf, in a main
// configuration that keeps every file it writes in a temporary directory.
func startNginx(t *testing.T, nginx string, fx *gatewayFixture) *gateway {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	server := filepath.Join(dir, "keywarden.conf")
	if err := os.WriteFile(server, []byte(exampleConfig(t, "nginx/keywarden.conf", addr, fx)), 0o600); err != nil {
		t.Fatal(err)
	}
	errorLog := filepath.Join(dir, "error.log")
	// One process (master_process off): nothing to switch users for, and
	// SIGQUIT stops it gracefully.
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[2]s info;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[3]s;
}
`, dir, errorLog, server)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	// -e: the error log before the configuration is read, which would
	// otherwise be /var/log/nginx/error.log.
	cmd := exec.Command(nginx, "-e", errorLog, "-p", dir+"/", "-c", conf)
	d := startDaemon(t, "nginx", cmd, syscall.SIGQUIT, errorLog, server)
	gw := &gateway{URL: "http://" + addr}
	d.waitReady(t, gw.URL+"/v1/health")
	return gw
}

// startCaddy runs Caddy with examples/caddy/Caddyfile, after global
// options that keep it off the network and its files in a temporary
// directory.
func startCaddy(t *testing.T, caddy string, fx *gatewayFixture) *gateway {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	global := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %s
}

`, filepath.Join(dir, "data"))
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(global+exampleConfig(t, "caddy/Caddyfile", addr, fx)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddy, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	d := startDaemon(t, "caddy", cmd, syscall.SIGTERM, conf)
	gw := &gateway{URL: "http://" + addr}
	d.waitReady(t, gw.URL+"/v1/health")
	return gw
}

// pythonWithRequests returns Debian's python3, or one on PATH, that can
// import requests.
func pythonWithRequests(t *testing.T) string {
	t.Helper()
	python := testenv.Program(t, "python3", "/usr/bin/python3", "python3")
	if out, err := exec.Command(python, "-c", "import requests").CombinedOutput(); err != nil {
		testenv.SkipOrFail(t, "%s cannot import requests (apt-get install python3-requests): %v\n%s", python, err, out)
	}
	return python
}

// runUploadScript runs examples/python/upload.py in an environment of its
// own variables only: no proxy settings, no ~/.netrc.
func runUploadScript(t *testing.T, python, url, key, proc, file string) (stdout, stderr string, err error) {
	t.Helper()
	args := []string{exampleFile(t, "python/upload.py")}
	if file != "" {
		args = append(args, file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "KEYWARDEN_KEY=" + key, "WORKSPACE_URL=" + url, "PROCESS_ID=" + proc}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
