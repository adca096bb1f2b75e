package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
	webhook "github.com/keywarden/keywarden/internal/webhook/send"
)

// TestPythonVerifiesWebhooks runs examples/python/verify_webhook.py, the
// Python snippet of docs/webhooks.md, on deliveries signed by the sender:
// it accepts a genuine one and refuses each kind of bad one.
func TestPythonVerifiesWebhooks(t *testing.T) {
	python := testenv.Program(t, "python3", "/usr/bin/python3", "python3")
	secret, old := []byte("whsec_py_new"), []byte("whsec_py_old")
	body := []byte(`{"id":"evt_1","type":"api_key.created","data":{"name":"CI upload"}}`)
	now := time.Now()
	for _, c := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		refuse string // "" when accepted
	}{
		{"a genuine delivery is accepted", secret, webhook.Sign([][]byte{secret}, now, body), body, ""},
		{"the old secret of a roll is accepted", old, webhook.Sign([][]byte{secret, old}, now, body), body, ""},
		{"a minute of skew is accepted", secret, webhook.Sign([][]byte{secret}, now.Add(-time.Minute), body), body, ""},
		{"a changed body is refused", secret, webhook.Sign([][]byte{secret}, now, body), append(bytes.Clone(body), ' '), "no signature matches"},
		{"another secret is refused", []byte("whsec_py_other"), webhook.Sign([][]byte{secret, old}, now, body), body, "no signature matches"},
		{"a replay is refused", secret, webhook.Sign([][]byte{secret}, now.Add(-10*time.Minute), body), body, "timestamp outside the tolerance"},
		{"a timestamp from the future is refused", secret, webhook.Sign([][]byte{secret}, now.Add(10*time.Minute), body), body, "timestamp outside the tolerance"},
		{"a forged signature is refused", secret, "t=" + strings.Split(webhook.Sign([][]byte{secret}, now, body), ",")[0][2:] + ",v1=" + strings.Repeat("0", 64), body, "no signature matches"},
		{"a non-ASCII signature is refused", secret, webhook.Sign(nil, now, body) + ",v1=é", body, "no signature matches"},
		{"a header without v1 is refused", secret, webhook.Sign(nil, now, body), body, "malformed"},
		{"a missing header is refused", secret, "", body, "malformed"},
		{"two timestamps are refused", secret, "t=1," + webhook.Sign([][]byte{secret}, now, body), body, "malformed timestamp"},
		{"a signed timestamp is refused", secret, strings.Replace(webhook.Sign([][]byte{secret}, now, body), "t=", "t=+", 1), body, "malformed timestamp"},
		{"an empty secret is refused", nil, webhook.Sign([][]byte{secret}, now, body), body, "empty secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, err := runVerifyWebhookScript(t, python, c.secret, c.header, c.body)
			if c.refuse == "" {
				if err != nil || stdout != "ok\n" {
					t.Fatalf("verify_webhook.py: %v, stdout %q, stderr %q; want ok", err, stdout, stderr)
				}
				return
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, c.refuse) || stdout != "" {
				t.Fatalf("verify_webhook.py: %v, stdout %q, stderr %q; want exit status 1 saying %q", err, stdout, stderr, c.refuse)
			}
		})
	}
}

// runVerifyWebhookScript runs examples/python/verify_webhook.py with body
// on standard input, in an environment of its own variables only.
func runVerifyWebhookScript(t *testing.T, python string, secret []byte, header string, body []byte) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, exampleFile(t, "python/verify_webhook.py"))
	cmd.Env = []string{"HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "KEYWARDEN_WEBHOOK_SECRET=" + string(secret), "KEYWARDEN_SIGNATURE=" + header}
	cmd.Stdin = bytes.NewReader(body)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestWebhookDocShowsThePythonExample: the Python snippet of
// docs/webhooks.md is examples/python/verify_webhook.py, which
// TestPythonVerifiesWebhooks runs, byte for byte.
func TestWebhookDocShowsThePythonExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(exampleFile(t, "python/verify_webhook.py"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(doc), "```python\n"); n != 1 {
		t.Fatalf("docs/webhooks.md has %d ```python blocks, want 1", n)
	}
	_, block, _ := strings.Cut(string(doc), "```python\n")
	block, _, closed := strings.Cut(block, "\n```")
	if !closed {
		t.Fatal("the ```python block of docs/webhooks.md is not closed")
	}
	if block != strings.TrimRight(string(example), "\n") {
		t.Error("the python block of docs/webhooks.md differs from examples/python/verify_webhook.py: copy the file into the document")
	}
}
