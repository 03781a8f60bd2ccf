package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// runZoo runs the CLI in-process and returns its exit code and outputs.
func runZoo(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	code := 0
	if err := root.Execute(); err != nil {
		code = exitCode(err)
	}
	return code, out.String(), errb.String()
}

func TestValidateJSONLines(t *testing.T) {
	good := fixtures.Path(t, "rdf-corpus", "rdfs", "model__ambitious-kangaroo__v0.yaml")
	bad := fixtures.Path(t, "rdf-corpus", "rdfs", "model__modest-spider__v0.yaml")

	code, out, _ := runZoo(t, "validate", "--no-files", "--json", good, bad)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (one input failed)", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON object per input, got %d lines:\n%s", len(lines), out)
	}
	var reps []jsonReport
	for _, l := range lines {
		var r jsonReport
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		reps = append(reps, r)
		// every documented field is present
		var raw map[string]any
		json.Unmarshal([]byte(l), &raw)
		for _, k := range []string{"source", "status", "type", "format_version", "errors", "warnings"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("field %q missing in %s", k, l)
			}
		}
	}
	if reps[0].Status != "valid-format" || reps[1].Status != "failed" {
		t.Errorf("statuses %s, %s", reps[0].Status, reps[1].Status)
	}
	e := reps[1].Errors[0]
	if e.Loc != "outputs.0.axes.1.id" || e.Line == 0 || e.Column == 0 {
		t.Errorf("error %+v: want loc outputs.0.axes.1.id with a position", e)
	}
}

func TestValidateExitCodes(t *testing.T) {
	pkg := fixtures.Path(t, "packages", "upsample-onnx")
	if code, out, _ := runZoo(t, "validate", pkg); code != 0 {
		t.Errorf("valid package: exit %d\n%s", code, out)
	}
	if code, _, _ := runZoo(t, "validate"); code != 2 {
		t.Errorf("no PATH: exit %d, want 2", code)
	}
	if code, _, _ := runZoo(t, "validate", "--bogus", pkg); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, out, _ := runZoo(t, "validate", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(out, "cannot open") {
		t.Errorf("missing file: exit %d, output %q", code, out)
	}
}

func TestValidateHumanOutputHasPositions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rdf.yaml")
	os.WriteFile(p, []byte("type: model\nformat_version: 0.5.7\nname: ab\ninputs: []\n"), 0o644)
	code, out, _ := runZoo(t, "validate", "--no-files", p)
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{p + ":3:7: error: name:", p + ":4:9: error: inputs:", "missing required field \"outputs\""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUpdateFormatConvertsModel04(t *testing.T) {
	in := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad", "v0_4_9.bioimageio.yaml")
	out := filepath.Join(t.TempDir(), "rdf.yaml")
	if code, _, errs := runZoo(t, "update-format", in, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "format_version: 0.5.7") {
		t.Errorf("not converted:\n%s", data)
	}
	if code, o, _ := runZoo(t, "validate", "--no-files", out); code != 0 {
		t.Errorf("converted description invalid:\n%s", o)
	}
}

func TestSchemaIsJSON(t *testing.T) {
	code, out, _ := runZoo(t, "schema")
	var s map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("exit %d, not JSON", code)
	}
	if s["required"] == nil || s["properties"].(map[string]any)["inputs"] == nil {
		t.Errorf("schema lacks required/properties.inputs")
	}
}

// The summary counts "warnings"; every warning line says "warning" (the
// format's alert severity printed "alert:" beside a count of warnings).
func TestValidateWarningsAreCalledWarnings(t *testing.T) {
	dir := fixtures.Path(t, "packages", "upsample-onnx")
	code, out, _ := runZoo(t, "validate", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	m := regexp.MustCompile(`(\d+) warning\(s\)`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("no warnings counted: %s", out)
	}
	if strings.Contains(out, "alert:") || strings.Count(out, ": warning: ") != atoiT(t, m[1]) {
		t.Errorf("warning lines do not match the count of %s:\n%s", m[1], out)
	}
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
