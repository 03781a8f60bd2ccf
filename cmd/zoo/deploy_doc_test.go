package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// settingsRows are the table rows of docs/deploy.md (lines starting "|").
func settingsRows(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	return strings.Join(rows, "\n")
}

// TestSettingsTable: every ZOO_* variable the code reads (every "ZOO_…"
// string in a non-test Go file of the module) and every flag of the
// operator's commands is in a table of docs/deploy.md, so that the guide's
// one table of settings cannot fall behind the code.
func TestSettingsTable(t *testing.T) {
	rows := settingsRows(t)
	lit := regexp.MustCompile(`"(ZOO_[A-Z0-9_]*[A-Z0-9])["=]`)
	seen := map[string][]string{}
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n != ".." && (strings.HasPrefix(n, ".") || n == "lib" || n == "bin" || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = append(seen[m[1]], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 40 {
		t.Fatalf("found only %d ZOO_ variables in the code: the scan is broken", len(seen))
	}
	var missing []string
	for name, files := range seen {
		if !strings.Contains(rows, "`"+name+"`") {
			missing = append(missing, name+" (read in "+files[0]+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/deploy.md's settings table lacks %s", m)
	}

	// Flags of the commands an operator runs.
	root := newRoot()
	var flagsOf func(c *cobra.Command)
	operator := map[string]bool{"zoo serve": true, "zoo worker": true, "zoo gc": true, "zoo migrate": true,
		"zoo admin token": true, "zoo admin backup": true, "zoo admin copy-blobs": true}
	n := 0
	flagsOf = func(c *cobra.Command) {
		if operator[c.CommandPath()] {
			c.Flags().VisitAll(func(f *pflag.Flag) {
				n++
				if f.Name != "help" && !strings.Contains(rows, "`--"+f.Name) {
					t.Errorf("docs/deploy.md's settings table lacks %s --%s", c.CommandPath(), f.Name)
				}
			})
		}
		for _, s := range c.Commands() {
			flagsOf(s)
		}
	}
	flagsOf(root)
	if n < 15 {
		t.Fatalf("only %d flags checked: the command tree changed?", n)
	}
}
