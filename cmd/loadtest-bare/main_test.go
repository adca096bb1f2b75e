package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlite"
)

// A mirror answers with the recorded status, headers and body, and net/http
// writes Date and Content-Length anew.
func TestAnswerReplaysTheRecordedResponse(t *testing.T) {
	recorded := "HTTP/1.1 401 Unauthorized\r\n" +
		"Cache-Control: no-store\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"Www-Authenticate: Basic realm=\"keywarden\"\r\n" +
		"Date: Thu, 03 Dec 2026 18:24:29 GMT\r\n" +
		"Content-Length: 14\r\n" +
		"\r\n" +
		`{"status":401}`
	a, err := parseAnswer([]byte(recorded))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	for range 2 { // the same answer every time
		resp, err := http.Post(srv.URL+"/api/v1/me", "application/json", strings.NewReader(`{"key":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(body) != `{"status":401}` {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		for k, want := range map[string]string{"Cache-Control": "no-store", "Content-Type": "application/problem+json",
			"Www-Authenticate": `Basic realm="keywarden"`, "Content-Length": "14"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		if d := resp.Header.Get("Date"); d == "" || d == "Thu, 03 Dec 2026 18:24:29 GMT" {
			t.Errorf("Date %q: net/http's own, not the recorded one", d)
		}
	}
}

func TestAnswerRefusesWhatIsNoResponse(t *testing.T) {
	if _, err := parseAnswer([]byte("GET / HTTP/1.1\r\n\r\n")); err == nil {
		t.Fatal("a request parsed as an answer")
	}
}

// floorKeys makes a data directory whose database holds one key, km (of
// organization floorOrg, with ID keyID), and returns it with another
// well-formed key that it does not hold.
func floorKeys(t *testing.T) (dir, keyID string, km, other keywarden.KeyMaterial) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "keywarden.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	org := &keywarden.Organization{ID: floorOrg, Name: "Floor", MaxKeyLifetime: 90 * 24 * time.Hour, CreatedAt: now}
	owner := &keywarden.User{ID: strings.Repeat("b", 32), Email: "owner@floor.invalid", PasswordHash: "x", CreatedAt: now}
	if err := db.CreateOrganization(ctx, org, owner, nil); err != nil {
		t.Fatal(err)
	}
	k, km, err := keywarden.MintAPIKey(keywarden.CreateAPIKeyRequest{Name: "floor", Scopes: []string{"workspace.file:upload"},
		Exp: now.Add(24 * time.Hour).Format(time.RFC3339)}, keywarden.MintParams{
		Org: org, Catalogue: keywarden.MustDefaultCatalogue(), Now: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	other, err = keywarden.GenerateKey(rand.Reader, keywarden.DefaultOrgKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return dir, k.ID, km, other
}

var floorOrg = strings.Repeat("a", 32)

// A floor answers the recorded answer only to a key Keywarden's key check
// accepts, read from the data directory's database, and a bare 401 (or,
// with -refusal, the recorded refusal) to anything else: an unknown key, a
// wrong secret, no key.
func TestFloorChecksTheKeyFirst(t *testing.T) {
	ctx := context.Background()
	dir, _, km, other := floorKeys(t)
	a, err := parseAnswer([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := verifier(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	refusal, err := parseAnswer([]byte("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/problem+json\r\nContent-Length: 14\r\n\r\n{\"status\":401}"))
	if err != nil {
		t.Fatal(err)
	}
	// Without -refusal a refused key gets a bare 401; with it, the
	// recorded refusal.
	for _, refused := range []struct {
		handler http.Handler
		body    string
	}{{nil, ""}, {refusal, `{"status":401}`}} {
		srv := httptest.NewServer(&keyCheck{v: v, next: a, refused: refused.handler})
		for _, tt := range []struct {
			name, authorization string
			status              int
		}{
			{"the stored key", basic(km.Value()), 200},
			{"its ID with another secret", basic(keywarden.KeyMaterial{User: km.User, Secret: other.Secret}.Value()), 401},
			{"an unknown key", basic(other.Value()), 401},
			{"no key", "", 401},
		} {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := "{}"
			if tt.status == 401 {
				want = refused.body
			}
			if resp.StatusCode != tt.status || string(body) != want {
				t.Errorf("%s (refusal %q): %d %q, want %d %q", tt.name, refused.body, resp.StatusCode, body, tt.status, want)
			}
		}
		srv.Close()
	}
}

func basic(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key)) }
