package testenv

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/mattn/go-isatty"
)

// PostgresURLVar names the PostgreSQL server the tests that need one use.
// CI sets it; without it they skip, and Run says how many did.
const PostgresURLVar = "KEYWARDEN_TEST_POSTGRES_URL"

// postgresSkips holds the names of the tests of this test binary that
// skipped for want of PostgresURLVar. It is package state, as the testing
// package's own is: one test binary, one count, read by Run at the end.
var postgresSkips sync.Map

// PostgresURL returns the test PostgreSQL server's URL, or skips tb (fails
// it under CI) saying why it needs one; Run counts the skip.
func PostgresURL(tb testing.TB, why string) string {
	tb.Helper()
	u := os.Getenv(PostgresURLVar)
	if u == "" {
		if !InCI() {
			postgresSkips.Store(tb.Name(), true)
		}
		SkipOrFail(tb, "%s is not set (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable): %s", PostgresURLVar, PostgresURLVar, why)
	}
	return u
}

// Run runs the tests of m and returns their exit code, for TestMain, after
// printing one line when tests skipped for want of PostgreSQL, so that
// "go test ./..." does not pass silently without them.
//
// "go test ./..." shows nothing a passing package prints, but -v does, and
// so does "go test" in the package's directory. Without -v the line goes to
// the terminal (/dev/tty) when there is one, else to stdout, where -json
// and a failing run show it.
func Run(m *testing.M) int {
	code := m.Run()
	n := 0
	postgresSkips.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		return code
	}
	line := fmt.Sprintf("testenv: %d tests skipped: set %s to a PostgreSQL server's URL to run them\n", n, PostgresURLVar)
	var w io.Writer = os.Stdout
	if !testing.Verbose() && !isatty.IsTerminal(os.Stdout.Fd()) {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			defer tty.Close()
			w = tty
		}
	}
	fmt.Fprint(w, line)
	return code
}
