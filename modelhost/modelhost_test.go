package modelhost_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/modelhost"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// childEnv makes this test binary act as `zoo model-host` (TestMain).
const childEnv = "ZOO_MODELHOST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// os.Args: [exe, model-host, DESCRIPTION, FORMAT, THREADS]
		os.Exit(modelhost.Serve(context.Background(), os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func config(t *testing.T, memory int64) modelhost.Config {
	t.Helper()
	testenv.NeedONNXRuntime(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return modelhost.Config{Exe: exe, Env: []string{childEnv + "=1"}, Memory: memory}
}

// open loads a package's ONNX weights in a child process.
func open(t *testing.T, cfg modelhost.Config, dir string) (*runner.Package, runner.Model) {
	t.Helper()
	pkg, err := runner.Load(dir, runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Open(pkg.Model, pkg.Source, "onnx", 1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return pkg, m
}

func read(t *testing.T, p string) *tensor.Tensor {
	t.Helper()
	x, err := npy.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// A model run in a child gives exactly what it gives in this process.
func TestHostedModelRunsLikeInProcess(t *testing.T) {
	cfg := config(t, 0)
	dir := fixtures.Path(t, "packages", "upsample-onnx")
	pkg, hosted := open(t, cfg, dir)
	local, err := runner.Open(pkg.Model, pkg.Source, "onnx", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	pre := randomInput(pkg)
	for i := 0; i < 2; i++ { // twice: the child answers more than once
		got, err := hosted.Run(context.Background(), pre)
		if err != nil {
			t.Fatalf("hosted Run: %v", err)
		}
		want, err := local.Run(context.Background(), pre)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || !equal(got[0], want[0]) {
			t.Fatalf("hosted output differs from the in-process one")
		}
	}
}

// A published memory bomb fails each run with the memory limit named; the
// caller's memory does not grow, and the same host serves the next run.
func TestHostedMemoryBomb(t *testing.T) {
	cfg := config(t, 1<<30)
	_, m := open(t, cfg, abs(t, "../testview/testdata/membomb"))
	x := read(t, "../testview/testdata/membomb/input.npy")
	for i := 0; i < 2; i++ {
		_, err := m.Run(context.Background(), []*tensor.Tensor{x})
		if zoo.KindOf(err) != zoo.TooLarge || !strings.Contains(zoo.MessageOf(err), "more memory than the 1024 MiB this server allows one model") {
			t.Fatalf("run %d: %v (kind %v), want the memory limit", i, err, zoo.KindOf(err))
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	if peak := ru.Maxrss << 10; peak > 1<<30 {
		t.Errorf("the caller's peak RSS is %d MiB: the model ran in the caller", peak>>20)
	}
}

// A run that is cancelled kills the child; the next run starts a new one.
func TestHostedRestartsAfterCancel(t *testing.T) {
	cfg := config(t, 0)
	dir := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	pkg, m := open(t, cfg, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := m.Run(ctx, randomInput(pkg)); !errors.Is(err, context.DeadlineExceeded) && zoo.KindOf(err) != zoo.Unavailable {
		t.Errorf("cancelled run: %v", err)
	}
	if _, err := m.Run(context.Background(), randomInput(pkg)); err != nil {
		t.Errorf("the run after a cancelled one: %v", err)
	}
}

// A run longer than RunTimeout is stopped with a message naming it.
func TestHostedRunTimeout(t *testing.T) {
	cfg := config(t, 0)
	cfg.RunTimeout = time.Millisecond
	dir := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	pkg, m := open(t, cfg, dir)
	_, err := m.Run(context.Background(), randomInput(pkg))
	if err == nil || !strings.Contains(zoo.MessageOf(err), "ran longer than the 1ms") {
		t.Errorf("run past the timeout: %v", err)
	}
}

// randomInput is a preprocessed-size input of the model's first input at
// its test tensor's shape.
func randomInput(pkg *runner.Package) []*tensor.Tensor {
	var ins []*tensor.Tensor
	for _, in := range pkg.Model.Inputs {
		x, err := npy.ReadFile(filepath.Join(pkg.Source.Root, in.TestTensor.Source))
		if err != nil {
			panic(err)
		}
		f, err := tensor.New(tensor.Float32, x.Shape)
		if err != nil {
			panic(err)
		}
		d := f.Float32s()
		for i := range d {
			d[i] = float32(i%97) / 97
		}
		ins = append(ins, f)
	}
	return ins
}

func equal(a, b *tensor.Tensor) bool {
	if len(a.Shape) != len(b.Shape) || a.DType != b.DType {
		return false
	}
	return string(a.Data) == string(b.Data)
}

func abs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The cost of isolation: the nuclei U-Net (1×1×512×512) run in a child
// process against the same weights in this process (one thread each).
func BenchmarkNuclei(b *testing.B) {
	testenv.NeedONNXRuntime(b)

	exe, _ := os.Executable()
	cfg := modelhost.Config{Exe: exe, Env: []string{childEnv + "=1"}}
	dir := fixtures.Path(b, "packages", "unet2d-nuclei-broad-onnx")
	pkg, err := runner.Load(dir, runner.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	in := randomInput(pkg)
	for _, engine := range []string{"in-process", "child-process"} {
		b.Run(engine, func(b *testing.B) {
			open := runner.Open
			if engine == "child-process" {
				open = cfg.Open
			}
			m, err := open(pkg.Model, pkg.Source, "onnx", 1)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if _, err := m.Run(context.Background(), in); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
