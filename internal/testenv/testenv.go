// Package testenv lets tests that need an outside program (Chromium,
// PostgreSQL, nginx) skip with a clear message where it is absent, and fail
// instead under CI (KEYWARDEN_CI=1), which installs them all: CI never skips
// silently.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under .ci/run.
func InCI() bool { return os.Getenv("KEYWARDEN_CI") == "1" }

// SkipOrFail skips the test with a message naming what is missing, or fails
// it under CI.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("KEYWARDEN_CI=1 but "+format, args...)
	}
	tb.Skipf(format, args...)
}

// Program returns the path of the first of candidates that exists (an
// absolute path, or a name looked up in PATH), or skips (fails under CI).
func Program(tb testing.TB, what string, candidates ...string) string {
	tb.Helper()
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	SkipOrFail(tb, "%s is not installed (looked for %v); .ci/run installs it", what, candidates)
	return ""
}
