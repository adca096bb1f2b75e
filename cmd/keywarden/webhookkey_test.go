package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/secretbox"
	"github.com/keywarden/keywarden/internal/testenv"
)

// mustKeyLine returns a webhook secret key line of one new key.
func mustKeyLine(t *testing.T) string {
	t.Helper()
	k, err := secretbox.GenerateKey("2026-03")
	if err != nil {
		t.Fatal(err)
	}
	return secretbox.Format([]secretbox.Key{k})
}

// TestServeWebhookSecretKey: the key line comes from --webhook-secret-key
// or a file (--webhook-secret-key-file), never both; a line that does not
// parse stops the server with a usage error that shows no key; with a
// key, webhooks are created, and --webhook-allow-private decides whether
// a loopback URL may be one.
func TestServeWebhookSecretKey(t *testing.T) {
	line := mustKeyLine(t)
	_, b64, _ := strings.Cut(line, ":")
	file := writeFile(t, "webhook-secret-key", line+"\n")
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		usage bool
		says  string
	}{
		{"both", []string{"--webhook-secret-key", line, "--webhook-secret-key-file", file}, nil, true,
			"--webhook-secret-key and --webhook-secret-key-file are both set"},
		{"both, one from the environment", []string{"--webhook-secret-key-file", file}, map[string]string{"KEYWARDEN_WEBHOOK_SECRET_KEY": line}, true,
			"KEYWARDEN_WEBHOOK_SECRET_KEY and --webhook-secret-key-file are both set"},
		{"a short key", []string{"--webhook-secret-key", "k1:" + b64[:20]}, nil, true, "--webhook-secret-key: secretbox: key 1 (\"k1\")"},
		{"a file of a bad line", []string{"--webhook-secret-key-file", writeFile(t, "bad", "k1:"+b64+",k1:"+b64+"\n")}, nil, true,
			"--webhook-secret-key-file: secretbox:"},
		{"a missing file", []string{"--webhook-secret-key-file", filepath.Join(t.TempDir(), "nothing")}, nil, false, "no such file"},
		{"an empty file", []string{"--webhook-secret-key-file", writeFile(t, "empty", "\n")}, nil, false, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &testenv.SyncBuffer{}
			a := &app{getenv: func(k string) string { return tc.env[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, now: newFakeClock().Now}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := a.run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...))
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("serve %v: %v (usage error: %v), want an error saying %q (usage error: %v)", tc.args, err, errors.Is(err, errUsage), tc.says, tc.usage)
			}
			if err != nil && (strings.Contains(err.Error(), b64) || strings.Contains(err.Error(), b64[:20]) || strings.Contains(log.String(), b64[:20])) {
				t.Errorf("the error or the log shows the key: %v\n%s", err, log)
			}
			if strings.Contains(log.String(), "msg=listening") {
				t.Errorf("serve listened despite the error:\n%s", log)
			}
		})
	}

	create := func(url string) map[string]any {
		return map[string]any{"url": url, "events": []string{"api_key.created"}}
	}
	t.Run("with a key from its file, webhooks are created", func(t *testing.T) {
		clock, dir := newFakeClock(), t.TempDir()
		_, root := setupOrg(t, clock, dir, "Acme")
		srv := startServer(t, clock, dir, "--webhook-secret-key-file", file)
		got := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", create("https://93.184.216.34/hook")), http.StatusCreated).JSON(t)
		if s, _ := got["secret"].(string); !strings.HasPrefix(s, "whsec_") {
			t.Errorf("created %v, want its secret", got)
		}
		want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", create("http://127.0.0.1:9/hook")), http.StatusBadRequest)
		if !strings.Contains(srv.Log.String(), "current_key_id=2026-03") || strings.Contains(srv.Log.String(), b64[:20]) {
			t.Errorf("the log does not name the key's ID, or shows the key:\n%s", srv.Log)
		}
	})
	t.Run("with --webhook-allow-private, a loopback URL is one", func(t *testing.T) {
		clock, dir := newFakeClock(), t.TempDir()
		_, root := setupOrg(t, clock, dir, "Acme")
		srv := startServer(t, clock, dir, "--webhook-secret-key", line, "--webhook-allow-private")
		want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", create("http://127.0.0.1:9/hook")), http.StatusCreated)
	})
	t.Run("without a key, creating one is 503", func(t *testing.T) {
		clock, dir := newFakeClock(), t.TempDir()
		_, root := setupOrg(t, clock, dir, "Acme")
		srv := startServer(t, clock, dir)
		r := want(t, srv.do(t, basic(root), "POST", "/api/v1/admin/webhooks", create("https://93.184.216.34/hook")), http.StatusServiceUnavailable)
		if !strings.Contains(string(r.Body), "--webhook-secret-key") {
			t.Errorf("the 503 does not say what is missing: %s", r.Body)
		}
	})
}
