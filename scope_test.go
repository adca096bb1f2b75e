package keywarden_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// designScopes is the default catalogue of DESIGN.md §3, written out by hand.
var designScopes = []keywarden.Scope{
	"workspace.process:create",
	"workspace.process:read",
	"workspace.process:update",
	"workspace.process:delete",
	"workspace.process.api_key:manage",
	"workspace.collection:create",
	"workspace.collection:read",
	"workspace.collection:update",
	"workspace.collection:delete",
	"workspace.collection_editor:override",
	"workspace.file:upload",
	"workspace.file:download",
	"workspace.result:create",
	"workspace.result:read",
	"workspace.result:update",
	"workspace.result:delete",
	"workspace.export:create",
	"workspace.export:delete",
	"workspace.destination:create",
	"workspace.destination:read",
	"workspace.destination:delete",
	"workspace.admin.user:read",
	"workspace.admin.user:invite",
	"workspace.admin.user:manage",
	"workspace.admin.collection:manage",
	"workspace.admin.process:manage",
	"workspace.admin.api_key:manage",
	"workspace.admin.subscriptions:manage",
	"workspace.admin.audit:read",     // Keywarden's own: read the audit log
	"workspace.admin.webhook:manage", // Keywarden's own: manage webhooks
}

// designProcessScopes are the scopes DESIGN.md §3 lets a process key hold:
// collections, files, results, exports, process:read, process:update and
// process.api_key:manage.
var designProcessScopes = []keywarden.Scope{
	"workspace.process:read",
	"workspace.process:update",
	"workspace.process.api_key:manage",
	"workspace.collection:create",
	"workspace.collection:read",
	"workspace.collection:update",
	"workspace.collection:delete",
	"workspace.collection_editor:override",
	"workspace.file:upload",
	"workspace.file:download",
	"workspace.result:create",
	"workspace.result:read",
	"workspace.result:update",
	"workspace.result:delete",
	"workspace.export:create",
	"workspace.export:delete",
}

// MustCatalogue builds a catalogue or fails the test.
func MustCatalogue(tb testing.TB, scopes []keywarden.ScopeInfo) *keywarden.Catalogue {
	tb.Helper()
	c, err := keywarden.NewCatalogue(scopes)
	if err != nil {
		tb.Fatalf("NewCatalogue: %v", err)
	}
	return c
}

func sorted(s []keywarden.Scope) []keywarden.Scope {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func names(infos []keywarden.ScopeInfo) []keywarden.Scope {
	var out []keywarden.Scope
	for _, s := range infos {
		out = append(out, s.Name)
	}
	return out
}

func TestDefaultScopes(t *testing.T) {
	defaults := keywarden.DefaultScopes()

	t.Run("builds a catalogue", func(t *testing.T) {
		c := MustCatalogue(t, defaults)
		if got := names(c.All()); !slices.Equal(got, names(defaults)) {
			t.Errorf("All() = %v, want the defaults in order", got)
		}
		if c := keywarden.MustDefaultCatalogue(); !slices.Equal(names(c.All()), names(defaults)) {
			t.Errorf("MustDefaultCatalogue().All() differs from DefaultScopes()")
		}
	})
	t.Run("names are valid, unique and described", func(t *testing.T) {
		seen := map[keywarden.Scope]bool{}
		for _, s := range defaults {
			if !keywarden.ValidScopeName(string(s.Name)) {
				t.Errorf("%q is not a valid scope name", s.Name)
			}
			if seen[s.Name] {
				t.Errorf("%q is listed twice", s.Name)
			}
			seen[s.Name] = true
			if strings.TrimSpace(s.Description) == "" {
				t.Errorf("%q has no description", s.Name)
			}
		}
	})
	t.Run("catalogue is the one of DESIGN.md", func(t *testing.T) {
		if got, want := sorted(names(defaults)), sorted(designScopes); !slices.Equal(got, want) {
			t.Errorf("default scopes = %v\nwant %v", got, want)
		}
	})
	t.Run("process-level scopes are exactly those of DESIGN.md", func(t *testing.T) {
		var got []keywarden.Scope
		for _, s := range defaults {
			if s.ProcessLevel {
				got = append(got, s.Name)
			}
		}
		if got, want := sorted(got), sorted(designProcessScopes); !slices.Equal(got, want) {
			t.Errorf("process-level scopes = %v\nwant %v", got, want)
		}
	})
	t.Run("keywarden's own scopes are in the catalogue at the right level", func(t *testing.T) {
		c := keywarden.MustDefaultCatalogue()
		for _, tc := range []struct {
			scope        keywarden.Scope
			processLevel bool
		}{
			{keywarden.ScopeProcessCreate, false},
			{keywarden.ScopeProcessRead, true},
			{keywarden.ScopeProcessUpdate, true},
			{keywarden.ScopeProcessDelete, false},
			{keywarden.ScopeProcessAPIKeyManage, true},
			{keywarden.ScopeAdminAPIKeyManage, false},
		} {
			info, ok := c.Lookup(tc.scope)
			if !ok {
				t.Errorf("Lookup(%q) found nothing", tc.scope)
				continue
			}
			if info.ProcessLevel != tc.processLevel {
				t.Errorf("%q ProcessLevel = %v, want %v", tc.scope, info.ProcessLevel, tc.processLevel)
			}
		}
	})
}

func TestCatalogueForLevel(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	t.Run("organization level gets every scope in catalogue order", func(t *testing.T) {
		if got := c.ForLevel(keywarden.LevelOrganization); !slices.Equal(got, names(c.All())) {
			t.Errorf("ForLevel(organization) = %v, want every scope", got)
		}
	})
	t.Run("process level gets the process scopes in catalogue order", func(t *testing.T) {
		got := c.ForLevel(keywarden.LevelProcess)
		var want []keywarden.Scope
		for _, s := range c.All() {
			if slices.Contains(designProcessScopes, s.Name) {
				want = append(want, s.Name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ForLevel(process) = %v\nwant %v", got, want)
		}
	})
	t.Run("changing the result does not change the catalogue", func(t *testing.T) {
		got := c.ForLevel(keywarden.LevelProcess)
		got[0] = "workspace.admin.user:manage"
		if c.ForLevel(keywarden.LevelProcess)[0] == "workspace.admin.user:manage" {
			t.Error("ForLevel returned the catalogue's own slice")
		}
		all := c.All()
		all[0].Name, all[0].ProcessLevel = "evil.scope:x", true
		if c.All()[0].Name == "evil.scope:x" {
			t.Error("All returned the catalogue's own slice")
		}
	})
}

func TestCatalogueAllowedAt(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	for _, tc := range []struct {
		scope   keywarden.Scope
		level   keywarden.Level
		allowed bool
	}{
		{"workspace.file:upload", keywarden.LevelOrganization, true},
		{"workspace.file:upload", keywarden.LevelProcess, true},
		{"workspace.process:create", keywarden.LevelOrganization, true},
		{"workspace.process:create", keywarden.LevelProcess, false},
		{"workspace.admin.api_key:manage", keywarden.LevelProcess, false},
		{"workspace.destination:read", keywarden.LevelProcess, false},
		{"workspace.nope:read", keywarden.LevelOrganization, false},
		{"all", keywarden.LevelOrganization, false},
	} {
		name := fmt.Sprintf("%s at %s level is allowed", tc.scope, tc.level)
		if !tc.allowed {
			name = fmt.Sprintf("%s at %s level is refused", tc.scope, tc.level)
		}
		t.Run(name, func(t *testing.T) {
			if got := c.AllowedAt(tc.scope, tc.level); got != tc.allowed {
				t.Errorf("AllowedAt(%q, %q) = %v, want %v", tc.scope, tc.level, got, tc.allowed)
			}
		})
	}
}

func TestCatalogueResolve(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	org, proc := keywarden.LevelOrganization, keywarden.LevelProcess
	type field struct{ Location, Type string }

	for _, tc := range []struct {
		name       string
		requested  []string
		level      keywarden.Level
		want       []keywarden.Scope
		wantFields []field
	}{
		{"all at organization level expands to every scope", []string{"all"}, org, c.ForLevel(org), nil},
		{"all at process level expands to the process scopes", []string{"all"}, proc, c.ForLevel(proc), nil},
		{"a subset is kept", []string{"workspace.file:upload", "workspace.result:read"}, proc,
			[]keywarden.Scope{"workspace.file:upload", "workspace.result:read"}, nil},
		{"an organization scope is allowed at organization level", []string{"workspace.process:create"}, org,
			[]keywarden.Scope{"workspace.process:create"}, nil},
		{"duplicates are de-duplicated", []string{"workspace.file:upload", "workspace.file:upload", "workspace.file:upload"}, org,
			[]keywarden.Scope{"workspace.file:upload"}, nil},
		{"output is in catalogue order", []string{"workspace.export:delete", "workspace.file:upload", "workspace.process:read"}, org,
			[]keywarden.Scope{"workspace.process:read", "workspace.file:upload", "workspace.export:delete"}, nil},

		{"empty is required", []string{}, org, nil, []field{{"body: scopes", "required"}}},
		{"missing is required", nil, proc, nil, []field{{"body: scopes", "required"}}},
		{"unknown scope is reported at its index", []string{"workspace.file:upload", "workspace.nope:read"}, org, nil,
			[]field{{"body: scopes[1]", "unknown_scope"}}},
		{"upper-case all is unknown", []string{"ALL"}, org, nil, []field{{"body: scopes[0]", "unknown_scope"}}},
		{"upper-case scope is unknown", []string{"Workspace.file:upload"}, org, nil, []field{{"body: scopes[0]", "unknown_scope"}}},
		{"empty scope is unknown", []string{""}, org, nil, []field{{"body: scopes[0]", "unknown_scope"}}},
		{"organization scope in a process key is not allowed", []string{"workspace.file:upload", "workspace.process:create"}, proc, nil,
			[]field{{"body: scopes[1]", "scope_not_allowed"}}},
		{"admin scope in a process key is not allowed", []string{"workspace.admin.api_key:manage"}, proc, nil,
			[]field{{"body: scopes[0]", "scope_not_allowed"}}},
		{"every bad scope is reported", []string{"x", "workspace.process:delete", "workspace.file:upload", "y"}, proc, nil,
			[]field{{"body: scopes[0]", "unknown_scope"}, {"body: scopes[1]", "scope_not_allowed"}, {"body: scopes[3]", "unknown_scope"}}},
		{"all with another scope is refused", []string{"all", "workspace.file:upload"}, org, nil,
			[]field{{"body: scopes", "invalid_scope"}}},
		{"another scope with all is refused", []string{"workspace.file:upload", "all"}, proc, nil,
			[]field{{"body: scopes", "invalid_scope"}}},
		{"all twice is refused", []string{"all", "all"}, org, nil, []field{{"body: scopes", "invalid_scope"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v keywarden.Validation
			got := c.Resolve(tc.requested, tc.level, "body: scopes", &v)
			err := v.Err()
			var gotFields []field
			for _, f := range keywarden.ErrorFields(err) {
				gotFields = append(gotFields, field{f.Location, f.Type})
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Location)
				}
			}
			if !slices.Equal(gotFields, tc.wantFields) {
				t.Errorf("fields = %v, want %v", gotFields, tc.wantFields)
			}
			if tc.wantFields != nil {
				if keywarden.ErrorCode(err) != keywarden.EINVALID {
					t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), keywarden.EINVALID)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve reported %v, want no error", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Resolve(%q) = %v\nwant %v", tc.requested, got, tc.want)
			}
		})
	}
	t.Run("all expands to the scopes of DESIGN.md", func(t *testing.T) {
		var v keywarden.Validation
		if got := c.Resolve([]string{"all"}, org, "body: scopes", &v); !slices.Equal(sorted(got), sorted(designScopes)) {
			t.Errorf("all at organization level = %v", got)
		}
		if got := c.Resolve([]string{"all"}, proc, "body: scopes", &v); !slices.Equal(sorted(got), sorted(designProcessScopes)) {
			t.Errorf("all at process level = %v", got)
		}
		if err := v.Err(); err != nil {
			t.Errorf("Resolve reported %v", err)
		}
	})
	t.Run("changing an expansion of all does not change the catalogue", func(t *testing.T) {
		var v keywarden.Validation
		got := c.Resolve([]string{"all"}, proc, "body: scopes", &v)
		got[0] = "workspace.admin.api_key:manage"
		if again := c.Resolve([]string{"all"}, proc, "body: scopes", &v); slices.Contains(again, "workspace.admin.api_key:manage") {
			t.Errorf("a later expansion of all at process level contains %q", got[0])
		}
	})
}

func TestNewCatalogue(t *testing.T) {
	info := func(name string) keywarden.ScopeInfo {
		return keywarden.ScopeInfo{Name: keywarden.Scope(name), Description: "d"}
	}
	for _, tc := range []struct {
		name   string
		scopes []keywarden.ScopeInfo
	}{
		{"malformed name is refused", []keywarden.ScopeInfo{info("workspace.file:upload"), info("upload files")}},
		{"name without an action is refused", []keywarden.ScopeInfo{info("workspace.file")}},
		{"all is refused", []keywarden.ScopeInfo{info("all")}},
		{"empty name is refused", []keywarden.ScopeInfo{info("")}},
		{"duplicate name is refused", []keywarden.ScopeInfo{info("acme.billing:read"), info("workspace.file:upload"), info("acme.billing:read")}},
		{"operator scope duplicating a default is refused", append(keywarden.DefaultScopes(), info("workspace.file:upload"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := keywarden.NewCatalogue(tc.scopes)
			if err == nil {
				t.Fatalf("NewCatalogue = %v, want an error", c)
			}
			if keywarden.ErrorCode(err) != keywarden.EINVALID {
				t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), keywarden.EINVALID)
			}
		})
	}
	t.Run("operator scopes extend the defaults", func(t *testing.T) {
		scopes := append(keywarden.DefaultScopes(),
			keywarden.ScopeInfo{Name: "acme.billing:read", Description: "Read invoices.", ProcessLevel: true},
			keywarden.ScopeInfo{Name: "acme.ledger:close", Description: "Close the books.", Resource: "accounting"},
		)
		c := MustCatalogue(t, scopes)
		if got, ok := c.Lookup("acme.billing:read"); !ok || got.Resource != "billing" || !got.ProcessLevel {
			t.Errorf("Lookup(acme.billing:read) = %+v, %v; want a process-level scope with resource billing", got, ok)
		}
		if got, _ := c.Lookup("acme.ledger:close"); got.Resource != "accounting" {
			t.Errorf("explicit Resource = %q, want %q kept", got.Resource, "accounting")
		}
		if got := c.ForLevel(keywarden.LevelProcess); got[len(got)-1] != "acme.billing:read" || slices.Contains(got, "acme.ledger:close") {
			t.Errorf("ForLevel(process) = %v, want acme.billing:read last and no acme.ledger:close", got)
		}
	})
	t.Run("lookup of an unknown scope finds nothing", func(t *testing.T) {
		if got, ok := keywarden.MustDefaultCatalogue().Lookup("workspace.nope:read"); ok {
			t.Errorf("Lookup = %+v, true; want false", got)
		}
	})
}

func TestScopeResourceIsDerived(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	for _, tc := range []struct {
		scope    keywarden.Scope
		resource string
	}{
		{"workspace.process:create", "process"},
		{"workspace.process.api_key:manage", "process.api_key"},
		{"workspace.collection_editor:override", "collection_editor"},
		{"workspace.admin.api_key:manage", "admin.api_key"},
		{"workspace.admin.subscriptions:manage", "admin.subscriptions"},
		{"workspace.admin.webhook:manage", "admin.webhook"},
		{"workspace.file:upload", "file"},
	} {
		t.Run(fmt.Sprintf("%s groups under %s", tc.scope, tc.resource), func(t *testing.T) {
			info, ok := c.Lookup(tc.scope)
			if !ok {
				t.Fatalf("Lookup(%q) found nothing", tc.scope)
			}
			if info.Resource != tc.resource {
				t.Errorf("Resource = %q, want %q", info.Resource, tc.resource)
			}
		})
	}
}

func TestValidScopeName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"workspace.process:create", true},
		{"workspace.process.api_key:manage", true},
		{"workspace.collection_editor:override", true},
		{"acme.billing2:read_all", true},
		{"a.b:c", true},
		{"a.b:" + strings.Repeat("c", 124), true},  // 128 characters
		{"a.b:" + strings.Repeat("c", 125), false}, // 129 characters
		{"", false},
		{"all", false},
		{"workspace", false},
		{"workspace.process", false},
		{"workspace:create", false},
		{"workspace.process:", false},
		{":create", false},
		{".process:create", false},
		{"workspace.:create", false},
		{"workspace..process:create", false},
		{"workspace.process:create:now", false},
		{"workspace.process:create.now", false},
		{"Workspace.process:create", false},
		{"workspace.process:Create", false},
		{"workspace.pro-cess:create", false},
		{"workspace.process :create", false},
		{"workspace.process:create ", false},
		{"workspace.procéss:create", false},
	} {
		outcome := "valid"
		if !tc.want {
			outcome = "invalid"
		}
		t.Run(fmt.Sprintf("%q is %s", tc.name, outcome), func(t *testing.T) {
			if got := keywarden.ValidScopeName(tc.name); got != tc.want {
				t.Errorf("ValidScopeName(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestScopeSet(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	scopes := []keywarden.Scope{"workspace.file:upload", "workspace.admin.api_key:manage", "workspace.unknown:thing"}
	set := c.SetOf(scopes)
	for _, s := range c.All() {
		i, ok := c.Index(s.Name)
		if !ok {
			t.Fatalf("Index(%s) not found", s.Name)
		}
		want := s.Name == "workspace.file:upload" || s.Name == "workspace.admin.api_key:manage"
		if set.Has(i) != want {
			t.Errorf("set.Has(%s) = %v, want %v", s.Name, set.Has(i), want)
		}
	}
	if got := c.ScopesOf(set); len(got) != 2 || got[0] != "workspace.file:upload" || got[1] != "workspace.admin.api_key:manage" {
		t.Errorf("ScopesOf = %v, want the two known scopes in catalogue order", got)
	}
	var big keywarden.ScopeSet
	big.Add(keywarden.MaxScopes - 1)
	big.Add(keywarden.MaxScopes) // out of range: ignored
	if !big.Has(keywarden.MaxScopes-1) || big.Has(keywarden.MaxScopes) || big.Has(-1) || big.Has(0) {
		t.Error("ScopeSet bounds are wrong")
	}
	many := make([]keywarden.ScopeInfo, keywarden.MaxScopes+1)
	for i := range many {
		many[i] = keywarden.ScopeInfo{Name: keywarden.Scope(fmt.Sprintf("x.r%d:a", i))}
	}
	if _, err := keywarden.NewCatalogue(many); err == nil {
		t.Error("a catalogue over MaxScopes was accepted")
	}
}

// TestREADMEListsTheCatalogue keeps the README's scope table in step with
// the default catalogue.
func TestREADMEListsTheCatalogue(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(workspace\\.[^`]+)` \\| (yes|—) \\| (.+) \\|$")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	scopes := keywarden.DefaultScopes()
	if len(rows) != len(scopes) {
		t.Fatalf("the README lists %d scopes, the catalogue has %d", len(rows), len(scopes))
	}
	for i, s := range scopes {
		r := rows[i]
		if r[1] != string(s.Name) || (r[2] == "yes") != s.ProcessLevel || r[3] != s.Description {
			t.Errorf("README row %d = %q, want %s (process level %v): %s", i, r[0], s.Name, s.ProcessLevel, s.Description)
		}
	}
}

// operatorScopes are an operator's own scopes, as a scopes file adds them.
var operatorScopes = []keywarden.ScopeInfo{
	{Name: "acme.report:read", Description: "Read reports.", ProcessLevel: true},
	{Name: "acme.report:publish", Description: "Publish reports."},
}

// insertAt returns the default scopes with extra inserted before index i,
// moving every later default to another bit, as a release that adds a
// default scope does.
func insertAt(i int, extra ...keywarden.ScopeInfo) []keywarden.ScopeInfo {
	d := keywarden.DefaultScopes()
	return slices.Concat(d[:i], extra, d[i:])
}

// TestScopeSetsBelongToTheirCatalogue: a ScopeSet's bits are indexes into
// the catalogue that built it, so keys store scope names and every
// catalogue resolves them afresh. A name it does not know (an operator
// scope renamed or removed since) never becomes a bit, so it cannot turn
// into whatever scope now holds its old index.
func TestScopeSetsBelongToTheirCatalogue(t *testing.T) {
	defaults := keywarden.MustDefaultCatalogue()
	operator := MustCatalogue(t, insertAt(5, operatorScopes...))
	// A key's scopes as the store keeps them: names.
	stored := []keywarden.Scope{"workspace.file:upload", "workspace.admin.api_key:manage"}

	t.Run("a set read with another catalogue names other scopes", func(t *testing.T) {
		// Why sets are never stored: the same bits mean other scopes.
		if got := operator.ScopesOf(defaults.SetOf(stored)); slices.Equal(got, stored) {
			t.Fatalf("the default catalogue's set reads as %v in a catalogue with inserted scopes; the test no longer shows the hazard", got)
		}
		if defaults.Fingerprint() == operator.Fingerprint() {
			t.Error("catalogues that give scopes different bits have one fingerprint")
		}
	})
	t.Run("stored names resolve to the same scopes in either catalogue", func(t *testing.T) {
		for name, c := range map[string]*keywarden.Catalogue{"default": defaults, "operator": operator} {
			set := c.SetOf(stored)
			if got := c.ScopesOf(set); !slices.Equal(got, stored) {
				t.Errorf("%s catalogue: ScopesOf(SetOf(%v)) = %v", name, stored, got)
			}
			for i, info := range c.All() {
				if set.Has(i) != slices.Contains(stored, info.Name) {
					t.Errorf("%s catalogue: bit %d (%s) is %v", name, i, info.Name, set.Has(i))
				}
			}
		}
		withOwn := append(slices.Clone(stored), "acme.report:read")
		if got := operator.ScopesOf(operator.SetOf(withOwn)); !slices.Equal(sorted(got), sorted(withOwn)) {
			t.Errorf("operator catalogue: ScopesOf(SetOf(%v)) = %v", withOwn, got)
		}
	})
	t.Run("a name the catalogue lacks yields no bit", func(t *testing.T) {
		// The operator renamed acme.report:read to acme.report:view: the new
		// name has the old one's index. A key that stored the old name must
		// not hold the new scope, nor any other.
		renamed := MustCatalogue(t, insertAt(5, keywarden.ScopeInfo{Name: "acme.report:view", Description: "View reports."}, operatorScopes[1]))
		oldIndex, _ := operator.Index("acme.report:read")
		newIndex, _ := renamed.Index("acme.report:view")
		if oldIndex != newIndex {
			t.Fatalf("acme.report:view is at %d, acme.report:read was at %d: the test no longer reuses the index", newIndex, oldIndex)
		}
		key := []keywarden.Scope{"acme.report:read", "workspace.file:upload"}
		for name, c := range map[string]*keywarden.Catalogue{"renamed": renamed, "default": defaults} {
			set := c.SetOf(key)
			if want := c.SetOf([]keywarden.Scope{"workspace.file:upload"}); set != want {
				t.Errorf("%s catalogue: SetOf(%v) = %v, want only workspace.file:upload", name, key, c.ScopesOf(set))
			}
			if _, ok := c.Index("acme.report:read"); ok {
				t.Errorf("%s catalogue: a requirement of the removed scope can be expressed", name)
			}
		}
		if req := renamed.SetOf([]keywarden.Scope{"acme.report:view"}); req.Minus(renamed.SetOf(key)).Empty() {
			t.Error("a key that stored acme.report:read holds acme.report:view, its successor at the same index")
		}
	})
}

func TestCatalogueFingerprint(t *testing.T) {
	fp := keywarden.MustDefaultCatalogue().Fingerprint()
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(fp) {
		t.Fatalf("Fingerprint = %q, want 16 hex digits", fp)
	}
	reworded := keywarden.DefaultScopes()
	for i := range reworded {
		reworded[i].Description = "Reworded."
		reworded[i].Resource = "elsewhere"
	}
	if got := MustCatalogue(t, reworded).Fingerprint(); got != fp {
		t.Errorf("new descriptions changed the fingerprint: %s, was %s", got, fp)
	}
	swapped := keywarden.DefaultScopes()
	swapped[0], swapped[1] = swapped[1], swapped[0]
	for name, scopes := range map[string][]keywarden.ScopeInfo{
		"a scope appended":   append(keywarden.DefaultScopes(), operatorScopes[0]),
		"a scope inserted":   insertAt(3, operatorScopes[0]),
		"two scopes swapped": swapped,
		"a scope removed":    keywarden.DefaultScopes()[1:],
	} {
		if got := MustCatalogue(t, scopes).Fingerprint(); got == fp {
			t.Errorf("%s: the fingerprint is unchanged", name)
		}
	}
}
