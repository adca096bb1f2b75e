// Command vulndbindex turns a folder of Go vulnerability database OSV
// entries (data/osv of the golang.org/x/vulndb module) into a database in
// the v1 layout that `govulncheck -db file:///DIR` reads
// (https://go.dev/security/vuln/database#api):
//
//	DIR/index/db.json       {"modified": newest time}
//	DIR/index/modules.json  [{"path": module, "vulns": [{"id", "modified"}]}]
//	DIR/index/vulns.json    [{"id", "modified", "aliases"}]
//	DIR/ID/GO-YYYY-NNNN.json  each entry, as it is in the module
//
// scripts/govulncheck.sh runs it; see docs/security.md, "Vulnerability
// scanning". It is here, and not golang.org/x/vulndb's own cmd/indexdb,
// because indexdb imports vulndb's report packages and with them about
// 470 packages (Google Cloud, gRPC, OpenTelemetry, go-git): minutes of
// compiling on a new machine for what is a few indexes. This one uses the
// standard library only.
//
// The modules index leaves out the optional "fixed" version on purpose:
// govulncheck then reads every entry of a module it finds there and
// matches the version ranges itself, so nothing computed here can hide a
// vulnerability.
//
// The entries in the module carry no modified times (vulndb derives them
// from its git history, which a module zip does not hold), so -snapshot,
// the time of the vulndb commit, is the database's own modified time when
// it is newer than every entry's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// entry is the part of an OSV entry that the indexes need.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"` // the module path, or stdlib or toolchain
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// summary is what build reports of the database it wrote.
type summary struct {
	Entries  int
	Modules  int
	NewestID string    // the highest GO- ID
	Modified time.Time // index/db.json's modified time
}

func main() {
	osvDir := flag.String("osv", "", "folder of OSV entries (GO-*.json)")
	outDir := flag.String("out", "", "folder to write the database to (created if missing)")
	snapshot := flag.String("snapshot", "", "RFC 3339 time of the vulndb snapshot, the database's modified time when entries carry none")
	flag.Parse()
	if *osvDir == "" || *outDir == "" || *snapshot == "" {
		flag.Usage()
		os.Exit(2)
	}
	snap, err := time.Parse(time.RFC3339, *snapshot)
	if err != nil {
		log.Fatalf("vulndbindex: -snapshot: %v", err)
	}
	s, err := build(*osvDir, *outDir, snap)
	if err != nil {
		log.Fatalf("vulndbindex: %v", err)
	}
	fmt.Printf("%d entries for %d modules, newest %s, modified %s\n",
		s.Entries, s.Modules, s.NewestID, s.Modified.UTC().Format(time.RFC3339))
}

func build(osvDir, outDir string, snapshot time.Time) (summary, error) {
	var s summary
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return s, err
	}
	if len(files) == 0 {
		return s, fmt.Errorf("no OSV entries (*.json) in %s", osvDir)
	}
	if err := os.MkdirAll(filepath.Join(outDir, "ID"), 0o755); err != nil {
		return s, err
	}
	if err := os.MkdirAll(filepath.Join(outDir, "index"), 0o755); err != nil {
		return s, err
	}

	modules := map[string]*module{}
	var vulns []vuln
	s.Modified = snapshot.UTC()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return s, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return s, fmt.Errorf("%s: %v", f, err)
		}
		if e.ID == "" || e.ID+".json" != filepath.Base(f) {
			return s, fmt.Errorf("%s: id %q does not match the file name", f, e.ID)
		}
		if len(e.Affected) == 0 {
			return s, fmt.Errorf("%s: no affected packages", f)
		}
		if err := os.WriteFile(filepath.Join(outDir, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return s, err
		}
		vulns = append(vulns, vuln{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			if a.Package.Ecosystem != "Go" || a.Package.Name == "" {
				return s, fmt.Errorf("%s: affected package %q in ecosystem %q, want a Go module", f, a.Package.Name, a.Package.Ecosystem)
			}
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			// An entry may name one module several times (several
			// package sets); the index lists it once.
			if !slices.ContainsFunc(m.Vulns, func(v moduleVuln) bool { return v.ID == e.ID }) {
				m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
			}
		}
		if e.Modified.After(s.Modified) {
			s.Modified = e.Modified.UTC()
		}
		if strings.HasPrefix(e.ID, "GO-") && e.ID > s.NewestID {
			s.NewestID = e.ID
		}
	}

	slices.SortFunc(vulns, func(a, b vuln) int { return strings.Compare(a.ID, b.ID) })
	var mods []*module
	for _, m := range modules {
		slices.SortFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.Path, b.Path) })

	for name, v := range map[string]any{
		"db.json": struct {
			Modified time.Time `json:"modified"`
		}{s.Modified},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return s, err
		}
		if err := os.WriteFile(filepath.Join(outDir, "index", name), b, 0o644); err != nil {
			return s, err
		}
	}
	s.Entries, s.Modules = len(vulns), len(mods)
	if s.NewestID == "" {
		return s, errors.New("no GO- entries")
	}
	return s, nil
}
