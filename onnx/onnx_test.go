package onnx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/tensor"
)

// needORT skips the test when the ORT library is not installed, except
// under CI and make test (internal/testenv), where its absence fails. A
// library that is there but does not load always fails.
func needORT(t testing.TB) {
	t.Helper()
	if err := Init(); err != nil {
		if path, _, _ := findLibrary(); path == "" {
			testenv.Missing(t, testenv.ONNXRuntime, err.Error())
		}
		t.Fatal(err)
	}
}

func pkgPath(t testing.TB, pkg, file string) string {
	t.Helper()
	return fixtures.Path(t, "packages", pkg, file)
}

func load(t testing.TB, pkg string) *Session {
	t.Helper()
	needORT(t)
	s, err := Load(pkgPath(t, pkg, "weights.onnx"), Options{})
	if err != nil {
		t.Fatalf("Load %s: %v", pkg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readNpyF32 reads a little-endian float32, C-order .npy file (all the test
// tensors in the fixtures are such).
func readNpyF32(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		t.Fatalf("%s: not an npy file", path)
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	default:
		hlen, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	header := string(b[off : off+hlen])
	if !strings.Contains(header, "'descr': '<f4'") || !strings.Contains(header, "'fortran_order': False") {
		t.Fatalf("%s: want a C-order <f4 array, header %s", path, header)
	}
	m := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(header)
	if m == nil {
		t.Fatalf("%s: no shape in header %s", path, header)
	}
	var shape []int
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: bad shape %s", path, m[1])
			}
			shape = append(shape, n)
		}
	}
	data := b[off+hlen:]
	if len(data) != tensor.NumElements(shape)*4 {
		t.Fatalf("%s: %d data bytes for shape %v", path, len(data), shape)
	}
	tt, err := tensor.New(tensor.Float32, shape)
	if err != nil {
		t.Fatal(err)
	}
	copy(tt.Data, data)
	return tt
}

// zeroMeanUnitVariance returns (x − mean)/(std + 1e-6) over the whole
// tensor, with the population mean and std computed in float64.
func zeroMeanUnitVariance(x *tensor.Tensor) *tensor.Tensor {
	v := x.Float32s()
	var sum float64
	for _, e := range v {
		sum += float64(e)
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, e := range v {
		d := float64(e) - mean
		ss += d * d
	}
	std := math.Sqrt(ss / float64(len(v)))
	out := make([]float32, len(v))
	for i, e := range v {
		out[i] = float32((float64(e) - mean) / (std + 1e-6))
	}
	t, _ := tensor.FromFloat32(x.Shape, out)
	return t
}

func maxAbsDiff(t *testing.T, got, want *tensor.Tensor) float64 {
	t.Helper()
	if !reflect.DeepEqual(got.Shape, want.Shape) || got.DType != want.DType {
		t.Fatalf("got %s%v, want %s%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	g, w := got.Float32s(), want.Float32s()
	var m float64
	for i := range g {
		m = math.Max(m, math.Abs(float64(g[i])-float64(w[i])))
	}
	return m
}

func ramp(shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(i)
	}
	t, _ := tensor.FromFloat32(shape, v)
	return t
}

func run1(t *testing.T, s *Session, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	out, err := s.Run(in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(out) != len(s.Outputs()) {
		t.Fatalf("Run returned %d outputs, model has %d", len(out), len(s.Outputs()))
	}
	return out
}

func TestUpsample(t *testing.T) {
	s := load(t, "upsample-onnx")
	wantIn := []TensorInfo{{Name: "input", DType: tensor.Float32, Shape: []int64{-1, 1, -1, -1}}}
	if !reflect.DeepEqual(s.Inputs(), wantIn) {
		t.Errorf("Inputs() = %+v, want %+v", s.Inputs(), wantIn)
	}
	if o := s.Outputs(); len(o) != 1 || o[0].Name != "output" || o[0].DType != tensor.Float32 || len(o[0].Shape) != 4 {
		t.Errorf("Outputs() = %+v", o)
	}

	// Nearest-neighbour ×4: out[b,c,y,x] = in[b,c,y/4,x/4], exactly.
	for _, shape := range [][]int{{1, 1, 10, 10}, {1, 1, 10, 20}, {2, 1, 5, 15}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			in := ramp(shape...)
			out := run1(t, s, in)[0]
			b, h, w := shape[0], shape[2], shape[3]
			wantShape := []int{b, 1, 4 * h, 4 * w}
			if out.DType != tensor.Float32 || !reflect.DeepEqual(out.Shape, wantShape) {
				t.Fatalf("output %s%v, want float32%v", out.DType, out.Shape, wantShape)
			}
			iv, ov := in.Float32s(), out.Float32s()
			for n := 0; n < b; n++ {
				for y := 0; y < 4*h; y++ {
					for x := 0; x < 4*w; x++ {
						got := ov[(n*4*h+y)*4*w+x]
						want := iv[(n*h+y/4)*w+x/4]
						if got != want {
							t.Fatalf("out[%d,0,%d,%d] = %v, want %v", n, y, x, got, want)
						}
					}
				}
			}
		})
	}

	in := readNpyF32(t, pkgPath(t, "upsample-onnx", "test_input.npy"))
	want := readNpyF32(t, pkgPath(t, "upsample-onnx", "test_output.npy"))
	if d := maxAbsDiff(t, run1(t, s, in)[0], want); d != 0 {
		t.Errorf("test tensors: max abs diff %g, want 0", d)
	}
}

func TestNuclei(t *testing.T) {
	s := load(t, "unet2d-nuclei-broad-onnx")
	// The graph names differ from the description's ids (raw/probability).
	wantIn := []TensorInfo{{Name: "input.1", DType: tensor.Float32, Shape: []int64{1, 1, 512, 512}}}
	wantOut := []TensorInfo{{Name: "82", DType: tensor.Float32, Shape: []int64{1, 1, 512, 512}}}
	if !reflect.DeepEqual(s.Inputs(), wantIn) || !reflect.DeepEqual(s.Outputs(), wantOut) {
		t.Errorf("Inputs() = %+v, Outputs() = %+v; want %+v, %+v", s.Inputs(), s.Outputs(), wantIn, wantOut)
	}
	in := zeroMeanUnitVariance(readNpyF32(t, pkgPath(t, "unet2d-nuclei-broad-onnx", "test_input.npy")))
	want := readNpyF32(t, pkgPath(t, "unet2d-nuclei-broad-onnx", "test_output.npy"))
	out := run1(t, s, in)[0]
	for i, v := range out.Float32s() {
		out.Float32s()[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	d := maxAbsDiff(t, out, want)
	t.Logf("nuclei: max abs diff vs test_output.npy after sigmoid = %.3g", d)
	if d > 1e-4 {
		t.Errorf("max abs diff %g > 1e-4", d)
	}
}

func TestMultiTensor(t *testing.T) {
	const pkg = "unet2d-multi-tensor-onnx"
	s := load(t, pkg)
	if got := names(s.Inputs()); !reflect.DeepEqual(got, []string{"input0", "input1"}) {
		t.Errorf("input names %v", got)
	}
	in0 := zeroMeanUnitVariance(readNpyF32(t, pkgPath(t, pkg, "test_input_0.npy")))
	in1 := zeroMeanUnitVariance(readNpyF32(t, pkgPath(t, pkg, "test_input_1.npy")))
	out := run1(t, s, in0, in1)
	for i, o := range out {
		want := readNpyF32(t, pkgPath(t, pkg, fmt.Sprintf("test_output_%d.npy", i)))
		d := maxAbsDiff(t, o, want)
		t.Logf("output %d: max abs diff %.3g", i, d)
		if d > 1e-4 {
			t.Errorf("output %d: max abs diff %g > 1e-4", i, d)
		}
	}
}

func TestDiffOutputShape(t *testing.T) {
	const pkg = "unet2d-diff-output-shape-onnx"
	s := load(t, pkg)
	in := zeroMeanUnitVariance(readNpyF32(t, pkgPath(t, pkg, "test_input.npy")))
	want := readNpyF32(t, pkgPath(t, pkg, "test_output.npy"))
	d := maxAbsDiff(t, run1(t, s, in)[0], want)
	t.Logf("max abs diff %.3g", d)
	// The description's tolerance is 1e-4 and the reference run was at
	// 7.9e-5 (InstanceNormalization numerics); allow for another CPU.
	if d > 1e-3 {
		t.Errorf("max abs diff %g > 1e-3", d)
	}
	// A second size: the output is half the input in y and x.
	out := run1(t, s, zeroMeanUnitVariance(ramp(2, 1, 48, 80)))[0]
	if !reflect.DeepEqual(out.Shape, []int{2, 1, 24, 40}) {
		t.Errorf("(2,1,48,80) gave output shape %v, want [2 1 24 40]", out.Shape)
	}
}

func wantErr(t *testing.T, err error, kind zoo.Kind, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s error containing %q", kind, contains)
	}
	if zoo.KindOf(err) != kind || !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q (kind %s); want kind %s containing %q", err, zoo.KindOf(err), kind, contains)
	}
}

func TestRunErrors(t *testing.T) {
	s := load(t, "unet2d-nuclei-broad-onnx")
	f32 := func(shape ...int) *tensor.Tensor { x, _ := tensor.New(tensor.Float32, shape); return x }
	ok := f32(1, 1, 512, 512)

	_, err := s.Run([]*tensor.Tensor{f32(1, 1, 256, 256)})
	wantErr(t, err, zoo.Invalid, "input 0 (input.1) expects shape [1 1 512 512], got [1 1 256 256]")
	_, err = s.Run([]*tensor.Tensor{f32(1, 512, 512)})
	wantErr(t, err, zoo.Invalid, "input 0 (input.1) expects shape [1 1 512 512], got [1 512 512]")

	f64, _ := tensor.New(tensor.Float64, []int{1, 1, 512, 512})
	_, err = s.Run([]*tensor.Tensor{f64})
	wantErr(t, err, zoo.Invalid, "input 0 (input.1) expects dtype float32, got float64")

	_, err = s.Run(nil)
	wantErr(t, err, zoo.Invalid, "expects 1 input(s) (input.1), got 0")
	_, err = s.Run([]*tensor.Tensor{ok, ok})
	wantErr(t, err, zoo.Invalid, "expects 1 input(s) (input.1), got 2")
	_, err = s.Run([]*tensor.Tensor{nil})
	wantErr(t, err, zoo.Invalid, "input 0 (input.1) is nil")

	short := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, 512, 512}, Data: ok.Data[:100]}
	_, err = s.Run([]*tensor.Tensor{short})
	wantErr(t, err, zoo.Invalid, "needs 1048576 bytes of data, has 100")

	// Dynamic dims: any size passes the check, but not zero.
	up := load(t, "upsample-onnx")
	_, err = up.Run([]*tensor.Tensor{f32(1, 2, 10, 10)})
	wantErr(t, err, zoo.Invalid, "input 0 (input) expects shape [? 1 ? ?], got [1 2 10 10]")
	_, err = up.Run([]*tensor.Tensor{f32(1, 1, 0, 10)})
	wantErr(t, err, zoo.Invalid, "has no elements")

	// A size the architecture cannot take fails inside ORT, cleanly.
	diff := load(t, "unet2d-diff-output-shape-onnx")
	_, err = diff.Run([]*tensor.Tensor{f32(1, 1, 33, 33)})
	wantErr(t, err, zoo.Invalid, "ONNX Runtime failed on inputs float32[1 1 33 33]")
	t.Logf("ORT error: %v", err)

	// A sub-slice that is not 4-byte aligned still runs (it is copied).
	buf := make([]byte, 1+len(ok.Data))
	mis := &tensor.Tensor{DType: tensor.Float32, Shape: ok.Shape, Data: buf[1:]}
	if _, err := s.Run([]*tensor.Tensor{mis}); err != nil {
		t.Errorf("misaligned input: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	_, err := Load(filepath.Join(dir, "missing.onnx"), Options{})
	wantErr(t, err, zoo.NotFound, "does not exist")
	_, err = Load(dir, Options{})
	wantErr(t, err, zoo.Invalid, "not a regular file")
	_, err = Load(write("empty.onnx", nil), Options{})
	wantErr(t, err, zoo.Invalid, "is empty")
	_, err = Load(write("text.onnx", []byte("this is not a model\n")), Options{})
	wantErr(t, err, zoo.Invalid, "is not a valid ONNX model")
	t.Logf("text file: %v", err)

	good, err := os.ReadFile(pkgPath(t, "unet2d-nuclei-broad-onnx", "weights.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(write("half.onnx", good[:len(good)/2]), Options{})
	wantErr(t, err, zoo.Invalid, "is not a valid ONNX model")
	t.Logf("truncated file: %v", err)

	// Truncate the small upsample model at every length: each is a clean
	// error, never a crash.
	small, err := os.ReadFile(pkgPath(t, "upsample-onnx", "weights.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(small); n++ {
		s, err := Load(write("cut.onnx", small[:n]), Options{})
		if err == nil {
			s.Close()
			t.Errorf("truncated to %d of %d bytes: loaded", n, len(small))
			continue
		}
		if k := zoo.KindOf(err); k != zoo.Invalid {
			t.Errorf("truncated to %d bytes: kind %s: %v", n, k, err)
		}
	}

	_, err = Load(pkgPath(t, "upsample-onnx", "weights.onnx"), Options{IntraOpThreads: -1})
	wantErr(t, err, zoo.Invalid, "IntraOpThreads")
}

func TestConcurrentRun(t *testing.T) {
	s := load(t, "unet2d-nuclei-broad-onnx")
	in := zeroMeanUnitVariance(readNpyF32(t, pkgPath(t, "unet2d-nuclei-broad-onnx", "test_input.npy")))
	ref := run1(t, s, in)[0]

	const n = 4
	outs := make([]*tensor.Tensor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var res []*tensor.Tensor
			res, errs[i] = s.Run([]*tensor.Tensor{in})
			if errs[i] == nil {
				outs[i] = res[0]
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(outs[i].Shape, ref.Shape) || !bytes.Equal(outs[i].Data, ref.Data) {
			t.Errorf("goroutine %d: result differs from the sequential run", i)
		}
	}
}

func TestCancelAndClose(t *testing.T) {
	s := load(t, "unet2d-nuclei-broad-onnx")
	in, _ := tensor.New(tensor.Float32, []int{1, 1, 512, 512})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.RunContext(ctx, []*tensor.Tensor{in})
	wantErr(t, err, zoo.Unavailable, "cancelled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	// Cancelled mid-run: the nuclei U-Net takes far longer than 5 ms.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.RunContext(ctx, []*tensor.Tensor{in})
	wantErr(t, err, zoo.Unavailable, "cancelled")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	t.Logf("cancelled run returned after %v", time.Since(start))

	// A context that is never cancelled changes nothing.
	if _, err := s.RunContext(context.Background(), []*tensor.Tensor{in}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.RunContext(ctx, []*tensor.Tensor{in}); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Run([]*tensor.Tensor{in})
	wantErr(t, err, zoo.Internal, "closed")
}

func TestLibraryOverride(t *testing.T) {
	t.Setenv(LibEnv, filepath.Join(t.TempDir(), "nope.so"))
	_, _, err := findLibrary()
	if err == nil || !strings.Contains(err.Error(), LibEnv) {
		t.Errorf("missing %s: error %v", LibEnv, err)
	}
	f := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	os.WriteFile(f, []byte("x"), 0o644)
	t.Setenv(LibEnv, f)
	if p, _, err := findLibrary(); p != f || err != nil {
		t.Errorf("findLibrary() = %q, %v; want %q", p, err, f)
	}
}

func TestLibraryFound(t *testing.T) {
	needORT(t)
	if LibraryPath() == "" || !strings.HasPrefix(Version(), "1.") {
		t.Errorf("LibraryPath() = %q, Version() = %q", LibraryPath(), Version())
	}
	t.Logf("ONNX Runtime %s from %s", Version(), LibraryPath())
}

// BenchmarkNucleiRun times the bare Run of the 512×512 nuclei U-Net on a
// preprocessed input: the floor for zoo's own overhead.
func BenchmarkNucleiRun(b *testing.B) {
	s := load(b, "unet2d-nuclei-broad-onnx")
	raw := readNpyF32(b, pkgPath(b, "unet2d-nuclei-broad-onnx", "test_input.npy"))
	in := []*tensor.Tensor{zeroMeanUnitVariance(raw)}
	if _, err := s.Run(in); err != nil { // warm up
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}
