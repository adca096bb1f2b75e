package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/password"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestHelpEverywhere: "help", -h and --help, of the program, of each group
// and of each command, print usage on standard output and succeed (exit
// status 0), as "help COMMAND SUBCOMMAND" does.
func TestHelpEverywhere(t *testing.T) {
	cases := [][]string{{"help"}, {"-h"}, {"--help"}, {"version", "--help"}}
	groups := map[string]bool{}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		cases = append(cases, append(words, "-h"), append(words, "--help"), append([]string{"help"}, words...))
		if len(words) == 2 && !groups[words[0]] {
			groups[words[0]] = true
			cases = append(cases, []string{words[0], "--help"}, []string{words[0], "-h"}, []string{words[0], "help"}, []string{"help", words[0]})
		}
	}
	for _, g := range []string{"orgs", "users", "processes", "keys"} {
		if !groups[g] {
			t.Errorf("no command of the group %q", g)
		}
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, noEnv, strings.NewReader(""), &stdout, &stderr)
			if err != nil {
				t.Fatalf("err = %v (exit status %d), want none", err, exitCode(err))
			}
			if !strings.HasPrefix(stdout.String(), "Usage: keywarden") && !strings.Contains(stdout.String(), "\nUsage:\n") {
				t.Errorf("stdout does not start with the usage:\n%s", stdout.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("help wrote to stderr:\n%s", stderr.String())
			}
		})
	}
}

// TestHelpNamesTheCommand: "help keys create" is "keys create --help",
// and lists the command's flags with their variables.
func TestHelpNamesTheCommand(t *testing.T) {
	var help, flagHelp bytes.Buffer
	if err := run(t.Context(), []string{"help", "keys", "create"}, noEnv, strings.NewReader(""), &help, &help); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"keys", "create", "--help"}, noEnv, strings.NewReader(""), &flagHelp, &flagHelp); err != nil {
		t.Fatal(err)
	}
	if help.String() != flagHelp.String() {
		t.Errorf("help keys create differs from keys create --help:\n%s\n---\n%s", help.String(), flagHelp.String())
	}
	for _, want := range []string{"Usage: keywarden keys create [flags]", "-org string", "(env KEYWARDEN_DATA_DIR)", "-json"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("keys create --help does not say %q:\n%s", want, help.String())
		}
	}
}

// TestUsageErrors: every command-line mistake is exit status 2 and one line
// in the command line's words, naming the command, never the API's.
func TestUsageErrors(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, _ := setupOrg(t, clock, dir, "Acme")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no command", "", nil, "keywarden: no command given"},
		{"unknown command", "", []string{"frobnicate"}, `keywarden: unknown command "frobnicate"; run "keywarden help"`},
		{"unknown help topic", "", []string{"help", "frobnicate"}, `keywarden: unknown command "frobnicate"; run "keywarden help"`},
		{"unknown subcommand", "", []string{"keys", "rename"}, `keywarden keys: unknown command "rename"; run "keywarden keys --help"`},
		{"no subcommand", "", []string{"processes"}, "keywarden processes: no subcommand given (want create, list, delete)"},
		{"unknown flag", "", []string{"keys", "list", "--org", "Acme", "--bogus"}, `keywarden keys list: unknown flag --bogus; run "keywarden keys list --help"`},
		{"flag without its value", "", []string{"keys", "list", "--org"}, `keywarden keys list: flag needs an argument: -org; run "keywarden keys list --help"`},
		{"bad integer", "", []string{"keys", "list", "--org", "Acme", "--limit", "many"}, `keywarden keys list: invalid value "many" for flag -limit: parse error; run "keywarden keys list --help"`},
		{"stray argument", "", []string{"orgs", "list", "Acme"}, `keywarden orgs list: unexpected argument "Acme"`},
		{"version argument", "", []string{"version", "now"}, `keywarden version: unexpected argument "now"`},
		{"missing flags", "", []string{"keys", "create"}, "keywarden keys create: --org, --name and --scopes are required"},
		{"missing name", "", []string{"keys", "create", "--org", "Acme", "--scopes", "all"}, "keywarden keys create: --name is required"},
		{"unknown scopes", "", []string{"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "workspace.process:read,workspace.file:shred"},
			`keywarden keys create: --scopes: unknown scope "workspace.file:shred"`},
		{"expiry beyond policy", "", []string{"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "all", "--expires", "400d"},
			"keywarden keys create: --expires is beyond the organization's maximum key lifetime of 365 days"},
		{"bad expiry", "", []string{"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "all", "--expires", "soon"},
			`keywarden keys create: --expires: "soon" is neither a number of days (90d) nor an RFC 3339 time`},
		{"keys list without --org", "", []string{"keys", "list"}, "keywarden keys list: --org is required"},
		{"limit beyond the API's", "", []string{"keys", "list", "--org", "Acme", "--limit", "101"}, "keywarden keys list: --limit 101: want 1 to 100"},
		{"negative offset", "", []string{"processes", "list", "--org", "Acme", "--offset", "-1"}, "keywarden processes list: --offset -1: want 0 or more"},
		{"keys delete without --id", "", []string{"keys", "delete", "--org", "Acme"}, "keywarden keys delete: --id is required"},
		{"processes create without a name", "", []string{"processes", "create", "--org", "Acme"}, "keywarden processes create: --name is required"},
		{"bad process type", "", []string{"processes", "create", "--org", "Acme", "--name", "Invoices", "--type", "Big Type"},
			"keywarden processes create: --type: must be 1–64 lower-case letters, digits, '-' or '_'"},
		{"users create without --email", "", []string{"users", "create", "--org", "Acme"}, "keywarden users create: --email is required"},
		{"bad role", "", []string{"users", "create", "--org", "Acme", "--email", "b@example.com", "--role", "boss"},
			`keywarden users create: --role "boss": want owner, admin or user`},
		{"bad email", "", []string{"users", "create", "--org", "Acme", "--email", "nobody"}, "keywarden users create: --email: "},
		{"new user without a password", "", []string{"users", "create", "--org", "Acme", "--email", "b@example.com"},
			"keywarden users create: --password-stdin is required for a new user: pipe their password to standard input"},
		{"short password", "short\n", []string{"users", "create", "--password-stdin", "--org", "Acme", "--email", "b@example.com"},
			"keywarden users create: the password on standard input: "},
		{"password of a user who has one", "correct horse battery staple\n", []string{"users", "create", "--password-stdin", "--org", orgID, "--email", "acme@example.com"},
			"keywarden users create: acme@example.com already has a login, which they keep: leave out --password-stdin"},
		{"orgs create without flags", "", []string{"orgs", "create"}, "keywarden orgs create: --name and --owner-email are required"},
		{"orgs create short password", "short\n", []string{"orgs", "create", "--name", "Initech", "--password-stdin", "--owner-email", "i@example.com"},
			"keywarden orgs create: the password on standard input: "},
		{"bad max key lifetime", "", []string{"orgs", "create", "--name", "Initech", "--owner-email", "i@example.com", "--password-stdin", "--max-key-lifetime", "1y"},
			`keywarden orgs create: --max-key-lifetime: "1y" is not a number of days from 1d to 3650d`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if len(tc.args) == 0 || strings.HasPrefix(tc.args[len(tc.args)-1], "-") { // as given: no --data-dir after them
				var out bytes.Buffer
				dataDir := func(k string) string { return map[string]string{"KEYWARDEN_DATA_DIR": dir}[k] }
				err = run(t.Context(), tc.args, dataDir, strings.NewReader(tc.stdin), &out, &out)
			} else {
				_, _, err = cli(t, clock, dir, tc.stdin, tc.args...)
			}
			if err == nil {
				t.Fatal("succeeded")
			}
			msg := describe(err)
			if exitCode(err) != 2 || !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "body:") {
				t.Errorf("exit status %d, message\n  %s\nwant exit status 2 and one line starting\n  %s", exitCode(err), msg, tc.want)
			}
		})
	}
	// A mistake is a mistake before anything is written.
	if list := mustCLI(t, clock, dir, "", "orgs", "list"); strings.Contains(list, "Initech") {
		t.Errorf("a refused orgs create created its organization:\n%s", list)
	}
}

// TestCommandLineProcessesUsersAndKeys drives the store commands end to
// end: a process made on the command line gets a process key, both list as
// the API lists them (same JSON, same page), a deletion asks or needs
// --yes, and every change is in the audit log as the command line's.
func TestCommandLineProcessesUsersAndKeys(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	orgID, root := setupOrg(t, clock, dir, "Acme")

	procID := strings.TrimSpace(mustCLI(t, clock, dir, "", "processes", "create", "--org", "Acme", "--name", "Invoices"))
	var proc map[string]any
	mustJSON(t, mustCLI(t, clock, dir, "", "processes", "create", "--org", orgID, "--name", "Receipts", "--type", "receipts", "--json"), &proc)
	if proc["name"] != "Receipts" || proc["processTypeId"] != "receipts" || proc["orgId"] != orgID {
		t.Errorf("processes create --json = %v", proc)
	}
	if out := mustCLI(t, clock, dir, "", "processes", "list", "--org", "Acme"); !strings.Contains(out, procID) || !strings.Contains(out, "Receipts") {
		t.Errorf("processes list:\n%s", out)
	}
	pkey := strings.TrimSpace(mustCLI(t, clock, dir, "", "keys", "create", "--org", "Acme", "--process", procID, "--name", "uploader", "--scopes", "workspace.process:read"))
	if !strings.HasPrefix(pkey, "kwp_") {
		t.Errorf("keys create --process printed %q, want a process key", pkey)
	}

	srv := startServer(t, clock, dir)
	// The root key's use is written in the background: wait for it, so
	// that both lists show it.
	eventually(t, "the root key's use is recorded", func() bool {
		r := want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/api-keys", nil), http.StatusOK)
		return !strings.Contains(string(r.Body), `"lastUsedAt":null`)
	})
	// --json is the API's JSON, page and all: the API's default limit.
	for _, tc := range []struct{ cli, api string }{
		{"processes list --org Acme --json", "/api/v1/processes"},
		{"keys list --org Acme --json", "/api/v1/admin/api-keys"},
		{"keys list --org Acme --process " + procID + " --json", "/api/v1/processes/" + procID + "/api-keys"},
		{"keys list --org Acme --json --limit 1 --offset 0", "/api/v1/admin/api-keys?limit=1&offset=0"},
	} {
		cliOut := strings.TrimSpace(mustCLI(t, clock, dir, "", strings.Fields(tc.cli)...))
		apiOut := strings.TrimSpace(string(want(t, srv.do(t, basic(root), "GET", tc.api, nil), http.StatusOK).Body))
		if cliOut != apiOut {
			t.Errorf("keywarden %s differs from GET %s:\ncli %s\napi %s", tc.cli, tc.api, cliOut, apiOut)
		}
	}
	var empty struct {
		APIKeys    []any `json:"apiKeys"`
		Pagination struct{ Offset, Limit, Total int }
	}
	mustJSON(t, mustCLI(t, clock, dir, "", "keys", "list", "--org", "Acme", "--process", procIDOf(t, proc), "--json"), &empty)
	if empty.APIKeys == nil || len(empty.APIKeys) != 0 || empty.Pagination.Limit != 20 || empty.Pagination.Total != 0 {
		t.Errorf("keys list --json of no keys = %+v, want [] and limit 20", empty)
	}

	// keys delete: without --yes it asks at a terminal, and refuses where
	// there is none to ask at.
	var list struct {
		APIKeys []struct{ ID, Name, User string }
	}
	mustJSON(t, mustCLI(t, clock, dir, "", "keys", "list", "--org", "Acme", "--process", procID, "--json"), &list)
	k := list.APIKeys[0]
	if _, _, err := cli(t, clock, dir, "y\n", "keys", "delete", "--org", "Acme", "--id", k.ID); exitCode(err) != 2 ||
		describe(err) != "keywarden keys delete: standard input is not a terminal to confirm at: add --yes to delete" {
		t.Errorf("keys delete without a terminal or --yes: %v (exit status %d)", err, exitCode(err))
	}
	_, errOut, err := terminalCLI(t, clock, dir, "n\n", "keys", "delete", "--org", "Acme", "--id", k.ID)
	if !errors.Is(err, errDeclined) || exitCode(err) != 1 || !strings.Contains(errOut, fmt.Sprintf("Delete key uploader (%s)? [y/N] ", k.User)) {
		t.Errorf("keys delete answered no: %v, stderr %q", err, errOut)
	}
	want(t, srv.do(t, basic(pkey), "GET", "/api/v1/processes/"+procID, nil), http.StatusOK)
	if _, _, err := terminalCLI(t, clock, dir, "y\n", "keys", "delete", "--org", "Acme", "--id", k.ID); err != nil {
		t.Fatalf("keys delete answered yes: %v", err)
	}
	eventually(t, "the deleted key stops working", func() bool {
		return srv.do(t, basic(pkey), "GET", "/api/v1/processes/"+procID, nil).Status == http.StatusUnauthorized
	})

	// processes delete takes the process's keys with it.
	pkey2 := strings.TrimSpace(mustCLI(t, clock, dir, "", "keys", "create", "--org", "Acme", "--process", procID, "--name", "second", "--scopes", "all"))
	if _, _, err := cli(t, clock, dir, "", "processes", "delete", "--org", "Acme", "--id", procID); exitCode(err) != 2 {
		t.Errorf("processes delete without --yes: %v", err)
	}
	mustCLI(t, clock, dir, "", "processes", "delete", "--org", "Acme", "--id", procID, "--yes")
	eventually(t, "the deleted process's key stops working", func() bool {
		return srv.do(t, basic(pkey2), "GET", "/api/v1/processes/"+procID, nil).Status == http.StatusUnauthorized
	})
	want(t, srv.do(t, basic(root), "GET", "/api/v1/processes/"+procID, nil), http.StatusNotFound)

	// users: a new member with a password, then the same person in a
	// second organization with the login they have.
	mustCLI(t, clock, dir, "correct horse battery staple\n", "users", "create", "--org", "Acme", "--email", "Bob@Example.com", "--role", "admin", "--password-stdin")
	setupOrg(t, clock, dir, "Initech")
	mustCLI(t, clock, dir, "", "users", "create", "--org", "Initech", "--email", "bob@example.com")
	if _, _, err := cli(t, clock, dir, "", "users", "create", "--org", "Initech", "--email", "bob@example.com"); err == nil || !strings.Contains(describe(err), "already a member") {
		t.Errorf("users create of a member: %v", err)
	}
	for org, want := range map[string][]string{"Acme": {"acme@example.com  owner", "bob@example.com   admin"}, "Initech": {"initech@example.com  owner", "bob@example.com      user"}} {
		out := mustCLI(t, clock, dir, "", "users", "list", "--org", org)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("users list --org %s does not show %q:\n%s", org, w, out)
			}
		}
	}

	// users set-password: the new password, from stdin, replaces the old.
	if _, _, err := cli(t, clock, dir, "another good password\n", "users", "set-password", "--email", "bob@example.com"); exitCode(err) != 2 ||
		describe(err) != "keywarden users set-password: --password-stdin is required: pipe the new password to standard input" {
		t.Errorf("users set-password without --password-stdin: %v", err)
	}
	if _, _, err := cli(t, clock, dir, "another good password\n", "users", "set-password", "--password-stdin", "--email", "nobody@example.com"); exitCode(err) != 1 ||
		describe(err) != "keywarden: no user has the email address nobody@example.com" {
		t.Errorf("users set-password of nobody: %v", err)
	}
	mustCLI(t, clock, dir, "another good password\n", "users", "set-password", "--password-stdin", "--email", "Bob@example.com")
	a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, now: clock.Now}
	store, err := a.openStore(t.Context(), &storeFlags{dataDir: dir, migrate: true, timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := store.FindUserByEmail(t.Context(), "bob@example.com")
	store.Close()
	if err != nil || !password.Check("another good password", bob.PasswordHash) || password.Check("correct horse battery staple", bob.PasswordHash) {
		t.Errorf("after users set-password, bob's hash does not check the new password only (%v)", err)
	}

	// Every change above is the command line's, in the audit log.
	var audit struct {
		AuditEvents []struct {
			Action string
			Actor  struct{ Type string }
			Target struct{ Name string }
		}
	}
	mustJSON(t, string(want(t, srv.do(t, basic(root), "GET", "/api/v1/admin/audit-events?limit=100", nil), http.StatusOK).Body), &audit)
	seen := map[string]bool{}
	for _, e := range audit.AuditEvents {
		if e.Actor.Type == "cli" {
			seen[e.Action+" "+e.Target.Name] = true
		}
	}
	for _, w := range []string{"process.created Invoices", "process.created Receipts", "process.deleted Invoices",
		"api_key.deleted uploader (" + k.User + ")", "member.joined bob@example.com (admin)", "member.password_set bob@example.com"} {
		if !seen[w] {
			t.Errorf("no audit event %q by the command line; have %v", w, seen)
		}
	}
}

func procIDOf(t *testing.T, proc map[string]any) string {
	t.Helper()
	id, _ := proc["id"].(string)
	if id == "" {
		t.Fatalf("no process ID in %v", proc)
	}
	return id
}

// terminalCLI is cli with standard input a terminal a person answers at.
func terminalCLI(t *testing.T, clock *fakeClock, dataDir, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{getenv: noEnv, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, now: clock.Now, isTerminal: func() bool { return true }}
	err := a.run(t.Context(), append(args, "--data-dir", dataDir))
	return stdout.String(), stderr.String(), err
}

// TestMigrateSaysWhatItApplied: migrate reports the migrations it applied,
// then that there were none.
func TestMigrateSaysWhatItApplied(t *testing.T) {
	migrations, err := filepath.Glob("../../internal/sqlite/migrations/*.sql")
	if err != nil || len(migrations) < 2 {
		t.Fatalf("migrations: %v %v", migrations, err)
	}
	n := len(migrations)
	clock, dir := newFakeClock(), t.TempDir()
	for _, want := range []string{
		fmt.Sprintf("Applied migrations 1–%d; the database schema is at version %d.\n", n, n),
		fmt.Sprintf("The database schema is up to date (version %d).\n", n),
	} {
		if _, errOut, err := cli(t, clock, dir, "", "migrate"); err != nil || errOut != want {
			t.Errorf("migrate: %v, said %q, want %q", err, errOut, want)
		}
	}
}

func TestDescribeMigrations(t *testing.T) {
	for _, tc := range []struct {
		applied []int64
		version int64
		want    string
	}{
		{nil, 5, "The database schema is up to date (version 5)."},
		{[]int64{6}, 6, "Applied migration 6; the database schema is at version 6."},
		{[]int64{1, 2, 3, 4, 5}, 5, "Applied migrations 1–5; the database schema is at version 5."},
		{[]int64{3, 5}, 5, "Applied migrations 3, 5; the database schema is at version 5."},
	} {
		if got := describeMigrations(tc.applied, tc.version); got != tc.want {
			t.Errorf("describeMigrations(%v, %d) = %q, want %q", tc.applied, tc.version, got, tc.want)
		}
	}
}

// TestExitStatusOfTheBinary runs the built command, so that the exit
// status main gives is the one the tests of run assume.
func TestExitStatusOfTheBinary(t *testing.T) {
	goTool := testenv.Program(t, "the go command", filepath.Join(runtime.GOROOT(), "bin", "go"), "go")
	bin := filepath.Join(t.TempDir(), "keywarden")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		status int
		stdout string // its beginning
		stderr string // exactly
	}{
		{[]string{"help"}, 0, "Keywarden — API keys", ""},
		{[]string{"keys", "create", "--help"}, 0, "Usage: keywarden keys create [flags]", ""},
		{[]string{"orgs", "--help"}, 0, "Usage: keywarden orgs create|list [flags]", ""},
		{[]string{"help", "users", "create"}, 0, "Usage: keywarden users create [flags]", ""},
		{[]string{"keys", "create", "--bogus"}, 2, "", "keywarden keys create: unknown flag --bogus; run \"keywarden keys create --help\"\n"},
		{[]string{"keys", "create", "--data-dir", dir}, 2, "", "keywarden keys create: --org, --name and --scopes are required\n"},
		{[]string{"frobnicate"}, 2, "", "keywarden: unknown command \"frobnicate\"; run \"keywarden help\"\n"},
		{[]string{"keys", "list", "--data-dir", dir, "--org", "Nobody"}, 1, "", "keywarden: no organization named or with ID \"Nobody\"\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, &stderr
			err := cmd.Run()
			status := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || !strings.HasPrefix(stdout.String(), tc.stdout) || stderr.String() != tc.stderr {
				t.Errorf("exit status %d, stdout %.60q, stderr %q; want %d, %q…, %q", status, stdout.String(), stderr.String(), tc.status, tc.stdout, tc.stderr)
			}
		})
	}
}
