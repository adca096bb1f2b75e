package testenv

import "testing"

func TestProgramFindsAnInstalledProgram(t *testing.T) {
	if p := Program(t, "a shell", "/no/such/program", "sh"); p == "" {
		t.Fatal("Program did not find sh")
	}
}
