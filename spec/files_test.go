package spec

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// The file checks run on copies of the fixture packages in t.TempDir(), so
// each test can break one file.

var fixturePackages = []string{"unet2d-nuclei-broad-onnx", "unet2d-multi-tensor-onnx", "unet2d-diff-output-shape-onnx", "upsample-onnx"}

// copyPackage copies a fixture package folder into a fresh temp dir and
// returns its path.
func copyPackage(t *testing.T, name string) string {
	t.Helper()
	src := fixtures.Path(t, "packages", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func filesOpts() Options { return Options{Files: true} }

// validatePkg validates a package folder (or yaml or zip) with file checks.
func validatePkg(t *testing.T, path string, opts Options) *Report {
	t.Helper()
	return ValidatePath(path, opts).Report
}

// editYAML replaces old by new in the package's bioimageio.yaml (exactly once).
func editYAML(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "bioimageio.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%q occurs %d times in %s", old, n, p)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// writeTestTensor replaces a test tensor of the package by an array of the
// given dtype and shape (values 1, 2, 3, …, so it is not "all zero") and
// rewrites its sha256 in the yaml so only the array's content is wrong.
func writeTestTensor(t *testing.T, dir, name string, dt tensor.DType, shape []int) {
	t.Helper()
	p := filepath.Join(dir, name)
	old := fileSHA(t, p)
	arr, err := tensor.New(dt, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < arr.Len(); i++ {
		arr.SetFloat64(i, float64(1+i%7))
	}
	if err := npy.WriteFile(p, arr); err != nil {
		t.Fatal(err)
	}
	editYAML(t, dir, old, fileSHA(t, p))
}

func wantOnlyError(t *testing.T, rep *Report, loc, frag string) {
	t.Helper()
	if rep.OK() {
		t.Fatalf("want failed, got %s; warnings:%s", rep.Status, probList(rep.Warnings))
	}
	p, ok := findProblem(rep.Errors, loc, frag)
	if !ok {
		t.Fatalf("want error at %s containing %q; errors:%s", loc, frag, probList(rep.Errors))
	}
	if p.Line == 0 || p.Severity != Error {
		t.Errorf("error without a line or with severity %s: %+v", p.Severity, p)
	}
}

func locs(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Loc)
	}
	sort.Strings(out)
	return out
}

// TestFilesValidPackages: every fixture package passes the file checks with
// exactly the warnings the reference gives (README of the fixtures): no
// validation section in the documentation, no sample tensors.
func TestFilesValidPackages(t *testing.T) {
	for _, name := range fixturePackages {
		t.Run(name, func(t *testing.T) {
			dir := copyPackage(t, name)
			rep := validatePkg(t, dir, filesOpts())
			if !rep.OK() {
				t.Fatalf("errors:%s", probList(rep.Errors))
			}
			if _, ok := findProblem(rep.Warnings, "documentation", "No '# Validation' (sub)section found in"); !ok {
				t.Errorf("want the documentation warning; warnings:%s", probList(rep.Warnings))
			}
			for _, w := range rep.Warnings {
				if w.Loc != "documentation" && !(strings.HasSuffix(w.Loc, ".sample_tensor") && w.Msg == fairMsg) {
					t.Errorf("unexpected warning %s: %s", w.Loc, w.Msg)
				}
			}
		})
	}
}

func TestFilesDocumentationWithValidationSection(t *testing.T) {
	dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# UNet\n\n## Validation\n\nChecked on the DSB 2018 test set.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := validatePkg(t, dir, filesOpts())
	if !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("errors:%s warnings:%s", probList(rep.Errors), probList(rep.Warnings))
	}
	// lower-case "validation" in any heading counts too
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("text\n### Model validation\n"), 0o644)
	if rep := validatePkg(t, dir, filesOpts()); len(rep.Warnings) != 0 {
		t.Errorf("warnings:%s", probList(rep.Warnings))
	}
	// documentation that is not UTF-8 is an error
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# Validation\n\xff\xfe latin-1 caf\xe9\n"), 0o644)
	wantOnlyError(t, validatePkg(t, dir, filesOpts()), "documentation", "is not valid UTF-8")
}

// brokenPackages lists ways to break the nuclei package and the error each
// gives. Each also checks that the format alone (Options{}) is still valid.
var brokenPackages = []struct {
	name  string
	brk   func(t *testing.T, dir string)
	loc   string
	frag  string
	other bool // other errors are expected besides the one asserted
}{
	{"test tensor removed", func(t *testing.T, dir string) {
		os.Remove(filepath.Join(dir, "test_input.npy"))
	}, "inputs.0.test_tensor.source", "file not found: test_input.npy", false},
	{"weights removed", func(t *testing.T, dir string) {
		os.Remove(filepath.Join(dir, "weights.onnx"))
	}, "weights.onnx.source", "file not found: weights.onnx", false},
	{"cover removed", func(t *testing.T, dir string) {
		os.Remove(filepath.Join(dir, "cover0.png"))
	}, "covers.0", "file not found: cover0.png", false},
	{"documentation removed", func(t *testing.T, dir string) {
		os.Remove(filepath.Join(dir, "README.md"))
	}, "documentation", "file not found: README.md", false},
	{"test tensor byte changed", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "test_input.npy")
		data, _ := os.ReadFile(p)
		data[len(data)-1] ^= 0x01
		os.WriteFile(p, data, 0o644)
	}, "inputs.0.test_tensor.sha256", "Sha256 mismatch for test_input.npy", false},
	{"sample tensor byte changed", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "test_output.png")
		data, _ := os.ReadFile(p)
		data[len(data)/2] ^= 0x80
		os.WriteFile(p, data, 0o644)
	}, "outputs.0.sample_tensor.sha256", "Sha256 mismatch for test_output.png", true},
	{"weights hash wrong in the yaml", func(t *testing.T, dir string) {
		editYAML(t, dir, "85f5ac80fa977fea3562ef97c8c5950288be2c4f4cdb5d994807df97008ce088", strings.Repeat("0123456789abcdef", 4))
	}, "weights.onnx.sha256", "Sha256 mismatch for weights.onnx", false},
	{"test tensor with 3 dimensions", func(t *testing.T, dir string) {
		writeTestTensor(t, dir, "test_input.npy", tensor.Float32, []int{1, 512, 512})
	}, "inputs.0.test_tensor", `Dimension mismatch: the test tensor test_input.npy has 3 dimensions [1 512 512] but tensor "raw" has 4 axes`, false},
	{"bool test tensor for float32", func(t *testing.T, dir string) {
		writeTestTensor(t, dir, "test_input.npy", tensor.Bool, []int{1, 1, 512, 512})
	}, "inputs.0.test_tensor", "the test tensor test_input.npy is bool but the description says float32", false},
	{"float test tensor for uint8", func(t *testing.T, dir string) {
		editYAML(t, dir, "    preprocessing:\n", "    data: {type: uint8}\n    preprocessing:\n")
	}, "inputs.0.test_tensor", "the test tensor test_input.npy has dtype float32 but the description says uint8", false},
	{"test tensor too small along a fixed axis", func(t *testing.T, dir string) {
		writeTestTensor(t, dir, "test_input.npy", tensor.Float32, []int{1, 1, 256, 512})
	}, "inputs.0.axes.2.size", "the test tensor test_input.npy has size 256 along axis y, but the axis size is 512", true},
	{"test tensor with two channels", func(t *testing.T, dir string) {
		writeTestTensor(t, dir, "test_input.npy", tensor.Float32, []int{1, 2, 512, 512})
	}, "inputs.0.axes.1", "the test tensor test_input.npy has 2 channels, but the channel axis names 1", false},
	{"output not matching its size reference", func(t *testing.T, dir string) {
		writeTestTensor(t, dir, "test_output.npy", tensor.Float32, []int{1, 1, 512, 500})
	}, "outputs.0.axes.3.size", "the test tensor test_output.npy has size 500 along axis x, but its size reference gives 512", false},
	{"all-zero test tensor", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "test_input.npy")
		old := fileSHA(t, p)
		arr, _ := tensor.New(tensor.Float32, []int{1, 1, 512, 512})
		npy.WriteFile(p, arr)
		editYAML(t, dir, old, fileSHA(t, p))
	}, "inputs.0.test_tensor", "is all (nearly) zero", false},
	{"test tensor that is not npy", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "test_input.npy")
		old := fileSHA(t, p)
		os.WriteFile(p, []byte("not an array"), 0o644)
		editYAML(t, dir, old, fileSHA(t, p))
	}, "inputs.0.test_tensor.source", "cannot read the test tensor test_input.npy", false},
	{"path leaving the package", func(t *testing.T, dir string) {
		editYAML(t, dir, "source: weights.onnx", "source: ../weights.onnx")
	}, "weights.onnx.source", "leaves the package folder", false},
	{"tolerance above 1 % of the output", func(t *testing.T, dir string) {
		data, _ := os.ReadFile(filepath.Join(dir, "bioimageio.yaml"))
		data = append(data, "config:\n  bioimageio:\n    reproducibility_tolerance:\n      - absolute_tolerance: 0.5\n"...)
		os.WriteFile(filepath.Join(dir, "bioimageio.yaml"), data, 0o644)
	}, "config.bioimageio.reproducibility_tolerance.0.absolute_tolerance", "absolute_tolerance 0.5 is more than 1% of the maximum", false},
}

func TestFilesBrokenPackages(t *testing.T) {
	for _, tc := range brokenPackages {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
			tc.brk(t, dir)
			rep := validatePkg(t, dir, filesOpts())
			wantOnlyError(t, rep, tc.loc, tc.frag)
			if !tc.other && len(rep.Errors) != 1 {
				t.Errorf("want exactly one error, got:%s", probList(rep.Errors))
			}
			// Without file checks the description alone is valid.
			for _, opts := range []Options{{}, {Files: false, Root: dir}} {
				if r := validatePkg(t, dir, opts); !r.OK() {
					t.Errorf("without file checks (%+v): errors:%s", opts, probList(r.Errors))
				} else if _, ok := findProblem(r.Warnings, "documentation", "Validation"); ok {
					t.Errorf("the documentation was read without file checks")
				}
			}
			// Validate with Files but neither Root nor FS has nothing to
			// resolve against, so the file checks are skipped too.
			data, _ := os.ReadFile(filepath.Join(dir, "bioimageio.yaml"))
			if r := Validate(data, "bioimageio.yaml", Options{Files: true}).Report; !r.OK() {
				t.Errorf("Validate(Files, no root): errors:%s", probList(r.Errors))
			}
			// Root works like the package folder.
			if r := Validate(data, "bioimageio.yaml", Options{Files: true, Root: dir}).Report; r.OK() {
				t.Errorf("Validate(Files, Root) misses the broken file")
			}
		})
	}
}

// TestFilesParameterizedTestTensors: the multi-tensor package has
// parameterized inputs; a test tensor off the size grid is an error.
func TestFilesParameterizedTestTensors(t *testing.T) {
	dir := copyPackage(t, "unet2d-multi-tensor-onnx")
	writeTestTensor(t, dir, "test_input_1.npy", tensor.Float32, []int{1, 1, 256, 250})
	rep := validatePkg(t, dir, filesOpts())
	wantOnlyError(t, rep, "inputs.1.axes.3.size", "has size 250 along axis x, which is not 32 + n·16")
}

// zipFolder writes the files of dir into a zip at dst (flat or under prefix).
func zipFolder(t *testing.T, dir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		w, err := zw.Create(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		r, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func sameReport(t *testing.T, what string, a, b *Report) {
	t.Helper()
	if a.Status != b.Status || a.Type != b.Type || a.FormatVersion != b.FormatVersion {
		t.Errorf("%s: %s %s %s vs %s %s %s", what, a.Status, a.Type, a.FormatVersion, b.Status, b.Type, b.FormatVersion)
	}
	if strings.Join(locs(a.Errors), "|") != strings.Join(locs(b.Errors), "|") {
		t.Errorf("%s: errors differ:%s\nvs:%s", what, probList(a.Errors), probList(b.Errors))
	}
	if strings.Join(locs(a.Warnings), "|") != strings.Join(locs(b.Warnings), "|") {
		t.Errorf("%s: warnings differ:%s\nvs:%s", what, probList(a.Warnings), probList(b.Warnings))
	}
}

// TestFilesZipLikeFolder: a package zip validates like its folder, intact
// and broken.
func TestFilesZipLikeFolder(t *testing.T) {
	for _, name := range fixturePackages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := copyPackage(t, name)
			zp := filepath.Join(t.TempDir(), name+".zip")
			zipFolder(t, dir, zp)
			folder, zipped := validatePkg(t, dir, filesOpts()), validatePkg(t, zp, filesOpts())
			if !zipped.OK() {
				t.Fatalf("zip: errors:%s", probList(zipped.Errors))
			}
			sameReport(t, "zip vs folder", zipped, folder)
		})
	}
	for _, tc := range brokenPackages {
		if tc.name == "path leaving the package" {
			continue // reported differently inside a zip, checked below
		}
		t.Run("broken/"+tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
			tc.brk(t, dir)
			zp := filepath.Join(t.TempDir(), "pkg.zip")
			zipFolder(t, dir, zp)
			zipped := validatePkg(t, zp, filesOpts())
			wantOnlyError(t, zipped, tc.loc, tc.frag)
			sameReport(t, "zip vs folder", zipped, validatePkg(t, dir, filesOpts()))
			if r := validatePkg(t, zp, Options{}); !r.OK() {
				t.Errorf("zip without file checks: errors:%s", probList(r.Errors))
			}
		})
	}
	t.Run("path leaving the package", func(t *testing.T) {
		dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
		editYAML(t, dir, "source: weights.onnx", "source: ../weights.onnx")
		zp := filepath.Join(t.TempDir(), "pkg.zip")
		zipFolder(t, dir, zp)
		wantOnlyError(t, validatePkg(t, zp, filesOpts()), "weights.onnx.source", "leaves the package folder")
	})
	t.Run("no description", func(t *testing.T) {
		dir := copyPackage(t, "upsample-onnx")
		os.Rename(filepath.Join(dir, "bioimageio.yaml"), filepath.Join(dir, "description.txt"))
		zp := filepath.Join(t.TempDir(), "pkg.zip")
		zipFolder(t, dir, zp)
		for _, p := range []string{dir, zp} {
			rep := validatePkg(t, p, filesOpts())
			if rep.OK() || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Msg, "rdf.yaml, bioimageio.yaml, model.yaml") {
				t.Errorf("%s: %s errors:%s", filepath.Base(p), rep.Status, probList(rep.Errors))
			}
		}
	})
	t.Run("not a zip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "broken.zip")
		os.WriteFile(p, []byte("PK\x03\x04 but nothing else"), 0o644)
		rep := validatePkg(t, p, filesOpts())
		if rep.OK() || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Msg, "not a readable zip") {
			t.Errorf("%s errors:%s", rep.Status, probList(rep.Errors))
		}
	})
}

// TestUpdateHashes: a wrong hash is replaced and a missing one inserted,
// comments and layout stay, and the package then validates.
func TestUpdateHashes(t *testing.T) {
	dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
	yp := filepath.Join(dir, "bioimageio.yaml")
	inSHA := "92768a2e0f2643c80b57afa5494019a5aafe5b0d92fe36ae740763adf3594a57"
	outSHA := "39925fb38bc74530902e44bf8e43a8bd0a9e3675aab758d89f47dc66cb9818ed"
	wrong := strings.Repeat("ab", 32)
	editYAML(t, dir, inSHA, wrong+" # the old hash")
	editYAML(t, dir, "      sha256: "+outSHA+"\n", "")
	editYAML(t, dir, "name: UNet 2D Nuclei Broad\n", "# a comment that must survive\nname: UNet 2D Nuclei Broad # and a trailing one\n")
	before, _ := os.ReadFile(yp)

	if rep := validatePkg(t, dir, filesOpts()); rep.OK() {
		t.Fatal("the wrong hash is not detected")
	}
	out, updates, res, err := UpdateHashes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != 2 {
		t.Fatalf("want 2 updates, got %+v", updates)
	}
	byLoc := map[string]HashUpdate{}
	for _, u := range updates {
		byLoc[u.Loc] = u
	}
	if u := byLoc["inputs.0.test_tensor.sha256"]; u.Old != wrong || u.New != inSHA || u.File != "test_input.npy" {
		t.Errorf("input update %+v", u)
	}
	if u := byLoc["outputs.0.test_tensor.sha256"]; u.Old != "" || u.New != outSHA || u.File != "test_output.npy" {
		t.Errorf("output update %+v", u)
	}
	if !res.Report.OK() {
		t.Errorf("the updated description does not validate:%s", probList(res.Report.Errors))
	}
	text := string(out)
	for _, keep := range []string{"%YAML 1.2\n", "# a comment that must survive\n", "# and a trailing one", "# the old hash", inSHA, "sha256: " + outSHA} {
		if !strings.Contains(text, keep) {
			t.Errorf("updated text lacks %q", keep)
		}
	}
	if strings.Contains(text, wrong) {
		t.Errorf("the wrong hash is still there")
	}
	// Only the two hash lines change: one replaced, one inserted.
	bl, al := strings.Split(string(before), "\n"), strings.Split(text, "\n")
	if len(al) != len(bl)+1 {
		t.Errorf("line count %d → %d, want one more", len(bl), len(al))
	}
	// The output test_tensor gets its sha256 right below its source, with
	// the indentation of source.
	if !strings.Contains(text, "      source: test_output.npy\n      sha256: "+outSHA+"\n") {
		t.Errorf("inserted hash not below its source:\n%s", text)
	}
	if err := os.WriteFile(yp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := validatePkg(t, dir, filesOpts()); !rep.OK() {
		t.Fatalf("after update-hashes: errors:%s", probList(rep.Errors))
	}
	// Running it again changes nothing.
	out2, updates2, _, err := UpdateHashes(dir)
	if err != nil || len(updates2) != 0 || string(out2) != text {
		t.Errorf("second run: err %v, updates %+v, changed %v", err, updates2, string(out2) != text)
	}
}

func TestUpdateHashesZipRefused(t *testing.T) {
	dir := copyPackage(t, "upsample-onnx")
	zp := filepath.Join(t.TempDir(), "pkg.zip")
	zipFolder(t, dir, zp)
	if _, _, _, err := UpdateHashes(zp); err == nil || !strings.Contains(err.Error(), "zip") {
		t.Errorf("want an error about zips, got %v", err)
	}
}
