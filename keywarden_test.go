package keywarden_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keywarden/keywarden"
)

// MustNewID returns a new random ID or fails the test.
func MustNewID(tb testing.TB) string {
	tb.Helper()
	id, err := keywarden.NewID(nil)
	if err != nil {
		tb.Fatalf("NewID: %v", err)
	}
	return id
}

func TestNewID(t *testing.T) {
	t.Run("random IDs are well-formed and differ", func(t *testing.T) {
		seen := map[string]bool{}
		for range 100 {
			id := MustNewID(t)
			if !keywarden.IsID(id) {
				t.Fatalf("NewID() = %q, want 32 lower-case hex characters", id)
			}
			if seen[id] {
				t.Fatalf("NewID() repeated %q", id)
			}
			seen[id] = true
		}
	})
	t.Run("ID is the hex of 16 bytes of the reader", func(t *testing.T) {
		r := bytes.NewReader([]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x42})
		id, err := keywarden.NewID(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := "00010203040506070809aabbccddeeff"; id != want {
			t.Errorf("NewID = %q, want %q", id, want)
		}
	})
	for _, tc := range []struct {
		name string
		r    interface{ Read([]byte) (int, error) }
	}{
		{"erroring reader fails", iotest.ErrReader(errors.New("no entropy"))},
		{"short reader fails", bytes.NewReader(make([]byte, 15))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := keywarden.NewID(tc.r)
			if keywarden.ErrorCode(err) != keywarden.EINTERNAL {
				t.Errorf("NewID error = %v, want code %q", err, keywarden.EINTERNAL)
			}
			if id != "" {
				t.Errorf("NewID = %q with its error, want \"\"", id)
			}
		})
	}
}

func TestIsID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{strings.Repeat("0", 32), true},
		{strings.Repeat("f", 32), true},
		{"", false},
		{strings.Repeat("a", 31), false},
		{strings.Repeat("a", 33), false},
		{"0123456789ABCDEF0123456789abcdef", false},
		{"0123456789abcdeg0123456789abcdef", false},
		{"01234567-89ab-cdef-0123-456789abcdef"[:32], false},
		{"../../../../../../../../etc/pass", false},
		{"1", false},
	} {
		outcome := "an ID"
		if !tc.want {
			outcome = "not an ID"
		}
		t.Run(fmt.Sprintf("%q is %s", tc.s, outcome), func(t *testing.T) {
			if got := keywarden.IsID(tc.s); got != tc.want {
				t.Errorf("IsID(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}
