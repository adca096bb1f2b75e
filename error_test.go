package keywarden_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

func TestErrorCode(t *testing.T) {
	notFound := keywarden.Errorf(keywarden.ENOTFOUND, "API key not found.")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil has no code", nil, ""},
		{"plain error is internal", errors.New("disk full"), keywarden.EINTERNAL},
		{"context error is internal", context.Canceled, keywarden.EINTERNAL},
		{"domain error keeps its code", notFound, keywarden.ENOTFOUND},
		{"wrapped domain error keeps its code", fmt.Errorf("find key: %w", notFound), keywarden.ENOTFOUND},
		{"twice-wrapped domain error keeps its code", fmt.Errorf("a: %w", fmt.Errorf("b: %w", notFound)), keywarden.ENOTFOUND},
		{"joined domain error keeps its code", errors.Join(errors.New("x"), notFound), keywarden.ENOTFOUND},
		{"domain error formatted with %v loses its code", fmt.Errorf("find key: %v", notFound), keywarden.EINTERNAL},
		{"each code survives", keywarden.Errorf(keywarden.ETOOLARGE, "big"), keywarden.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keywarden.ErrorCode(tc.err); got != tc.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	invalid := keywarden.Errorf(keywarden.EINVALID, "Name is required.")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil has no message", nil, ""},
		{"plain error is hidden", errors.New("pq: password authentication failed for user admin"), "Internal error."},
		{"internal domain error is hidden", keywarden.Errorf(keywarden.EINTERNAL, "read random: %v", "boom"), "Internal error."},
		{"domain error is shown", invalid, "Name is required."},
		{"wrapped domain error shows only its own message", fmt.Errorf("db at 10.0.0.5: %w", invalid), "Name is required."},
		{"formatted arguments are in the message", keywarden.Errorf(keywarden.ENOTFOUND, "Process %q not found.", "p1"), `Process "p1" not found.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keywarden.ErrorMessage(tc.err); got != tc.want {
				t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	err := keywarden.Errorf(keywarden.ECONFLICT, "Name is taken.")
	if s := err.Error(); !strings.Contains(s, keywarden.ECONFLICT) || !strings.Contains(s, "Name is taken.") {
		t.Errorf("Error() = %q, want the code and message", s)
	}
	var v keywarden.Validation
	v.Add("body: name", "required", "Name is required.")
	if s := v.Err().Error(); !strings.Contains(s, "body: name") {
		t.Errorf("Error() = %q, want the field location", s)
	}
}

func TestValidation(t *testing.T) {
	t.Run("no field is no error", func(t *testing.T) {
		var v keywarden.Validation
		if err := v.Err(); err != nil {
			t.Errorf("Err() = %v, want nil", err)
		}
	})
	t.Run("one field gives its message", func(t *testing.T) {
		var v keywarden.Validation
		v.Add("query: limit", "too_large", "limit must be at most %d.", 100)
		err := v.Err()
		if keywarden.ErrorCode(err) != keywarden.EINVALID {
			t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), keywarden.EINVALID)
		}
		if got := keywarden.ErrorMessage(err); got != "limit must be at most 100." {
			t.Errorf("ErrorMessage = %q, want the field's message", got)
		}
		want := []keywarden.FieldError{{Location: "query: limit", Message: "limit must be at most 100.", Type: "too_large"}}
		if got := keywarden.ErrorFields(err); !slices.Equal(got, want) {
			t.Errorf("ErrorFields = %+v, want %+v", got, want)
		}
	})
	t.Run("several fields are all reported in order", func(t *testing.T) {
		var v keywarden.Validation
		v.Add("body: name", "required", "Name is required.")
		v.Add("body: scopes[2]", "unknown_scope", "Unknown scope %q.", "x.y:z")
		v.Add("body: exp", "in_past", "exp must be in the future.")
		err := v.Err()
		if got := keywarden.ErrorMessage(err); got != "The request has invalid fields." {
			t.Errorf("ErrorMessage = %q, want the summary", got)
		}
		want := []keywarden.FieldError{
			{Location: "body: name", Message: "Name is required.", Type: "required"},
			{Location: "body: scopes[2]", Message: `Unknown scope "x.y:z".`, Type: "unknown_scope"},
			{Location: "body: exp", Message: "exp must be in the future.", Type: "in_past"},
		}
		if got := keywarden.ErrorFields(err); !slices.Equal(got, want) {
			t.Errorf("ErrorFields = %+v\nwant %+v", got, want)
		}
		if got := keywarden.ErrorFields(fmt.Errorf("create key: %w", err)); !slices.Equal(got, want) {
			t.Errorf("ErrorFields of the wrapped error = %+v, want the same fields", got)
		}
	})
	t.Run("errors without fields have none", func(t *testing.T) {
		if got := keywarden.ErrorFields(errors.New("x")); got != nil {
			t.Errorf("ErrorFields = %+v, want nil", got)
		}
		if got := keywarden.ErrorFields(keywarden.Errorf(keywarden.EINVALID, "x")); got != nil {
			t.Errorf("ErrorFields = %+v, want nil", got)
		}
	})
}
