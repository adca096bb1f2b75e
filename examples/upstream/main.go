// Command upstream is an example of a service whose callers present
// Keywarden API keys: the workspace API of a document-processing platform,
// with files, results and exports per process. It runs in one of two ways.
//
// Behind a gateway (the default), it checks no API key itself. It trusts
// the identity headers the gateway adds (X-Keywarden-Key-Id, -Key-User,
// -Org-Id, -Process-Id, -Scopes) and answers for the caller they name.
//
// With -keywarden URL, it checks every caller's key itself, with
// Keywarden's Go middleware (package middleware) in front of each route and
// the same scopes as examples/routes.yaml, and believes no identity header
// a client sends. The rest of the service is the same: the middleware's
// verdict becomes the identity headers the handlers read.
//
// Those headers are trustworthy only because the gateway sets them: it
// overwrites or removes whatever a client sent under these names, and
// nothing but the gateway can reach this service. Bind it to loopback or a
// private network that only the gateway can reach; anyone who could reach
// it directly could forge any identity.
//
// Its routes are those of examples/routes.yaml, the forward-auth route
// table that says which scope each needs. To run the whole example on one
// machine, from the repository root:
//
//	go run ./examples/upstream &          # this service, on 127.0.0.1:9000
//	keywarden serve --addr 127.0.0.1:8080 \
//	    --routes examples/routes.yaml --trusted-proxies 127.0.0.1 &
//	caddy run --config examples/caddy/Caddyfile --adapter caddyfile &
//	# or nginx: copy examples/nginx/keywarden.conf into /etc/nginx/conf.d/
//	# and run nginx -s reload. Either gateway listens on 127.0.0.1:8000.
//
// Then, with a process key holding workspace.file:upload (create the
// process with POST /api/v1/processes and its key with keywarden keys
// create --process):
//
//	curl -u "$KEY" --data-binary @report.pdf \
//	    "http://127.0.0.1:8000/v1/processes/$PROCESS_ID/files?name=report.pdf"
//
// or examples/python/upload.py. Without a gateway:
//
//	go run ./examples/upstream -keywarden http://127.0.0.1:8080 &
//	curl -u "$KEY" --data-binary @report.pdf \
//	    "http://127.0.0.1:9000/v1/processes/$PROCESS_ID/files?name=report.pdf"
//
// cmd/keywarden/gateway_test.go runs all of this against the real nginx
// and Caddy, and against the middleware.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/middleware"
)

// maxUpload is the largest file accepted; nginx's default
// client_max_body_size (1 MiB) is smaller still.
const maxUpload = 32 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on: behind a gateway, loopback or a private network only the gateway reaches")
	keywardenURL := fs.String("keywarden", "", "check keys with Keywarden at this URL (the Go middleware) instead of trusting a gateway's identity headers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s := newService()
	handler := requireIdentity(s.routes(nil))
	if *keywardenURL != "" {
		guard, err := middleware.New(middleware.Config{Client: client.New(*keywardenURL, ""), Logger: logger})
		if err != nil {
			return err
		}
		handler = dropIdentityHeaders(s.routes(guard))
	}
	srv := &http.Server{
		Handler:           logRequests(logger, handler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// identity is the caller as the gateway's identity headers name it.
type identity struct {
	KeyID, KeyUser, OrgID, ProcessID string
	Scopes                           []string
}

func identityOf(r *http.Request) identity {
	return identity{
		KeyID:     r.Header.Get(api.HeaderKeyID),
		KeyUser:   r.Header.Get(api.HeaderKeyUser),
		OrgID:     r.Header.Get(api.HeaderOrgID),
		ProcessID: r.Header.Get(api.HeaderProcessID),
		Scopes:    strings.Fields(r.Header.Get(api.HeaderScopes)),
	}
}

// requireIdentity refuses every request but the health check that arrives
// without a key ID. The gateway never passes such a request on; one that
// arrives anyway came around it, or through a gateway that is configured
// wrong. Defence in depth: it is no substitute for keeping this service
// unreachable except through the gateway.
func requireIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" && r.Header.Get(api.HeaderKeyID) == "" {
			writeProblem(w, http.StatusUnauthorized, "This service is reachable only through the gateway, which adds the caller's identity.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// dropIdentityHeaders removes the identity headers a client sent: without a
// gateway, nothing makes them trustworthy. The middleware's verdict sets
// them again (asIdentityHeaders).
func dropIdentityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range api.IdentityHeaders() {
			r.Header.Del(h)
		}
		next.ServeHTTP(w, r)
	})
}

// asIdentityHeaders writes the identity the middleware verified as the
// identity headers, which the rest of the service reads, as it reads a
// gateway's.
func asIdentityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := middleware.IdentityFrom(r.Context()); ok {
			r.Header.Set(api.HeaderKeyID, id.ID)
			r.Header.Set(api.HeaderKeyUser, id.User)
			r.Header.Set(api.HeaderOrgID, id.OrgID)
			if id.ProcessID != "" {
				r.Header.Set(api.HeaderProcessID, id.ProcessID)
			}
			scopes := make([]string, len(id.Scopes))
			for i, sc := range id.Scopes {
				scopes[i] = string(sc)
			}
			r.Header.Set(api.HeaderScopes, strings.Join(scopes, " "))
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs every request with the identity headers it arrived
// with: the service's record of who did what. X-Request-Id, when the
// client or gateway sends one, ties a line to a request.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		id := identityOf(r)
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"request_id", r.Header.Get("X-Request-Id"),
			"key_id", id.KeyID, "key_user", id.KeyUser, "org_id", id.OrgID,
			"process_id", id.ProcessID, "scopes", strings.Join(id.Scopes, " "))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// file is one uploaded document.
type file struct {
	ID         string `json:"id"`
	ProcessID  string `json:"processId"`
	Name       string `json:"name"`
	Size       int    `json:"size"`
	UploadedBy string `json:"uploadedBy"`
	UploadedAt string `json:"uploadedAt"`
	content    []byte
}

// service keeps its files in memory: it is an example.
type service struct {
	mu    sync.Mutex
	files map[string][]*file // by process ID
}

func newService() *service { return &service{files: make(map[string][]*file)} }

// endpoint is one route of the service with the access it needs: what
// examples/routes.yaml tells a gateway, and the middleware enforces without
// one (a test checks that the two agree).
type endpoint struct {
	pattern string
	scopes  []string // every one required; none: any valid key, unless public
	process bool     // the key must reach the process of the {processId} wildcard
	public  bool
	handle  http.HandlerFunc
}

func (s *service) endpoints() []endpoint {
	health := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	return []endpoint{
		{"POST /v1/processes/{processId}/files", []string{"workspace.file:upload"}, true, false, s.uploadFile},
		{"GET /v1/processes/{processId}/files", []string{"workspace.file:download"}, true, false, s.listFiles},
		{"GET /v1/processes/{processId}/files/{fileId}", []string{"workspace.file:download"}, true, false, s.downloadFile},
		{"GET /v1/processes/{processId}/results", []string{"workspace.result:read"}, true, false, listResults},
		{"GET /v1/processes/{processId}/results/{resultId}", []string{"workspace.result:read"}, true, false, getResult},
		{"POST /v1/processes/{processId}/results", []string{"workspace.result:create"}, true, false, createResult},
		{"POST /v1/processes/{processId}/exports", []string{"workspace.export:create"}, true, false, createExport},
		{"DELETE /v1/processes/{processId}/exports/{exportId}", []string{"workspace.export:delete"}, true, false, deleteExport},
		{"GET /v1/destinations", []string{"workspace.destination:read"}, false, false, listDestinations},
		{"GET /v1/me", nil, false, false, whoAmI},
		{"GET /v1/health", nil, false, true, health},
	}
}

// routes registers the endpoints. With a guard, each is wrapped in the
// middleware its access calls for; without one, a gateway has checked it.
func (s *service) routes(guard *middleware.Guard) http.Handler {
	mux := http.NewServeMux()
	for _, e := range s.endpoints() {
		var h http.Handler = e.handle
		if e.process {
			h = inProcess(e.handle)
		}
		if guard != nil && !e.public {
			h = asIdentityHeaders(h)
			switch {
			case e.process:
				h = guard.RequireInProcess("processId", e.scopes...)(h)
			case len(e.scopes) > 0:
				h = guard.Require(e.scopes...)(h)
			default:
				h = guard.AnyKey()(h)
			}
		}
		mux.Handle(e.pattern, h)
	}
	return mux
}

// inProcess refuses a process key on another process's path. Keywarden has
// checked that already (the route names process: processId); the service
// checks again, as it checks the key ID, in case a request came around the
// gateway. An organization key carries no process ID and reaches its
// organization's processes, which Keywarden checked.
func inProcess(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if pid := r.Header.Get(api.HeaderProcessID); pid != "" && pid != r.PathValue("processId") {
			writeProblem(w, http.StatusForbidden, "This key cannot reach that process.")
			return
		}
		h(w, r)
	}
}

func (s *service) uploadFile(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("A file is at most %d bytes.", maxUpload))
			return
		}
		writeProblem(w, http.StatusBadRequest, "The upload was cut short.")
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = r.Header.Get("X-File-Name")
	}
	if name == "" {
		name = "upload"
	}
	f := &file{
		ID:         newID("file_"),
		ProcessID:  r.PathValue("processId"),
		Name:       name,
		Size:       len(body),
		UploadedBy: r.Header.Get(api.HeaderKeyID),
		UploadedAt: time.Now().UTC().Format(time.RFC3339),
		content:    body,
	}
	s.mu.Lock()
	s.files[f.ProcessID] = append(s.files[f.ProcessID], f)
	s.mu.Unlock()
	w.Header().Set("Location", "/v1/processes/"+f.ProcessID+"/files/"+f.ID)
	writeJSON(w, http.StatusCreated, f)
}

func (s *service) listFiles(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	files := slices.Clone(s.files[r.PathValue("processId")])
	s.mu.Unlock()
	if files == nil {
		files = []*file{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"files": files})
}

func (s *service) downloadFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := slices.IndexFunc(s.files[r.PathValue("processId")], func(f *file) bool { return f.ID == r.PathValue("fileId") })
	var f *file
	if i >= 0 {
		f = s.files[r.PathValue("processId")][i]
	}
	s.mu.Unlock()
	if f == nil {
		writeProblem(w, http.StatusNotFound, "No such file in this process.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
	w.Write(f.content)
}

// result is what processing produced; canned in this example.
type result struct {
	ID        string `json:"id"`
	ProcessID string `json:"processId"`
	Status    string `json:"status"`
	Summary   string `json:"summary"`
}

func cannedResult(processID, id string) result {
	return result{ID: id, ProcessID: processID, Status: "completed", Summary: "3 pages, 2 tables, 1 signature found."}
}

func listResults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"results": []result{cannedResult(r.PathValue("processId"), "res_example")}})
}

func getResult(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, cannedResult(r.PathValue("processId"), r.PathValue("resultId")))
}

func createResult(w http.ResponseWriter, r *http.Request) {
	res := cannedResult(r.PathValue("processId"), newID("res_"))
	res.Status = "pending"
	writeJSON(w, http.StatusCreated, res)
}

func createExport(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusAccepted, map[string]string{
		"id": newID("exp_"), "processId": r.PathValue("processId"), "status": "queued", "requestedBy": r.Header.Get(api.HeaderKeyID),
	})
}

func deleteExport(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func listDestinations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"destinations": []map[string]string{
		{"id": "dst_archive", "name": "Archive", "type": "s3"},
	}})
}

// whoAmI echoes every X-Keywarden-* header the request arrived with,
// exactly as received: what the gateway passed on, and nothing else.
func whoAmI(w http.ResponseWriter, r *http.Request) {
	got := make(map[string][]string)
	for name, values := range r.Header {
		if strings.HasPrefix(name, "X-Keywarden-") {
			got[name] = values
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"headers": got})
}

func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// problem is an RFC 9457 problem document, the error body Keywarden and
// the example gateway configurations answer with too.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{Title: http.StatusText(status), Status: status, Detail: detail})
}
