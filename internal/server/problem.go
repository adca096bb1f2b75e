package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
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
// message.
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
	if wait := info.retryAfter; wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	}
	if status == http.StatusUnauthorized {
		p.Detail = api.UnauthorizedDetail
		w.Header().Set("WWW-Authenticate", api.WWWAuthenticate)
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		s.Logger.Error("encode problem", "error", mErr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	for name, values := range ProblemHeaders(false) { // HSTS is strictTransport's
		w.Header()[name] = values
	}
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		s.Logger.Debug("write problem", slog.Any("error", err))
	}
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
