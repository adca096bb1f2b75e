package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestBuildWritesTheV1Layout(t *testing.T) {
	osvDir, out := t.TempDir(), t.TempDir()
	entries := map[string]string{
		// Two package sets of one module, and the standard library.
		"GO-2022-1059.json": `{"id":"GO-2022-1059","modified":"0001-01-01T00:00:00Z","aliases":["CVE-2022-32149"],
			"affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"}},{"package":{"name":"golang.org/x/text","ecosystem":"Go"}}]}`,
		"GO-2026-6600.json": `{"id":"GO-2026-6600","modified":"0001-01-01T00:00:00Z",
			"affected":[{"package":{"name":"stdlib","ecosystem":"Go"}},{"package":{"name":"golang.org/x/text","ecosystem":"Go"}}]}`,
	}
	for name, text := range entries {
		if err := os.WriteFile(filepath.Join(osvDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	s, err := build(osvDir, out, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if s.Entries != 2 || s.Modules != 2 || s.NewestID != "GO-2026-6600" || !s.Modified.Equal(snapshot) {
		t.Errorf("summary = %+v", s)
	}

	read := func(name string, v any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var db struct{ Modified time.Time }
	read("index/db.json", &db)
	if !db.Modified.Equal(snapshot) {
		t.Errorf("db.json modified = %v, want %v", db.Modified, snapshot)
	}
	var mods []module
	read("index/modules.json", &mods)
	got := map[string][]string{}
	for _, m := range mods {
		for _, v := range m.Vulns {
			got[m.Path] = append(got[m.Path], v.ID)
		}
	}
	want := map[string][]string{
		"golang.org/x/text": {"GO-2022-1059", "GO-2026-6600"},
		"stdlib":            {"GO-2026-6600"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modules.json = %v, want %v", got, want)
	}
	var vulns []vuln
	read("index/vulns.json", &vulns)
	if len(vulns) != 2 || vulns[0].ID != "GO-2022-1059" || !reflect.DeepEqual(vulns[0].Aliases, []string{"CVE-2022-32149"}) {
		t.Errorf("vulns.json = %+v", vulns)
	}
	for name, text := range entries {
		b, err := os.ReadFile(filepath.Join(out, "ID", name))
		if err != nil || string(b) != text {
			t.Errorf("ID/%s = %q, %v; want the entry as it was", name, b, err)
		}
	}
}

func TestBuildRefusesNoOrBadEntries(t *testing.T) {
	snapshot := time.Now()
	if _, err := build(t.TempDir(), t.TempDir(), snapshot); err == nil {
		t.Error("an empty folder gave a database")
	}
	for name, text := range map[string]string{
		"GO-2026-0001.json": `{"id":"GO-2026-0002","affected":[{"package":{"name":"m","ecosystem":"Go"}}]}`,
		"GO-2026-0003.json": `{"id":"GO-2026-0003","affected":[]}`,
		"GO-2026-0004.json": `{"id":"GO-2026-0004",`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := build(dir, t.TempDir(), snapshot); err == nil {
			t.Errorf("%s %s gave a database", name, text)
		}
	}
}
