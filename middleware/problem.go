package middleware

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// refuse writes a problem document of the same shape as Keywarden's own, so
// that a caller sees one kind of error whether Keywarden or a service
// behind this middleware refused it. A 401 carries the one detail and
// challenge of every failed authentication, whatever the reason.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	p := api.Problem{
		Type:      api.ProblemType(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Instance:  r.URL.Path,
		Timestamp: g.now().UTC().Format(time.RFC3339),
		Errors:    []keywarden.FieldError{},
	}
	if status == http.StatusUnauthorized {
		p.Detail = api.UnauthorizedDetail
		w.Header().Set("WWW-Authenticate", api.WWWAuthenticate)
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: every field is a string, an int or empty
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
