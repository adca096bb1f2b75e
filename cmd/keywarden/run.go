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
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/logwriter"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlstore"
	"github.com/mattn/go-isatty"
)

const usage = `Keywarden — API keys for a multi-tenant platform.

Usage:
  keywarden COMMAND [SUBCOMMAND] [flags]

Commands:
  serve                                run the server
  migrate                              apply database migrations
  orgs       create|list               manage organizations
  users      create|list|set-password  manage the people of organizations
  processes  create|list|delete        manage processes
  keys       create|list|update|rotate|delete|revoke-all
                                       manage API keys
  version                              print the version
  help       [COMMAND [SUBCOMMAND]]    show this help, or a command's

Run "keywarden help COMMAND SUBCOMMAND" or "keywarden COMMAND SUBCOMMAND --help"
for a command's flags. A deployment flag not given reads its environment
variable (--data-dir reads KEYWARDEN_DATA_DIR; --help names each one), and a
value that does not parse is an error, never a silent default.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// usageError is a command-line mistake made in one command: its message
// names the command, as "keywarden keys create: --name is required".
type usageError struct {
	command string
	err     error // wraps errUsage
}

func (e *usageError) Error() string {
	prefix := "keywarden"
	if e.command != "" {
		prefix += " " + e.command
	}
	return prefix + ": " + strings.TrimPrefix(e.err.Error(), errUsage.Error()+": ")
}

func (e *usageError) Unwrap() error { return e.err }

// exitCode is the exit status of a failed run: 2 for a usage error, 1 for
// anything else.
func exitCode(err error) int {
	if errors.Is(err, errUsage) {
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
	// isTerminal reports whether stdin is a terminal a person answers
	// questions at; nil means it is not.
	isTerminal func() bool

	// fromEnv maps the flags parse set from the environment to their
	// variables, so that messages name what the operator actually wrote.
	fromEnv map[string]string
}

// run runs the command line with the real clock. Help asked for with -h is
// not an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, isTerminal: func() bool { return isTerminal(stdin) }}
	if err := a.run(ctx, args); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

// isTerminal reports whether r is a terminal. A character device is not
// enough: /dev/null is one, and a script's "</dev/null" must not count as a
// person answering.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// command is one command line that takes flags.
type command struct {
	name string // "serve", or a group and its subcommand: "keys create"
	run  func(a *app, ctx context.Context, args []string) error
}

// commands lists every command that takes flags. run dispatches on it, and
// a test walks the flags of every one.
func commands() []command {
	return []command{
		{"serve", (*app).serve},
		{"migrate", (*app).migrate},
		{"orgs create", (*app).orgsCreate},
		{"orgs list", (*app).orgsList},
		{"users create", (*app).usersCreate},
		{"users list", (*app).usersList},
		{"users set-password", (*app).usersSetPassword},
		{"processes create", (*app).processesCreate},
		{"processes list", (*app).processesList},
		{"processes delete", (*app).processesDelete},
		{"keys create", (*app).keysCreate},
		{"keys list", (*app).keysList},
		{"keys delete", (*app).keysDelete},
		{"keys rotate", (*app).keysRotate},
		{"keys update", (*app).keysUpdate},
		{"keys revoke-all", (*app).keysRevokeAll},
	}
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "--help" || arg == "-help"
}

// run dispatches args to their command. Help, asked for by "help" or -h,
// goes to standard output and returns flag.ErrHelp; a usage error names
// its command and says where help is.
func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return &usageError{"", fmt.Errorf("%w: no command given", errUsage)}
	}
	switch {
	case args[0] == "version" || args[0] == "--version":
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(a.stdout, "Usage: keywarden version\n\nPrints the module version, VCS revision and Go version of the binary.\n")
			return flag.ErrHelp
		}
		if len(args) > 1 {
			return &usageError{"version", fmt.Errorf("%w: unexpected argument %q", errUsage, args[1])}
		}
		fmt.Fprintln(a.stdout, "keywarden", version())
		return nil
	case args[0] == "help":
		if len(args) == 1 {
			fmt.Fprint(a.stdout, usage)
			return flag.ErrHelp
		}
		// "help keys create" is "keys create --help".
		return a.run(ctx, append(slices.Clone(args[1:]), "--help"))
	case isHelp(args[0]):
		fmt.Fprint(a.stdout, usage)
		return flag.ErrHelp
	}
	var subs []string // of the group args[0] names, if it is one
	for _, c := range commands() {
		group, sub, grouped := strings.Cut(c.name, " ")
		switch {
		case group != args[0]:
		case !grouped:
			return inCommand(c.name, c.run(a, ctx, args[1:]))
		case len(args) > 1 && args[1] == sub:
			return inCommand(c.name, c.run(a, ctx, args[2:]))
		default:
			subs = append(subs, sub)
		}
	}
	if len(subs) == 0 {
		return &usageError{"", fmt.Errorf("%w: unknown command %q; run \"keywarden help\"", errUsage, args[0])}
	}
	group := args[0]
	groupUsage := fmt.Sprintf("Usage: keywarden %s %s [flags]\n\nRun \"keywarden %s SUBCOMMAND --help\" for a subcommand's flags.\n", group, strings.Join(subs, "|"), group)
	switch {
	case len(args) == 1 || strings.HasPrefix(args[1], "-") && !isHelp(args[1]):
		fmt.Fprint(a.stderr, groupUsage)
		return &usageError{group, fmt.Errorf("%w: no subcommand given (want %s)", errUsage, strings.Join(subs, ", "))}
	case isHelp(args[1]):
		fmt.Fprint(a.stdout, groupUsage)
		return flag.ErrHelp
	}
	return &usageError{group, fmt.Errorf("%w: unknown command %q; run \"keywarden %s --help\"", errUsage, args[1], group)}
}

// inCommand makes a usage error of the command named name say so.
func inCommand(name string, err error) error {
	var ue *usageError
	if errors.Is(err, errUsage) && !errors.As(err, &ue) {
		return &usageError{name, err}
	}
	return err
}

// describe renders err for a person at a terminal: a domain error's safe
// message and each invalid field, anything else as it is.
func describe(err error) string {
	var ue *usageError
	if errors.As(err, &ue) {
		return ue.Error()
	}
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

// storeFlags are the flags of every command that opens the database.
type storeFlags struct {
	dataDir         string
	databaseURL     string
	databaseURLFile string
	maxConns        int
	migrate         bool
	timeout         time.Duration
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	sf := &storeFlags{}
	fs.StringVar(&sf.dataDir, "data-dir", "keywarden-data", "`directory` of the embedded SQLite database")
	fs.StringVar(&sf.databaseURL, "database-url", "", "PostgreSQL `URL` (postgres://user:pass@host:5432/db); the embedded SQLite database when empty")
	fs.StringVar(&sf.databaseURLFile, "database-url-file", "", "read the PostgreSQL URL from `file` (one line), so that its password is in neither the environment nor the process list")
	fs.IntVar(&sf.maxConns, "db-max-conns", 10, "PostgreSQL connection pool size of this process")
	fs.BoolVar(&sf.migrate, "migrate", true, "apply pending migrations at start; when false, refuse to run on an out-of-date schema")
	fs.DurationVar(&sf.timeout, "database-timeout", sqlstore.DefaultTimeout, "deadline of every database call: a database that has not answered by then fails the call (503 for a request) instead of hanging it")
	return sf
}

// databaseURL returns the PostgreSQL URL of --database-url or
// --database-url-file, or "" for SQLite. Setting both is a usage error:
// which one would win is not obvious, and the wrong one might be a
// forgotten database.
func (a *app) databaseURL(sf *storeFlags) (string, error) {
	switch {
	case sf.databaseURLFile == "":
		return sf.databaseURL, nil
	case sf.databaseURL != "":
		return "", fmt.Errorf("%w: %s and %s are both set: give the database URL one way", errUsage, a.setting("database-url"), a.setting("database-url-file"))
	}
	return secretFromFile(a.setting("database-url-file"), sf.databaseURLFile)
}

// database is a store whose schema the command line manages.
type database interface {
	keywarden.Store
	Migrate(ctx context.Context) error
	ApplyMigrations(ctx context.Context) (applied []int64, version int64, err error)
	SchemaCurrent(ctx context.Context) (bool, error)
	// ObserveWith reports every store operation to the metrics; UseClock
	// gives the store the command's clock.
	ObserveWith(o sqlstore.Observer)
	UseClock(now func() time.Time)
	SetTimeout(d time.Duration)
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

// openStore opens PostgreSQL when a database URL is set, else the SQLite
// file in the data directory (created private to this user: it holds key
// hashes), and brings the schema up to date or refuses an out-of-date one.
func (a *app) openStore(ctx context.Context, sf *storeFlags) (database, error) {
	db, err := a.openDatabase(ctx, sf)
	if err != nil {
		return nil, err
	}
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

// openDatabase opens the database of sf without looking at its schema.
func (a *app) openDatabase(ctx context.Context, sf *storeFlags) (database, error) {
	databaseURL, err := a.databaseURL(sf)
	if err != nil {
		return nil, err
	}
	if sf.timeout <= 0 {
		return nil, fmt.Errorf("%w: %s must be positive", errUsage, a.setting("database-timeout"))
	}
	var db database
	if databaseURL != "" {
		pg, err := postgres.Open(ctx, postgres.Config{URL: databaseURL, MaxConns: int32(sf.maxConns), ListenerName: listenerName(databaseURL)})
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
	db.UseClock(a.now)
	db.SetTimeout(sf.timeout)
	return db, nil
}

func (a *app) migrate(ctx context.Context, args []string) error {
	fs := a.flagSet("migrate")
	sf := addStoreFlags(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	db, err := a.openDatabase(ctx, sf)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, version, err := db.ApplyMigrations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, describeMigrations(applied, version))
	return nil
}

// describeMigrations says what migrate did.
func describeMigrations(applied []int64, version int64) string {
	switch len(applied) {
	case 0:
		return fmt.Sprintf("The database schema is up to date (version %d).", version)
	case 1:
		return fmt.Sprintf("Applied migration %d; the database schema is at version %d.", applied[0], version)
	}
	first, last := applied[0], applied[len(applied)-1]
	if last-first == int64(len(applied)-1) { // consecutive, as goose applies them
		return fmt.Sprintf("Applied migrations %d–%d; the database schema is at version %d.", first, last, version)
	}
	names := make([]string, len(applied))
	for i, v := range applied {
		names[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("Applied migrations %s; the database schema is at version %d.", strings.Join(names, ", "), version)
}

// newLogger returns the log output of the server, writing to stderr: its
// Handler is the structured logger's, and the server writes its request
// lines to it directly (server.Config.LogOutput).
//
// Written to a file or pipe (the process's stderr), lines go through a
// logwriter, which batches the lines of up to 2 ms into one write;
// close writes what is still waiting and must run before the process
// exits. In tests (a buffer) lines are written as they come.
func (a *app) newLogger(format, level string) (*logline.Output, func(), error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("%w: %s=%q: want debug, info, warn or error", errUsage, a.setting("log-level"), level)
	}
	var output func(io.Writer, slog.Leveler) *logline.Output
	switch strings.ToLower(format) {
	case "text":
		output = logline.NewText
	case "json":
		output = logline.NewJSON
	default:
		return nil, nil, fmt.Errorf("%w: %s=%q: want text or json", errUsage, a.setting("log-format"), format)
	}
	if f, ok := a.stderr.(*os.File); ok {
		lw := logwriter.New(f)
		return output(lw, lvl), func() { _ = lw.Close() }, nil
	}
	return output(a.stderr, lvl), func() {}, nil
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

// openOrg opens the store and finds the organization --org names: how
// every command acting in one organization starts. The caller closes the
// store.
func (a *app) openOrg(ctx context.Context, sf *storeFlags, orgRef string) (database, *keywarden.Organization, error) {
	store, err := a.openStore(ctx, sf)
	if err != nil {
		return nil, nil, err
	}
	org, err := findOrg(ctx, store, orgRef)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, org, nil
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
