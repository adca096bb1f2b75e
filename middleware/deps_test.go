package middleware_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

// A service that imports the middleware or the client must not pull in a
// database driver, a metrics library or anything else of the server: only
// the standard library and Keywarden's public, standard-library-only
// packages.
func TestDependenciesAreStandardLibraryOnly(t *testing.T) {
	gobin := testenv.Program(t, "the go command (to list the dependencies)", "go")
	out, err := exec.Command(gobin, "list", "-deps",
		"github.com/keywarden/keywarden/client", "github.com/keywarden/keywarden/middleware").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	allowed := map[string]bool{
		"github.com/keywarden/keywarden":            true,
		"github.com/keywarden/keywarden/api":        true,
		"github.com/keywarden/keywarden/client":     true,
		"github.com/keywarden/keywarden/middleware": true,
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !allowed[deps[len(deps)-1]] {
		t.Fatalf("go list printed no plausible dependency list:\n%s", out)
	}
	for _, pkg := range deps {
		first, _, _ := strings.Cut(pkg, "/")
		if !strings.Contains(first, ".") { // the standard library
			continue
		}
		if !allowed[pkg] {
			t.Errorf("client or middleware depends on %s", pkg)
		}
	}
}
