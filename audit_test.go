package keywarden_test

import (
	"testing"
	"time"

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
