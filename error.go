package keywarden

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the server; stores translate
// driver errors into these codes in one place.
const (
	EINVALID      = "invalid"      // the request is malformed or breaks a rule
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	EFORBIDDEN    = "forbidden"    // valid credentials, missing permission
	ENOTFOUND     = "not_found"    // absent, or belongs to somebody else
	ECONFLICT     = "conflict"     // would violate a uniqueness rule
	ETOOLARGE     = "too_large"    // request body over the limit
	ERATELIMITED  = "rate_limited" // too many attempts from this source; try again later
	EUNAVAILABLE  = "unavailable"  // the database did not answer in time, or the cache cannot vouch for a key; try again shortly
	EINTERNAL     = "internal"     // a bug or an outage; details are logged, never shown
)

// Error is the one error type of the domain. Message is safe to show to the
// caller; Fields lists every invalid input at once so a client can fix them
// together.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one invalid input. Location is "body: name",
// "query: limit" or "path: id"; Type is a stable machine-readable reason.
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
	Type     string `json:"type"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("keywarden error: code=%s message=%s", e.Code, e.Message)
	}
	return fmt.Sprintf("keywarden error: code=%s message=%s fields=%v", e.Code, e.Message, e.Fields)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EINTERNAL when err is not an *Error
// (anything unexpected is treated as internal and never shown).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	} else if e, ok := asError(err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	e, ok := asError(err)
	if ok && e.Code == EUNAVAILABLE {
		// Its message names the operation and the driver's error, for the
		// log.
		return UnavailableMessage
	} else if ok && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}

// UnavailableMessage is the one caller-safe text of EUNAVAILABLE.
const UnavailableMessage = "The key store cannot be reached right now. Try again shortly."

// ErrorFields returns the per-field errors of err, if any.
func ErrorFields(err error) []FieldError {
	if e, ok := asError(err); ok {
		return e.Fields
	}
	return nil
}

// asError is errors.As(err, &e) for an *Error, without the allocation of
// errors.As's target when err is an *Error itself, as the errors of
// refused requests are.
func asError(err error) (*Error, bool) {
	if e, ok := err.(*Error); ok {
		return e, true
	}
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Validation collects field errors so a request can report them all at once.
type Validation struct{ fields []FieldError }

// Add records one invalid field.
func (v *Validation) Add(location, typ, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Location: location, Type: typ, Message: fmt.Sprintf(format, args...)})
}

// Err returns an EINVALID error listing every field, or nil when none was added.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "The request has invalid fields."
	if len(v.fields) == 1 {
		msg = v.fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}
