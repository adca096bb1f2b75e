package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/keywarden/keywarden"
)

// The console: server-rendered pages for people. Reads render templates;
// changes to processes and keys go through the same API handlers as any
// client (the pages' script calls them with the session cookie and the CSRF
// token); the rest — sign-in, setup, members, settings — are form posts.

// view is what every page template receives.
type view struct {
	Title     string
	Section   string // "dashboard" or "settings": the top navigation
	Tab       string // the active left-navigation tab
	Principal *keywarden.Principal
	Org       *keywarden.Organization
	Process   *keywarden.Process // on process pages
	UserEmail string
	CSRF      string
	Error     string // a message for the whole page
	Notice    string
	Flash     string            // what the previous request did (a removal), shown once
	Expiring  *expiryReminders  // keys expiring soon, on the dashboard and key pages
	Fields    map[string]string // per-field errors of a form post
	Form      url.Values        // what was typed, to show again after an error
	Data      any
}

type consoleKey struct{}

// consoleState is what the page wrapper learned about the request.
type consoleState struct {
	session   *keywarden.Session
	principal *keywarden.Principal
	csrf      string
	flash     string
}

func stateFrom(ctx context.Context) *consoleState {
	st, _ := ctx.Value(consoleKey{}).(*consoleState)
	if st == nil {
		return &consoleState{}
	}
	return st
}

// contentSecurityPolicy allows only this site's own scripts and styles (no
// inline code at all), and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// page wraps a console handler: it finds the session, sends visitors who
// are not signed in to the sign-in page, enforces the route's access and
// CSRF on posts, and renders errors as pages.
func (s *server) page(rt route) http.Handler {
	series := s.routeSeries(rt.pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoOf(w)
		info.route, info.series = rt.pattern, series
		setPageHeaders(w)
		err := s.servePage(w, r, rt)
		if err != nil {
			s.renderError(w, r, err)
		}
	})
}

func (s *server) servePage(w http.ResponseWriter, r *http.Request, rt route) error {
	sess, p, err := s.session(r)
	if err != nil {
		return err
	}
	st := &consoleState{session: sess, principal: p}
	if sess != nil {
		st.csrf = sess.CSRFToken
		infoOf(w).userID = p.UserID
	} else if rt.access.anonymous {
		if st.csrf, err = s.anonymousCSRF(w, r); err != nil {
			return err
		}
	} else {
		target := "/sign-in"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	if !safeMethod(r.Method) {
		if err := s.checkCSRF(r, st.csrf, true); err != nil {
			return err
		}
	} else {
		st.flash = s.takeFlash(w, r)
	}
	if !rt.access.anonymous {
		if rt.access.admin && !p.IsAdmin() {
			return keywarden.Errorf(keywarden.ENOTFOUND, "Page not found.")
		}
		if pid := r.PathValue("processId"); pid != "" {
			// A process the member may not see, or whose page needs a
			// scope they lack on it, does not exist for them.
			if !p.CanReachProcess(pid) || rt.access.scope != "" && !p.HasScopeOn(pid, rt.access.scope) {
				return keywarden.Errorf(keywarden.ENOTFOUND, "Page not found.")
			}
		}
	}
	ctx := context.WithValue(r.Context(), consoleKey{}, st)
	if p != nil {
		ctx = keywarden.NewContextWithPrincipal(ctx, p)
	}
	return rt.handle(w, r.WithContext(ctx))
}

// newView returns the view of a page with the request's common parts.
func (s *server) newView(r *http.Request, title, section, tab string) (*view, error) {
	st := stateFrom(r.Context())
	v := &view{Title: title, Section: section, Tab: tab, CSRF: st.csrf, Principal: st.principal, Flash: st.flash}
	if st.principal != nil {
		org, err := s.orgs.FindOrganizationByID(r.Context(), st.principal.OrgID)
		if err != nil {
			return nil, err
		}
		v.Org = org
		v.UserEmail = st.principal.Actor.Name
	}
	return v, nil
}

// render writes a page with status 200.
func (s *server) render(w http.ResponseWriter, name string, v *view) error {
	return s.renderStatus(w, http.StatusOK, name, v)
}

func (s *server) renderStatus(w http.ResponseWriter, status int, name string, v *view) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf strings.Builder
	if err := s.assets.Render(&buf, name, v); err != nil {
		return keywarden.Errorf(keywarden.EINTERNAL, "%v", err)
	}
	w.WriteHeader(status)
	_, err := w.Write([]byte(buf.String()))
	return err
}

// renderError shows err as a page. Internal errors are logged and shown as
// a generic message.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := keywarden.ErrorCode(err)
	status := statusOf[code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if code == keywarden.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", safePath(r.URL.Path), "error", err)
	}
	v := &view{Title: errorTitle(code), Error: keywarden.ErrorMessage(err), Principal: stateFrom(r.Context()).principal}
	if rerr := s.renderStatus(w, status, "error", v); rerr != nil {
		s.Logger.ErrorContext(r.Context(), "render error page", "error", rerr)
		http.Error(w, keywarden.ErrorMessage(err), status)
	}
}

// errorTitle is the heading (and the window title) of an error page: words
// a person understands, not an HTTP status text.
func errorTitle(code string) string {
	switch code {
	case keywarden.ENOTFOUND:
		return "Page not found"
	case keywarden.EFORBIDDEN, keywarden.EUNAUTHORIZED:
		return "Not allowed"
	case keywarden.EINVALID, keywarden.ETOOLARGE, EMETHOD, EMEDIATYPE:
		return "The request was not accepted"
	case keywarden.ECONFLICT:
		return "That conflicts with what exists"
	case keywarden.ERATELIMITED:
		return "Too many attempts"
	case keywarden.EUNAVAILABLE:
		return "Keywarden is busy"
	}
	return "Something went wrong"
}

// flashCookie carries a one-line confirmation ("Member removed") across the
// redirect that follows a form post, to be shown once by the next page.
// HttpOnly and SameSite=Strict: only this site's own responses set it.
const flashCookie = "keywarden_flash"

// setFlash sets the confirmation the next page shows.
func (s *server) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// takeFlash returns the confirmation set by the previous response, if any,
// and clears it so it is shown once.
func (s *server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	msg, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(msg) > 300 || !utf8.Valid(msg) {
		return ""
	}
	return string(msg)
}

// formError re-renders a form page with its errors and what was typed.
func formError(v *view, r *http.Request, err error) error {
	var e *keywarden.Error
	if !errors.As(err, &e) || e.Code == keywarden.EINTERNAL {
		return err
	}
	v.Error = e.Message
	v.Fields = map[string]string{}
	for _, f := range e.Fields {
		v.Fields[strings.TrimPrefix(f.Location, "form: ")] = f.Message
	}
	v.Form = r.PostForm
	return nil
}

// redirect answers a successful form post (post/redirect/get).
func redirect(w http.ResponseWriter, r *http.Request, to string) error {
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// safeNext returns next if it is a path on this site, else "/": the sign-in
// page must not become an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
