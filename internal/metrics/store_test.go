package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/metrics"
)

// fakeStore answers the few methods these tests call; any other method
// panics on the nil embedded Store.
type fakeStore struct {
	keywarden.Store
	key           *keywarden.APIKey
	keys          []*keywarden.APIKey
	err           error
	pings, closes int
}

func (s *fakeStore) FindAPIKeyByUser(ctx context.Context, user string) (*keywarden.APIKey, error) {
	return s.key, s.err
}

func (s *fakeStore) FindAPIKeys(ctx context.Context, f keywarden.APIKeyFilter) ([]*keywarden.APIKey, int, error) {
	return s.keys, 17, s.err
}

func (s *fakeStore) Ping(ctx context.Context) error { s.pings++; return s.err }

func (s *fakeStore) Close() error { s.closes++; return s.err }

func TestWrapStore(t *testing.T) {
	ctx := context.Background()

	t.Run("passes results through and counts", func(t *testing.T) {
		m := metrics.New()
		fake := &fakeStore{key: &keywarden.APIKey{ID: "k1"}, keys: []*keywarden.APIKey{{ID: "k2"}}}
		s := m.WrapStore(fake)

		k, err := s.FindAPIKeyByUser(ctx, "u")
		if err != nil || k != fake.key {
			t.Fatalf("FindAPIKeyByUser = %v, %v; want the inner store's key", k, err)
		}
		keys, total, err := s.FindAPIKeys(ctx, keywarden.APIKeyFilter{})
		if err != nil || total != 17 || len(keys) != 1 || keys[0] != fake.keys[0] {
			t.Fatalf("FindAPIKeys = %v, %d, %v; want the inner store's page", keys, total, err)
		}
		if _, err := s.FindAPIKeyByUser(ctx, "u"); err != nil {
			t.Fatal(err)
		}

		if got := m.StoreQueries(); got != 3 {
			t.Errorf("StoreQueries() = %v, want 3", got)
		}
		assertLines(t, MustScrape(t, m),
			`keywarden_store_queries_total{op="FindAPIKeyByUser"} 2`,
			`keywarden_store_queries_total{op="FindAPIKeys"} 1`,
			`keywarden_store_query_duration_seconds_count{op="FindAPIKeyByUser"} 2`,
			`keywarden_store_errors_total{op="FindAPIKeyByUser"} 0`,
		)
	})

	for _, tc := range []struct {
		name       string
		err        error
		wantErrors int
	}{
		{"not found passes through uncounted as an error", keywarden.Errorf(keywarden.ENOTFOUND, "API key not found."), 0},
		{"internal error passes through and counts", keywarden.Errorf(keywarden.EINTERNAL, "disk on fire"), 1},
		{"wrapped conflict passes through and counts", fmt.Errorf("insert: %w", keywarden.Errorf(keywarden.ECONFLICT, "Taken.")), 1},
		{"driver error passes through and counts", errors.New("database is locked"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			s := m.WrapStore(&fakeStore{err: tc.err})
			if _, err := s.FindAPIKeyByUser(ctx, "u"); err != tc.err {
				t.Fatalf("err = %#v, want the inner store's %#v unchanged", err, tc.err)
			}
			assertLines(t, MustScrape(t, m),
				`keywarden_store_queries_total{op="FindAPIKeyByUser"} 1`,
				fmt.Sprintf(`keywarden_store_errors_total{op="FindAPIKeyByUser"} %d`, tc.wantErrors),
			)
		})
	}

	t.Run("Ping and Close are forwarded unmeasured", func(t *testing.T) {
		m := metrics.New()
		fake := &fakeStore{}
		s := m.WrapStore(fake)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if fake.pings != 1 || fake.closes != 1 {
			t.Errorf("inner saw %d pings and %d closes, want 1 and 1", fake.pings, fake.closes)
		}
		if got := m.StoreQueries(); got != 0 {
			t.Errorf("StoreQueries() = %v, want 0", got)
		}
		body := MustScrape(t, m)
		for _, op := range []string{"Ping", "Close"} {
			if strings.Contains(body, `op="`+op+`"`) {
				t.Errorf("scrape has a series for %s", op)
			}
		}
	})

	// Every method of the interface must count under its own name, so a
	// copy-pasted wrapper recording "FindAPIKeys" for FindAPIKey fails here.
	// The inner store implements nothing, so each call panics inside the
	// wrapper; the wrapper records the query in a deferred call, which runs
	// during the panic, and that lets one loop reach every method.
	t.Run("every method counts under its own name", func(t *testing.T) {
		m := metrics.New()
		s := reflect.ValueOf(m.WrapStore(&fakeStore{}))
		storeType := reflect.TypeFor[keywarden.Store]()
		var want []string
		measured := 0
		for i := range storeType.NumMethod() {
			method := storeType.Method(i)
			if method.Name == "Ping" || method.Name == "Close" {
				continue
			}
			measured++
			want = append(want, fmt.Sprintf(`keywarden_store_queries_total{op=%q} 1`, method.Name))
			args := make([]reflect.Value, method.Type.NumIn())
			for j := range args {
				args[j] = reflect.Zero(method.Type.In(j))
			}
			args[0] = reflect.ValueOf(ctx)
			func() {
				defer func() { _ = recover() }()
				s.MethodByName(method.Name).Call(args)
			}()
		}
		if measured < 30 {
			t.Fatalf("only %d Store methods found", measured)
		}
		if got := m.StoreQueries(); got != float64(measured) {
			t.Errorf("StoreQueries() = %v, want %d", got, measured)
		}
		assertLines(t, MustScrape(t, m), want...)
	})
}

func BenchmarkWrapStore(b *testing.B) {
	ctx := context.Background()
	s := metrics.New().WrapStore(&fakeStore{key: &keywarden.APIKey{}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.FindAPIKeyByUser(ctx, "u"); err != nil {
			b.Fatal(err)
		}
	}
}
