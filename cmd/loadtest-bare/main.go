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
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	answerFile := flag.String("answer", "", "answer every request with the HTTP response in this file (as curl -si prints it)")
	flag.Parse()
	handler := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	}))
	if *answerFile != "" {
		raw, err := os.ReadFile(*answerFile)
		if err != nil {
			log.Fatal(err)
		}
		a, err := parseAnswer(raw)
		if err != nil {
			log.Fatalf("%s: %v", *answerFile, err)
		}
		handler = a
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
	fmt.Fprintf(os.Stderr, "bare: listening on %s\n", *addr)
	log.Fatal(srv.ListenAndServe())
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
