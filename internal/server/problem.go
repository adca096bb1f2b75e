package server

import (
	"log/slog"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// statusOf maps each domain error code to its HTTP status: the one table.
var statusOf = map[string]int{
	keywarden.EINVALID:      http.StatusBadRequest,
	keywarden.EUNAUTHORIZED: http.StatusUnauthorized,
	keywarden.EFORBIDDEN:    http.StatusForbidden,
	keywarden.ENOTFOUND:     http.StatusNotFound,
	keywarden.ECONFLICT:     http.StatusConflict,
	keywarden.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	keywarden.ERATELIMITED:  http.StatusTooManyRequests,
	keywarden.EUNAVAILABLE:  http.StatusServiceUnavailable,
	keywarden.EINTERNAL:     http.StatusInternalServerError,
	EMETHOD:                 http.StatusMethodNotAllowed,
	EMEDIATYPE:              http.StatusUnsupportedMediaType,
	ENOTCONFIGURED:          http.StatusServiceUnavailable,
}

// writeError writes err as a problem document. It is the only place error
// responses are written. Internal errors are logged and shown as a generic
// message. The document is appended to a pooled buffer (appendProblem) and
// its headers are shared values: a refused request costs no allocation
// here.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	info := infoOf(w)
	code := keywarden.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch code {
	case keywarden.EINTERNAL:
		s.Logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", safePath(r.URL.Path), "error", err)
	case keywarden.EUNAVAILABLE:
		// Fail closed, and tell the caller when to come back: the
		// database's deadline or the cache's staleness bound is about a
		// second.
		s.Logger.WarnContext(r.Context(), "unavailable", "method", r.Method, "path", safePath(r.URL.Path), "error", err)
		if info.retryAfter == 0 {
			w.Header().Set("Retry-After", "1")
		}
	}
	p := problem{
		code:     code,
		status:   status,
		detail:   keywarden.ErrorMessage(err),
		instance: instanceOf(r, info),
		at:       s.Now(),
		fields:   keywarden.ErrorFields(err),
	}
	h := w.Header()
	if wait := info.retryAfter; wait > 0 {
		h.Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	}
	if status == http.StatusUnauthorized {
		p.detail = api.UnauthorizedDetail
		h[hdrWWWAuthenticate] = headerWWWAuthenticate
	}
	for _, hv := range problemHeaderList {
		h[hv.name] = hv.values
	}
	bp := buffers.Get().(*[]byte)
	b := append(appendProblem((*bp)[:0], &p), '\n')
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		s.Logger.Debug("write problem", slog.Any("error", err))
	}
	*bp = b
	putBuffer(bp)
}

// The headers of every problem document (ProblemHeaders; HSTS is
// strictTransport's) and of a 401, shared as hotpath.go's are.
var (
	problemHeaderList     = headerList(ProblemHeaders(false))
	hdrWWWAuthenticate    = textproto.CanonicalMIMEHeaderKey("WWW-Authenticate")
	headerWWWAuthenticate = []string{api.WWWAuthenticate}
)

// headerValues is one header and its values.
type headerValues struct {
	name   string
	values []string
}

// headerList is h as a list, for setting on every response from a slice
// rather than by ranging over a map.
func headerList(h http.Header) []headerValues {
	l := make([]headerValues, 0, len(h))
	for name, values := range h {
		l = append(l, headerValues{name, values})
	}
	return l
}

// problem is what a problem document says, for appendProblem.
type problem struct {
	code     string
	status   int
	detail   string
	instance string
	at       time.Time
	fields   []keywarden.FieldError
}

// appendProblem appends p as encoding/json.Marshal writes its api.Problem,
// byte for byte (TestProblemIsEncodingJSON, FuzzAppendProblem), errors []
// when p has none.
func appendProblem(b []byte, p *problem) []byte {
	if p.code == keywarden.EUNAUTHORIZED && p.status == http.StatusUnauthorized && p.detail == api.UnauthorizedDetail {
		b = append(b, unauthorizedHead...) // every refused key's
	} else {
		b = appendProblemHead(b, p.code, p.status, p.detail)
	}
	b = append(b, `,"instance":`...)
	b = appendJSONString(b, p.instance)
	b = append(b, `,"timestamp":`...)
	b = appendJSONTime(b, p.at)
	b = append(b, `,"errors":[`...)
	for i, f := range p.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"location":`...)
		b = appendJSONString(b, f.Location)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, f.Message)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, f.Type)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// unauthorizedHead is the start of every 401's problem document, the same
// for every refused key, written once.
var unauthorizedHead = appendProblemHead(nil, keywarden.EUNAUTHORIZED, http.StatusUnauthorized, api.UnauthorizedDetail)

// appendProblemHead appends a problem document's start: its type, title,
// status and detail.
func appendProblemHead(b []byte, code string, status int, detail string) []byte {
	b = append(b, `{"type":`...)
	if isJSONPlain(code) { // api.ProblemType(code), without joining the two
		b = append(b, '"')
		b = append(b, api.ProblemType("")...)
		b = append(b, code...)
		b = append(b, '"')
	} else {
		b = appendJSONString(b, api.ProblemType(code))
	}
	b = append(b, `,"title":`...)
	b = appendJSONString(b, http.StatusText(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"detail":`...)
	return appendJSONString(b, detail)
}

// instanceOf is the path a problem document is about.
func instanceOf(r *http.Request, info *requestInfo) string {
	if i := info.instance; i != "" {
		return i
	}
	return r.URL.Path
}

// errorHandler adapts a handler that returns an error.
func (s *server) errorHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
