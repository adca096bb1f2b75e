package password_test

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/password"
)

func TestHashThenCheck(t *testing.T) {
	h, err := password.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	if !password.Check("correct horse battery staple", h) {
		t.Error("the right password does not match")
	}
	if password.Check("correct horse battery stapler", h) {
		t.Error("a wrong password matches")
	}
	h2, _ := password.Hash("correct horse battery staple")
	if h == h2 {
		t.Error("two hashes of the same password are equal: the salt is not random")
	}
}

func TestCheckRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=65536,t=2,p=2$c2FsdA$aGFzaA", "$argon2id$v=19$m=0,t=2,p=2$c2FsdA$aGFzaA", "$argon2id$v=19$m=65536,t=2,p=2$!!$aGFzaA", "$argon2id$v=19$m=65536,t=2,p=2$c2FsdA$"} {
		if password.Check("whatever password", h) {
			t.Errorf("Check accepted malformed hash %q", h)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		pw   string
		okay bool
	}{
		{"short", false},
		{strings.Repeat("a", password.MinLength), true},
		{strings.Repeat("a", password.MaxLength+1), false},
		{"\xff\xfe" + strings.Repeat("a", 20), false},
	}
	for _, tt := range tests {
		if got := password.Validate(tt.pw) == ""; got != tt.okay {
			t.Errorf("Validate(%q) ok = %v, want %v", tt.pw, got, tt.okay)
		}
	}
}
