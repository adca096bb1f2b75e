// Package web holds the console's templates and static files, embedded in
// the binary. Templates are parsed once, at start-up, so a broken template
// fails the boot rather than a person's request; static files are served
// under content-hashed names so browsers may cache them forever.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
)

//go:embed templates static
var files embed.FS

// Assets are the parsed templates and the hashed static files.
type Assets struct {
	pages  map[string]*template.Template
	static map[string]staticFile // by hashed name
	urls   map[string]string     // logical name → URL
}

type staticFile struct {
	body        []byte
	contentType string
}

// Load parses every page template (each with the layout and the partials)
// and hashes the static files.
func Load() (*Assets, error) {
	a := &Assets{pages: map[string]*template.Template{}, static: map[string]staticFile{}, urls: map[string]string{}}
	statics, err := fs.Glob(files, "static/*")
	if err != nil {
		return nil, err
	}
	for _, name := range statics {
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		base := path.Base(name)
		ext := path.Ext(base)
		hashed := strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.static[hashed] = staticFile{body: body, contentType: mime.TypeByExtension(ext)}
		a.urls[base] = "/static/" + hashed
	}

	all := template.FuncMap{
		"static":  a.StaticURL,
		"field":   field,
		"fmtTime": FormatTime,
		"fmtSecs": FormatTimeSeconds,
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"days":    func(d time.Duration) int { return int(d / (24 * time.Hour)) },
		"actor":   ActorLabel,
		"date":    func(t time.Time) string { return dateOnly(t) },
		"clock":   func(t time.Time) string { return clockOnly(t) },

		"resourceLabel": resourceLabel,
	}
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		t, err := template.New(name).Funcs(all).ParseFS(files, "templates/layout.html", "templates/partials/*.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		a.pages[name] = t
	}
	return a, nil
}

// StaticURL returns the hashed URL of a static file, e.g. "app.css" →
// "/static/app.1a2b3c4d5e6f.css". An unknown name panics at render time,
// which the template tests catch.
func (a *Assets) StaticURL(name string) (string, error) {
	u, ok := a.urls[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return u, nil
}

// Render executes page into w. It renders into a buffer first so that a
// template error becomes a clean 500 instead of half a page.
func (a *Assets) Render(w io.Writer, page string, data any) error {
	t, ok := a.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// ServeStatic serves a hashed static file named by the request's {name}
// path value. The name changes whenever the content does, so the response
// may be cached forever.
func (a *Assets) ServeStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := a.static[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(f.body)
}

// MustLoad is Load for the embedded files, which are fixed at build time: a
// failure is a bug in this package, caught by its tests, so it panics.
func MustLoad() *Assets {
	a, err := Load()
	if err != nil {
		panic(err)
	}
	return a
}

// field returns the value of a form field, for templates re-showing what a
// person typed: {{field .Form "name"}}.
func field(form map[string][]string, name string) string {
	if v := form[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// FormatTime formats a time for a table: date and minutes, in UTC.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// FormatTimeSeconds formats a time to the second, in UTC, for the audit
// log: the order of a sign-in and a deletion a few seconds apart matters.
func FormatTimeSeconds(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ActorLabel names who did something, for tables.
func ActorLabel(a keywarden.Actor) string {
	switch a.Type {
	case keywarden.ActorAPIKey:
		return "API key “" + a.Name + "”"
	case keywarden.ActorCLI:
		return "command line"
	case keywarden.ActorAnonymous:
		return "anonymous"
	case keywarden.ActorSystem:
		return "Keywarden"
	}
	return a.Name
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func clockOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04 UTC")
}

// resourceLabel turns a scope's resource into a heading for the console's
// checklist: "process.api_key" → "Process API key".
func resourceLabel(resource string) string {
	words := strings.FieldsFunc(resource, func(r rune) bool { return r == '.' || r == '_' })
	for i, w := range words {
		switch {
		case w == "api":
			words[i] = "API"
		case i == 0:
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
