package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestLoadParsesEveryPageAndHashesStaticFiles(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"signin", "setup", "invite", "error", "dashboard", "process_general", "process_access",
		"process_keys", "settings_org", "settings_members", "settings_keys", "settings_audit"} {
		if _, ok := a.pages[page]; !ok {
			t.Errorf("page %q was not loaded", page)
		}
	}
	for _, name := range []string{"app.css", "app.js"} {
		u, err := a.StaticURL(name)
		if err != nil || !regexp.MustCompile(`^/static/app\.[0-9a-f]{12}\.(css|js)$`).MatchString(u) {
			t.Errorf("StaticURL(%q) = %q, %v", name, u, err)
		}
	}
	if _, err := a.StaticURL("missing.css"); err == nil {
		t.Error("StaticURL of a missing file succeeded")
	}
}

func TestServeStatic(t *testing.T) {
	a := MustLoad()
	u, _ := a.StaticURL("app.js")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{name}", a.ServeStatic)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(rec.Body.String(), "use strict") {
		t.Fatalf("GET %s: %d %v", u, rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/static/app.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("an unhashed name is served: %d", rec.Code)
	}
}

func TestRenderFailsCleanlyOnAnUnknownPage(t *testing.T) {
	var b strings.Builder
	if err := MustLoad().Render(&b, "nope", nil); err == nil || b.Len() != 0 {
		t.Fatalf("Render of an unknown page: %v, %q", err, b.String())
	}
}

func TestResourceLabel(t *testing.T) {
	for in, want := range map[string]string{
		"process":             "Process",
		"process.api_key":     "Process API key",
		"collection_editor":   "Collection editor",
		"admin.subscriptions": "Admin subscriptions",
	} {
		if got := resourceLabel(in); got != want {
			t.Errorf("resourceLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
