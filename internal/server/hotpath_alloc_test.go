package server_test

import (
	"net/http"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/server"
)

// TestHotPathAllocations pins what a cached valid request to each hot path
// allocates through ServeHTTP, in the harness of BenchmarkHotPath (a
// reusable request and ResponseWriter, the handler as serve builds it, the
// request log on at serve's default level). Keywarden's own code allocates
// nothing; what remains is the standard library's and one copy:
//
//   - net/http's: what http.ServeMux allocates to route the same request
//     among the same patterns, measured here on a bare ServeMux with
//     Keywarden's routes and handlers that write nothing (for
//     /api/v1/auth/forward, the match's wildcard slice; nothing for the
//     other two);
//   - the verify API: one, the copy of the key out of the pooled body
//     buffer, since the key check may keep parts of what it is given (the
//     usage recorder keeps a failed key's ID);
//   - forward-auth: what routetable.Table.Match allocates for the
//     original request, measured here on the same table (its own
//     ServeMux match and parsed URL).
//
// The identity headers, the JSON answers, the metrics' series, the log
// line, the client address and the per-request state allocate nothing.
// The test fails if any allocation is added back; it sets no speed target.
func TestHotPathAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own")
	}
	p := newHotPath(t)
	bare := http.NewServeMux()
	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, rt := range server.Routes() {
		bare.Handle(rt.Pattern, nothing)
	}
	table, err := routetable.Parse("routes.yaml", []byte(hotPathRoutes), keywarden.MustDefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	forwardMatch := testing.AllocsPerRun(200, func() { table.Match("POST", "/v1/things?x=1") })
	extra := map[string]float64{"me": 0, "verify": 1, "forward": forwardMatch}
	for _, r := range p.requests(t) {
		t.Run(r.name, func(t *testing.T) {
			w := &discardWriter{h: http.Header{}}
			r.serve(p.handler, w)
			if w.status != http.StatusOK {
				t.Fatalf("status %d, want 200", w.status)
			}
			got := testing.AllocsPerRun(200, func() { r.serve(p.handler, w) })
			if w.status != http.StatusOK {
				t.Fatalf("status %d, want 200", w.status)
			}
			mux := testing.AllocsPerRun(200, func() { r.serve(bare, w) })
			t.Logf("%v allocations: net/http's ServeMux %v, and %v more", got, mux, extra[r.name])
			if want := mux + extra[r.name]; got != want {
				t.Errorf("a cached valid request allocates %v times, want %v (net/http's ServeMux %v, and %v more)", got, want, mux, extra[r.name])
			}
		})
	}
}
