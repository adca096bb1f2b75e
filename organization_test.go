package keywarden_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     string
		wantType string // "" when valid
	}{
		{"plain name is valid", "Invoices", "Invoices", ""},
		{"surrounding space is trimmed", "  Invoices \t\n", "Invoices", ""},
		{"inner space is kept", "CI  upload", "CI  upload", ""},
		{"unicode is valid", "Factures été 😀", "Factures été 😀", ""},
		{"100 characters is valid", strings.Repeat("é", 100), strings.Repeat("é", 100), ""},
		{"empty is required", "", "", "required"},
		{"whitespace only is required", " \t\r\n ", "", "required"},
		{"101 characters is too long", strings.Repeat("a", 101), strings.Repeat("a", 101), "too_long"},
		{"300 characters is too long", strings.Repeat("é", 300), strings.Repeat("é", 300), "too_long"},
		{"NUL is invalid", "a\x00b", "a\x00b", "invalid"},
		{"escape sequence is invalid", "a\x1b[2Jb", "a\x1b[2Jb", "invalid"},
		{"inner newline is invalid", "a\nb", "a\nb", "invalid"},
		{"inner tab is invalid", "a\tb", "a\tb", "invalid"},
		{"DEL is invalid", "a\x7fb", "a\x7fb", "invalid"},
		{"C1 control is invalid", "a\u0085b", "a\u0085b", "invalid"},
		{"invalid UTF-8 is invalid", "a\xffb", "a\xffb", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v keywarden.Validation
			got := keywarden.ValidateName(tc.in, "body: name", &v)
			if got != tc.want {
				t.Errorf("ValidateName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			fields := keywarden.ErrorFields(v.Err())
			if tc.wantType == "" {
				if len(fields) != 0 {
					t.Errorf("ValidateName(%q) reported %+v, want no error", tc.in, fields)
				}
				return
			}
			if len(fields) != 1 || fields[0].Location != "body: name" || fields[0].Type != tc.wantType {
				t.Errorf("ValidateName(%q) reported %+v, want one %q at body: name", tc.in, fields, tc.wantType)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  string
		valid bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace@Example.COM \n", "ada.lovelace@example.com", true},
		{"a@b", "a@b", true},
		{`"odd@name"@example.com`, `"odd@name"@example.com`, true},
		{"", "", false},
		{"   ", "", false},
		{"ada", "ada", false},
		{"@example.com", "@example.com", false},
		{"ada@", "ada@", false},
		{"ada lovelace@example.com", "ada lovelace@example.com", false},
		{"ada@exam\tple.com", "ada@exam\tple.com", false},
		{"ada\x00@example.com", "ada\x00@example.com", false},
		{"ada@example.com\x1b[2J", "ada@example.com\x1b[2j", false},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 189), strings.Repeat("a", 64) + "@" + strings.Repeat("b", 189), true},  // 254
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190), strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190), false}, // 255
	} {
		outcome := "valid"
		if !tc.valid {
			outcome = "invalid"
		}
		t.Run(fmt.Sprintf("%.40q is %s", tc.in, outcome), func(t *testing.T) {
			var v keywarden.Validation
			got := keywarden.NormalizeEmail(tc.in, "body: email", &v)
			if got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
			fields := keywarden.ErrorFields(v.Err())
			if tc.valid && len(fields) != 0 {
				t.Errorf("NormalizeEmail(%q) reported %+v, want no error", tc.in, fields)
			}
			if !tc.valid && (len(fields) != 1 || fields[0].Location != "body: email") {
				t.Errorf("NormalizeEmail(%q) reported %+v, want one error at body: email", tc.in, fields)
			}
		})
	}
}
