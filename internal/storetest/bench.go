package storetest

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// Importer is a store that can bulk-load keys, as both stores can.
type Importer interface {
	keywarden.Store
	ImportAPIKeys(ctx context.Context, keys []*keywarden.APIKey) error
}

// MustImportColdKeys is the fixture of the stores' cold-verification
// benchmarks: it creates an organization and a process in s, imports n valid
// keys (alternately organization and process keys, real key material from a
// seeded stream, so every run builds the same), and returns the Basic
// headers of picks keys chosen at random among them, shuffled.
func MustImportColdKeys(tb testing.TB, s Importer, n, picks int) []string {
	tb.Helper()
	ctx := context.Background()
	org, owner := NewOrganization(tb), NewUser(tb)
	if err := s.CreateOrganization(ctx, org, owner, nil); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := NewProcess(tb, org.ID, now)
	if err := s.CreateProcess(ctx, p, nil); err != nil {
		tb.Fatal(err)
	}

	start := time.Now()
	rng := rand.NewChaCha8([32]byte{42})
	pick := rand.New(rand.NewPCG(42, 42))
	picked := make(map[int]bool, picks)
	for len(picked) < min(picks, n) {
		picked[pick.IntN(n)] = true
	}
	const batch = 100_000
	scopes := []keywarden.Scope{"workspace.file:upload", keywarden.ScopeProcessRead}
	keys := make([]*keywarden.APIKey, 0, batch)
	var headers []string
	for i := range n {
		processID, prefix := "", keywarden.DefaultOrgKeyPrefix
		if i%2 == 1 {
			processID, prefix = p.ID, keywarden.DefaultProcessKeyPrefix
		}
		km, err := keywarden.GenerateKey(rng, prefix)
		if err != nil {
			tb.Fatal(err)
		}
		id, err := keywarden.NewID(rng)
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, &keywarden.APIKey{
			ID: id, OrgID: org.ID, ProcessID: processID, Name: "CI upload " + id[:8],
			User: km.User, SecretHash: km.Hash(), Scopes: scopes,
			CreatedAt: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI},
			ExpiresAt: now.Add(365 * 24 * time.Hour),
		})
		if picked[i] {
			headers = append(headers, "Basic "+base64.StdEncoding.EncodeToString([]byte(km.Value())))
		}
		if len(keys) == batch || i == n-1 {
			if err := s.ImportAPIKeys(ctx, keys); err != nil {
				tb.Fatal(err)
			}
			keys = keys[:0]
		}
	}
	pick.Shuffle(len(headers), func(i, j int) { headers[i], headers[j] = headers[j], headers[i] })
	tb.Logf("generated and imported %d keys in %v", n, time.Since(start).Round(time.Millisecond))
	return headers
}

// BenchmarkColdVerify times the store-backed keywarden.Verifier (no cache)
// on s, each operation a different key of headers, and reports the median
// and 99th percentile of the operations' latencies besides the mean.
func BenchmarkColdVerify(b *testing.B, s keywarden.APIKeyFinder, headers []string) {
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: s, Catalogue: keywarden.MustDefaultCatalogue()}, Now: time.Now}
	ctx := context.Background()
	if r, err := v.VerifyAuthorization(ctx, headers[0], keywarden.Requirement{}); err != nil || r.Code != keywarden.VerifyValid {
		b.Fatalf("fixture key: %+v, %v", r, err)
	}
	latencies := make([]time.Duration, 0, 1<<15)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		r, err := v.VerifyAuthorization(ctx, headers[i%len(headers)], keywarden.Requirement{})
		latencies = append(latencies, time.Since(start))
		if err != nil || r.Code != keywarden.VerifyValid {
			b.Fatalf("%+v, %v", r, err)
		}
		i++
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2]), "p50-ns")
	b.ReportMetric(float64(latencies[len(latencies)*99/100]), "p99-ns")
}
