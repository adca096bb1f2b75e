package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// encodedProblem is the problem document of err as writeError wrote it
// with encoding/json: what appendProblem must write, byte for byte.
func encodedProblem(t testing.TB, s *server, r *http.Request, info *requestInfo, err error) string {
	t.Helper()
	code := keywarden.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := api.Problem{
		Type:      api.ProblemType(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    keywarden.ErrorMessage(err),
		Instance:  instanceOf(r, info),
		Timestamp: s.Now().UTC().Format(time.RFC3339),
		Errors:    keywarden.ErrorFields(err),
	}
	if p.Errors == nil {
		p.Errors = []keywarden.FieldError{}
	}
	if status == http.StatusUnauthorized {
		p.Detail = api.UnauthorizedDetail
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		t.Fatal(mErr)
	}
	return string(body) + "\n"
}

// TestProblemIsEncodingJSON: every kind of error response, the refusals of
// authentication first, has the body encoding/json wrote and the headers
// writeError set before it wrote with encoding/json.
func TestProblemIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 999, time.FixedZone("x", 3600))
	s := newRenderingServer()
	s.Now = func() time.Time { return at }
	tests := []struct {
		name       string
		err        error
		path       string        // the request's; "/api/v1/me" when empty
		instance   string        // info.instance
		retryAfter time.Duration // info.retryAfter
	}{
		{name: "unauthorized", err: errUnauthorized},
		{name: "unauthorized, forward-auth", err: errUnauthorized, path: "/api/v1/auth/forward", instance: "/v1/things"},
		{name: "unauthorized, awkward path", err: errUnauthorized, path: "/api/v1/<me>/\"q\"/\\/é/\u2028"},
		{name: "throttled", err: errThrottled, retryAfter: 90 * time.Second},
		{name: "forward-auth throttled", err: errForwardThrottled, instance: "/v1/x", retryAfter: time.Second},
		{name: "key rate limited", err: errKeyRateLimited, retryAfter: 1500 * time.Millisecond},
		{name: "forward-auth refusals", err: errNoOriginal},
		{name: "no route", err: errNoRoute, instance: "/v1/[REDACTED]/x"},
		{name: "key in URL", err: errKeyInURL},
		{name: "wrong process", err: errWrongProcess},
		{name: "insufficient scope", err: keywarden.Errorf(keywarden.EFORBIDDEN, "This request requires the scope %s.", "a:b, c:d")},
		{name: "process not found", err: errProcessNotFound},
		{name: "invalid, with fields", err: &keywarden.Error{Code: keywarden.EINVALID, Message: `Unknown field "x".`, Fields: []keywarden.FieldError{
			{Location: "body: x", Type: "unknown_field", Message: `Unknown field "x".`},
			{Location: "query: <a&b>", Type: "credential_in_url", Message: "tab\there, bad \xff, nul \x00"},
		}}},
		{name: "invalid, empty fields", err: &keywarden.Error{Code: keywarden.EINVALID, Message: "m", Fields: []keywarden.FieldError{}}},
		{name: "too large", err: keywarden.Errorf(keywarden.ETOOLARGE, "The request body is larger than %d bytes.", 1<<20)},
		{name: "unavailable", err: keywarden.Errorf(keywarden.EUNAVAILABLE, "lookup: %v", errors.New("timeout"))},
		{name: "unavailable, with a wait", err: keywarden.Errorf(keywarden.EUNAVAILABLE, "rate limiter"), retryAfter: 3 * time.Second},
		{name: "internal", err: errors.New("boom")},
		{name: "internal error code", err: keywarden.Errorf(keywarden.EINTERNAL, "secret detail")},
		{name: "wrapped", err: fmt.Errorf("finding: %w", keywarden.Errorf(keywarden.ENOTFOUND, "API key not found."))},
		{name: "method", err: keywarden.Errorf(EMETHOD, "This endpoint does not support %s.", "PUT")},
		{name: "media type", err: errMediaType},
		{name: "not configured", err: keywarden.Errorf(ENOTCONFIGURED, "Webhooks need --webhook-secret-key.")},
		{name: "unknown code", err: keywarden.Errorf(`odd "code" <x>`, "?")},
		{name: "empty message", err: keywarden.Errorf(keywarden.ECONFLICT, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/api/v1/me"
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.URL.Path = path
			info := &requestInfo{instance: tt.instance, retryAfter: tt.retryAfter}
			rec := httptest.NewRecorder()
			s.writeError(&statusRecorder{ResponseWriter: rec, info: info}, r, tt.err)

			if want := encodedProblem(t, s, r, info, tt.err); rec.Body.String() != want {
				t.Errorf("body\n%s\nwant\n%s", rec.Body.String(), want)
			}
			want := ProblemHeaders(false)
			code := keywarden.ErrorCode(tt.err)
			if statusOf[code] == http.StatusUnauthorized {
				want.Set("WWW-Authenticate", api.WWWAuthenticate)
			}
			switch {
			case tt.retryAfter > 0:
				want.Set("Retry-After", strconv.Itoa(int(tt.retryAfter/time.Second)+1))
			case code == keywarden.EUNAVAILABLE:
				want.Set("Retry-After", "1")
			}
			if got := rec.Header(); !reflect.DeepEqual(got, want) {
				t.Errorf("headers %v, want %v", got, want)
			}
			if status, ok := statusOf[code]; !ok && rec.Code != http.StatusInternalServerError || ok && rec.Code != status {
				t.Errorf("status %d for code %q", rec.Code, code)
			}
		})
	}
	// A field added to api.Problem must be added to appendProblem too.
	if n := reflect.TypeFor[api.Problem]().NumField(); n != 7 {
		t.Errorf("api.Problem has %d fields; appendProblem writes 7", n)
	}
}

// FuzzAppendProblem checks appendProblem against encoding/json for any
// problem, every string of it fuzzed.
func FuzzAppendProblem(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, 401, s, s, s, s, s, int64(1772366400))
	}
	f.Add("unauthorized", 401, api.UnauthorizedDetail, "/api/v1/me", "", "", "", int64(0))
	f.Add("x", 999, "", "", "body: a", "A \"b\".", "t", int64(-62135596800))
	f.Fuzz(func(t *testing.T, code string, status int, detail, instance, location, message, typ string, unix int64) {
		at := time.Unix(unix, 0)
		p := problem{code: code, status: status, detail: detail, instance: instance, at: at}
		want := api.Problem{Type: api.ProblemType(code), Title: http.StatusText(status), Status: status, Detail: detail,
			Instance: instance, Timestamp: timestamp(at), Errors: []keywarden.FieldError{}}
		if location != "" || message != "" || typ != "" {
			p.fields = []keywarden.FieldError{{Location: location, Message: message, Type: typ}, {Location: typ, Message: location, Type: message}}
			want.Errors = p.fields
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendProblem([]byte("x"), &p); string(got) != "x"+string(wantJSON) {
			t.Errorf("appendProblem(%+v) =\n%s\nwant\nx%s", p, got, wantJSON)
		}
	})
}
