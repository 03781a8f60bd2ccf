package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// TestExamplesFromTheSpecification validates the format's own example
// descriptions: the invalid ones fail for the reason the reference gives,
// the others pass without file checks, and with file checks they fail only
// on the files that are really absent from the snapshot.
func TestExamplesFromTheSpecification(t *testing.T) {
	root := fixtures.Path(t, "bioimageio-examples")
	var yamls []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, "bioimageio.yaml") || strings.HasSuffix(p, "_v0_4.yaml")) {
			yamls = append(yamls, p)
		}
		return nil
	})
	if len(yamls) < 15 {
		t.Fatalf("found only %d example descriptions under %s", len(yamls), root)
	}
	for _, p := range yamls {
		name, _ := filepath.Rel(root, p)
		t.Run(name, func(t *testing.T) {
			rep := ValidateFile(p, Options{}).Report
			invalid := strings.HasPrefix(filepath.Base(p), "invalid")
			switch {
			case invalid:
				if rep.OK() {
					t.Fatalf("validates, but it is an invalid example")
				}
				if !strings.Contains(rep.Errors[0].Msg, "Duplicate tensor descriptor names") {
					t.Errorf("fails for another reason than duplicate tensor names: %v", rep.Errors)
				}
			case !rep.OK():
				t.Fatalf("format errors: %v", rep.Errors)
			}
			if invalid {
				// With file checks the reference also finds the two wrong hashes.
				withFiles := ValidatePath(p, Options{Files: true}).Report
				mismatches := map[string]bool{}
				for _, e := range withFiles.Errors {
					if strings.Contains(e.Msg, "Sha256 mismatch") {
						mismatches[e.Loc] = true
					}
				}
				if !mismatches["weights.onnx.sha256"] || !mismatches["weights.torchscript.sha256"] {
					t.Errorf("with file checks, expected sha256 mismatches for onnx and torchscript, got %v", withFiles.Errors)
				}
				return
			}
			withFiles := ValidatePath(p, Options{Files: true}).Report
			for _, e := range withFiles.Errors {
				m := strings.TrimPrefix(e.Msg, "file not found: ")
				if m == e.Msg {
					t.Errorf("with file checks: %s: %s", e.Loc, e.Msg)
					continue
				}
				missing := strings.SplitN(m, ";", 2)[0]
				if _, err := os.Stat(filepath.Join(filepath.Dir(p), missing)); err == nil {
					t.Errorf("%s reported missing but exists", missing)
				}
			}
		})
	}
}

// TestFixturePackagesPassFileChecks: the complete ONNX packages validate
// with every file check, with only the warnings the reference gives.
func TestFixturePackagesPassFileChecks(t *testing.T) {
	root := fixtures.Path(t, "packages")
	entries, _ := os.ReadDir(root)
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		rep := ValidatePath(filepath.Join(root, e.Name()), Options{Files: true}).Report
		if !rep.OK() {
			t.Errorf("%s: %v", e.Name(), rep.Errors)
		}
		for _, w := range rep.Warnings {
			if !strings.Contains(w.Msg, "Validation") && !strings.Contains(w.Msg, "FAIR") {
				t.Errorf("%s: unexpected warning %s: %s", e.Name(), w.Loc, w.Msg)
			}
		}
	}
	if n != 4 {
		t.Errorf("expected 4 packages, found %d", n)
	}
}
