package testenv

import "testing"

// TestPostgresURLCountsSkips: without the variable a test skips and is
// counted; with it, it runs and is not.
func TestPostgresURLCountsSkips(t *testing.T) {
	t.Setenv("KEYWARDEN_CI", "")
	t.Setenv(PostgresURLVar, "")
	var ran bool
	t.Run("without the variable", func(t *testing.T) {
		t.Cleanup(func() {
			if !t.Skipped() {
				t.Error("the test did not skip")
			}
		})
		PostgresURL(t, "testing")
		ran = true
	})
	if ran {
		t.Error("the test went on after PostgresURL skipped it")
	}
	n := 0
	postgresSkips.Range(func(k, _ any) bool { n++; return k == "TestPostgresURLCountsSkips/without_the_variable" })
	if n != 1 {
		t.Errorf("%d tests counted as skipped, want 1", n)
	}
	postgresSkips.Clear()

	t.Setenv(PostgresURLVar, "postgres://example")
	t.Run("with the variable", func(t *testing.T) {
		if u := PostgresURL(t, "testing"); u != "postgres://example" {
			t.Errorf("PostgresURL = %q", u)
		}
	})
	postgresSkips.Range(func(k, _ any) bool { t.Errorf("%v counted as skipped", k); return true })
}
