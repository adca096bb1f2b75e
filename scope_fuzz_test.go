package keywarden_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// FuzzResolve checks the scope list of a create request. The list is the
// fuzzer's string split at newlines ("" is the empty list). Whatever it
// holds: nothing panics; the result lists scopes of the catalogue the level
// allows, in catalogue order, each once; "all" expands only alone; and the
// errors are exactly one per bad entry at "body: scopes[i]", or one at
// "body: scopes" for an empty list or "all" among others.
func FuzzResolve(f *testing.F) {
	c := keywarden.MustDefaultCatalogue()
	const location = "body: scopes"
	f.Fuzz(func(t *testing.T, list string, process bool) {
		var requested []string
		if list != "" {
			requested = strings.Split(list, "\n")
		}
		level := keywarden.LevelOrganization
		if process {
			level = keywarden.LevelProcess
		}
		var v keywarden.Validation
		got := c.Resolve(requested, level, location, &v)
		fields := keywarden.ErrorFields(v.Err())

		last := -1
		for _, s := range got {
			i, ok := c.Index(s)
			if !ok || !c.AllowedAt(s, level) {
				t.Fatalf("Resolve(%q, %s) = %q: %q is not a scope the level may hold", requested, level, got, s)
			}
			if i <= last {
				t.Fatalf("Resolve(%q, %s) = %q: not in catalogue order, or %q twice", requested, level, got, s)
			}
			last = i
		}

		whole := len(requested) == 0 || slices.Contains(requested, keywarden.ScopeAll) && len(requested) > 1
		if whole {
			if got != nil || len(fields) != 1 || fields[0].Location != location {
				t.Fatalf("Resolve(%q, %s) = %q, %+v; want nothing and one error at %q", requested, level, got, fields, location)
			}
			return
		}
		if len(requested) == 1 && requested[0] == keywarden.ScopeAll {
			if !slices.Equal(got, c.ForLevel(level)) || len(fields) != 0 {
				t.Fatalf("Resolve([all], %s) = %q, %+v; want every scope of the level", level, got, fields)
			}
			return
		}

		// Without "all": an error for each bad entry, in order, and the
		// good ones in the result.
		var wantLocs []string
		var want []keywarden.Scope
		for i, r := range requested {
			if !c.AllowedAt(keywarden.Scope(r), level) {
				wantLocs = append(wantLocs, location+"["+strconv.Itoa(i)+"]")
			} else if !slices.Contains(want, keywarden.Scope(r)) {
				want = append(want, keywarden.Scope(r))
			}
		}
		var locs []string
		for _, fe := range fields {
			locs = append(locs, fe.Location)
		}
		if !slices.Equal(locs, wantLocs) {
			t.Fatalf("Resolve(%q, %s) errors at %q, want at %q", requested, level, locs, wantLocs)
		}
		if len(got) != len(want) {
			t.Fatalf("Resolve(%q, %s) = %q, want the scopes %q", requested, level, got, want)
		}
		for _, s := range want {
			if !slices.Contains(got, s) {
				t.Fatalf("Resolve(%q, %s) = %q, missing %q", requested, level, got, s)
			}
		}
	})
}
