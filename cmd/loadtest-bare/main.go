// Command loadtest-bare is the load test's baseline: a Go net/http server that
// answers every request with "ok" and does nothing else, so
// scripts/loadtest.sh can measure what the machine itself allows next to
// what Keywarden does on it, in the same run.
//
// With -answer it is a mirror of one Keywarden case instead: it answers
// every request with the response in the file (as `curl -si` prints it:
// Keywarden's own answer to that case, recorded by the load test), its
// status, headers and body, after reading the request's body as Keywarden
// does. Sent the case's exact request, the mirror pays what net/http itself
// pays for the case's request and answer and nothing else: the case
// against its mirror is the cost of Keywarden's own code, and the mirror
// against the plain bare server is the cost of the shapes (headers, body)
// that the API's contract sets.
//
// With -verify DIR as well it is the floor of a case: its mirror with
// Keywarden's key check in front, and nothing else. The check is
// Keywarden's own (keywarden.Verifier over the verification cache, loaded
// from the SQLite database in DIR and kept current from its key change
// feed, with serve's heap goal), and a key that does not verify gets a
// bare 401. The floor against the plain bare server is what a server that
// checks the key and answers, and does nothing else (no request log line,
// no metrics, no throttle, no usage, no routing), can reach on the machine:
// the "practical limit" of issue 14; the case against its floor is what
// the rest of Keywarden's request path costs.
//
// With -refusal FILE as well, a key that does not verify gets the response
// in FILE instead of a bare 401: Keywarden's own refusal, its 401 problem
// document, recorded like -answer's. That is the floor of a flood of
// unknown keys: a server that checks each key, refuses it as the API's
// contract says, and does nothing else.
//
// With -parts as well, the floor also does, around each key check, the
// four things issue 14 keeps on in the node for every request (parts.go):
// the throttle's check of the client address, the outcome's bookkeeping
// (the verification metric, the usage recorder, a failure counted against
// the address), the route's request metrics, and the request's log line,
// to stderr in the node's text format. That is the best Keywarden can do
// with those four on: the floor with its parts against the floor is what
// the four cost, and the case against the floor with its parts is what
// the rest of Keywarden's request path (middleware, routing, the answer's
// rendering) costs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/gcfloor"
	"github.com/keywarden/keywarden/internal/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	answerFile := flag.String("answer", "", "answer every request with the HTTP response in this file (as curl -si prints it)")
	verifyDir := flag.String("verify", "", "with -answer: answer only a request whose key Keywarden's key check accepts, against the keys of the SQLite data directory `DIR`, and a bare 401 to any other")
	refusalFile := flag.String("refusal", "", "with -verify: answer a request whose key is refused with the HTTP response in this file instead of a bare 401")
	withParts := flag.Bool("parts", false, "with -verify: also do, around each key check, the node's four parts of every request: the throttle's check, the outcome's bookkeeping, the route metrics and the log line (to stderr)")
	failuresPerMinute := flag.Int("auth-failures-per-minute", defaultAuthFailuresPerIP, "with -parts: the throttle's limit, as keywarden serve's flag of that name")
	flag.Parse()
	handler := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	}))
	if *answerFile != "" {
		a, err := readAnswer(*answerFile)
		if err != nil {
			log.Fatal(err)
		}
		handler = a
		if *verifyDir != "" {
			v, db, err := verifier(context.Background(), *verifyDir)
			if err != nil {
				log.Fatalf("-verify %s: %v", *verifyDir, err)
			}
			check := &keyCheck{v: v, next: a}
			if *withParts {
				check.parts = newParts(db, *failuresPerMinute, os.Stderr)
			}
			if *refusalFile != "" {
				if check.refused, err = readAnswer(*refusalFile); err != nil {
					log.Fatal(err)
				}
			}
			handler = check
		}
	} else if *verifyDir != "" {
		log.Fatal("-verify needs -answer")
	}
	if *refusalFile != "" && *verifyDir == "" {
		log.Fatal("-refusal needs -verify")
	}
	if *withParts && *verifyDir == "" {
		log.Fatal("-parts needs -verify")
	}
	srv := &http.Server{
		Addr:    *addr,
		Handler: handler,
		// The same limits keywarden serve sets, so the baseline pays for
		// the same deadlines.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if *withParts {
		// As serve's, which reads each connection's peer address once.
		srv.ConnContext = clientip.ConnContext
	}
	fmt.Fprintf(os.Stderr, "bare: listening on %s\n", *addr)
	log.Fatal(srv.ListenAndServe())
}

// verifier is Keywarden's key check as serve builds it, over the keys of
// the SQLite database in dir: the verification cache, loaded now and kept
// current from the key change feed at serve's default poll, with serve's
// heap goal (gcfloor) so that the floor is not paced differently from a
// node holding the same keys. The database stays open, for -parts' usage
// recorder.
func verifier(ctx context.Context, dir string) (*keywarden.Verifier, *sqlite.DB, error) {
	db, err := sqlite.Open(ctx, filepath.Join(dir, "keywarden.db"))
	if err != nil {
		return nil, nil, err
	}
	keys := cache.New(db, cache.Config{Catalogue: keywarden.MustDefaultCatalogue(), Now: time.Now})
	if err := keys.Watch(ctx, 250*time.Millisecond, nil, func(err error) { log.Printf("key change feed: %v", err) }); err != nil {
		db.Close()
		return nil, nil, err
	}
	go gcfloor.Run(ctx, gcfloor.DefaultFloor, time.Second)
	return &keywarden.Verifier{Keys: keys, Processes: keys, Now: time.Now}, db, nil
}

// keyCheck answers next's answer to a request whose Authorization header
// holds a valid key (any scope, any process), and refused's (a bare 401
// when nil) otherwise.
type keyCheck struct {
	v       *keywarden.Verifier
	next    http.Handler
	refused http.Handler
	parts   *parts // -parts; nil without
}

func (k *keyCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var authorization string
	if h := r.Header["Authorization"]; len(h) == 1 { // as Keywarden reads it
		authorization = h[0]
	}
	if k.parts != nil {
		k.parts.serve(w, r, k, authorization)
		return
	}
	res, err := k.v.VerifyAuthorization(r.Context(), authorization, keywarden.Requirement{})
	switch {
	case err != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
	case !res.Authenticated():
		k.refuse(w, r)
	default:
		k.next.ServeHTTP(w, r)
	}
}

// refuse answers a request whose key did not verify: the recorded refusal,
// or a bare 401.
func (k *keyCheck) refuse(w http.ResponseWriter, r *http.Request) {
	if k.refused != nil {
		k.refused.ServeHTTP(w, r)
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
}

// answer is a recorded response, served again and again.
type answer struct {
	status int
	header []field // without Date and Content-Length, which net/http writes
	body   []byte
}

type field struct {
	key    string // canonical
	values []string
}

// readAnswer reads the response in file (parseAnswer).
func readAnswer(file string) (*answer, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	a, err := parseAnswer(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return a, nil
}

// parseAnswer reads a response as curl -si prints it.
func parseAnswer(raw []byte) (*answer, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, body: body}
	for k, v := range resp.Header {
		if k != "Date" && k != "Content-Length" {
			a.header = append(a.header, field{k, v})
		}
	}
	return a, nil
}

// ServeHTTP sets the recorded headers as a handler sets fixed ones: each
// value slice shared, never copied (Keywarden's handlers do the same).
func (a *answer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	for _, f := range a.header {
		h[f.key] = f.values
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}
