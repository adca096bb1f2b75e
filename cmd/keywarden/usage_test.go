package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlite"
)

// TestKeyUsageIsWrittenOffTheRequestPath: 500 requests with a key write
// nothing to the database while they are served (no flush is due yet);
// a graceful shutdown then writes all of it, in one flush: the key's last
// use and its 500 successes, there when the database is opened again.
func TestKeyUsageIsWrittenOffTheRequestPath(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir, "--usage-flush-interval", "1h")
	created := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock)
	key, id := created["key"].(string), created["id"].(string)
	clock.Advance(17 * time.Minute)
	const requests = 500
	for range requests {
		want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
	}
	page := string(want(t, srv.do(t, nil, "GET", "/metrics", nil), http.StatusOK).Body)
	if n := metric(t, page, `keywarden_store_queries_total{op="RecordKeyUsage"}`); n != 0 {
		t.Errorf("%v usage writes while %d requests were served, want 0 before the flush", n, requests)
	}
	if !strings.Contains(page, `keywarden_store_queries_total{op="RecordKeyUsage"} 0`) {
		t.Errorf("the metrics have no series of usage writes:\n%s", page)
	}
	if k := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys/"+id, nil), http.StatusOK).JSON(t); k["lastUsedAt"] != nil {
		t.Errorf("the last use is shown before any flush: %v", k)
	}
	usedAt := clock.Now()
	srv.Stop(t)

	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "keywarden.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, err := db.FindAPIKey(ctx, orgID, id)
	if err != nil {
		t.Fatal(err)
	}
	if !k.LastUsedAt.Equal(usedAt) || k.LastUsedFrom != "127.0.0.1" {
		t.Errorf("after shutdown the key was last used at %v from %q, want %v from 127.0.0.1", k.LastUsedAt, k.LastUsedFrom, usedAt)
	}
	hour := usedAt.Truncate(time.Hour)
	counts, err := db.FindKeyUsage(ctx, orgID, id, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Succeeded != requests || counts[0].Failed != 0 || !counts[0].Hour.Equal(hour) {
		t.Errorf("after shutdown the key's usage is %+v, want %d successes at %v", counts, requests, hour)
	}
}

// TestLastUseShowsAfterAFlush: within one flush interval of a request, the
// key shows when it was last used and from where (the harness's client is
// 127.0.0.1), in the key and in the key list.
func TestLastUseShowsAfterAFlush(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir) // flushes every 50 ms
	procID := srv.createProcess(t, root, "Invoices")
	keys := "/api/v1/processes/" + procID + "/api-keys"
	created := srv.createKey(t, root, keys, []string{"workspace.process:read"}, clock)
	key, id := created["key"].(string), created["id"].(string)
	if created["lastUsedAt"] != nil || created["lastUsedFrom"] != nil {
		t.Fatalf("a new key shows a last use: %v", created)
	}
	clock.Advance(90 * time.Second)
	want(t, srv.do(t, basic(key), "GET", "/api/v1/processes/"+procID, nil), http.StatusOK)
	at := clock.Now().UTC().Format(time.RFC3339)
	eventually(t, "the key shows its last use", func() bool {
		k := want(t, srv.do(t, basic(root), "GET", keys+"/"+id, nil), http.StatusOK).JSON(t)
		return k["lastUsedAt"] == at && k["lastUsedFrom"] == "127.0.0.1"
	})
	list := want(t, srv.do(t, basic(root), "GET", keys, nil), http.StatusOK).JSON(t)["apiKeys"].([]any)
	if k := list[0].(map[string]any); k["lastUsedAt"] != at || k["lastUsedFrom"] != "127.0.0.1" {
		t.Errorf("the key list shows last used %v from %v, want %s from 127.0.0.1", k["lastUsedAt"], k["lastUsedFrom"], at)
	}
}

// TestKeyUsageCountsPerHour: the usage API counts a key's successful and
// failed (wrong secret) authentications per hour, across an hour
// boundary; a range narrows them; a bad range is a 400 naming the query
// parameter.
func TestKeyUsageCountsPerHour(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir() // 12:00 UTC
	_, root := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	created := srv.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.process:read"}, clock)
	key, id := created["key"].(string), created["id"].(string)
	km, err := keywarden.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := keywarden.KeyMaterial{User: km.User, Secret: other.Secret}.Value()
	use := func(succeed, fail int) {
		t.Helper()
		for range succeed {
			want(t, srv.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
		}
		for range fail {
			want(t, srv.do(t, basic(wrongSecret), "GET", "/api/v1/me", nil), http.StatusUnauthorized)
		}
	}
	clock.Advance(40 * time.Minute) // 12:40
	use(3, 2)
	clock.Advance(30 * time.Minute) // 13:10
	use(4, 1)
	// An unknown key ID counts for no key.
	want(t, srv.do(t, basic(other.Value()), "GET", "/api/v1/me", nil), http.StatusUnauthorized)

	path := "/api/v1/admin/api-keys/" + id + "/usage"
	wantUsage := `{"from":"2026-10-27T14:00:00Z","to":"2026-11-26T14:00:00Z","usage":[` +
		`{"hour":"2026-11-26T12:00:00Z","succeeded":3,"failed":2},{"hour":"2026-11-26T13:00:00Z","succeeded":4,"failed":1}]}`
	var got []byte
	eventually(t, "the usage API shows every request", func() bool {
		got = bytes.TrimSpace(want(t, srv.do(t, basic(root), "GET", path, nil), http.StatusOK).Body)
		return string(got) == wantUsage
	})
	got = bytes.TrimSpace(want(t, srv.do(t, basic(root), "GET", path+"?from=2026-11-26T12:30:00Z&to=2026-11-26T13:00:00Z", nil), http.StatusOK).Body)
	if w := `{"from":"2026-11-26T12:00:00Z","to":"2026-11-26T13:00:00Z","usage":[{"hour":"2026-11-26T12:00:00Z","succeeded":3,"failed":2}]}`; string(got) != w {
		t.Errorf("usage of 12:30 to 13:00 = %s, want %s", got, w)
	}

	for query, location := range map[string]string{
		"?from=noon":     "query: from",
		"?to=2026-11-26": "query: to",
		"?from=2026-11-26T13:00:00Z&to=2026-11-26T12:00:00Z":        "query: from",
		"?from=2026-08-01T00:00:00Z&to=2026-11-26T12:00:00Z":        "query: from",
		"?from=2026-11-26T13:00:00Z&to=2026-11-26T13:00:00%2B01:00": "query: from",
	} {
		r := want(t, srv.do(t, basic(root), "GET", path+query, nil), http.StatusBadRequest)
		errs, _ := r.JSON(t)["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["location"] != location {
			t.Errorf("GET %s: errors %v, want one at %q", query, errs, location)
		}
	}
}

// TestUsageFlushIntervalIsChecked: --usage-flush-interval must be positive
// and at most an hour.
func TestUsageFlushIntervalIsChecked(t *testing.T) {
	for _, v := range []string{"0s", "-1s", "2h"} {
		a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, now: newFakeClock().Now}
		err := a.run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--usage-flush-interval", v})
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "usage-flush-interval") {
			t.Errorf("--usage-flush-interval %s: %v, want a usage error naming the flag", v, err)
		}
	}
}

// TestCacheSizesAreChecked: --cache-size must be between 1 and
// cache.MaxSize, --cache-hot-size positive.
func TestCacheSizesAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--cache-size", "0"}, {"--cache-size", "-1"}, {"--cache-size", "33554431"},
		{"--cache-hot-size", "0"}, {"--cache-hot-size", "-5"},
	} {
		a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, now: newFakeClock().Now}
		err := a.run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...))
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: %v, want a usage error naming the flag", args, err)
		}
	}
}
