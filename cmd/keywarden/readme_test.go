package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestREADMEFirstKeyCommands runs the README's "Use it:" commands, as a
// new user pastes them, with real curl against a server, so that the first
// minute the README promises keeps working (JSON bodies need curl --json).
func TestREADMEFirstKeyCommands(t *testing.T) {
	curl := testenv.Program(t, "curl", "curl")
	bash := testenv.Program(t, "bash", "bash")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "Use it:\n\n```sh\n")
	block, _, closed := strings.Cut(after, "\n```")
	if !ok || !closed {
		t.Fatal("the README has no \"Use it:\" sh block")
	}
	clock, dir := newFakeClock(), t.TempDir()
	_, key := setupOrg(t, clock, dir, "Acme")
	srv := startServer(t, clock, dir)
	script := "set -eu\n" + strings.ReplaceAll(block, "http://127.0.0.1:8080", srv.URL)
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(os.Environ(), "KEY="+key, "PATH="+strings.TrimSuffix(curl, "/curl")+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"keyId"`) || !strings.Contains(string(out), `"key":"kwp_`) {
		t.Errorf("the README's commands did not print the caller and a new process key:\n%s", out)
	}
}
