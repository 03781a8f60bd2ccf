package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// Every valid description of the corpus decodes for its common fields;
// models that convert keep their tensors.
func TestDecodeCorpus(t *testing.T) {
	dir := fixtures.Path(t, "rdf-corpus/rdfs")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var valid, withInputs int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !Validate(data, p, Options{}).Report.OK() {
			if _, err := Decode(data, p); err == nil {
				t.Errorf("%s: invalid description decoded without error", p)
			}
			continue
		}
		valid++
		m, err := Decode(data, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if m.Name == "" || m.Type == "" {
			t.Errorf("%s: decoded without name or type: %+v", p, m)
		}
		if len(m.Inputs) > 0 {
			withInputs++
		}
	}
	if valid == 0 || withInputs == 0 {
		t.Fatalf("valid %d, with inputs %d: the corpus was not read", valid, withInputs)
	}
}
