package middleware

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

func TestCacheStaysBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k := func(i int) cacheKey { return newCacheKey("key", string(rune('a'+i)), []string{"a.b:c"}) }
	v := verdict{code: keywarden.VerifyInvalid}

	t.Run("full of live entries, it starts over", func(t *testing.T) {
		c := newCache(3)
		for i := range 3 {
			c.put(k(i), v, now.Add(time.Minute), now)
		}
		c.put(k(3), v, now.Add(time.Minute), now)
		if n := c.len(); n != 1 {
			t.Fatalf("%d entries, want 1 (cleared, then the new one)", n)
		}
		if _, ok := c.get(k(3), now); !ok {
			t.Fatal("the new entry is missing")
		}
	})
	t.Run("full with expired entries, it drops those first", func(t *testing.T) {
		c := newCache(3)
		c.put(k(0), v, now.Add(time.Second), now)
		c.put(k(1), v, now.Add(time.Minute), now)
		c.put(k(2), v, now.Add(time.Second), now)
		later := now.Add(2 * time.Second)
		c.put(k(3), v, later.Add(time.Minute), later)
		if n := c.len(); n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
		for _, i := range []int{1, 3} {
			if _, ok := c.get(k(i), later); !ok {
				t.Fatalf("live entry %d was dropped", i)
			}
		}
	})
	t.Run("replacing an entry of a full cache keeps the others", func(t *testing.T) {
		c := newCache(2)
		c.put(k(0), v, now.Add(time.Minute), now)
		c.put(k(1), v, now.Add(time.Minute), now)
		c.put(k(1), v, now.Add(2*time.Minute), now)
		if n := c.len(); n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
	})
	t.Run("an entry is good until its deadline, exclusive", func(t *testing.T) {
		c := newCache(2)
		c.put(k(0), v, now.Add(time.Second), now)
		if _, ok := c.get(k(0), now.Add(time.Second-1)); !ok {
			t.Fatal("missing before its deadline")
		}
		if _, ok := c.get(k(0), now.Add(time.Second)); ok {
			t.Fatal("served at its deadline")
		}
		c.put(k(1), v, now, now)
		if c.len() != 0 {
			t.Fatal("an entry already expired was stored")
		}
	})
}

func TestCacheKeySeparatesItsParts(t *testing.T) {
	a := newCacheKey("k", "p\x00", []string{"a.b:c"})
	b := newCacheKey("k", "p", []string{"\x00a.b:c"})
	c := newCacheKey("k", "", []string{"p", "a.b:c"})
	if a == b || a == c || b == c {
		t.Fatal("different requirements share a cache key")
	}
}

// staticVerifier answers VALID for every key.
type staticVerifier struct{ id api.VerifiedKey }

func (s staticVerifier) Verify(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error) {
	id := s.id
	id.ProcessID = req.ProcessID
	return &api.VerifyResponse{Valid: true, Code: keywarden.VerifyValid, Key: &id}, nil
}

// The cache must not hold the keys it has seen, in any form a heap dump or
// a debugger would show: not as a string, not as bytes.
func TestCacheHoldsNoSecret(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g, err := New(Config{Client: staticVerifier{api.VerifiedKey{ID: "id", User: "kwo_x", Scopes: []keywarden.Scope{"workspace.file:upload"},
		Exp: now.Add(time.Hour).Format(time.RFC3339)}}, CacheTTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h := g.RequireInProcess("processId", "workspace.file:upload")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var secrets []string
	for range 5 {
		km, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, km.Pass())
		r := httptest.NewRequest("POST", "/v1/processes/p1/files", nil)
		r.SetPathValue("processId", "p1")
		r.Header.Set("Authorization", "Bearer "+km.Value())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if n := g.cache.len(); n != 5 {
		t.Fatalf("%d cache entries, want 5", n)
	}
	seen := map[uintptr]bool{}
	var visit func(v reflect.Value)
	visit = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			for _, s := range secrets {
				if strings.Contains(v.String(), s) {
					t.Fatalf("the middleware holds a string with a secret: %q", v.String())
				}
			}
		case reflect.Array, reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				b := make([]byte, v.Len())
				for i := range b {
					b[i] = byte(v.Index(i).Uint())
				}
				for _, s := range secrets {
					if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(s[:16])) {
						t.Fatalf("the middleware holds bytes of a secret")
					}
				}
				return
			}
			for i := range v.Len() {
				visit(v.Index(i))
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				visit(it.Key())
				visit(it.Value())
			}
		case reflect.Pointer:
			if !v.IsNil() && !seen[v.Pointer()] {
				seen[v.Pointer()] = true
				visit(v.Elem())
			}
		case reflect.Interface:
			if !v.IsNil() {
				visit(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				visit(v.Field(i))
			}
		}
	}
	visit(reflect.ValueOf(g))
}
