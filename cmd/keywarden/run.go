package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/sqlite"
)

const usage = `Keywarden — API keys for a multi-tenant platform.

Usage:
  keywarden serve    [--addr 127.0.0.1:8080] [--data-dir DIR]   run the server
  keywarden migrate  [--data-dir DIR]                           apply database migrations
  keywarden orgs     create|list                                manage organizations
  keywarden keys     create|list|delete                         manage API keys
  keywarden version                                             print the version

Run "keywarden COMMAND -h" for a command's flags. Every flag also reads an
environment variable: --data-dir from KEYWARDEN_DATA_DIR, and so on.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// app is one invocation of the command line: its environment and standard
// streams, and the clock, which tests replace.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

// run runs the command line with the real clock.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return a.serve(ctx, rest)
	case "migrate":
		return a.migrate(ctx, rest)
	case "orgs":
		return a.orgs(ctx, rest)
	case "keys":
		return a.keys(ctx, rest)
	case "version", "--version":
		fmt.Fprintln(a.stdout, "keywarden", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(a.stdout, usage)
		return nil
	}
	fmt.Fprint(a.stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// describe renders err for a person at a terminal: a domain error's safe
// message and each invalid field, anything else as it is.
func describe(err error) string {
	var e *keywarden.Error
	if !errors.As(err, &e) {
		return "keywarden: " + err.Error()
	}
	var b strings.Builder
	b.WriteString("keywarden: " + keywarden.ErrorMessage(err))
	if len(e.Fields) > 1 {
		for _, f := range e.Fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Location, f.Message)
		}
	}
	return b.String()
}

// version reports the module version and VCS revision the binary was built
// from, as recorded by the Go toolchain.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + info.GoVersion
}

// flagSet returns a FlagSet whose errors and help go to stderr.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	return fs
}

// env returns the environment variable's value, or def when unset: the
// fallback every flag uses.
func (a *app) env(name, def string) string {
	if v := a.getenv(name); v != "" {
		return v
	}
	return def
}

// parse parses fs and refuses stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// storeFlags are the flags of every command that opens the database.
type storeFlags struct {
	dataDir     string
	databaseURL string
	maxConns    int
	migrate     bool
}

func (a *app) addStoreFlags(fs *flag.FlagSet) *storeFlags {
	sf := &storeFlags{}
	fs.StringVar(&sf.dataDir, "data-dir", a.env("KEYWARDEN_DATA_DIR", "keywarden-data"), "directory of the embedded SQLite database (env KEYWARDEN_DATA_DIR)")
	fs.StringVar(&sf.databaseURL, "database-url", a.env("KEYWARDEN_DATABASE_URL", ""), "PostgreSQL URL (postgres://user:pass@host:5432/db); the embedded SQLite database when empty (env KEYWARDEN_DATABASE_URL)")
	fs.IntVar(&sf.maxConns, "db-max-conns", envInt(a, "KEYWARDEN_DB_MAX_CONNS", 10), "PostgreSQL connection pool size of this process (env KEYWARDEN_DB_MAX_CONNS)")
	fs.BoolVar(&sf.migrate, "migrate", a.env("KEYWARDEN_MIGRATE", "true") == "true", "apply pending migrations at start; when false, refuse to run on an out-of-date schema (env KEYWARDEN_MIGRATE)")
	return sf
}

// database is a store whose schema the command line manages.
type database interface {
	keywarden.Store
	Migrate(ctx context.Context) error
	SchemaCurrent(ctx context.Context) (bool, error)
}

// listenerName names a node's listening connection in pg_stat_activity:
// "keywarden-listener", or NAME-listener when the database URL sets
// application_name=NAME, so that the nodes of a cluster can be told apart.
func listenerName(databaseURL string) string {
	if u, err := url.Parse(databaseURL); err == nil {
		if name := u.Query().Get("application_name"); name != "" {
			return name + "-listener"
		}
	}
	return postgres.DefaultListenerName
}

// openStore opens PostgreSQL when --database-url is set, else the SQLite
// file in the data directory (created private to this user: it holds key
// hashes), and brings the schema up to date or refuses an out-of-date one.
func (a *app) openStore(ctx context.Context, sf *storeFlags) (database, error) {
	var db database
	if sf.databaseURL != "" {
		pg, err := postgres.Open(ctx, postgres.Config{URL: sf.databaseURL, MaxConns: int32(sf.maxConns), ListenerName: listenerName(sf.databaseURL)})
		if err != nil {
			return nil, err
		}
		db = pg
	} else {
		if err := os.MkdirAll(sf.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		lite, err := sqlite.Open(ctx, filepath.Join(sf.dataDir, "keywarden.db"))
		if err != nil {
			return nil, err
		}
		db = lite
	}
	var err error
	if sf.migrate {
		err = db.Migrate(ctx)
	} else if current, cerr := db.SchemaCurrent(ctx); cerr != nil {
		err = cerr
	} else if !current {
		err = errors.New("the database schema is out of date: run \"keywarden migrate\" first")
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (a *app) migrate(ctx context.Context, args []string) error {
	fs := a.flagSet("migrate")
	sf := a.addStoreFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	sf.migrate = true
	db, err := a.openStore(ctx, sf)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(a.stderr, "The database schema is up to date.")
	return nil
}

// newLogger returns the structured logger of the server.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, format)
}

// auditEvent returns the audit event of a change made from the command line.
func (a *app) auditEvent(orgID, action, targetType, targetID, targetName, processID string) (*keywarden.AuditEvent, error) {
	id, err := keywarden.NewID(nil)
	if err != nil {
		return nil, err
	}
	return &keywarden.AuditEvent{
		ID: id, OrgID: orgID, At: a.now().UTC().Truncate(time.Microsecond),
		Actor:  keywarden.Actor{Type: keywarden.ActorCLI, Name: "keywarden command line"},
		Action: action, TargetType: targetType, TargetID: targetID, TargetName: targetName, ProcessID: processID,
	}, nil
}

// findOrg resolves --org, which takes an organization's ID or its name.
func findOrg(ctx context.Context, store keywarden.Store, nameOrID string) (*keywarden.Organization, error) {
	if nameOrID == "" {
		return nil, fmt.Errorf("%w: --org is required", errUsage)
	}
	if keywarden.IsID(nameOrID) {
		org, err := store.FindOrganizationByID(ctx, nameOrID)
		if keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
			return org, err
		}
	}
	org, err := store.FindOrganizationByName(ctx, nameOrID)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return nil, fmt.Errorf("no organization named or with ID %q", nameOrID)
	}
	return org, err
}
