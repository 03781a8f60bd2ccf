package browserrun

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// nativeModel opens a fixture package's ONNX weights with zoo's own ONNX
// Runtime: Run with it must equal zoo predict exactly (the same code runs
// in the browser around ONNX Runtime Web).
func nativeModel(t *testing.T, pkg string) (*spec.Model, []byte, runner.Model) {
	t.Helper()
	dir := fixtures.Path(t, "packages", pkg)
	p, err := runner.Load(dir, runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	net, err := runner.Open(p.Model, p.Source, "onnx", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	desc, err := os.ReadFile(filepath.Join(dir, "bioimageio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(desc)
	if err != nil {
		t.Fatal(err)
	}
	return m, desc, net
}

func TestRunEqualsPredict(t *testing.T) {
	m, _, net := nativeModel(t, "unet2d-nuclei-broad-onnx")
	in := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy")
	img, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []int
	res, err := Run(context.Background(), m, net, Request{Image: img, Progress: func(d, n int) { blocks = append(blocks, d) }})
	if err != nil {
		t.Fatal(err)
	}
	// zoo predict on the same file.
	pkg, _ := runner.Load(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), runner.LoadOptions{})
	p, err := runner.NewPredictor(pkg, "onnx", runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := t.TempDir()
	written, _, err := runner.PredictFile(context.Background(), p, in, out, nil, runner.Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(written[0])
	if !bytes.Equal(res.NPY, want) {
		t.Errorf("the .npy differs from zoo predict's")
	}
	if len(blocks) == 0 || len(res.TIFF) < 8 || string(res.TIFF[:4]) != "II*\x00" || len(res.InputPNG) == 0 || len(res.OutputPNG) == 0 {
		t.Errorf("blocks %v, tiff %d bytes, previews %d/%d bytes", blocks, len(res.TIFF), len(res.InputPNG), len(res.OutputPNG))
	}
	// The self-test passes with the native runtime.
	to, _ := os.ReadFile(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_output.npy"))
	if sum, err := SelfTest(context.Background(), m, net, img, to); err != nil {
		t.Errorf("self-test: %v", err)
	} else {
		t.Log(sum)
	}
	// A wrong expected output fails it, with the comparison.
	y, _ := npy.Read(bytes.NewReader(to))
	for i := range y.Float32s()[:5000] {
		y.Float32s()[i] += 0.5
	}
	var bad bytes.Buffer
	npy.Write(&bad, y)
	if _, err := SelfTest(context.Background(), m, net, img, bad.Bytes()); zoo.KindOf(err) != zoo.NotSupported || !strings.Contains(zoo.MessageOf(err), "does not reproduce") {
		t.Errorf("self-test with a wrong output: %v", err)
	}
}

func TestSelectPlane(t *testing.T) {
	m, _, net := nativeModel(t, "unet2d-nuclei-broad-onnx")
	// A z stack of 3 planes of 64×64, plane k filled with k.
	st, _ := tensor.New(tensor.Float32, []int{3, 64, 64})
	st.Axes = []string{"z", "y", "x"}
	v := st.Float32s()
	for i := range v {
		v[i] = float32(i / (64 * 64))
	}
	var buf bytes.Buffer
	if err := tiff.Write(&buf, st); err != nil {
		t.Fatal(err)
	}
	img, err := ReadImage(buf.Bytes(), MaxElements)
	if err != nil {
		t.Fatal(err)
	}
	x, note, err := SelectPlane(img, &m.Inputs[0], 2)
	if err != nil || x.Float32s()[0] != 2 || x.Len() != 64*64 || !strings.Contains(note, "plane 3 of 3 along z") {
		t.Fatalf("plane 3: %v %q (value %v, %d elements)", err, note, x.Float32s()[0], x.Len())
	}
	if _, _, err := SelectPlane(img, &m.Inputs[0], 3); err == nil || !strings.Contains(err.Error(), "the image has 3 planes") {
		t.Errorf("plane 4 of 3: %v", err)
	}
	// The whole run takes the chosen plane (nuclei is fixed 512: padded).
	if res, err := Run(context.Background(), m, net, Request{Image: buf.Bytes(), Plane: 1}); err != nil || !strings.Contains(strings.Join(res.Notes, ";"), "plane 2 of 3") {
		t.Errorf("run on plane 2: %v %v", err, res)
	}
}

func TestReadImageRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"text":   []byte("hello, world"),
		"empty":  nil,
		"png":    []byte("\x89PNG\r\n\x1a\nbroken"),
		"tiff":   []byte("II*\x00\xff\xff\xff\xff"),
		"npy":    []byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}"),
		"npybig": npyHeader("(100000, 100000)"),
	} {
		if _, err := ReadImage(b, MaxElements); err == nil {
			t.Errorf("%s: read", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := ReadImage(npyHeader("(100000, 100000)"), MaxElements); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("10^10 elements: %v, want too large before reading", err)
	}
}

func npyHeader(shape string) []byte {
	d := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(d)+1)%64 != 0 {
		d += " "
	}
	d += "\n"
	return append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(d)), byte(len(d) >> 8)}, d...)
}

func FuzzReadImage(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add(npyHeader("(2, 2)"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadImage(b, 1<<20)
		if err == nil && (x.Len() > 1<<20 || x.Len() == 0) {
			t.Fatalf("accepted %d elements", x.Len())
		}
	})
}

func TestSupportedAndOffer(t *testing.T) {
	m, desc, _ := nativeModel(t, "unet2d-nuclei-broad-onnx")
	if err := Supported(m); err != nil {
		t.Fatal(err)
	}
	ts := strings.Replace(strings.Replace(string(desc), "\n  onnx:\n", "\n  torchscript:\n    pytorch_version: 2.5.1\n", 1), "    opset_version: 20\n", "", 1)
	mt, err := Decode([]byte(ts))
	if err != nil {
		t.Fatal(err)
	}
	if err := Supported(mt); err == nil || !strings.Contains(zoo.MessageOf(err), "no ONNX weights") {
		t.Errorf("TorchScript only: %v", err)
	}
	if o := OfferFor(nil, "no runtime here", &zoo.Version{}, m); o.Why != "no runtime here" {
		t.Errorf("no runtime: %+v", o)
	}
}

// TestRuntimeServing: the runtime's files are served with immutable
// caching, gzip where accepted, cross-origin isolation headers, and only
// under the current stamp.
func TestRuntimeServing(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"zoo.wasm": "\x00asm wasm", "wasm_exec.js": "// go", "ort/ort.wasm.min.js": "// ort", "ort/ort-wasm-simd-threaded.wasm": "\x00asm", "ort/ort-wasm-simd-threaded.mjs": "// mjs"}
	var manifest strings.Builder
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
		manifest.WriteString("0000 " + strconv.Itoa(len(content)) + " " + name + "\n")
	}
	os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte(manifest.String()), 0o644)
	rt, err := OpenRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range rt.Routes(nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	w := get(rt.Base() + "zoo.wasm")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/wasm" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") ||
		w.Header().Get("Cross-Origin-Embedder-Policy") != "require-corp" || w.Header().Get("Cross-Origin-Resource-Policy") != "same-origin" {
		t.Errorf("zoo.wasm: %d %v", w.Code, w.Header())
	}
	if w := get("/browser-runtime/0123456789abcdef/zoo.wasm"); w.Code != 404 {
		t.Errorf("old stamp: %d", w.Code)
	}
	if w := get(rt.Base() + "MANIFEST"); w.Code != 404 {
		t.Errorf("a file not in the manifest: %d", w.Code)
	}
	if w := get(rt.Base() + "../MANIFEST"); w.Code == 200 {
		t.Errorf("path escape: %d", w.Code)
	}
	// A changed file makes the runtime incomplete.
	os.WriteFile(filepath.Join(dir, "zoo.wasm"), []byte("changed size"), 0o644)
	if _, err := OpenRuntime(dir); err == nil {
		t.Error("a changed file was accepted")
	}
}
