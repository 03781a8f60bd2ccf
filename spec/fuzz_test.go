package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// fuzzSeeds returns the descriptions the fuzzer starts from: small literal
// documents (so it works without fixtures) and, when present, every fixture
// description and every file of the real corpus.
func fuzzSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(minimalModel05),
		[]byte(minimalGeneric03),
		[]byte("type: model\nformat_version: 0.4.10\n"),
		[]byte("type: dataset\nformat_version: 0.2.4\nname: x\n"),
		[]byte("type: model\nformat_version: 0.5.4\ninputs: [{axes: [{type: space, size: {tensor_id: a, axis_id: b}}]}]\n"),
		[]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: {<<: *a}\n"),
		[]byte("%YAML 1.2\n---\ntype: model\n"),
		[]byte("- 1\n- 2\n"),
		[]byte(""),
	}
	root := fixtures.Optional(tb)
	if root == "" {
		return seeds
	}
	var files []string
	for _, pattern := range []string{
		"packages/*/bioimageio.yaml",
		"bioimageio-examples/models/*/*.yaml",
		"bioimageio-examples/datasets/*/*.yaml",
		"rdf-corpus/rdfs/*",
	} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		files = append(files, m...)
	}
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			seeds = append(seeds, data)
		}
	}
	return seeds
}

// fuzzFS is a small package the file checks run against: the files the
// minimal model names, with a valid test tensor for the input.
func fuzzFS(tb testing.TB) fstest.MapFS {
	arr, err := tensor.New(tensor.Float32, []int{1, 1, 64, 64})
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < arr.Len(); i++ {
		arr.SetFloat64(i, float64(i%5))
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, arr); err != nil {
		tb.Fatal(err)
	}
	return fstest.MapFS{
		"README.md":       {Data: []byte("# Validation\n")},
		"test_input.npy":  {Data: buf.Bytes()},
		"test_output.npy": {Data: []byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}")},
		"test_input.png":  {Data: []byte("\x89PNG\r\n\x1a\n")},
		"weights.onnx":    {Data: []byte("onnx")},
		"sub/cover.png":   {Data: []byte("png")},
	}
}

// checkReport asserts the invariants of every report.
func checkReport(t *testing.T, res *Result) {
	t.Helper()
	if res == nil || res.Report == nil {
		t.Fatal("no report")
	}
	rep := res.Report
	switch rep.Status {
	case StatusFailed:
		if len(rep.Errors) == 0 {
			t.Fatalf("status failed without errors; warnings:%s", probList(rep.Warnings))
		}
	case StatusValid:
		if len(rep.Errors) != 0 {
			t.Fatalf("status valid with errors:%s", probList(rep.Errors))
		}
		if res.Doc == nil {
			t.Fatal("valid without a document")
		}
	default:
		t.Fatalf("status %q", rep.Status)
	}
	for _, e := range rep.Errors {
		if e.Severity != Error || e.Msg == "" {
			t.Fatalf("bad error %+v", e)
		}
	}
	for _, w := range rep.Warnings {
		if w.Severity >= Error || w.Severity < Info || w.Msg == "" {
			t.Fatalf("bad warning %+v", w)
		}
	}
}

// FuzzValidate: Validate never panics, always reports, and its status is
// "failed" exactly when there are errors — without file checks, with file
// checks against a small package, and with a warning level. A valid
// description's normalised document must be writable as YAML.
func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	fsys := fuzzFS(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Validate(data, "fuzz.yaml", Options{})
		checkReport(t, res)
		if res.Report.OK() {
			out, err := Marshal(res.Doc)
			if err != nil {
				t.Fatalf("cannot write the normalised document: %v", err)
			}
			again := Validate(out, "normalised.yaml", Options{})
			if !again.Report.OK() {
				t.Fatalf("the normalised document is invalid:%s\n%s", probList(again.Report.Errors), out)
			}
		}
		strict := Validate(data, "fuzz.yaml", Options{WarningLevel: Info})
		checkReport(t, strict)
		if len(strict.Report.Warnings) != 0 {
			t.Fatalf("warnings left at warning level info:%s", probList(strict.Report.Warnings))
		}
		// strict mode fails exactly when there were errors or warnings
		if want := res.Report.OK() && len(res.Report.Warnings) == 0; strict.Report.OK() != want {
			t.Fatalf("warning level info: status %s, but the default gives %s with %d warnings", strict.Report.Status, res.Report.Status, len(res.Report.Warnings))
		}
		checkReport(t, Validate(data, "fuzz.yaml", Options{Files: true, FS: fsys}))
	})
}

// TestFuzzSeedsHold runs the fuzz property over the seeds once more with
// edits that tend to break cross-field rules (ids dropped, sizes zeroed),
// so that plain `go test` covers more than the unchanged corpus.
func TestFuzzSeedsHold(t *testing.T) {
	edits := []func([]byte) []byte{
		func(b []byte) []byte { return b },
		func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("id: "), []byte("idx: ")) },
		func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("size: "), []byte("size: 0 #")) },
		func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("- "), []byte("- - ")) },
		func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(": "), []byte(": [")) },
		func(b []byte) []byte { return []byte(strings.ToUpper(string(b))) },
	}
	for _, s := range fuzzSeeds(t) {
		for _, e := range edits {
			checkReport(t, Validate(e(append([]byte{}, s...)), "seed.yaml", Options{}))
		}
	}
}
