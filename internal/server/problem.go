package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
)

// statusOf maps each domain error code to its HTTP status: the one table.
var statusOf = map[string]int{
	keywarden.EINVALID:      http.StatusBadRequest,
	keywarden.EUNAUTHORIZED: http.StatusUnauthorized,
	keywarden.EFORBIDDEN:    http.StatusForbidden,
	keywarden.ENOTFOUND:     http.StatusNotFound,
	keywarden.ECONFLICT:     http.StatusConflict,
	keywarden.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	keywarden.EINTERNAL:     http.StatusInternalServerError,
	EMETHOD:                 http.StatusMethodNotAllowed,
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string                 `json:"type"`
	Title     string                 `json:"title"`
	Status    int                    `json:"status"`
	Detail    string                 `json:"detail"`
	Instance  string                 `json:"instance"`
	Timestamp string                 `json:"timestamp"`
	Errors    []keywarden.FieldError `json:"errors"`
}

// unauthorizedDetail is the one message of every failed authentication,
// whatever the reason: the caller learns nothing about which part was wrong.
const unauthorizedDetail = `A valid API key is required. Send it as HTTP Basic credentials: curl -u "$KEY".`

// writeError writes err as a problem document. It is the only place error
// responses are written. Internal errors are logged and shown as a generic
// message.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := keywarden.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == keywarden.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", safePath(r.URL.Path), "error", err)
	}
	p := problem{
		Type:      "urn:keywarden:problem:" + code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    keywarden.ErrorMessage(err),
		Instance:  r.URL.Path,
		Timestamp: s.Now().UTC().Format(time.RFC3339),
		Errors:    keywarden.ErrorFields(err),
	}
	if p.Errors == nil {
		p.Errors = []keywarden.FieldError{}
	}
	if status == http.StatusUnauthorized {
		p.Detail = unauthorizedDetail
		w.Header().Set("WWW-Authenticate", `Basic realm="keywarden"`)
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		s.Logger.Error("encode problem", "error", mErr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		s.Logger.Debug("write problem", slog.Any("error", err))
	}
}

// errorHandler adapts a handler that returns an error.
func (s *server) errorHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
