package fair_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/internal/testenv"
)

// TestJSONLDAgainstSchemaOrg type-checks the JSON-LD of a model and of a
// dataset against the schema.org vocabulary as the npm package schema-dts
// (Google's typings generated from schema.org's vocabulary file) states
// it, with the TypeScript compiler: an object literal typed as
// WithContext<SoftwareSourceCode> (or <Dataset>) may hold only properties
// schema.org defines for that type, with values of their ranges. It needs
// a folder with node_modules/schema-dts and node_modules/typescript, named
// by ZOO_TEST_NPM (scripts/install-test-clients.sh makes one); without it
// it skips (fails under CI and make test: internal/testenv).
func TestJSONLDAgainstSchemaOrg(t *testing.T) {
	dir := testenv.NeedNPM(t, "ZOO_TEST_NPM", "schema-dts", "typescript", ".bin/tsc")
	tsc := filepath.Join(dir, "node_modules", ".bin", "tsc")

	model := nuclei(t)
	dataset := nuclei(t)
	ds := *dataset.Desc
	ds.Type = "dataset"
	dataset.Desc = &ds
	withDOI := nuclei(t)
	withDOI.DOI = "10.5072/zoo.affable-shark.2"
	var src strings.Builder
	src.WriteString("import type { WithContext, SoftwareSourceCode, Dataset } from \"schema-dts\";\n")
	for i, c := range []struct {
		typ string
		r   fair.Record
	}{{"SoftwareSourceCode", model}, {"SoftwareSourceCode", withDOI}, {"Dataset", dataset}} {
		b, err := fair.JSONLD(c.r)
		if err != nil {
			t.Fatal(err)
		}
		src.WriteString("export const doc" + string(rune('0'+i)) + ": WithContext<" + c.typ + "> = " + string(b) + ";\n")
	}
	work := t.TempDir()
	file := filepath.Join(work, "jsonld.ts")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tsc, "--noEmit", "--strict", "--target", "es2020", "--moduleResolution", "node", "--skipLibCheck", file)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	// tsc resolves "schema-dts" from the file's folder upwards: link node_modules beside it.
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the JSON-LD does not fit schema.org (schema-dts):\n%s\n%s", out, src.String())
	}
}
