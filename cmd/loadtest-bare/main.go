// Command loadtest-bare is the load test's baseline: a Go net/http server that
// answers every request with "ok" and does nothing else, so
// scripts/loadtest.sh can measure what the machine itself allows next to
// what Keywarden does on it, in the same run.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok"))
		}),
		// The same limits keywarden serve sets, so the baseline pays for
		// the same deadlines.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(os.Stderr, "bare: listening on %s\n", *addr)
	log.Fatal(srv.ListenAndServe())
}
