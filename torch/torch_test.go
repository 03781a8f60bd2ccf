package torch

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// needTorch skips a test when the shim or libtorch is missing, except
// under CI and make test (internal/testenv), where both must be there
// (.ci/run installs libtorch-dev and make build builds the shim).
func needTorch(t testing.TB) {
	t.Helper()
	testenv.Need(t, testenv.Libtorch, Available())
}

func example(t testing.TB, elem ...string) string {
	t.Helper()
	return fixtures.Path(t, append([]string{"bioimageio-examples", "models"}, elem...)...)
}

func readNpy(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	x, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustKind(t *testing.T, err error, kind zoo.Kind, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if zoo.KindOf(err) != kind {
		t.Fatalf("kind %v, want %v: %v", zoo.KindOf(err), kind, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	t.Logf("%v", err)
}

func TestLoadRun(t *testing.T) {
	needTorch(t)
	m, err := Load(example(t, "unet2d_multi_tensor", "weights_torchscript_traced.pt"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if total, req := m.NumInputs(); total != 2 || req != 2 {
		t.Fatalf("inputs %d (%d required), want 2", total, req)
	}
	if Version() == "" || !strings.HasPrefix(Version(), "1.") && !strings.HasPrefix(Version(), "2.") {
		t.Errorf("version %q", Version())
	}
	if LibraryPath() == "" {
		t.Error("no library path")
	}
	if !m.Optimized() {
		t.Error("the traced module was not optimised for inference")
	}
	x, _ := tensor.New(tensor.Float32, []int{2, 1, 48, 80})
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%97) / 97
	}
	out, err := m.Run(context.Background(), []*tensor.Tensor{x, x})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("%d outputs", len(out))
	}
	for _, o := range out {
		if o.DType != tensor.Float32 || !equalInts(o.Shape, []int{2, 1, 48, 80}) || o.Axes != nil {
			t.Fatalf("output %s %v %v", o.DType, o.Shape, o.Axes)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Concurrent runs on one module give the results of sequential runs.
func TestConcurrentRuns(t *testing.T) {
	needTorch(t)
	m, err := Load(example(t, "unet2d_multi_tensor", "weights_torchscript_traced.pt"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	inputs := make([][]*tensor.Tensor, 6)
	want := make([][]*tensor.Tensor, len(inputs))
	for k := range inputs {
		a, _ := tensor.New(tensor.Float32, []int{1, 1, 32 + 16*(k%3), 64})
		b, _ := tensor.New(tensor.Float32, a.Shape)
		for i := range a.Float32s() {
			a.Float32s()[i] = float32((i*(k+1))%31) / 31
			b.Float32s()[i] = float32((i+k)%17) / 17
		}
		inputs[k] = []*tensor.Tensor{a, b}
		if want[k], err = m.Run(context.Background(), inputs[k]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		for k := range inputs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := m.Run(context.Background(), inputs[k])
				if err != nil {
					t.Error(err)
					return
				}
				for i := range got {
					if !bytes.Equal(got[i].Data, want[k][i].Data) {
						t.Errorf("input %d output %d differs from the sequential run", k, i)
					}
				}
			}()
		}
	}
	wg.Wait()
}

func TestRunErrors(t *testing.T) {
	needTorch(t)
	m, err := Load(example(t, "unet2d_nuclei_broad", "weights.pt"), 1)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.New(tensor.Float32, []int{1, 1, 64, 64})
	two, _ := tensor.New(tensor.Float32, []int{1, 2, 64, 64})
	f64, _ := tensor.New(tensor.Float64, []int{1, 1, 64, 64})
	ctx := context.Background()

	_, err = m.Run(ctx, []*tensor.Tensor{x, x})
	mustKind(t, err, zoo.Invalid, "forward takes 1 input(s), got 2")
	_, err = m.Run(ctx, []*tensor.Tensor{f64})
	mustKind(t, err, zoo.Invalid, "input 0 is float64; zoo passes float32 tensors")
	_, err = m.Run(ctx, []*tensor.Tensor{{DType: tensor.Float32, Shape: []int{1, 1, 4, 4}, Data: make([]byte, 8)}})
	mustKind(t, err, zoo.Invalid, "needs 64 bytes")
	// libtorch's own failure: a conv with 1 input channel given 2.
	_, err = m.Run(ctx, []*tensor.Tensor{two})
	mustKind(t, err, zoo.Invalid, "libtorch failed on inputs float32[1 2 64 64]", "channels")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Run(cancelled, []*tensor.Tensor{x})
	mustKind(t, err, zoo.Unavailable, "run cancelled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", err)
	}
	// Still fine after the failures.
	if _, err := m.Run(ctx, []*tensor.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(ctx, []*tensor.Tensor{x})
	mustKind(t, err, zoo.Internal, "closed")
}

// A state dict: the example's own (pytorch_state_dict weights of
// unet2d_diff_output_shape), and one made here (a zip with only
// archive/data.pkl).
func TestStateDict(t *testing.T) {
	needTorch(t)
	_, err := Load(example(t, "unet2d_diff_output_shape", "weights.pt"), 1)
	mustKind(t, err, zoo.Invalid, "weights.pt is a PyTorch state dict (the weights without the model's code), not a TorchScript module")

	made := filepath.Join(t.TempDir(), "state.pt")
	writeZip(t, made, map[string][]byte{"archive/data.pkl": []byte("\x80\x02}q\x00.")})
	_, err = Load(made, 1)
	mustKind(t, err, zoo.Invalid, "state.pt is a PyTorch state dict")

	// libtorch itself, past zoo's check, refuses it cleanly.
	_, _, _, _, e := loadModule(example(t, "unet2d_diff_output_shape", "weights.pt"), true)
	if e == nil || e.class != "file" {
		t.Fatalf("libtorch on a state dict: %+v", e)
	}
	t.Logf("libtorch: %s", firstLine(e.msg))
	mustKind(t, loadError("torch.Load", "weights.pt", e), zoo.Invalid, "weights.pt is not a valid TorchScript module")
}

func TestTruncated(t *testing.T) {
	needTorch(t)
	b, err := os.ReadFile(example(t, "unet2d_nuclei_broad", "weights.pt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{len(b) / 2, len(b) - 100, 10} {
		p := filepath.Join(dir, "weights.pt")
		if err := os.WriteFile(p, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, 1)
		mustKind(t, err, zoo.Invalid, "weights.pt is not a TorchScript module", "truncated")
		// libtorch itself, past zoo's check: an error, not a crash.
		_, _, _, _, e := loadModule(p, true)
		if e == nil || e.class != "file" {
			t.Fatalf("libtorch on %d bytes: %+v", n, e)
		}
		t.Logf("libtorch on %d bytes: %s", n, firstLine(e.msg))
	}
	empty := filepath.Join(dir, "empty.pt")
	os.WriteFile(empty, nil, 0o644)
	_, err = Load(empty, 1)
	mustKind(t, err, zoo.Invalid, "empty")
	_, err = Load(filepath.Join(dir, "missing.pt"), 1)
	mustKind(t, err, zoo.NotFound, "does not exist")
	_, err = Load(dir, 1)
	mustKind(t, err, zoo.Invalid, "not a regular file")
	other := filepath.Join(dir, "other.zip")
	writeZip(t, other, map[string][]byte{"a/readme.txt": []byte("hello")})
	_, err = Load(other, 1)
	mustKind(t, err, zoo.Invalid, "no code/ folder")
}

// UnknownOperator writes a copy of the nuclei module whose code calls
// torch.zat (aten::zat, which no libtorch has) instead of torch.cat.
func UnknownOperator(t testing.TB, dst string) {
	t.Helper()
	replaceInZip(t, example(t, "unet2d_nuclei_broad", "weights.pt"), dst, "code/__torch__/unet2d.py", "torch.cat(", "torch.zat(")
}

func TestUnknownOperator(t *testing.T) {
	needTorch(t)
	p := filepath.Join(t.TempDir(), "weights.pt")
	UnknownOperator(t, p)
	_, err := Load(p, 1)
	mustKind(t, err, zoo.NotSupported, "not supported: operator aten::zat needs a newer libtorch (zoo runs libtorch 1.", "model weights.pt")
	if !strings.HasPrefix(zoo.MessageOf(err), "not supported: operator aten::zat needs a newer libtorch") {
		t.Errorf("message %q", zoo.MessageOf(err))
	}
}

// A newer serialization version than libtorch reads.
func TestNewerFileVersion(t *testing.T) {
	needTorch(t)
	p := filepath.Join(t.TempDir(), "weights.pt")
	replaceInZip(t, example(t, "unet2d_nuclei_broad", "weights.pt"), p, "version", "3\n", "99\n")
	_, err := Load(p, 1)
	mustKind(t, err, zoo.NotSupported, "model weights.pt needs a newer libtorch (zoo runs libtorch 1.")
}

// replaceInZip copies the zip src to dst, replacing old by new in the
// entry whose name ends with suffix (which must change).
func replaceInZip(t testing.TB, src, dst, suffix, old, new string) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	changed := false
	for _, e := range zr.File {
		if !strings.HasSuffix(e.Name, "/"+suffix) {
			if err := zw.Copy(e); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), old, new)
		changed = changed || s != string(b)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(s))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatalf("%s of %s has no %q", suffix, src, old)
	}
}

func writeZip(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		w.Write(b)
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Without the shim, or with a shim whose libtorch is gone, Available and
// Load say what to install.
func TestNotInstalled(t *testing.T) {
	t.Setenv(LibEnv, filepath.Join(t.TempDir(), "libzootorch.so"))
	err := check()
	mustKind(t, err, zoo.NotSupported, "not supported: "+NotInstalled, "no such file")
	if zoo.MessageOf(err) != "not supported: torchscript needs libtorch (apt-get install libtorch-dev, then make build)" {
		t.Errorf("message %q", zoo.MessageOf(err))
	}
	if !initialised() {
		_, err = Load(example(t, "unet2d_nuclei_broad", "weights.pt"), 1)
		mustKind(t, err, zoo.NotSupported, NotInstalled)
	}

	// A shim that needs a libtorch the loader cannot find: build a tiny
	// library against a stand-in libtorch_zoo_test.so, then remove it.
	_, err = exec.LookPath("gcc")
	testenv.Need(t, testenv.GCC, err)

	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "dep.c"), []byte("int zoo_dep(void) { return 1; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "shim.c"), []byte("int zoo_dep(void);\nint zt_abi(void) { return zoo_dep(); }\n"), 0o644)
	run("-shared", "-fPIC", "-o", filepath.Join(dir, "libtorch_zoo_test.so"), filepath.Join(dir, "dep.c"))
	shim := filepath.Join(dir, "libzootorch.so")
	run("-shared", "-fPIC", "-o", shim, filepath.Join(dir, "shim.c"), "-L"+dir, "-Wl,--no-as-needed", "-ltorch_zoo_test")
	t.Setenv(LibEnv, shim)
	t.Setenv("LD_LIBRARY_PATH", dir)
	if err := check(); err != nil {
		t.Fatalf("with its libtorch present: %v", err)
	}
	os.Remove(filepath.Join(dir, "libtorch_zoo_test.so"))
	mustKind(t, check(), zoo.NotSupported, NotInstalled, "needs libtorch_zoo_test.so, which the dynamic loader cannot find")
}

// The module optimised for inference (the default) computes what the
// plain one does.
func TestOptimizedMatchesPlain(t *testing.T) {
	needTorch(t)
	path := example(t, "unet2d_nuclei_broad", "weights.pt")
	x := readNpy(t, example(t, "unet2d_nuclei_broad", "test_input.npy"))
	x, _ = x.Convert(tensor.Float32)
	var outs [2]*tensor.Tensor
	for i, plain := range []bool{false, true} {
		m, err := LoadWith(path, Options{Threads: 2, Plain: plain})
		if err != nil {
			t.Fatal(err)
		}
		if m.Optimized() == plain {
			t.Fatalf("Plain %v, Optimized %v", plain, m.Optimized())
		}
		y, err := m.Run(context.Background(), []*tensor.Tensor{x})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = y[0]
	}
	// The input is the raw image (not normalised), so the logits reach
	// the thousands: compare relative to their size, as the format's
	// tolerance does (|a − b| ≤ atol + rtol·|b|).
	d, worst := 0.0, 0.0
	for i, v := range outs[0].Float32s() {
		b := float64(outs[1].Float32s()[i])
		diff := math.Abs(float64(v) - b)
		d = max(d, diff)
		worst = max(worst, diff/(1e-3+1e-4*math.Abs(b)))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range outs[1].Float32s() {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	t.Logf("plain outputs in [%g, %g]", lo, hi)
	t.Logf("max abs difference %.3g (%.2f of the tolerance 1e-3 + 1e-4·|b|)", d, worst)
	if worst > 1 {
		t.Fatalf("optimised and plain outputs differ by up to %g, beyond 1e-3 + 1e-4·|b|", d)
	}
}

// Damaged TorchScript zips fail to load with an error, never a crash.
func TestDamagedModules(t *testing.T) {
	needTorch(t)
	nuclei := example(t, "unet2d_nuclei_broad", "weights.pt")
	traced := example(t, "unet2d_multi_tensor", "weights_torchscript_traced.pt")
	for _, c := range []struct {
		name, src, entry string
		edit             func([]byte) []byte
		want             string
	}{
		{"garbage data.pkl", nuclei, "data.pkl", func([]byte) []byte { return []byte("\x80\x02garbage\xff\xfe") }, "data.pkl is damaged"},
		{"empty data.pkl", nuclei, "data.pkl", func([]byte) []byte { return nil }, "data.pkl is damaged"},
		{"syntax error in code", nuclei, "code/__torch__/unet2d.py", func(b []byte) []byte { return append([]byte("def (:\n"), b...) },
			"weights.pt is not a valid TorchScript module (corrupt, truncated or another format): expected ident but found '(' here"},
		// libtorch 1.13 reads past a short storage and crashes on an empty
		// one (in torch::jit::load itself for a constant): zoo checks first.
		{"short tensor storage", nuclei, "data/0", func(b []byte) []byte { return b[:len(b)/3] },
			"data/0 holds 192 bytes, its FloatStorage of 144 elements needs 576 (a truncated or damaged entry)"},
		{"empty tensor storage", nuclei, "data/5", func([]byte) []byte { return nil }, "data/5 holds 0 bytes"},
		{"empty constant storage", traced, "constants/0", func([]byte) []byte { return nil },
			"constants/0 holds 0 bytes, its LongStorage of 1 elements needs 8"},
		{"empty constants.pkl", traced, "constants.pkl", func([]byte) []byte { return nil }, "constants.pkl is damaged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "weights.pt")
			editZip(t, c.src, p, c.entry, c.edit)
			_, err := Load(p, 1)
			mustKind(t, err, zoo.Invalid, c.want)
		})
	}
	// The shim's own check, past zoo's: a tensor without data is refused
	// at load, not read at run time.
	p := filepath.Join(t.TempDir(), "weights.pt")
	editZip(t, nuclei, p, "data/5", func([]byte) []byte { return nil })
	_, _, _, _, e := loadModule(p, false)
	if e == nil || e.class != "file" || !strings.Contains(e.msg, "tensor encoders.1.0.bias has no data in the file") {
		t.Fatalf("libtorch on an empty storage: %+v", e)
	}
}

// The storages of the examples' pickles match their records.
func TestStorageRefs(t *testing.T) {
	for _, c := range []struct {
		file, pkl string
		n         int
	}{
		{example(t, "unet2d_nuclei_broad", "weights.pt"), "data.pkl", 36},
		{example(t, "unet2d_multi_tensor", "weights_torchscript_traced.pt"), "data.pkl", 36},
		{example(t, "unet2d_multi_tensor", "weights_torchscript_traced.pt"), "constants.pkl", 1},
		{example(t, "unet2d_diff_output_shape", "weights.pt"), "data.pkl", 36}, // a state dict
	} {
		z, err := zip.OpenReader(c.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range z.File {
			if !strings.HasSuffix(f.Name, "/"+c.pkl) {
				continue
			}
			r, _ := f.Open()
			refs, err := storageRefs(r)
			r.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", c.file, c.pkl, err)
			}
			if len(refs) != c.n {
				t.Errorf("%s %s: %d storages, want %d", c.file, c.pkl, len(refs), c.n)
			}
			for _, ref := range refs {
				if itemSize(ref.Type) == 0 || ref.Elements <= 0 || ref.Key == "" {
					t.Errorf("%s %s: %+v", c.file, c.pkl, ref)
				}
			}
		}
		z.Close()
	}
}

func FuzzStorageRefs(f *testing.F) {
	f.Add([]byte("\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00\x00storageq\x01ctorch\nLongStorage\nq\x02X\x01\x00\x00\x000q\x03X\x03\x00\x00\x00cpuq\x04K\x01tQq\x05K\x00(t(t\x89ccollections\nOrderedDict\nq\x06)RtRq\x07\x85."))
	f.Add([]byte("\x80\x02}q\x00."))
	f.Add([]byte("(((((((((((((((((((((((((((((((((((((((((((((((t."))
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := storageRefs(bytes.NewReader(b))
		if err == nil {
			for _, r := range refs {
				if r.Elements < 0 {
					t.Fatalf("%+v", r)
				}
			}
		}
	})
}

// editZip copies the zip src to dst with the entry whose name ends with
// "/"+suffix replaced by edit of its contents.
func editZip(t testing.TB, src, dst, suffix string, edit func([]byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	found := false
	for _, e := range zr.File {
		if !strings.HasSuffix(e.Name, "/"+suffix) {
			if err := zw.Copy(e); err != nil {
				t.Fatal(err)
			}
			continue
		}
		found = true
		r, _ := e.Open()
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store})
		w.Write(edit(b))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s has no entry */%s", src, suffix)
	}
}
