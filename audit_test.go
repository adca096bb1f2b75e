package keywarden_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden"
)

func TestAuditCursorRoundTrips(t *testing.T) {
	c := keywarden.AuditCursor{At: time.Date(2026, 12, 1, 9, 30, 0, 123456000, time.UTC), ID: "0123456789abcdef0123456789abcdef"}
	got, err := keywarden.ParseAuditCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("ParseAuditCursor(String()) = %+v, %v; want %+v", got, err, c)
	}
	if zero, err := keywarden.ParseAuditCursor(""); err != nil || !zero.IsZero() || (keywarden.AuditCursor{}).String() != "" {
		t.Fatalf("the empty token is not the zero cursor: %+v, %v", zero, err)
	}
}

func TestParseAuditCursorRefusesWhatItDidNotMake(t *testing.T) {
	for _, token := range []string{"!!", "bm90IGEgY3Vyc29y", "MTIzLmFiYw", "LTEuMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"} {
		if _, err := keywarden.ParseAuditCursor(token); keywarden.ErrorCode(err) != keywarden.EINVALID {
			t.Errorf("ParseAuditCursor(%q) = %v, want EINVALID", token, err)
		}
	}
}

func TestCleanUserAgent(t *testing.T) {
	long := strings.Repeat("a", keywarden.MaxUserAgentBytes-1) + "é" + "tail" // é straddles the bound
	for _, tt := range []struct{ name, in, want string }{
		{"KeptAsSent", "curl/8.5.0", "curl/8.5.0"},
		{"Trimmed", "  Mozilla/5.0  ", "Mozilla/5.0"},
		{"InvalidUTF8Replaced", "bad\xffbyte", "bad\uFFFDbyte"},
		{"ControlCharactersBlanked", "a\x00b\tc\x1bd", "a b c d"},
		{"ClippedBetweenCharacters", long, strings.Repeat("a", keywarden.MaxUserAgentBytes-1)},
		{"ExactlyAtTheBound", strings.Repeat("b", keywarden.MaxUserAgentBytes), strings.Repeat("b", keywarden.MaxUserAgentBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := keywarden.CleanUserAgent(tt.in)
			if got != tt.want {
				t.Errorf("CleanUserAgent(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len(got) > keywarden.MaxUserAgentBytes || !utf8.ValidString(got) {
				t.Errorf("CleanUserAgent(%q) = %d bytes, valid UTF-8 %v", tt.in, len(got), utf8.ValidString(got))
			}
		})
	}
}
