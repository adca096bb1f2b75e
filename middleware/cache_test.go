package middleware_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/middleware"
)

func TestDeletedKeyWorksUntilTheTTLAndNotAfter(t *testing.T) {
	const ttl = 10 * time.Second
	tests := []struct {
		name string
		ttl  time.Duration
	}{
		{"with the cache", ttl},
		{"without the cache", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kw := MustKeywarden(t)
			s := MustService(t, kw, middleware.Config{CacheTTL: tt.ttl})
			proc := kw.MustProcess(t, "Invoices")
			key := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload")
			path := fmt.Sprintf(routeFiles, proc)

			MustReach(t, s.Do("POST", path, basic(key.Key)))
			kw.MustDelete(t, key)
			if tt.ttl == 0 {
				MustProblem(t, s.Do("POST", path, basic(key.Key)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
				return
			}
			// Still served from the cache, up to the last instant of the TTL…
			MustReach(t, s.Do("POST", path, basic(key.Key)))
			s.clock.Advance(tt.ttl - time.Nanosecond)
			MustReach(t, s.Do("POST", path, basic(key.Key)))
			if n := s.verifier.Calls(); n != 1 {
				t.Fatalf("%d calls to Keywarden within the TTL, want 1", n)
			}
			// …and refused the moment it is over.
			s.clock.Advance(time.Nanosecond)
			MustProblem(t, s.Do("POST", path, basic(key.Key)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
		})
	}
}

func TestCachedValidAnswerEndsWithTheKey(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{CacheTTL: time.Minute})
	key := kw.MustKey(t, "", 30*time.Second, "workspace.destination:read")

	MustReach(t, s.Do("GET", routeDestinations, basic(key.Key)))
	// Both clocks reach the key's expiry, well within the TTL: a cache that
	// kept the answer for the whole TTL would still let the key through.
	kw.clock.Advance(30 * time.Second)
	s.clock.Advance(30 * time.Second)
	MustProblem(t, s.Do("GET", routeDestinations, basic(key.Key)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
}

func TestRefusalsAreCachedForTheTTL(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{CacheTTL: 10 * time.Second})
	narrow := kw.MustKey(t, "", 24*time.Hour, "workspace.file:upload")
	unknown := MustUnknownKey(t)

	for i := range 3 {
		MustProblem(t, s.Do("GET", routeDestinations, basic(unknown)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
		MustProblem(t, s.Do("GET", routeDestinations, basic(narrow.Key)), http.StatusForbidden, keywarden.EFORBIDDEN, "This endpoint requires the scope workspace.destination:read.")
		if n := s.verifier.Calls(); n != 2 {
			t.Fatalf("after round %d: %d calls to Keywarden, want 2", i, n)
		}
	}
	s.clock.Advance(10 * time.Second)
	MustProblem(t, s.Do("GET", routeDestinations, basic(unknown)), http.StatusUnauthorized, keywarden.EUNAUTHORIZED, api.UnauthorizedDetail)
	if n := s.verifier.Calls(); n != 3 {
		t.Fatalf("%d calls after the TTL, want 3", n)
	}
}

// The cache is keyed by the whole presented key and the whole requirement:
// a cached VALID must never answer for another key (above all the same key
// ID with another secret), another scope or another process.
func TestCacheEntriesAreNeverShared(t *testing.T) {
	kw := MustKeywarden(t)
	s := MustService(t, kw, middleware.Config{CacheTTL: time.Minute})
	proc, other := kw.MustProcess(t, "Invoices"), kw.MustProcess(t, "Receipts")
	orgKey := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read")
	procKey := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload")

	MustReach(t, s.Do("GET", routeDestinations, basic(orgKey.Key)))
	MustReach(t, s.Do("POST", fmt.Sprintf(routeFiles, proc), basic(procKey.Key)))

	tests := []struct {
		name, method, path, key string
		status                  int
	}{
		{"same key ID, other secret", "GET", routeDestinations, MustWrongSecret(t, orgKey.Key), http.StatusUnauthorized},
		{"another key", "GET", routeDestinations, MustUnknownKey(t), http.StatusUnauthorized},
		{"same key, scope it lacks", "POST", fmt.Sprintf(routeFiles, proc), orgKey.Key, http.StatusForbidden},
		{"same key, other process", "POST", fmt.Sprintf(routeFiles, other), procKey.Key, http.StatusForbidden},
		{"same key, other scope set", "POST", fmt.Sprintf(routeTwoScopes, proc), procKey.Key, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := s.verifier.Calls()
			if w := s.Do(tt.method, tt.path, basic(tt.key)); w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if s.verifier.Calls() != calls+1 {
				t.Fatalf("answered from another entry of the cache")
			}
		})
	}
	// The Bearer and Basic forms of one key are the same key.
	calls := s.verifier.Calls()
	MustReach(t, s.Do("GET", routeDestinations, "Bearer "+orgKey.Key))
	if s.verifier.Calls() != calls {
		t.Fatalf("the Bearer form missed the Basic form's entry")
	}
}

func TestConcurrentRequests(t *testing.T) {
	for _, ttl := range []time.Duration{0, 5 * time.Second} {
		t.Run(fmt.Sprintf("ttl %v", ttl), func(t *testing.T) {
			kw := MustKeywarden(t)
			s := MustService(t, kw, middleware.Config{CacheTTL: ttl, CacheSize: 8})
			proc, other := kw.MustProcess(t, "Invoices"), kw.MustProcess(t, "Receipts")
			orgKey := kw.MustKey(t, "", 24*time.Hour, "workspace.destination:read", "workspace.file:upload")
			procKey := kw.MustKey(t, proc, 24*time.Hour, "workspace.file:upload")
			cases := []struct {
				method, path, authorization string
				status                      int
			}{
				{"GET", routeDestinations, basic(orgKey.Key), http.StatusOK},
				{"GET", routeDestinations, "Bearer " + orgKey.Key, http.StatusOK},
				{"POST", fmt.Sprintf(routeFiles, proc), basic(procKey.Key), http.StatusOK},
				{"POST", fmt.Sprintf(routeFiles, other), basic(procKey.Key), http.StatusForbidden},
				{"POST", fmt.Sprintf(routeFiles, other), basic(orgKey.Key), http.StatusOK},
				{"GET", routeDestinations, basic(procKey.Key), http.StatusForbidden},
				{"GET", routeDestinations, basic(MustWrongSecret(t, orgKey.Key)), http.StatusUnauthorized},
				{"GET", routeDestinations, basic("garbage"), http.StatusUnauthorized},
			}
			var wg sync.WaitGroup
			errs := make(chan string, 32*40)
			for g := range 32 {
				wg.Go(func() {
					for i := range 40 {
						c := cases[(g+i)%len(cases)]
						if g == 0 && i%10 == 0 {
							s.clock.Advance(time.Second) // entries expire while others read them
						}
						if w := s.Do(c.method, c.path, c.authorization); w.Code != c.status {
							errs <- fmt.Sprintf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, c.status, w.Body)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}
}
