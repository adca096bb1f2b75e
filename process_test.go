package keywarden_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

func TestValidProcessTypeID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{keywarden.DefaultProcessTypeID, true},
		{"invoices", true},
		{"purchase-order_v2", true},
		{"0", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"Invoices", false},
		{"purchase order", false},
		{"invoices.v2", false},
		{"../etc", false},
		{"factures-été", false},
		{"a\x00", false},
	} {
		outcome := "valid"
		if !tc.want {
			outcome = "invalid"
		}
		t.Run(fmt.Sprintf("%.20q is %s", tc.id, outcome), func(t *testing.T) {
			if got := keywarden.ValidProcessTypeID(tc.id); got != tc.want {
				t.Errorf("ValidProcessTypeID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
