package cache_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/servertest"
	"github.com/keywarden/keywarden/internal/storetest"
)

// counting counts the store's key lookups.
type counting struct {
	keywarden.Store
	mu      sync.Mutex
	lookups int
	block   chan struct{} // when set, lookups wait on it
}

func (c *counting) FindAPIKeyByUser(ctx context.Context, user string) (*keywarden.APIKey, error) {
	c.mu.Lock()
	c.lookups++
	block := c.block
	c.mu.Unlock()
	if block != nil {
		<-block
	}
	return c.Store.FindAPIKeyByUser(ctx, user)
}

func (c *counting) Lookups() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookups
}

type fixture struct {
	store    *counting
	cache    *cache.Store
	verifier *keywarden.Verifier // the one key check, with the cache as its key source
	org      *keywarden.Organization
	now      time.Time
}

func newFixture(t *testing.T, cfg cache.Config) *fixture {
	t.Helper()
	f := &fixture{store: &counting{Store: servertest.MustSQLite(t)}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cfg.Now = func() time.Time { return f.now }
	f.cache = cache.New(f.store, cfg)
	f.verifier = &keywarden.Verifier{Keys: f.cache, Processes: f.cache, Now: cfg.Now}
	f.org, _ = storetest.MustCreateOrganization(t, f.store)
	// Fresh, as Watch leaves it, but not loaded: these tests count the
	// lookups of a cache that misses (TestLoaded… for a loaded one).
	if err := f.cache.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// key creates a key in the store, as the server does, tells the cache
// (Sync), and returns its Basic header.
func (f *fixture) key(t *testing.T, processID string, exp time.Duration) (*keywarden.APIKey, string) {
	t.Helper()
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "k", Scopes: []string{"workspace.file:upload"},
		Exp: f.now.Add(exp).Format(time.RFC3339)}, keywarden.MintParams{Org: f.org, ProcessID: processID,
		Catalogue: keywarden.MustDefaultCatalogue(), Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	f.change(t, func(ctx context.Context) error { return f.store.CreateAPIKey(ctx, k, nil) })
	return k, basic(km.Value())
}

// change makes a change to keys in the store and Syncs the cache, as the
// server's one path for changes does.
func (f *fixture) change(t *testing.T, op func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	if err := op(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func basic(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key)) }

func (f *fixture) verify(t *testing.T, header string) keywarden.Verification {
	t.Helper()
	v, err := f.verifier.VerifyAuthorization(context.Background(), header, keywarden.Requirement{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSecondVerificationIsServedFromMemory(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, h := f.key(t, "", 24*time.Hour)
	for i := 0; i < 3; i++ {
		v := f.verify(t, h)
		if v.Code != keywarden.VerifyValid || v.Key.ID != k.ID || v.Key.OrgID != f.org.ID || v.Key.User != k.User {
			t.Fatalf("verification %d = %+v", i, v)
		}
	}
	if n := f.store.Lookups(); n != 1 {
		t.Fatalf("%d store lookups for three verifications, want 1", n)
	}
	bearer := "Bearer " + mustDecode(t, h)
	if v := f.verify(t, bearer); v.Code != keywarden.VerifyValid {
		t.Fatalf("Bearer: %+v", v)
	}
	// A wrong secret for a cached ID is refused without the store.
	wrong := keywarden.KeyMaterial{User: k.User, Secret: mustGenerate(t).Secret}
	if v := f.verify(t, basic(wrong.Value())); v.Code != keywarden.VerifyInvalid || v.Reason != keywarden.ReasonWrongSecret {
		t.Fatalf("wrong secret: %+v", v)
	}
	// Expiry is checked on every verification, cached or not.
	f.now = f.now.Add(24 * time.Hour)
	if v := f.verify(t, h); v.Code != keywarden.VerifyExpired {
		t.Fatalf("at exp: %+v", v)
	}
	if n := f.store.Lookups(); n != 1 {
		t.Fatalf("%d store lookups, want 1", n)
	}
}

func mustDecode(t *testing.T, h string) string {
	b, err := base64.StdEncoding.DecodeString(h[len("Basic "):])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustGenerate(t *testing.T) keywarden.KeyMaterial {
	km, err := keywarden.GenerateKey(nil, "kwo_")
	if err != nil {
		t.Fatal(err)
	}
	return km
}

// wrongSecret returns the Basic header of the key of h with another secret.
func wrongSecret(t *testing.T, h string) string {
	k, err := keywarden.ParseKey(mustDecode(t, h))
	if err != nil {
		t.Fatal(err)
	}
	return basic(keywarden.KeyMaterial{User: k.User, Secret: mustGenerate(t).Secret}.Value())
}

func TestMalformedKeysNeverReachTheCacheOrTheStore(t *testing.T) {
	f := newFixture(t, cache.Config{})
	km := mustGenerate(t)
	v := km.Value()
	// Two other last characters: each breaks the checksum.
	other1, other2 := "0", "1"
	if last := v[len(v)-1:]; last == other1 || last == other2 {
		other1, other2 = "2", "3"
	}
	for _, h := range []string{"", "Basic", "Basic !!", "Digest x", basic("nope"), basic(v[:len(v)-1] + other1), basic(v[:len(v)-1] + other2),
		"Basic " + base64.StdEncoding.EncodeToString(make([]byte, 200)), "Bearer " + v + "x"} {
		if got := f.verify(t, h); got.Code != keywarden.VerifyInvalid || got.Reason == keywarden.ReasonUnknownKey {
			t.Errorf("%.20q: %+v", h, got)
		}
	}
	if n := f.store.Lookups(); n != 0 {
		t.Fatalf("%d store lookups for malformed keys", n)
	}
}

func TestUnknownKeyIDsAreRememberedBriefly(t *testing.T) {
	f := newFixture(t, cache.Config{NegativeTTL: 10 * time.Second})
	h := basic(mustGenerate(t).Value())
	for i := 0; i < 100; i++ {
		if v := f.verify(t, h); v.Code != keywarden.VerifyInvalid || v.Reason != keywarden.ReasonUnknownKey {
			t.Fatalf("%+v", v)
		}
	}
	if n := f.store.Lookups(); n != 1 {
		t.Fatalf("%d store lookups for one unknown key asked 100 times, want 1", n)
	}
	f.now = f.now.Add(10 * time.Second)
	f.verify(t, h)
	if n := f.store.Lookups(); n != 2 {
		t.Fatalf("after the TTL: %d lookups, want 2", n)
	}
}

// A key created after its ID was looked up works at once: creation clears
// the negative entry.
func TestCreationClearsTheNegativeEntry(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "k", Scopes: []string{"all"},
		Exp: f.now.Add(time.Hour).Format(time.RFC3339)}, keywarden.MintParams{Org: f.org, Catalogue: keywarden.MustDefaultCatalogue(), Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	if v := f.verify(t, basic(km.Value())); v.Reason != keywarden.ReasonUnknownKey {
		t.Fatalf("before creation: %+v", v)
	}
	f.change(t, func(ctx context.Context) error { return f.store.CreateAPIKey(ctx, k, nil) })
	if v := f.verify(t, basic(km.Value())); v.Code != keywarden.VerifyValid {
		t.Fatalf("after creation: %+v", v)
	}
}

func TestDeletionStopsACachedKeyAtOnce(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, h := f.key(t, "", time.Hour)
	f.verify(t, h)
	f.change(t, func(ctx context.Context) error { return storetest.DeleteAPIKey(ctx, f.store, f.org.ID, k.ID, nil) })
	if v := f.verify(t, h); v.Code != keywarden.VerifyInvalid {
		t.Fatalf("after delete: %+v", v)
	}

	p := storetest.MustCreateProcess(t, f.store, f.org.ID, f.now)
	_, ph := f.key(t, p.ID, time.Hour)
	_, oh := f.key(t, "", time.Hour)
	f.verify(t, ph)
	f.verify(t, oh)
	f.change(t, func(ctx context.Context) error { return f.store.DeleteProcess(ctx, f.org.ID, p.ID, nil) })
	if v := f.verify(t, ph); v.Code != keywarden.VerifyInvalid {
		t.Fatalf("process key after its process was deleted: %+v", v)
	}
	if v := f.verify(t, oh); v.Code != keywarden.VerifyValid {
		t.Fatalf("another key after the process was deleted: %+v", v)
	}
}

// A lookup that started before a deletion must not put the deleted key back
// into the cache when it finishes after it.
func TestLookupRacingADeletionIsNotCached(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, h := f.key(t, "", time.Hour)
	block := make(chan struct{})
	f.store.mu.Lock()
	f.store.block = block
	f.store.mu.Unlock()
	done := make(chan keywarden.Verification)
	go func() {
		v, _ := f.verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{})
		done <- v
	}()
	for f.store.Lookups() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The lookup is in flight and will see the key. Delete it meanwhile.
	f.cache.Invalidate(k.User) // what DeleteAPIKey does after the store's delete
	f.store.mu.Lock()
	f.store.block = nil
	f.store.mu.Unlock()
	close(block)
	<-done
	if f.cache.Len() != 0 {
		t.Fatal("a key fetched before an invalidation was cached after it")
	}
}

func TestSizeIsBoundedAndRecentlyUsedKeysStay(t *testing.T) {
	f := newFixture(t, cache.Config{Size: 8})
	_, hot := f.key(t, "", time.Hour)
	for i := 0; i < 50; i++ {
		f.verify(t, hot)
		_, h := f.key(t, "", time.Hour)
		f.verify(t, h)
		if n := f.cache.Len(); n > 8 {
			t.Fatalf("%d keys cached, want at most 8", n)
		}
	}
	before := f.store.Lookups()
	f.verify(t, hot)
	if f.store.Lookups() != before {
		t.Error("a key used on every round was evicted")
	}
}

// TestCachedVerificationAllocatesNothing is the property the benchmarks
// measure, kept as a test so a regression fails CI.
func TestCachedVerificationAllocatesNothing(t *testing.T) {
	f := newFixture(t, cache.Config{})
	_, h := f.key(t, "", time.Hour)
	bearer := "Bearer " + mustDecode(t, h)
	f.verify(t, h)
	ctx := context.Background()
	for name, header := range map[string]string{"Basic": h, "Bearer": bearer} {
		allocs := testing.AllocsPerRun(1000, func() {
			if v, _ := f.verifier.VerifyAuthorization(ctx, header, keywarden.Requirement{}); v.Code != keywarden.VerifyValid {
				panic("not valid")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per cached verification, want 0", name, allocs)
		}
	}
}

// TestMemoryPerKey measures the heap the cache holds per key, for keys as
// the store returns them (fresh strings), with typical names: what it
// keeps of every key, loaded and not yet used (issue 14's goal: at most 64
// bytes), and of a key in use, held whole in the hot tier.
func TestMemoryPerKey(t *testing.T) {
	const n = 100_000
	for _, tt := range []struct {
		name string
		add  func(*cache.Store, *keywarden.APIKey)
		max  float64
	}{
		{"every key", cache.Load, 64},
		{"a key in use", cache.Fill, 320},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := heapInUse()
			c := cache.New(nil, cache.Config{Size: n, HotSize: n})
			for i := 0; i < n; i++ {
				tt.add(c, syntheticKey(i)) // what the cache does not keep is garbage
			}
			after := heapInUse()
			perKey := float64(after-before) / n
			t.Logf("cache memory, %s: %.1f bytes per key", tt.name, perKey)
			if perKey > tt.max {
				t.Errorf("the cache holds %.1f bytes per key, want at most %.0f", perKey, tt.max)
			}
			runtime.KeepAlive(c)
		})
	}
}

// syntheticKey is a key as a store would return it: every string separately
// allocated, a typical name, one of a few organizations and processes.
func syntheticKey(i int) *keywarden.APIKey {
	org := fmt.Sprintf("%032x", i%10)
	process := ""
	if i%2 == 0 {
		process = fmt.Sprintf("%032x", 1000+i%100)
	}
	var hash keywarden.SecretHash
	hash[0], hash[1], hash[2] = byte(i), byte(i>>8), byte(i>>16)
	return &keywarden.APIKey{
		ID: fmt.Sprintf("%032x", 1<<40+i), OrgID: org, ProcessID: process, Name: fmt.Sprintf("CI upload %d", i),
		User: fmt.Sprintf("kwo_%020d", i), SecretHash: hash, Scopes: []keywarden.Scope{"workspace.file:upload", "workspace.process:read"},
		ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestWatchDropsKeysDeletedElsewhere: a deletion made past the cache (by
// the command line, or another node) reaches it through the change feed.
func TestWatchDropsKeysDeletedElsewhere(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, h := f.key(t, "", time.Hour)
	f.verify(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 10)
	if err := f.cache.Watch(ctx, 5*time.Millisecond, nil, func(err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
	if err := storetest.DeleteAPIKey(context.Background(), f.store, f.org.ID, k.ID, nil); err != nil { // not through the cache
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.verify(t, h).Code == keywarden.VerifyValid {
		if time.Now().After(deadline) {
			t.Fatal("the cache still honours a key deleted past it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-errs:
		t.Fatalf("Watch reported %v", err)
	default:
	}
}

// flakyFeed is a source whose change feed fails while failing is set.
type flakyFeed struct {
	cache.Source
	failing atomic.Bool
}

func (f *flakyFeed) KeyChangesSince(ctx context.Context, after int64, limit int) ([]keywarden.KeyChange, error) {
	if f.failing.Load() {
		return nil, keywarden.Errorf(keywarden.EUNAVAILABLE, "connection lost")
	}
	return f.Source.KeyChangesSince(ctx, after, limit)
}

// TestAFailedFeedReadEndsTrust: a node that cannot read the feed may have
// missed a deletion, so it stops answering from memory at once: each
// lookup asks the store (and fails closed when the store fails), until a
// read succeeds again.
func TestAFailedFeedReadEndsTrust(t *testing.T) {
	f := newFixture(t, cache.Config{})
	feed := &flakyFeed{Source: f.store}
	c := cache.New(feed, cache.Config{Now: func() time.Time { return f.now }})
	verifier := &keywarden.Verifier{Keys: c, Processes: c, Now: func() time.Time { return f.now }}
	k, h := f.key(t, "", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 100)
	if err := c.Watch(ctx, 5*time.Millisecond, nil, func(err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
	if !c.Fresh() || c.Len() != 1 {
		t.Fatalf("after Watch: fresh %v, %d keys cached; want fresh and the key loaded", c.Fresh(), c.Len())
	}

	feed.failing.Store(true)
	select {
	case <-errs:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not report the failure")
	}
	if c.Fresh() {
		t.Fatal("the cache is still fresh although reading the feed failed")
	}
	// Deleted past the cache, whose feed is down: the store is asked.
	if err := storetest.DeleteAPIKey(context.Background(), f.store, f.org.ID, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	before := f.store.Lookups()
	if v, err := verifier.VerifyAuthorization(ctx, h, keywarden.Requirement{}); err != nil || v.Code == keywarden.VerifyValid {
		t.Fatalf("a key deleted while the feed was down: %+v, %v", v, err)
	}
	if f.store.Lookups() != before+1 {
		t.Fatal("a cache that is not fresh answered from memory")
	}

	feed.failing.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for !c.Fresh() {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not become fresh again when the feed returned")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.Len() != 0 {
		t.Fatalf("%d keys cached after catching up with a deletion, want 0", c.Len())
	}
}

// TestWatchFailsWhenTheFeedCannotBeRead: a node does not start serving from
// a cache it could not bring up to date.
func TestWatchFailsWhenTheFeedCannotBeRead(t *testing.T) {
	f := newFixture(t, cache.Config{})
	feed := &flakyFeed{Source: f.store}
	feed.failing.Store(true)
	c := cache.New(feed, cache.Config{})
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err == nil || c.Fresh() {
		t.Fatalf("Watch on a failing feed = %v, fresh %v; want an error and not fresh", err, c.Fresh())
	}
}

// TestFreshnessLastsMaxStaleness: without a successful read of the feed
// for MaxStaleness (a stalled database answers nothing, not even an
// error), the cache stops answering from memory.
func TestFreshnessLastsMaxStaleness(t *testing.T) {
	f := newFixture(t, cache.Config{})
	c := cache.New(f.store, cache.Config{MaxStaleness: 50 * time.Millisecond})
	k, h := f.key(t, "", time.Hour)
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err != nil { // no poll within the test
		t.Fatal(err)
	}
	verifier := &keywarden.Verifier{Keys: c, Processes: c, Now: func() time.Time { return f.now }}
	verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}) // its first use reads it whole
	before := f.store.Lookups()
	if v, _ := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}); v.Code != keywarden.VerifyValid || f.store.Lookups() != before {
		t.Fatalf("fresh: %+v with %d lookups; want valid from memory", v, f.store.Lookups()-before)
	}
	if err := storetest.DeleteAPIKey(context.Background(), f.store, f.org.ID, k.ID, nil); err != nil { // past the cache
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if c.Fresh() {
		t.Fatal("fresh after MaxStaleness without a read of the feed")
	}
	if v, _ := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}); v.Code == keywarden.VerifyValid {
		t.Fatal("a stale cache honoured a key deleted past it")
	}
}

// TestLoadedCacheAnswersUnknownIDsFromMemory: Watch loads every key, so an
// unknown ID and a wrong secret cost no store lookup, and a known key one,
// at its first successful use (the rest of it is read then, and kept). A
// key created elsewhere is cached when the feed tells of it.
func TestLoadedCacheAnswersUnknownIDsFromMemory(t *testing.T) {
	f := newFixture(t, cache.Config{})
	var headers, wrong []string
	for range 3 {
		_, h := f.key(t, "", time.Hour)
		headers = append(headers, h)
		wrong = append(wrong, wrongSecret(t, h))
	}
	c := cache.New(f.store, cache.Config{Now: func() time.Time { return f.now }})
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err != nil {
		t.Fatal(err)
	}
	verifier := &keywarden.Verifier{Keys: c, Processes: c, Now: func() time.Time { return f.now }}
	verify := func(h string, want ...string) {
		t.Helper()
		v, err := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{})
		if err != nil || !slices.Contains(want, v.Reason) {
			t.Fatalf("%+v, %v; want reason in %q", v, err, want)
		}
	}
	before := f.store.Lookups()
	for range 10 {
		verify(basic(mustGenerate(t).Value()), keywarden.ReasonUnknownKey)
		for _, h := range wrong {
			verify(h, keywarden.ReasonWrongSecret)
		}
	}
	if n := f.store.Lookups() - before; n != 0 {
		t.Fatalf("%d store lookups for unknown IDs and wrong secrets, want 0", n)
	}
	for range 10 {
		for _, h := range headers {
			verify(h, "")
		}
	}
	if n := f.store.Lookups() - before; n != len(headers) {
		t.Fatalf("%d store lookups for %d keys used 10 times each, want one each", n, len(headers))
	}
	_, h := f.key(t, "", time.Hour) // created past c: c learns of it from the feed
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _ := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}); v.Code != keywarden.VerifyValid {
		t.Fatalf("a key created elsewhere: %+v", v)
	}
}

// TestMoreKeysThanSizeMakeMissesAskTheStore: a cache that cannot hold every
// key cannot tell an unknown ID from an evicted key, so a miss asks.
func TestMoreKeysThanSizeMakeMissesAskTheStore(t *testing.T) {
	f := newFixture(t, cache.Config{})
	for range 3 {
		f.key(t, "", time.Hour)
	}
	c := cache.New(f.store, cache.Config{Size: 2, Now: func() time.Time { return f.now }})
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err != nil {
		t.Fatal(err)
	}
	before := f.store.Lookups()
	if _, found, err := c.LookupKey(context.Background(), []byte(mustGenerate(t).User)); found || err != nil {
		t.Fatalf("unknown ID: found %v, %v", found, err)
	}
	if f.store.Lookups() != before+1 {
		t.Fatal("an incomplete cache answered a miss without the store")
	}
}

// TestWatchWakesOnNotification: with a notification, a deletion elsewhere
// is applied without waiting for the poll.
func TestWatchWakesOnNotification(t *testing.T) {
	f := newFixture(t, cache.Config{})
	k, h := f.key(t, "", time.Hour)
	f.verify(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	if err := f.cache.Watch(ctx, time.Hour, wake, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	if err := storetest.DeleteAPIKey(context.Background(), f.store, f.org.ID, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	wake <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for f.verify(t, h).Code == keywarden.VerifyValid {
		if time.Now().After(deadline) {
			t.Fatal("a notification did not make the cache drop the deleted key")
		}
		time.Sleep(time.Millisecond)
	}
}

// processLookups counts the store's process lookups.
type processLookups struct {
	*counting
	mu    sync.Mutex
	finds int
}

func (p *processLookups) FindProcess(ctx context.Context, orgID, id string) (*keywarden.Process, error) {
	p.mu.Lock()
	p.finds++
	p.mu.Unlock()
	return p.counting.FindProcess(ctx, orgID, id)
}

func (p *processLookups) Finds() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finds
}

// TestProcessOwnersAreRemembered: an organization key on one of its
// processes costs one process lookup, then none; another organization is
// refused from memory; a deleted process is forgotten, whether it was
// deleted through this cache or elsewhere (the change feed).
func TestProcessOwnersAreRemembered(t *testing.T) {
	f := newFixture(t, cache.Config{})
	store := &processLookups{counting: f.store}
	c := cache.New(store, cache.Config{Now: func() time.Time { return f.now }})
	ctx := context.Background()
	p := storetest.MustCreateProcess(t, f.store, f.org.ID, f.now)
	other, _ := storetest.MustCreateOrganization(t, f.store)

	for range 3 {
		if ok, err := c.OwnsProcess(ctx, f.org.ID, p.ID); !ok || err != nil {
			t.Fatalf("OwnsProcess(own organization) = %v, %v", ok, err)
		}
	}
	if ok, err := c.OwnsProcess(ctx, other.ID, p.ID); ok || err != nil {
		t.Fatalf("OwnsProcess(another organization) = %v, %v", ok, err)
	}
	if n := store.Finds(); n != 1 {
		t.Errorf("%d process lookups for one process asked four times, want 1", n)
	}
	if ok, _ := c.OwnsProcess(ctx, f.org.ID, "00000000000000000000000000000000"); ok {
		t.Error("an unknown process is owned")
	}

	t.Run("a deletion through the cache forgets the process", func(t *testing.T) {
		if err := f.store.DeleteProcess(ctx, f.org.ID, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.OwnsProcess(ctx, f.org.ID, p.ID); ok || err != nil {
			t.Fatalf("OwnsProcess after deletion = %v, %v", ok, err)
		}
	})
	t.Run("a deletion elsewhere is forgotten through the feed", func(t *testing.T) {
		q := storetest.MustCreateProcess(t, f.store, f.org.ID, f.now)
		if ok, _ := c.OwnsProcess(ctx, f.org.ID, q.ID); !ok {
			t.Fatal("a new process is not owned")
		}
		c.InvalidateProcess(q.ID) // what Watch does for a feed entry naming the process
		if err := f.store.DeleteProcess(ctx, f.org.ID, q.ID, nil); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.OwnsProcess(ctx, f.org.ID, q.ID); ok {
			t.Fatal("a process deleted elsewhere is still owned")
		}
	})
}

// feedReads counts the reads of the key change log.
type feedReads struct {
	*counting
	reads atomic.Int64
}

func (r *feedReads) KeyChangesSince(ctx context.Context, seq int64, limit int) ([]keywarden.KeyChange, error) {
	r.reads.Add(1)
	return r.counting.KeyChangesSince(ctx, seq, limit)
}

// TestAKeyHandedOutAfterTheWindowWorksOnEveryNode: two caches over one
// store stand for two nodes. A key is created through B, which waits out
// the propagation window before handing it out, as the server does
// (server.Config.KeyPropagation); A, which polls less often than that and
// has no notification, accepts it at its first use, every time. Without
// the wait, A refuses it until its next poll.
func TestAKeyHandedOutAfterTheWindowWorksOnEveryNode(t *testing.T) {
	f := newFixture(t, cache.Config{})
	const poll, window = 40 * time.Millisecond, 60 * time.Millisecond
	now := func() time.Time { return f.now }
	a := cache.New(f.store, cache.Config{MaxStaleness: time.Second, PropagationWindow: window, Now: now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Watch(ctx, poll, nil, func(error) {}); err != nil {
		t.Fatal(err)
	}
	onA := &keywarden.Verifier{Keys: a, Processes: a, Now: now}
	refusedWithoutWait := 0
	for i := range 30 {
		_, h := f.key(t, "", time.Hour) // created through "B" (f.cache), past A
		if v, _ := onA.VerifyAuthorization(ctx, h, keywarden.Requirement{}); v.Code != keywarden.VerifyValid {
			refusedWithoutWait++
		}
		_, h = f.key(t, "", time.Hour)
		time.Sleep(window)
		if v, err := onA.VerifyAuthorization(ctx, h, keywarden.Requirement{}); v.Code != keywarden.VerifyValid {
			t.Fatalf("repetition %d: a key handed out after the window was refused on the other node: %+v, %v", i, v, err)
		}
	}
	if refusedWithoutWait == 0 {
		t.Error("no key was refused when used at once on the other node: the test does not exercise the window")
	}
	t.Logf("used at once, without the wait: %d of 30 refused on the other node", refusedWithoutWait)
}

// TestAMissBehindTheWindowReadsTheLogFirst: a cache that has not read the
// log within its propagation window does not refuse an unknown ID from
// memory: it reads the log once — one read for every miss waiting with it —
// and then answers, finding a key created meanwhile.
func TestAMissBehindTheWindowReadsTheLogFirst(t *testing.T) {
	f := newFixture(t, cache.Config{})
	src := &feedReads{counting: f.store}
	// Long enough for the 64 misses below to all arrive within one window
	// after the read they share, even under the race detector on a busy
	// machine: a miss that comes a window after the last read began rightly
	// reads again.
	const window = 250 * time.Millisecond
	c := cache.New(src, cache.Config{MaxStaleness: 5 * time.Second, PropagationWindow: window, Now: func() time.Time { return f.now }})
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err != nil { // no poll within the test
		t.Fatal(err)
	}
	verifier := &keywarden.Verifier{Keys: c, Processes: c, Now: func() time.Time { return f.now }}
	unknown := basic(mustGenerate(t).Value())

	reads := src.reads.Load()
	if v, _ := verifier.VerifyAuthorization(context.Background(), unknown, keywarden.Requirement{}); v.Reason != keywarden.ReasonUnknownKey || src.reads.Load() != reads {
		t.Fatalf("within the window: %+v after %d log reads; want unknown, from memory", v, src.reads.Load()-reads)
	}

	_, h := f.key(t, "", time.Hour) // created past c
	time.Sleep(window + 10*time.Millisecond)
	if v, err := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}); v.Code != keywarden.VerifyValid {
		t.Fatalf("behind the window, a key created meanwhile: %+v, %v", v, err)
	}

	time.Sleep(window + 10*time.Millisecond)
	reads, lookups := src.reads.Load(), f.store.Lookups()
	headers := make([]string, 64)
	for i := range headers {
		headers[i] = basic(mustGenerate(t).Value())
	}
	var wg sync.WaitGroup
	start := make(chan struct{}) // the misses arrive together, not as fast as they are made
	for _, h := range headers {
		wg.Go(func() {
			<-start
			if v, err := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{}); v.Reason != keywarden.ReasonUnknownKey || err != nil {
				t.Errorf("behind the window, an unknown ID: %+v, %v", v, err)
			}
		})
	}
	close(start)
	wg.Wait()
	// One read for the misses that arrived before it started, at most one
	// more for those that arrived during it. A miss counts as arrived when
	// it found the cache behind: one descheduled before it asked for a
	// read still shares the second (CI once saw a third read when the
	// arrival was timed from that later moment).
	if n := src.reads.Load() - reads; n < 1 || n > 2 {
		t.Errorf("64 concurrent misses behind the window made %d log reads, want 1 or 2", n)
	}
	if n := f.store.Lookups() - lookups; n != 0 {
		t.Errorf("%d key lookups for unknown IDs, want 0: the log answers for them", n)
	}
}

// TestHotTierIsBoundedAndEveryKeyStaysKnown: with more keys in use than
// HotSize, keys leave the hot tier but not the cache: each still verifies
// (read whole again at its next use), and unknown IDs and wrong secrets
// still cost no lookup.
func TestHotTierIsBoundedAndEveryKeyStaysKnown(t *testing.T) {
	f := newFixture(t, cache.Config{})
	var headers []string
	for range 5 {
		_, h := f.key(t, "", time.Hour)
		headers = append(headers, h)
	}
	c := cache.New(f.store, cache.Config{HotSize: 2, Now: func() time.Time { return f.now }})
	if err := c.Watch(context.Background(), time.Hour, nil, func(error) {}); err != nil {
		t.Fatal(err)
	}
	verifier := &keywarden.Verifier{Keys: c, Processes: c, Now: func() time.Time { return f.now }}
	verify := func(h string) keywarden.Verification {
		v, err := verifier.VerifyAuthorization(context.Background(), h, keywarden.Requirement{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := f.store.Lookups()
	for round := range 3 {
		for _, h := range headers {
			if v := verify(h); v.Code != keywarden.VerifyValid {
				t.Fatalf("round %d: %+v", round, v)
			}
		}
	}
	if n := f.store.Lookups() - before; n < len(headers) || n > 3*len(headers) {
		t.Fatalf("%d lookups for 3 rounds of %d keys", n, len(headers))
	}
	if c.Len() != len(headers) {
		t.Fatalf("%d keys cached, want %d", c.Len(), len(headers))
	}
	before = f.store.Lookups()
	for _, h := range headers {
		if v := verify(wrongSecret(t, h)); v.Reason != keywarden.ReasonWrongSecret {
			t.Fatalf("wrong secret: %+v", v)
		}
		if v := verify(basic(mustGenerate(t).Value())); v.Reason != keywarden.ReasonUnknownKey {
			t.Fatalf("unknown ID: %+v", v)
		}
	}
	if n := f.store.Lookups() - before; n != 0 {
		t.Fatalf("%d lookups for wrong secrets and unknown IDs, want 0", n)
	}
}

// TestAKeyNotYetUsedKeepsItsPreviousSecret: a key loaded but not yet used
// answers with both hashes of a rotation's overlap, so that its previous
// secret is recognized before the rest of the key is read.
func TestAKeyNotYetUsedKeepsItsPreviousSecret(t *testing.T) {
	c := cache.New(nil, cache.Config{MaxStaleness: time.Hour, PropagationWindow: time.Hour})
	k := syntheticKey(1)
	k.PreviousSecretHash, k.PreviousSecretExpiresAt = keywarden.HashSecret("before"), time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	cache.Load(c, k)
	cache.MarkSynced(c)
	rec, found, err := c.LookupKey(context.Background(), []byte(k.User))
	if err != nil || !found || !rec.Partial || rec.Hash != k.SecretHash || rec.Key.OrgID != k.OrgID ||
		rec.PreviousHash != k.PreviousSecretHash || !rec.PreviousUntil.Equal(k.PreviousSecretExpiresAt) {
		t.Fatalf("%+v %v %v", rec, found, err)
	}
}
