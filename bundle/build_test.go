package bundle

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

// buildZip builds the package of path and writes it.
func buildZip(t testing.TB, path string, opts BuildOptions) ([]byte, *Package) {
	t.Helper()
	pkg, res, err := Build(path, opts)
	if err != nil {
		if res != nil {
			for _, e := range res.Report.Errors {
				t.Logf("line %d: %s: %s", e.Line, e.Loc, e.Msg)
			}
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { pkg.Close() })
	var buf bytes.Buffer
	sum, n, err := Write(&buf, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || sum != sha256Hex(buf.Bytes()) {
		t.Fatalf("Write returned size %d sha256 %s for %d bytes", n, sum, buf.Len())
	}
	return buf.Bytes(), pkg
}

// validateZip opens a package zip and validates it with its files checked.
func validateZip(t testing.TB, z []byte) *Package {
	t.Helper()
	zp, err := openBytes(z, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	name, data := zp.Description()
	if name != DescriptionName {
		t.Errorf("description %s, want %s", name, DescriptionName)
	}
	res := spec.Validate(data, name, spec.Options{Files: true, FS: zp})
	for _, e := range res.Report.Errors {
		t.Errorf("packaged description: line %d: %s: %s", e.Line, e.Loc, e.Msg)
	}
	return zp
}

func TestRoundTripFixturePackages(t *testing.T) {
	root := fixtures.Path(t, "packages")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ents {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			z, pkg := buildZip(t, dir, BuildOptions{})
			zp := validateZip(t, z)
			if !reflect.DeepEqual(pkg.Files(), zp.Files()) {
				t.Errorf("files differ after the round trip:\nbuilt %+v\nread  %+v", pkg.Files(), zp.Files())
			}
			// every file of the folder that the description references is in
			// the zip with the same content
			for _, f := range zp.Files() {
				if f.Path == DescriptionName {
					continue
				}
				want, err := os.ReadFile(filepath.Join(dir, f.Path))
				if err != nil {
					t.Fatalf("%s is not a file of the fixture: %v", f.Path, err)
				}
				if sha256Hex(want) != f.SHA256 || int64(len(want)) != f.Size {
					t.Errorf("%s: content differs", f.Path)
				}
			}
			var paths []string
			for _, f := range zp.Files() {
				paths = append(paths, f.Path)
			}
			if err := fstest.TestFS(zp, paths...); err != nil {
				t.Errorf("fstest: %v", err)
			}
			// packaging the description file, or the package zip itself,
			// gives the same bytes
			yml := filepath.Join(dir, "bioimageio.yaml")
			if z2, _ := buildZip(t, yml, BuildOptions{}); !bytes.Equal(z, z2) {
				t.Error("packaging the yaml and its folder differ")
			}
			zipPath := filepath.Join(t.TempDir(), "pkg.zip")
			os.WriteFile(zipPath, z, 0o644)
			if z3, _ := buildZip(t, zipPath, BuildOptions{}); !bytes.Equal(z, z3) {
				t.Error("packaging the package zip again changes it")
			}
		})
	}
	if n == 0 {
		t.Fatalf("no packages in %s", root)
	}
}

// copyDir copies a fixture folder, with the given modification time and
// permissions on every file.
func copyDir(t testing.TB, src string, mtime time.Time, perm fs.FileMode) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, e.Name())
		if err := os.WriteFile(p, data, perm); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, perm)
		os.Chtimes(p, mtime, mtime)
	}
	return dst
}

func TestBuildDeterministic(t *testing.T) {
	src := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	a := copyDir(t, src, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), 0o644)
	b := copyDir(t, src, time.Date(2024, 12, 31, 23, 59, 59, 0, time.Local), 0o600)
	za, _ := buildZip(t, a, BuildOptions{})
	za2, _ := buildZip(t, a, BuildOptions{})
	zb, _ := buildZip(t, b, BuildOptions{})
	if !bytes.Equal(za, za2) {
		t.Error("two builds of the same folder differ")
	}
	if !bytes.Equal(za, zb) {
		t.Error("other modification times and permissions change the zip")
	}
	// folders opened with OpenDir write the same bytes too
	write := func(dir string) []byte {
		pkg, err := OpenDir(dir, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer pkg.Close()
		var buf bytes.Buffer
		if _, _, err := Write(&buf, pkg); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if !bytes.Equal(write(a), write(b)) {
		t.Error("OpenDir + Write depends on modification times or permissions")
	}
}

func pngBytes(t testing.TB, c uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = c
	}
	img.Set(0, 0, color.Gray{Y: c + 1})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// edited is the upsample fixture rearranged into folders, with comments,
// quoting, a name clash, a duplicate and a missing sha256.
func editedUpsample(t *testing.T) (dir, yml string) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir = t.TempDir()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("data/in/test_input.npy", read("test_input.npy"))
	put("data/out/test_input.npy", read("test_output.npy")) // same name, other content
	put("weights/weights.onnx", read("weights.onnx"))
	put("docs/docs.md", []byte("# Upsample\n\n## Validation\n\nnone\n"))
	put("a/cover.png", pngBytes(t, 10))
	put("b/cover.png", pngBytes(t, 200))
	put("c/cover.png", pngBytes(t, 10)) // same content as a/cover.png
	text := string(read("bioimageio.yaml"))
	for _, r := range [][2]string{
		{"documentation: docs.md", "documentation: './docs/docs.md'  # the docs"},
		{"covers: []", "covers:\n  - a/cover.png # first\n  - b/cover.png\n  - c/cover.png"},
		{"source: test_input.npy", "source: data/in/test_input.npy # input"},
		{"source: test_output.npy", `source: "data/out/test_input.npy"`},
		{"    source: weights.onnx\n    sha256: 605a30450c1ab092feb7123e7e6a71325834f8042eaedcf38dc401f5b06482e7\n", "    # no sha256 yet\n    source: weights/weights.onnx\n"},
	} {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("fixture changed: %q not found", r[0])
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	yml = filepath.Join(dir, "model.bioimageio.yaml")
	put("model.bioimageio.yaml", []byte(text))
	return dir, yml
}

func TestBuildRewritesReferences(t *testing.T) {
	dir, yml := editedUpsample(t)
	orig, _ := os.ReadFile(yml)
	z, pkg := buildZip(t, dir, BuildOptions{})
	zp := validateZip(t, z)
	_, got := zp.Description()
	weights, _ := os.ReadFile(filepath.Join(dir, "weights/weights.onnx"))
	want := string(orig)
	for _, r := range [][2]string{
		{"documentation: './docs/docs.md'  # the docs", `documentation: "docs.md"  # the docs`},
		{"  - a/cover.png # first\n  - b/cover.png\n  - c/cover.png", "  - cover.png # first\n  - cover_2.png\n  - cover.png"},
		{"source: data/in/test_input.npy # input", "source: test_input.npy # input"},
		{`source: "data/out/test_input.npy"`, `source: "test_input_2.npy"`},
		{"    source: weights/weights.onnx\n", "    source: weights.onnx\n    sha256: " + sha256Hex(weights) + "\n"},
	} {
		want = strings.Replace(want, r[0], r[1], 1)
	}
	if string(got) != want {
		t.Errorf("rdf.yaml:\n%s\nwant:\n%s", got, want)
	}
	var names []string
	for _, f := range pkg.Files() {
		names = append(names, f.Path)
	}
	wantNames := []string{"cover.png", "cover_2.png", "docs.md", "rdf.yaml", "test_input.npy", "test_input_2.npy", "weights.onnx"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("files %v, want %v", names, wantNames)
	}
}

func TestBuildFlowMappingAndCRLF(t *testing.T) {
	dir, yml := editedUpsample(t)
	text, _ := os.ReadFile(yml)
	s := strings.Replace(string(text), "    # no sha256 yet\n    source: weights/weights.onnx\n", "    {source: weights/weights.onnx, opset_version: 17}\n", 1)
	s = strings.Replace(s, "  onnx:\n    {source", "  onnx: {source", 1)
	s = strings.Replace(s, "\n    opset_version: 17\n", "\n", 1)
	s = strings.ReplaceAll(s, "\n", "\r\n")
	os.WriteFile(yml, []byte(s), 0o644)
	z, _ := buildZip(t, dir, BuildOptions{})
	zp := validateZip(t, z)
	_, got := zp.Description()
	weights, _ := os.ReadFile(filepath.Join(dir, "weights/weights.onnx"))
	if want := "onnx: {source: weights.onnx, sha256: " + sha256Hex(weights) + ", opset_version: 17}\r\n"; !strings.Contains(string(got), want) {
		t.Errorf("flow mapping not rewritten to %q:\n%s", want, got)
	}
	if strings.Count(string(got), "\r\n") != strings.Count(string(got), "\n") {
		t.Error("line ends were changed")
	}
}

func TestBuildRemoteFiles(t *testing.T) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir := copyDir(t, src, time.Now(), 0o644)
	os.Remove(filepath.Join(dir, "weights.onnx"))
	weights, _ := os.ReadFile(filepath.Join(src, "weights.onnx"))
	yml := filepath.Join(dir, "bioimageio.yaml")
	text, _ := os.ReadFile(yml)
	const url = "https://zenodo.org/api/records/1/files/weights.onnx/content"
	os.WriteFile(yml, bytes.Replace(text, []byte("source: weights.onnx"), []byte("source: "+url), 1), 0o644)

	// without Fetch the URL stays and the package validates
	z, pkg := buildZip(t, dir, BuildOptions{})
	for _, f := range pkg.Files() {
		if f.Path == "weights.onnx" {
			t.Error("a remote file was packaged without Fetch")
		}
	}
	zp := validateZip(t, z)
	if _, d := zp.Description(); !bytes.Contains(d, []byte("source: "+url)) {
		t.Error("the URL was not kept")
	}

	// with Fetch it is downloaded once and packaged under its name
	calls := 0
	fetch := func(u string) (io.ReadCloser, error) {
		calls++
		if u != url {
			return nil, errors.New("unexpected URL " + u)
		}
		return io.NopCloser(bytes.NewReader(weights)), nil
	}
	tmp := t.TempDir()
	z, pkg = buildZip(t, dir, BuildOptions{Fetch: fetch, TempDir: tmp})
	zp = validateZip(t, z)
	if _, d := zp.Description(); !bytes.Contains(d, []byte("source: weights.onnx\n")) {
		t.Errorf("the fetched file is not referenced by name:\n%s", d)
	}
	if calls != 1 {
		t.Errorf("fetched %d times, want once", calls)
	}
	pkg.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Close left %d temporary entries", len(left))
	}

	// a download above the file size limit is refused
	_, res, err := Build(dir, BuildOptions{Fetch: fetch, Limits: Limits{MaxFileSize: 100}, TempDir: tmp})
	if err == nil || res == nil || res.Report.OK() || !strings.Contains(res.Report.Errors[0].Msg, "larger than 100 bytes") {
		t.Errorf("got %v, want a report of the download above the limit", err)
	}
}

func TestBuildInvalidDescription(t *testing.T) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir := copyDir(t, src, time.Now(), 0o644)
	os.WriteFile(filepath.Join(dir, "weights.onnx"), []byte("not the weights"), 0o644)
	pkg, res, err := Build(dir, BuildOptions{})
	wantErr(t, err, zoo.Invalid, "not a valid description")
	if pkg != nil || res == nil || res.Report.OK() {
		t.Fatalf("want no package and the failed report, got %v %v", pkg, res)
	}
	if !strings.Contains(res.Report.Errors[0].Msg, "Sha256 mismatch") {
		t.Errorf("report: %+v", res.Report.Errors)
	}

	_, res, err = Build(filepath.Join(dir, "nope.yaml"), BuildOptions{})
	wantErr(t, err, zoo.NotFound)
	if res != nil {
		t.Error("a result for a missing file")
	}

	// limits apply to the referenced files
	dir = copyDir(t, src, time.Now(), 0o644)
	_, _, err = Build(dir, BuildOptions{Limits: Limits{MaxFileSize: 500}})
	wantErr(t, err, zoo.TooLarge, "limits")
	_, _, err = Build(dir, BuildOptions{Limits: Limits{MaxFiles: 3}})
	wantErr(t, err, zoo.TooLarge, "more than 2 files")
}

// TestBuildHostileZip: a zip given to Build is opened with the same checks.
func TestBuildHostileZip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "evil.zip")
	os.WriteFile(p, makeZip(t, desc, zent{name: "../../evil", data: "x"}), 0o644)
	_, _, err := Build(p, BuildOptions{})
	wantErr(t, err, zoo.Invalid, `"../../evil"`)
}

func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"x.bioimageio.yaml": minimalYAML, "b/z.npy": "z", "a.md": "a", "B.txt": "B"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600)
	}
	pkg, err := OpenDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	zr, err := zipReader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Method != 0 || f.Flags&0x8 != 0 || len(f.Extra) != 0 || f.Mode() != 0o644 || f.ModifiedDate != dosDate1980 || f.ModifiedTime != 0 {
			t.Errorf("%s: method %d flags %#x extra %d mode %v date %#x time %#x", f.Name, f.Method, f.Flags, len(f.Extra), f.Mode(), f.ModifiedDate, f.ModifiedTime)
		}
	}
	if want := []string{"rdf.yaml", "B.txt", "a.md", "b/z.npy"}; !reflect.DeepEqual(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}

	// a file that would be taken for the description is refused
	os.WriteFile(filepath.Join(dir, "0.rdf.yaml"), []byte("x"), 0o644)
	pkg3, err := OpenDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg3.Close()
	if name, _ := pkg3.Description(); name != "0.rdf.yaml" {
		t.Fatalf("description %s", name)
	}
	os.WriteFile(filepath.Join(dir, "1.rdf.yaml"), []byte("y"), 0o644)
	pkg4, err := OpenDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg4.Close()
	_, _, err = Write(io.Discard, pkg4)
	wantErr(t, err, zoo.Invalid, "1.rdf.yaml, which would be taken for its description")
	os.Remove(filepath.Join(dir, "0.rdf.yaml"))
	os.Remove(filepath.Join(dir, "1.rdf.yaml"))

	// a file that would take the description's name is refused
	os.WriteFile(filepath.Join(dir, "RDF.YAML"), []byte("x"), 0o644)
	pkg2, err := OpenDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg2.Close()
	_, _, err = Write(io.Discard, pkg2)
	wantErr(t, err, zoo.Invalid, "RDF.YAML")
}

// TestCheckPackaged: the last guard of Build catches a rewrite that names
// a file not packaged or leaves a wrong or missing sha256.
func TestCheckPackaged(t *testing.T) {
	dir, _ := editedUpsample(t)
	pkg, _, err := Build(dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	_, text := pkg.Description()
	if err := checkPackaged(text, "x", pkg); err != nil {
		t.Fatal(err)
	}
	weights := pkg.index["weights.onnx"].SHA256
	for name, bad := range map[string]string{
		"missing file": strings.Replace(string(text), `source: "test_input_2.npy"`, `source: "data/out/test_input.npy"`, 1),
		"wrong sha256": strings.Replace(string(text), weights, strings.Repeat("0", 64), 1),
		"no sha256":    strings.Replace(string(text), "    sha256: "+weights+"\n", "", 1),
	} {
		if bad == string(text) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if err := checkPackaged([]byte(bad), "x", pkg); err == nil {
			t.Errorf("%s: not caught", name)
		}
	}
}
