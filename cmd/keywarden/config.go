package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keywarden/keywarden"
	"go.yaml.in/yaml/v3"
)

// envVar returns the environment variable a flag falls back to when the
// command line does not set it: KEYWARDEN_ and the flag's name in capitals,
// '-' becoming '_', so that --cache-poll reads KEYWARDEN_CACHE_POLL. The
// rule is the whole table: --help, the fallback itself, the test that walks
// every command's flags and the README's table all call this one function,
// so no flag's variable can be misspelt or forgotten.
//
// It returns "" for the arguments of one invocation — which organization,
// process, key or user, their names, scopes, expiry and role, a new
// organization's key policy (--max-key-lifetime: each organization's own,
// changed later in its settings, not the deployment's), paging, --json and
// --yes — rather than configuration of the deployment: a variable left over
// in a shell must never choose the key that "keys delete" deletes, nor
// answer its question, and KEYWARDEN_NAME would mean a different thing to
// every command.
func envVar(flagName string) string {
	switch flagName {
	case "org", "process", "name", "id", "scopes", "expires", "owner-email", "email", "role",
		"type", "max-key-lifetime", "password-stdin", "json", "yes", "limit", "offset", "grace-period", "allowed-ips", "rate-limit":
		return ""
	}
	return "KEYWARDEN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet returns a FlagSet that prints nothing itself: parse prints the
// help asked for to stdout and returns every mistake as one usage error.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printHelp prints the help of fs's command: its synopsis and each flag,
// with its environment variable (added by parse) and default.
func (a *app) printHelp(fs *flag.FlagSet) {
	fmt.Fprintf(a.stdout, "Usage: keywarden %s [flags]\n\nA flag marked (env KEYWARDEN_…) that the command line does not set is read from\nthat environment variable, if it is set and not empty.\n\n", fs.Name())
	fs.SetOutput(a.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses args into fs and then gives every flag the command line left
// unset the value of its environment variable, through the flag's own Set:
// KEYWARDEN_CACHE_POLL=abc is refused exactly as --cache-poll abc is, never
// replaced by the default. Every bad value is reported, as one usage error
// (exit status 2); so are unknown flags and stray positional arguments.
// -h and --help print the help and return flag.ErrHelp.
func (a *app) parse(fs *flag.FlagSet, args []string) error {
	fs.VisitAll(func(f *flag.Flag) {
		if env := envVar(f.Name); env != "" {
			f.Usage += " (env " + env + ")"
		}
	})
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		a.printHelp(fs)
		return err
	} else if err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			msg = "unknown flag --" + name
		}
		return fmt.Errorf("%w: %s; run \"keywarden %s --help\"", errUsage, msg, fs.Name())
	}
	if fs.NArg() > 0 {
		if isHelp(fs.Arg(0)) {
			a.printHelp(fs)
			return flag.ErrHelp
		}
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		env := envVar(f.Name)
		if env == "" || onCommandLine[f.Name] {
			return
		}
		v := a.getenv(env)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			bad = append(bad, fmt.Sprintf("%s=%q: %s", env, v, invalid(f, err)))
			return
		}
		if a.fromEnv == nil {
			a.fromEnv = map[string]string{}
		}
		a.fromEnv[f.Name] = env
	})
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", errUsage, strings.Join(bad, "; "))
	}
	return nil
}

// required returns a usage error naming the flags of names that the command
// line left empty.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if v := fs.Lookup(n).Value.String(); v == "" || v == "false" {
			missing = append(missing, "--"+n)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s is required", errUsage, missing[0])
	}
	return fmt.Errorf("%w: %s and %s are required", errUsage, strings.Join(missing[:len(missing)-1], ", "), missing[len(missing)-1])
}

// flagError turns the domain's validation error err into a usage error in
// the command line's words: flags maps each API location ("body: name";
// "body: scopes" covers "body: scopes[2]") to the flag that set it. An error
// with a location flags does not know is returned as it is.
func flagError(err error, flags map[string]string) error {
	fields := keywarden.ErrorFields(err)
	if keywarden.ErrorCode(err) != keywarden.EINVALID || len(fields) == 0 {
		return err
	}
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		loc, _, _ := strings.Cut(f.Location, "[")
		name, ok := flags[loc]
		if !ok {
			return err
		}
		msg := strings.TrimSuffix(f.Message, ".")
		if rest, ok := strings.CutPrefix(msg, strings.TrimPrefix(loc, "body: ")+" "); ok {
			parts = append(parts, name+" "+rest) // "exp is beyond …" → "--expires is beyond …"
			continue
		}
		if len(msg) > 1 && unicode.IsUpper(rune(msg[0])) && unicode.IsLower(rune(msg[1])) {
			msg = strings.ToLower(msg[:1]) + msg[1:]
		}
		parts = append(parts, name+": "+msg)
	}
	return fmt.Errorf("%w: %s", errUsage, strings.Join(parts, "; "))
}

// invalid says what is wrong with a value f's Set refused, by the flag's
// type: the flag package itself says only "parse error".
func invalid(f *flag.Flag, err error) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "invalid boolean (want true or false)"
		case int, int64, uint, uint64:
			return "invalid integer"
		case float64:
			return "invalid number"
		case time.Duration:
			return "invalid duration"
		}
	}
	return err.Error()
}

// setting names where the flag's value came from, for error messages:
// "KEYWARDEN_LOG_LEVEL" when its environment variable set it, else
// "--log-level".
func (a *app) setting(flagName string) string {
	if env, ok := a.fromEnv[flagName]; ok {
		return env
	}
	return "--" + flagName
}

// secretFromFile reads a secret (a database URL with its password) from
// path, as container secrets and systemd credentials provide it: one line,
// its line ending trimmed. Errors name the file, never what it holds.
func secretFromFile(setting, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", setting, err) // an *fs.PathError: the path and why
	}
	s := strings.TrimSpace(string(b))
	switch {
	case s == "":
		return "", fmt.Errorf("%s: %s is empty", setting, path)
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("%s: %s holds more than one line", setting, path)
	}
	return s, nil
}

// catalogueFlags is --scopes-file, of every command that needs the scope
// catalogue: serve, and the commands that grant scopes (keys create), which
// must know exactly the scopes the server knows.
type catalogueFlags struct{ scopesFile string }

func addCatalogueFlags(fs *flag.FlagSet) *catalogueFlags {
	cf := &catalogueFlags{}
	fs.StringVar(&cf.scopesFile, "scopes-file", "", "YAML `file` listing the operator's own scopes (name, description, processLevel), added after the default catalogue")
	return cf
}

// catalogue builds the scope catalogue: the defaults, then the scopes of
// --scopes-file in file order. Appending keeps every default scope at its
// index, but nothing relies on that: keys store scope names, and each
// process resolves them against its own catalogue (keywarden.ScopeSet).
func (cf *catalogueFlags) catalogue() (*keywarden.Catalogue, error) {
	scopes := keywarden.DefaultScopes()
	if cf.scopesFile != "" {
		data, err := os.ReadFile(cf.scopesFile)
		if err != nil {
			return nil, fmt.Errorf("--scopes-file: %w", err)
		}
		extra, err := parseScopes(cf.scopesFile, data, scopes)
		if err != nil {
			return nil, fmt.Errorf("--scopes-file: %w", err)
		}
		scopes = append(scopes, extra...)
	}
	c, err := keywarden.NewCatalogue(scopes)
	if err != nil {
		// Not wrapped: the CLI would show the domain error's message alone,
		// without the file it is about.
		return nil, fmt.Errorf("--scopes-file: %s: %s", cf.scopesFile, keywarden.ErrorMessage(err))
	}
	return c, nil
}

// parseScopes reads a scopes file, a YAML list of scopes:
//
//	# /etc/keywarden/scopes.yaml
//	- name: acme.report:read
//	  description: Read reports.
//	  processLevel: true
//
// and reports every problem at once, each with its line. Names are checked
// here only to say where a mistake is; keywarden.NewCatalogue has the last
// word on the whole catalogue.
func parseScopes(file string, data []byte, defaults []keywarden.ScopeInfo) ([]keywarden.ScopeInfo, error) {
	var problems []string
	errorf := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, fmt.Errorf("%s: no scopes: the file is empty", file)
	}
	top := doc.Content[0]
	if top.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: a scopes file is a list of scopes (- name: …), not %s", file, top.Line, yamlKind(top))
	}
	seen := map[keywarden.Scope]int{} // line of each name; 0 for the defaults
	for _, s := range defaults {
		seen[s.Name] = 0
	}
	var out []keywarden.ScopeInfo
	for _, item := range top.Content {
		if item.Kind != yaml.MappingNode {
			errorf(item.Line, "each scope is a mapping with name:, description: and optionally processLevel: and resource:, not %s", yamlKind(item))
			continue
		}
		var s keywarden.ScopeInfo
		given := map[string]bool{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if given[k.Value] {
				errorf(k.Line, "%s is given twice", k.Value)
				continue
			}
			given[k.Value] = true
			str := func() string {
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
					errorf(v.Line, "%s must be a string, not %s", k.Value, yamlKind(v))
				}
				return v.Value
			}
			switch k.Value {
			case "name":
				s.Name = keywarden.Scope(str())
			case "description":
				s.Description = str()
			case "resource":
				s.Resource = str()
			case "processLevel":
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&s.ProcessLevel) != nil {
					errorf(v.Line, "processLevel must be true or false, not %s", yamlKind(v))
				}
			default:
				errorf(k.Line, "unknown key %q (want name, description, processLevel or resource)", k.Value)
			}
		}
		first, dup := seen[s.Name]
		switch {
		case s.Name == "":
			errorf(item.Line, "a scope needs a name: (namespace.resource:action)")
		case !keywarden.ValidScopeName(string(s.Name)):
			errorf(item.Line, "scope %q is not of the form namespace.resource:action (lower-case letters, digits, '_' and '.')", s.Name)
		case dup && first == 0:
			errorf(item.Line, "scope %q is one of Keywarden's own: choose another name", s.Name)
		case dup:
			errorf(item.Line, "scope %q is listed twice (first at line %d)", s.Name, first)
		default:
			seen[s.Name] = item.Line
		}
		if strings.TrimSpace(s.Description) == "" && s.Name != "" {
			errorf(item.Line, "scope %q needs a description: (the console and GET /api/v1/scopes show it)", s.Name)
		}
		out = append(out, s)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return out, nil
}

// yamlKind names what n is, for messages: "a list", `"yes"`.
func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias (*" + n.Value + ")"
	}
	if n.ShortTag() == "!!null" {
		return "empty"
	}
	return strconv.Quote(n.Value)
}
