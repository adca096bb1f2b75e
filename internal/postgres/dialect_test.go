package postgres

import (
	"reflect"
	"testing"
)

func TestParseTextArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`{}`, nil},
		{`{a}`, []string{"a"}},
		{`{keys:read,keys:write}`, []string{"keys:read", "keys:write"}},
		{`{"a,b","quo\"te","back\\slash","{brace}","sp ace","NULL","",x}`, []string{"a,b", `quo"te`, `back\slash`, "{brace}", "sp ace", "NULL", "", "x"}},
	} {
		got, err := parseTextArray(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseTextArray(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `a`, `{`, `{"a}`, `{a,}`, `{NULL}`, `{"a"b}`, `{{a},{b}}x`} {
		if got, err := parseTextArray(bad); err == nil {
			t.Errorf("parseTextArray(%q) = %q, want an error", bad, got)
		}
	}
}
