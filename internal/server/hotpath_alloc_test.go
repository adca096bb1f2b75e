package server_test

import (
	"bytes"
	"net/http"
	"testing"
)

// TestHotPathAllocations pins what a request to each hot path allocates
// through ServeHTTP, in the harness of BenchmarkHotPath (a reusable request
// and ResponseWriter, the handler as serve builds it, the request log on
// at serve's default level): a cached valid request, one of a key with an
// IP allowlist and a rate limit, and refused ones
// (an unknown ID, a wrong secret, a bad checksum, no key at all). The
// problem document of a refusal, its headers, the throttle of failed
// authentication, the usage recorder, the metrics and the per-request
// state allocate nothing; nor do the identity headers, the JSON answers,
// the log lines of a request and of a failed authentication, the client
// address, forward-auth's route table, the routing itself (the three
// paths have no wildcard, and exactRoutes answers them without the
// ServeMux, which allocated 3 times for forward-auth), or the verify API's
// reading of its body (the key is checked where it lies in the pooled
// body, and a process ID comes from a memo of recent ones). What remains:
//
//   - a refused key: one, the copy of its ID out of the verifier's pooled
//     and cleared buffer (Verification.User, which the usage recorder and
//     the log keep), when the key parsed.
//
// A key with an allowlist and a rate limit allocates nothing either: the
// allowlist's check never did, and its RateLimit headers' values come from
// a memo of recent decisions (its bucket stays full in the harness, so
// each request answers the same values).
//
// The test fails if any allocation is added back; it sets no speed target.
func TestHotPathAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own")
	}
	p := newHotPath(t)
	const idCopy = 1 // the verifier's copy of a refused key's ID
	extra := map[string]float64{
		"me": 0, "verify": 0, "verify/process": 0, "forward": 0,
		"me/restricted":        0,
		"me/unknown-key":       idCopy,
		"me/wrong-secret":      idCopy,
		"me/bad-checksum":      idCopy,
		"me/malformed":         0,
		"verify/unknown-key":   idCopy,
		"forward/unknown-key":  idCopy,
		"forward/wrong-secret": idCopy,
	}
	for _, r := range p.requests(t) {
		t.Run(r.name, func(t *testing.T) {
			want, ok := extra[r.name]
			if !ok {
				t.Fatalf("no allocation count for %s", r.name)
			}
			w := &discardWriter{h: http.Header{}}
			r.serve(p.handler, w)
			if w.status != r.status {
				t.Fatalf("status %d, want %d", w.status, r.status)
			}
			got := testing.AllocsPerRun(200, func() { r.serve(p.handler, w) })
			if w.status != r.status {
				t.Fatalf("status %d, want %d", w.status, r.status)
			}
			if valid := r.name == "verify" || r.name == "verify/process"; valid && !bytes.Contains(w.last, []byte(`"valid":true`)) {
				t.Fatalf("the verify API answered %s", w.last)
			}
			if got != want {
				t.Errorf("%s allocates %v times, want %v", r.name, got, want)
			}
		})
	}
}
