package middleware_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/middleware"
)

// A file service accepts uploads into a process from keys that hold
// workspace.file:upload and reach that process, and lists destinations for
// keys that hold workspace.destination:read.
func Example() {
	kw, err := middleware.New(middleware.Config{
		// The verify API needs no credential: the caller's key is the proof.
		Client: client.New("https://keywarden.internal", ""),
		// A deleted key may keep working here for up to 10 s.
		CacheTTL: 10 * time.Second,
		Logger:   slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}

	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.IdentityFrom(r.Context())
		fmt.Fprintf(w, "stored in process %s for key %s of organization %s\n", r.PathValue("processId"), id.User, id.OrgID)
	})
	destinations := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "[]")
	})

	mux := http.NewServeMux()
	mux.Handle("POST /v1/processes/{processId}/files", kw.RequireInProcess("processId", "workspace.file:upload")(upload))
	mux.Handle("GET /v1/destinations", kw.Require("workspace.destination:read")(destinations))

	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
