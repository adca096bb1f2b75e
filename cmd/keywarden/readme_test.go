package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
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

// The README's table of environment variables lies between these lines.
const (
	envTableStart = "<!-- The table of variables is generated from the flags: KEYWARDEN_UPDATE_README=1 go test -run TestREADMEEnvironmentTable ./cmd/keywarden -->\n"
	envTableEnd   = "<!-- end of the table of variables -->\n"
)

var helpDefaultRE = regexp.MustCompile(` \(default (.*)\)$`)

// envTable renders, from every command's help, the table of the variables
// the flags read: one row per variable, with its flag, the commands that
// take it, and its default.
func envTable(t *testing.T) string {
	t.Helper()
	type row struct {
		flag, def string
		commands  []string
	}
	rows := map[string]*row{}
	for _, c := range commands() {
		for _, f := range commandHelp(t, c.name) {
			if f.env == "" {
				continue
			}
			r := rows[f.env]
			if r == nil {
				r = &row{flag: "--" + f.name}
				if m := helpDefaultRE.FindStringSubmatch(f.usage); m != nil {
					r.def = "`" + strings.Trim(m[1], `"`) + "`"
				}
				rows[f.env] = r
			}
			r.commands = append(r.commands, c.name)
		}
	}
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | Commands |\n|---|---|---|---|\n")
	for _, env := range slices.Sorted(maps.Keys(rows)) {
		r := rows[env]
		cmds := "every command but `version`"
		if len(r.commands) < len(commands()) {
			cmds = "`" + strings.Join(r.commands, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", env, r.flag, r.def, cmds)
	}
	return b.String()
}

// TestREADMEEnvironmentTable: the README's table of environment variables
// is the one the flags make, so that it lists every variable and no other.
// KEYWARDEN_UPDATE_README=1 rewrites it.
func TestREADMEEnvironmentTable(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(readme), envTableStart)
	table, after, closed := strings.Cut(rest, envTableEnd)
	if !ok || !closed {
		t.Fatalf("the README has no table of variables between %q and %q", envTableStart, envTableEnd)
	}
	want := envTable(t)
	if table == want {
		return
	}
	if os.Getenv("KEYWARDEN_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(before+envTableStart+want+envTableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's table of environment variables is not the flags': run KEYWARDEN_UPDATE_README=1 go test -run TestREADMEEnvironmentTable ./cmd/keywarden\nwant:\n%s", want)
}

// TestREADMEListsEveryCommand: the README's synopsis of the command line
// names every command, so that a new one is documented.
func TestREADMEListsEveryCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(readme), "## Command line\n\n```\n")
	block, _, ok := strings.Cut(after, "\n```")
	if !ok {
		t.Fatal("the README has no synopsis of the command line")
	}
	synopsis := regexp.MustCompile(` +`).ReplaceAllString(block, " ")
	for _, c := range commands() {
		if !strings.Contains(synopsis, "keywarden "+c.name+" ") {
			t.Errorf("the README's synopsis of the command line has no %q", "keywarden "+c.name)
		}
	}
}
