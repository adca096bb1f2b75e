package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestMain says, at the end, how many tests skipped for want of PostgreSQL.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// pgSchema creates a fresh schema on the test PostgreSQL server
// (KEYWARDEN_TEST_POSTGRES_URL) and returns a database URL that uses it,
// and a connection for inspecting it. The schema is dropped when the test
// ends.
func pgSchema(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	base := testenv.PostgresURL(t, "the multi-node tests need PostgreSQL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.SkipOrFail(t, "PostgreSQL at KEYWARDEN_TEST_POSTGRES_URL is unreachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "kw_e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	if _, err := conn.Exec(ctx, "SET search_path TO "+schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), conn
}

// startNodes starts n "keywarden serve" nodes on one database, with flags.
func startNodes(t *testing.T, clock *fakeClock, dbURL string, n int, flags ...string) []*testServer {
	t.Helper()
	nodes := make([]*testServer, n)
	for i := range nodes {
		nodes[i] = startServer(t, clock, t.TempDir(), append([]string{"--database-url", dbURL}, flags...)...)
	}
	return nodes
}

// TestPostgresNodesShareKeysAndDeletions: a key created on one node works on
// the other at its first use, sent the moment the creation is answered (the
// creation waits out the propagation window, which these nodes shorten to
// keep the test short); deleted on the other, it fails on the first — and
// we measure how long that takes, from the DELETE's 204 to the first 401.
func TestPostgresNodesShareKeysAndDeletions(t *testing.T) {
	dbURL, _ := pgSchema(t)
	clock := newFakeClock()
	dir := t.TempDir()
	_, root := setupOrgWith(t, clock, dir, "Acme", "--database-url", dbURL)
	const window = 150 * time.Millisecond
	nodes := startNodes(t, clock, dbURL, 2, "--cache-poll", "100ms", "--cache-propagation-window", window.String())
	a, b := nodes[0], nodes[1]
	waitLog(t, a, "driver=postgres", 1)
	if strings.Contains(a.Log.String(), "password") {
		t.Error("the start-up log shows a password")
	}

	const reps = 40
	var delays, creations []time.Duration
	for i := 0; i < reps; i++ {
		asked := time.Now()
		k := a.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
		creations = append(creations, time.Since(asked))
		key := k["key"].(string)
		// B holds every key in memory and has read the change log within
		// the window the creation waited out: no false negative.
		if r := b.do(t, basic(key), "GET", "/api/v1/me", nil); r.Status != http.StatusOK {
			t.Fatalf("repetition %d: a key created on node A was refused by node B at its first use: %d", i, r.Status)
		}
		want(t, a.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK) // cached on A now
		want(t, b.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNoContent)
		deleted := time.Now()
		for a.do(t, basic(key), "GET", "/api/v1/me", nil).Status != http.StatusUnauthorized {
			if time.Since(deleted) > 5*time.Second {
				t.Fatalf("repetition %d: node A still accepts a key deleted on node B after 5s", i)
			}
			time.Sleep(time.Millisecond)
		}
		delays = append(delays, time.Since(deleted))
	}
	slices.Sort(delays)
	slices.Sort(creations)
	t.Logf("deletion on node B to first 401 on node A, %d repetitions: p50 %v, p99 %v, max %v",
		reps, delays[reps/2], delays[reps*99/100], delays[reps-1])
	t.Logf("creation on node A, answered after the %v window, %d repetitions: p50 %v, p99 %v, max %v",
		window, reps, creations[reps/2], creations[reps*99/100], creations[reps-1])
	if creations[0] < window {
		t.Errorf("a creation was answered in %v, before the propagation window (%v) had passed", creations[0], window)
	}
}

// TestPostgresListenerLoss: with its listening connection killed, a node
// still drops deleted keys within the poll bound, and listens again.
func TestPostgresListenerLoss(t *testing.T) {
	dbURL, conn := pgSchema(t)
	clock := newFakeClock()
	_, root := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	// Node A names its connections, so that the test kills its listener only.
	nameA := "kw-node-a-" + strings.TrimPrefix(schemaOf(t, dbURL), "kw_e2e_")
	a := startServer(t, clock, t.TempDir(), "--database-url", withParam(t, dbURL, "application_name", nameA))
	b := startServer(t, clock, t.TempDir(), "--database-url", dbURL)
	waitLog(t, a, "key change notifications: listening", 1)

	ctx := context.Background()
	tag, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, nameA+"-listener")
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("terminate the listeners: %v (%d)", err, tag.RowsAffected())
	}
	k := a.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
	key := k["key"].(string)
	want(t, a.do(t, basic(key), "GET", "/api/v1/me", nil), http.StatusOK)
	want(t, b.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNoContent)
	deleted := time.Now()
	for a.do(t, basic(key), "GET", "/api/v1/me", nil).Status != http.StatusUnauthorized {
		if time.Since(deleted) > 2*time.Second { // the bound is --cache-poll, 250 ms
			t.Fatal("without its listener, node A accepted a deleted key for more than 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("without a listener: deletion seen after %v", time.Since(deleted))
	waitLog(t, a, "key change notifications: listening", 2) // reconnected
}

func schemaOf(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

func withParam(t *testing.T, dbURL, name, value string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// waitLog waits until the node's log has at least n lines containing s.
func waitLog(t *testing.T, s *testServer, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countLines(s.Log.String(), line) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log has fewer than %d lines with %q:\n%s", n, line, s.Log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countLines(log, s string) int { return strings.Count(log, s) }

// TestPostgresConcurrentStartMigratesOnce: nodes starting together on an
// empty database migrate it once and all serve.
func TestPostgresConcurrentStartMigratesOnce(t *testing.T) {
	dbURL, conn := pgSchema(t)
	clock := newFakeClock()
	const n = 4
	nodes := make([]*testServer, n)
	for i := range nodes { // all start at once, then we wait for each
		nodes[i] = launchServer(t, clock, t.TempDir(), "--database-url", dbURL)
	}
	for _, node := range nodes {
		node.waitListening(t)
	}
	for _, node := range nodes {
		want(t, node.do(t, nil, "GET", "/readyz", nil), http.StatusOK)
	}
	rows, err := conn.Query(context.Background(), `SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	versions := 0
	for rows.Next() {
		var v, count int64
		if err := rows.Scan(&v, &count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("migration %d applied %d times", v, count)
		}
		versions++
	}
	if versions == 0 {
		t.Fatal("no migration recorded")
	}
}
