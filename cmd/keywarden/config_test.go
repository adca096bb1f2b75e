package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// argumentFlags are the flags that read no environment variable, written out
// here by hand: a flag missing from envVar's list and from this one fails
// TestEveryFlagNamesItsEnvironmentVariable, so exempting a flag is a
// decision made twice.
var argumentFlags = []string{"org", "process", "name", "id", "scopes", "expires", "owner-email", "email", "role",
	"type", "max-key-lifetime", "password-stdin", "json", "yes", "limit", "offset", "grace-period", "allowed-ips", "rate-limit"}

// helpFlag is one flag of a command's -h output.
type helpFlag struct {
	command, name, usage, env string
}

var (
	helpFlagRE = regexp.MustCompile(`(?m)^  -(\S+)(?: \S+)?\n    \t(.*)$`)
	helpEnvRE  = regexp.MustCompile(`\(env (KEYWARDEN_[A-Z0-9_]+)\)`)
)

// commandHelp runs "keywarden COMMAND -h" and returns its flags as listed.
func commandHelp(t *testing.T, command string) []helpFlag {
	t.Helper()
	var out bytes.Buffer
	a := &app{getenv: noEnv, stdin: strings.NewReader(""), stdout: &out, stderr: &out, now: newFakeClock().Now}
	if err := a.run(t.Context(), append(strings.Fields(command), "-h")); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("keywarden %s -h: %v, want flag.ErrHelp\n%s", command, err, out.String())
	}
	var flags []helpFlag
	for _, m := range helpFlagRE.FindAllStringSubmatch(out.String(), -1) {
		f := helpFlag{command: command, name: m[1], usage: m[2]}
		if env := helpEnvRE.FindAllStringSubmatch(m[2], -1); len(env) == 1 {
			f.env = env[0][1]
		} else if len(env) > 1 {
			t.Errorf("keywarden %s -h: -%s names %d environment variables: %s", command, f.name, len(env), m[2])
		}
		flags = append(flags, f)
	}
	if len(flags) == 0 {
		t.Fatalf("keywarden %s -h lists no flags:\n%s", command, out.String())
	}
	return flags
}

// TestEveryFlagNamesItsEnvironmentVariable walks the help of every command:
// each flag but the exempt arguments names its variable, each variable
// belongs to one flag, and a flag shared by several commands (--data-dir)
// is the same setting in each, so that one variable means one thing.
func TestEveryFlagNamesItsEnvironmentVariable(t *testing.T) {
	byEnv := map[string]helpFlag{}
	seen := 0
	for _, c := range commands() {
		for _, f := range commandHelp(t, c.name) {
			seen++
			switch {
			case slices.Contains(argumentFlags, f.name):
				if f.env != "" {
					t.Errorf("keywarden %s -%s is an argument of one invocation but reads %s", f.command, f.name, f.env)
				}
				continue
			case f.env == "":
				t.Errorf("keywarden %s -%s names no environment variable: %s", f.command, f.name, f.usage)
				continue
			case f.env != envVar(f.name):
				t.Errorf("keywarden %s -%s: help names %s, the fallback reads %s", f.command, f.name, f.env, envVar(f.name))
			}
			first, dup := byEnv[f.env]
			switch {
			case !dup:
				byEnv[f.env] = f
			case first.name != f.name:
				t.Errorf("%s is the variable of both -%s (%s) and -%s (%s)", f.env, first.name, first.command, f.name, f.command)
			case first.usage != f.usage:
				t.Errorf("-%s means different things to %s and %s:\n  %s\n  %s", f.name, first.command, f.command, first.usage, f.usage)
			}
		}
	}
	// The walk saw the flags it must: a parser that found nothing would
	// pass every check above.
	for _, env := range []string{"KEYWARDEN_DATA_DIR", "KEYWARDEN_DATABASE_URL", "KEYWARDEN_DATABASE_URL_FILE", "KEYWARDEN_MIGRATE",
		"KEYWARDEN_CACHE_POLL", "KEYWARDEN_SCOPES_FILE", "KEYWARDEN_SHUTDOWN_TIMEOUT", "KEYWARDEN_ORG_KEY_PREFIX"} {
		if _, ok := byEnv[env]; !ok {
			t.Errorf("no command's help names %s", env)
		}
	}
	if seen < 40 {
		t.Errorf("the help of all commands lists %d flags; the parser of -h output is broken", seen)
	}
}

// TestServeHelp pins the shape of one flag's help line: its usage, its
// variable, then its default.
func TestServeHelp(t *testing.T) {
	for _, f := range commandHelp(t, "serve") {
		if f.name == "cache-poll" {
			if !strings.HasSuffix(f.usage, "must be under --cache-max-staleness (env KEYWARDEN_CACHE_POLL) (default 250ms)") {
				t.Errorf("-cache-poll help = %q", f.usage)
			}
			return
		}
	}
	t.Error("serve -h lists no -cache-poll")
}

// envApp is an app whose environment is env.
func envApp(t *testing.T, env map[string]string) (*app, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	getenv := func(k string) string { return env[k] }
	return &app{getenv: getenv, stdin: strings.NewReader(""), stdout: &out, stderr: &out, now: newFakeClock().Now}, &out
}

// TestBadEnvironmentValuesAreUsageErrors: a variable's value goes through
// the flag's own parser, so what --cache-poll would refuse,
// KEYWARDEN_CACHE_POLL is refused for too, instead of quietly becoming the
// default. The command stops before it opens the database.
func TestBadEnvironmentValuesAreUsageErrors(t *testing.T) {
	serve := []string{"serve", "--addr", "127.0.0.1:0"} // should it start after all
	for _, tc := range []struct {
		name    string
		command []string
		env     map[string]string
		want    []string // in the error
	}{
		{"duration", serve, map[string]string{"KEYWARDEN_CACHE_POLL": "abc"}, []string{`KEYWARDEN_CACHE_POLL="abc": invalid duration`}},
		{"duration without a unit", serve, map[string]string{"KEYWARDEN_SHUTDOWN_TIMEOUT": "15"}, []string{`KEYWARDEN_SHUTDOWN_TIMEOUT="15": invalid duration`}},
		{"integer", serve, map[string]string{"KEYWARDEN_CACHE_SIZE": "1e6"}, []string{`KEYWARDEN_CACHE_SIZE="1e6": invalid integer`}},
		{"boolean", []string{"orgs", "list"}, map[string]string{"KEYWARDEN_MIGRATE": "yes"}, []string{`KEYWARDEN_MIGRATE="yes": invalid boolean`}},
		{"every bad value at once", []string{"keys", "list"}, map[string]string{"KEYWARDEN_MIGRATE": "yes", "KEYWARDEN_DB_MAX_CONNS": "ten"},
			[]string{`KEYWARDEN_MIGRATE="yes": invalid boolean`, `KEYWARDEN_DB_MAX_CONNS="ten": invalid integer`}},
		{"log level", serve, map[string]string{"KEYWARDEN_LOG_LEVEL": "loud"}, []string{`KEYWARDEN_LOG_LEVEL="loud": want debug, info, warn or error`}},
		{"key prefix", []string{"keys", "create"}, map[string]string{"KEYWARDEN_PROCESS_KEY_PREFIX": "Proc-"}, []string{`KEYWARDEN_PROCESS_KEY_PREFIX="Proc-": want a lower-case letter`}},
		{"trusted proxies", serve, map[string]string{"KEYWARDEN_TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"KEYWARDEN_TRUSTED_PROXIES: "}},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			dir := t.TempDir()
			tc.env["KEYWARDEN_DATA_DIR"] = dir
			a, out := envApp(t, tc.env)
			err := a.run(t.Context(), tc.command)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("err = %v (exit status %d), want a usage error\n%s", err, exitCode(err), out)
			}
			for _, w := range tc.want {
				if !strings.Contains(describe(err), w) {
					t.Errorf("error %q does not say %q", describe(err), w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "keywarden.db")); err == nil {
				t.Error("the command opened the database despite the bad value")
			}
		})
	}
}

// TestEnvironmentValuesParseLikeFlags: what the flag accepts, its variable
// accepts, with the same meaning; and the command line wins.
func TestEnvironmentValuesParseLikeFlags(t *testing.T) {
	t.Run("KEYWARDEN_MIGRATE=TRUE migrates, as --migrate=TRUE does", func(t *testing.T) {
		// Compared with "true", it used to turn migrations off.
		a, out := envApp(t, map[string]string{"KEYWARDEN_DATA_DIR": t.TempDir(), "KEYWARDEN_MIGRATE": "TRUE"})
		if err := a.run(t.Context(), []string{"orgs", "list"}); err != nil {
			t.Fatalf("orgs list on a new database: %v\n%s", err, out)
		}
	})
	t.Run("KEYWARDEN_MIGRATE=0 refuses an out-of-date schema", func(t *testing.T) {
		a, out := envApp(t, map[string]string{"KEYWARDEN_DATA_DIR": t.TempDir(), "KEYWARDEN_MIGRATE": "0"})
		if err := a.run(t.Context(), []string{"orgs", "list"}); err == nil || !strings.Contains(err.Error(), "keywarden migrate") {
			t.Fatalf("orgs list on a new database with migrations off: %v\n%s", err, out)
		}
	})
	t.Run("the command line wins over a bad variable", func(t *testing.T) {
		a, out := envApp(t, map[string]string{"KEYWARDEN_DATA_DIR": t.TempDir(), "KEYWARDEN_DB_MAX_CONNS": "ten"})
		if err := a.run(t.Context(), []string{"orgs", "list", "--db-max-conns", "5"}); err != nil {
			t.Fatalf("orgs list --db-max-conns 5: %v\n%s", err, out)
		}
	})
	t.Run("an empty variable is unset", func(t *testing.T) {
		a, out := envApp(t, map[string]string{"KEYWARDEN_DATA_DIR": t.TempDir(), "KEYWARDEN_MIGRATE": ""})
		if err := a.run(t.Context(), []string{"orgs", "list"}); err != nil {
			t.Fatalf("orgs list with KEYWARDEN_MIGRATE empty: %v\n%s", err, out)
		}
	})
	t.Run("arguments of one invocation read no variable", func(t *testing.T) {
		// A KEYWARDEN_ID left in the environment must not choose the key
		// that keys delete deletes.
		clock, dir := newFakeClock(), t.TempDir()
		orgID, _ := setupOrg(t, clock, dir, "Acme")
		var created struct{ ID string }
		mustJSON(t, mustCLI(t, clock, dir, "", "keys", "create", "--org", orgID, "--name", "ci", "--scopes", "all", "--json"), &created)
		a, out := envApp(t, map[string]string{"KEYWARDEN_DATA_DIR": dir, "KEYWARDEN_ORG": orgID, "KEYWARDEN_ID": created.ID})
		a.now = clock.Now
		if err := a.run(t.Context(), []string{"keys", "delete"}); err == nil {
			t.Fatalf("keys delete without --org and --id used the environment\n%s", out)
		}
		if list := mustCLI(t, clock, dir, "", "keys", "list", "--org", orgID, "--json"); !strings.Contains(list, created.ID) {
			t.Error("the key is gone")
		}
	})
}

// TestHelpIsNotAnError: "keywarden serve -h" prints the flags and succeeds.
func TestHelpIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"serve", "-h"}, noEnv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("serve -h: %v", err)
	}
	if !strings.Contains(out.String(), "Usage: keywarden serve [flags]") {
		t.Errorf("serve -h printed:\n%s", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"keys", "--help"}, noEnv, strings.NewReader(""), &out, &out); err != nil || !strings.Contains(out.String(), "keywarden keys create|list|delete") {
		t.Errorf("keys --help: %v\n%s", err, out.String())
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}

// writeFile writes content to a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDatabaseURLFromFile: --database-url-file and its variable supply the
// URL; an empty file, a missing one, or a URL given twice is refused, and no
// error shows the password.
func TestDatabaseURLFromFile(t *testing.T) {
	const password = "s3cret-Pa55"
	// Port 1 refuses connections at once; "x" is no port at all.
	unreachable := writeFile(t, "db-url", "postgres://keywarden:"+password+"@127.0.0.1:1/keywarden?connect_timeout=2&sslmode=disable\n")
	unparsable := writeFile(t, "bad-url", "postgres://keywarden:"+password+"@db.internal:x/keywarden\n")
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		want  string
		usage bool
	}{
		{"the file's URL is used", nil, []string{"--database-url-file", unreachable}, "postgres", false},
		{"the variable's file is used", map[string]string{"KEYWARDEN_DATABASE_URL_FILE": unparsable}, nil, "invalid database URL", false},
		{"an empty file is refused", nil, []string{"--database-url-file", writeFile(t, "empty", "\n")}, "is empty", false},
		{"a file of two lines is refused", nil, []string{"--database-url-file", writeFile(t, "two", "postgres://a:"+password+"@h/db\npostgres://b@h/db\n")}, "more than one line", false},
		{"a missing file is refused", nil, []string{"--database-url-file", filepath.Join(t.TempDir(), "nothing")}, "no such file", false},
		{"the URL and the file are refused together", map[string]string{"KEYWARDEN_DATABASE_URL": "postgres://keywarden:" + password + "@db.internal/keywarden"},
			[]string{"--database-url-file", unreachable}, "KEYWARDEN_DATABASE_URL and --database-url-file are both set", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KEYWARDEN_DATA_DIR": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			a, out := envApp(t, env)
			err := a.run(t.Context(), append([]string{"migrate"}, tc.args...))
			if err == nil {
				t.Fatalf("migrate succeeded\n%s", out)
			}
			msg := describe(err)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if strings.Contains(msg+out.String(), password) {
				t.Errorf("the error shows the password: %s\n%s", msg, out)
			}
			if (exitCode(err) == 2) != tc.usage {
				t.Errorf("exit status %d for %q", exitCode(err), msg)
			}
			if _, err := os.Stat(filepath.Join(env["KEYWARDEN_DATA_DIR"], "keywarden.db")); err == nil {
				t.Error("the command fell back to SQLite")
			}
		})
	}
}

// TestPostgresURLFromFile: with the URL in a file, the command line and a
// node work on PostgreSQL exactly as with --database-url.
func TestPostgresURLFromFile(t *testing.T) {
	dbURL, _ := pgSchema(t)
	file := writeFile(t, "database-url", dbURL+"\n")
	clock, dir := newFakeClock(), t.TempDir()
	_, root := setupOrgWith(t, clock, dir, "Acme", "--database-url-file", file)
	srv := startServer(t, clock, t.TempDir(), "--database-url-file", file)
	want(t, srv.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK)
	if !strings.Contains(srv.Log.String(), "driver=postgres") {
		t.Errorf("the node does not run on PostgreSQL:\n%s", srv.Log)
	}
}

// scopesFile is an operator's scopes file adding acme.report:read.
const scopesFile = `# Acme's own services
- name: acme.report:read
  description: Read reports.
  processLevel: true
- name: acme.report:publish
  description: Publish reports.
`

// TestScopesFileErrors: every mistake of a scopes file stops the command,
// naming the file and the line.
func TestScopesFileErrors(t *testing.T) {
	many := new(strings.Builder)
	for i := range keywarden.MaxScopes {
		fmt.Fprintf(many, "- name: acme.r%d:read\n  description: d\n", i)
	}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"empty file", "# nothing yet\n", []string{"no scopes: the file is empty"}},
		{"not a list", "name: acme.report:read\n", []string{":1: a scopes file is a list of scopes"}},
		{"invalid YAML", "- name: [acme\n", []string{"invalid YAML"}},
		{"unknown key", "- name: acme.report:read\n  description: d\n  process_level: true\n", []string{`:3: unknown key "process_level"`}},
		{"malformed name", "- name: acme.report\n  description: d\n", []string{`:1: scope "acme.report" is not of the form namespace.resource:action`}},
		{"no name", "- description: d\n", []string{":1: a scope needs a name:"}},
		{"no description", "- name: acme.report:read\n", []string{`:1: scope "acme.report:read" needs a description:`}},
		{"processLevel not a boolean", "- name: acme.report:read\n  description: d\n  processLevel: \"yes\"\n", []string{`:3: processLevel must be true or false, not "yes"`}},
		{"a default scope", "- name: workspace.file:upload\n  description: d\n", []string{`:1: scope "workspace.file:upload" is one of Keywarden's own`}},
		{"listed twice", scopesFile + "- name: acme.report:read\n  description: again\n", []string{`:7: scope "acme.report:read" is listed twice (first at line 2)`}},
		{"every problem at once", "- name: acme.report\n  description: d\n- name: acme.x:y\n", []string{":1: scope", ":3: scope"}},
		{"more than MaxScopes", many.String(), []string{fmt.Sprintf("a catalogue holds at most %d scopes", keywarden.MaxScopes)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "scopes.yaml", tc.file)
			for _, command := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"keys", "create", "--org", "Acme", "--name", "x", "--scopes", "all"}} {
				_, _, err := cli(t, newFakeClock(), t.TempDir(), "", append(command, "--scopes-file", path)...)
				if err == nil {
					t.Fatalf("%s with a bad scopes file succeeded", command[0])
				}
				msg := describe(err)
				for _, w := range append(tc.want, "--scopes-file: "+path) {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: error %q does not say %q", command[0], msg, w)
					}
				}
			}
		})
	}
}

// TestServeWiresOneCatalogue: serve hands the catalogue of --scopes-file to
// the server, the verification cache and the route table, and keys create
// grants from the same one. Were any of them given another catalogue, the
// key's operator scope would be missing from its bits (or the route table
// would not load) and a check below would fail.
func TestServeWiresOneCatalogue(t *testing.T) {
	clock, dir := newFakeClock(), t.TempDir()
	scopes := writeFile(t, "scopes.yaml", scopesFile)
	routes := writeFile(t, "routes.yaml", "routes:\n  - route: GET /reports/{id}\n    scopes: [acme.report:read]\n")
	orgID, root := setupOrg(t, clock, dir, "Acme")

	// Without the file, nobody knows the scope.
	if _, _, err := cli(t, clock, dir, "", "keys", "create", "--org", orgID, "--name", "reports", "--scopes", "acme.report:read"); err == nil ||
		describe(err) != `keywarden keys create: --scopes: unknown scope "acme.report:read"` {
		t.Fatalf("keys create of an operator scope without --scopes-file: %v", err)
	}
	key := strings.TrimSpace(mustCLI(t, clock, dir, "", "keys", "create", "--org", orgID, "--name", "reports",
		"--scopes", "acme.report:read,workspace.file:upload", "--scopes-file", scopes))
	srv := startServer(t, clock, dir, "--scopes-file", scopes, "--routes", routes)

	list := want(t, srv.do(t, basic(root), "GET", "/api/v1/scopes", nil), http.StatusOK)
	if !strings.Contains(string(list.Body), `"acme.report:read"`) || !strings.Contains(string(list.Body), `"acme.report:publish"`) {
		t.Errorf("GET /scopes does not list the operator's scopes: %s", list.Body)
	}
	verify := func(scopes ...string) map[string]any {
		t.Helper()
		return want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": key, "scopes": scopes}), http.StatusOK).JSON(t)
	}
	if got := verify("acme.report:read"); got["code"] != "VALID" {
		t.Errorf("verify acme.report:read = %v, want VALID", got)
	} else if s := fmt.Sprint(got["key"].(map[string]any)["scopes"]); s != "[workspace.file:upload acme.report:read]" {
		t.Errorf("the verified key's scopes are %s", s)
	}
	if got := verify("acme.report:read", "workspace.file:upload"); got["code"] != "VALID" {
		t.Errorf("verify of both scopes = %v, want VALID", got)
	}
	for _, missing := range []string{"workspace.admin.api_key:manage", "acme.report:publish"} {
		if got := verify("acme.report:read", missing); got["code"] != "INSUFFICIENT_SCOPE" {
			t.Errorf("verify acme.report:read and %s = %v, want INSUFFICIENT_SCOPE", missing, got)
		}
	}
	// The root key was created with "all" before the operator's scopes
	// existed: it holds every default scope and none of them.
	rootVerify := want(t, srv.do(t, nil, "POST", "/api/v1/keys/verify", map[string]any{"key": root, "scopes": []string{"acme.report:read"}}), http.StatusOK).JSON(t)
	if rootVerify["code"] != "INSUFFICIENT_SCOPE" {
		t.Errorf("the root key verifies for acme.report:read: %v", rootVerify)
	}

	forward := func(key string) response {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/api/v1/auth/forward", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/reports/7")
		basic(key)(req)
		return send(t, req)
	}
	if r := forward(key); r.Status != http.StatusOK || !strings.Contains(r.Header.Get(api.HeaderScopes), "acme.report:read") {
		t.Errorf("forward-auth for the report key: %d, scopes %q: %s", r.Status, r.Header.Get(api.HeaderScopes), r.Body)
	}
	if r := forward(root); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "acme.report:read") {
		t.Errorf("forward-auth for the root key: %d %s, want 403 naming acme.report:read", r.Status, r.Body)
	}
	logged := fmt.Sprintf(`msg="scope catalogue ready" scopes=%d scopes_file=\S+ fingerprint=[0-9a-f]{16}`, len(keywarden.DefaultScopes())+2)
	if !regexp.MustCompile(logged).MatchString(srv.Log.String()) {
		t.Errorf("the start-up log does not describe the catalogue:\n%s", srv.Log)
	}
}
