package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// fuzzBodyLimit is the body limit of FuzzDecode's requests: small, so that
// the fuzzer reaches ETOOLARGE too.
const fuzzBodyLimit = 512

// FuzzDecode checks decode on two request types of the API. Whatever the
// body: nothing panics; a decoded value encodes and decodes back to itself;
// and a failure is EINVALID with field errors located in the body, or
// ETOOLARGE for a body over the limit.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		checkDecode[keywarden.CreateAPIKeyRequest](t, body)
		checkDecode[api.VerifyRequest](t, body)
	})
}

// jsonRequest is a POST of body as JSON.
func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func checkDecode[T any](t *testing.T, body string) {
	t.Helper()
	r := jsonRequest(body)
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, fuzzBodyLimit)
	v, err := decode[T](r)
	if err == nil {
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("decode[%T](%q) = %+v, which does not encode: %v", v, body, v, err)
		}
		// No limit here: escaping may make the encoding longer than the body.
		back, err := decode[T](jsonRequest(string(again)))
		if err != nil {
			t.Fatalf("decode[%T](%q) = %+v, encoded %s, which does not decode: %v", v, body, v, again, err)
		}
		// Compared as encoded: omitempty makes an empty list and no list
		// one value ({"scopes":[]} decodes to [], its encoding to nil).
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("decode[%T](%q) = %+v, encoded %s, decoded again %+v, encoded %s", v, body, v, again, back, twice)
		}
		// Every key was exactly a field's name (checked here without
		// decode's scanner).
		var members map[string]json.RawMessage
		_ = json.Unmarshal([]byte(body), &members)
		names := tagNames[T]()
		for key := range members {
			if !names[key] {
				t.Fatalf("decode[%T](%q) accepted the key %q, which is no field's exact name", v, body, key)
			}
		}
		return
	}
	e, ok := err.(*keywarden.Error)
	if !ok {
		t.Fatalf("decode[%T](%q) error = %#v, not a *keywarden.Error", v, body, err)
	}
	switch e.Code {
	case keywarden.ETOOLARGE:
		if len(body) <= fuzzBodyLimit {
			t.Fatalf("decode[%T](%q) = ETOOLARGE for %d bytes, within the limit of %d", v, body, len(body), fuzzBodyLimit)
		}
	case keywarden.EINVALID:
		if len(e.Fields) == 0 {
			t.Fatalf("decode[%T](%q) = EINVALID without field errors", v, body)
		}
		for _, fe := range e.Fields {
			if !strings.HasPrefix(fe.Location, "body") || fe.Type == "" || fe.Message == "" {
				t.Fatalf("decode[%T](%q) field error %+v, want a body location, a type and a message", v, body, fe)
			}
		}
	default:
		t.Fatalf("decode[%T](%q) error code %q, want EINVALID or ETOOLARGE", v, body, e.Code)
	}
}

// tagNames returns the JSON names of the fields of the flat struct T.
func tagNames[T any]() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}
