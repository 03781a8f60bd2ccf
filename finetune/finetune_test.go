package finetune_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/finetune"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/internal/yamledit"
	"github.com/zoo-bioimage/zoo/process"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// needTrainer ends the test (a skip, or a failure under CI and make test:
// internal/testenv) unless PyTorch, the sandbox and libtorch are here.
func needTrainer(t *testing.T) {
	t.Helper()
	testenv.Need(t, testenv.PyTorch, convert.Available())
	testenv.Need(t, testenv.Sandbox, sandbox.Available())
	if !runner.Supported("torchscript") {
		testenv.Missing(t, testenv.Libtorch, "TorchScript weights cannot run here")
	}
}

// nucleiImage is the example nuclei image (512×512), scaled to 0–1.
func nucleiImage(t *testing.T) (*tensor.Tensor, []float32) {
	t.Helper()
	x, err := npy.ReadFile(filepath.Join(fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad"), "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	d := x.Float32s()
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range d {
		lo, hi = min(lo, v), max(hi, v)
	}
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = (v - lo) / (hi - lo)
	}
	return x, out
}

func save(t *testing.T, p string, shape []int, d []float32) {
	t.Helper()
	x, err := tensor.New(tensor.Float32, shape)
	if err != nil {
		t.Fatal(err)
	}
	copy(x.Float32s(), d)
	if err := npy.WriteFile(p, x); err != nil {
		t.Fatal(err)
	}
}

// crop returns the size×size window at (y, x) of a 512×512 image.
func crop(img []float32, y, x, size int) []float32 {
	out := make([]float32, 0, size*size)
	for r := y; r < y+size; r++ {
		out = append(out, img[r*512+x:r*512+x+size]...)
	}
	return out
}

// Noise2Void on noisy crops of the nuclei image lowers the MSE to the clean
// held-out image, and the result is a valid, tested package naming its
// parent.
func TestDenoiseLowersMSE(t *testing.T) {
	needTrainer(t)
	_, img := nucleiImage(t)
	dir := t.TempDir()
	noisy, clean := filepath.Join(dir, "noisy"), filepath.Join(dir, "clean")
	os.Mkdir(noisy, 0o755)
	os.Mkdir(clean, 0o755)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, at := range [][2]int{{0, 0}, {0, 256}, {256, 0}, {256, 256}} {
		c := crop(img, at[0], at[1], 128)
		n := make([]float32, len(c))
		for k, v := range c {
			n[k] = v + float32(rng.NormFloat64()*0.2)
		}
		name := []string{"a.npy", "b.npy", "c.npy", "d.npy"}[i]
		save(t, filepath.Join(noisy, name), []int{1, 1, 128, 128}, n)
		save(t, filepath.Join(clean, name), []int{1, 1, 128, 128}, c)
	}
	out := filepath.Join(dir, "finetuned")
	rep, err := finetune.Run(context.Background(), "testdata/denoiser", finetune.Options{
		Task: finetune.TaskDenoise, Images: noisy, Clean: clean, Out: out,
		Iterations: 80, LR: 2e-3, Patch: 64, Batch: 4, Seed: 1, Parent: "untrained-denoiser/1",
		Authors:  []string{"A. Scientist"},
		Progress: func(msg string) {},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Status != "finetuned" {
		t.Fatalf("status %s: %s", rep.Status, rep.Message)
	}
	t.Logf("%s; MSE %.5f → %.5f, PSNR %.2f → %.2f dB, peak %d MiB, %.0f s", rep.Message, rep.Before["mse"], rep.After["mse"], rep.Before["psnr"], rep.After["psnr"], rep.PeakRSS>>20, rep.Seconds)
	if !(rep.After["mse"] < 0.8*rep.Before["mse"]) {
		t.Errorf("held-out MSE %.5f → %.5f: fine-tuning did not lower it by 20 %%", rep.Before["mse"], rep.After["mse"])
	}
	if len(rep.Losses) != 80 || len(rep.Train) != 3 || len(rep.Validation) != 1 || rep.Train[0].SHA256 == "" {
		t.Errorf("report: %d losses, %d training and %d held-out images", len(rep.Losses), len(rep.Train), len(rep.Validation))
	}
	checkPackage(t, out, "untrained-denoiser", "1")
}

// checkPackage: the new package is valid with its files, passes zoo test
// and names its parent.
func checkPackage(t *testing.T, out, parentID, parentVersion string) {
	t.Helper()
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	desc := spec.FindDescription(names)
	res := spec.ValidatePath(filepath.Join(out, desc), spec.Options{Files: true})
	if !res.Report.OK() {
		t.Fatalf("the fine-tuned description is invalid: %+v", res.Report.Errors)
	}
	tr := runner.Test(context.Background(), out, runner.TestOptions{})
	if tr.Status != runner.StatusPassed {
		t.Errorf("zoo test of the fine-tuned package: %s %s", tr.Status, tr.Message)
	}
	raw, err := os.ReadFile(filepath.Join(out, desc))
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Decode(raw, desc)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := yamledit.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := yamledit.Get(doc, "parent")
	if id, v := yamledit.Get(p, "id"), yamledit.Get(p, "version"); id == nil || v == nil || id.Value != parentID || v.Value != parentVersion {
		t.Errorf("parent %v, want %s/%s", p, parentID, parentVersion)
	}
	if m.Weights.Torchscript == nil || len(m.Weights.Formats()) != 1 {
		t.Errorf("weights %v, want the fine-tuned TorchScript only", m.Weights.Formats())
	}
}

// The nuclei U-Net on inverted-contrast images (another domain): a few
// images with masks raise the held-out IoU.
func TestSegmentRaisesIoU(t *testing.T) {
	needTrainer(t)
	nuclei := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad")
	raw, _ := nucleiImage(t)
	pkg, err := runner.Load(filepath.Join(nuclei, "bioimageio.yaml"), runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pred, err := runner.NewPredictor(pkg, "torchscript", runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pred.Close()
	dir := t.TempDir()
	images, masks := filepath.Join(dir, "images"), filepath.Join(dir, "masks")
	os.Mkdir(images, 0o755)
	os.Mkdir(masks, 0o755)
	src := raw.Float32s()
	var hi float32
	for _, v := range src {
		hi = max(hi, v)
	}
	for k, name := range []string{"r0", "r1", "r2", "r3"} {
		// Rotation k·90°: the model's own segmentation of the image is the
		// mask; the image given is its contrast-inverted version.
		rot := rotate(src, k)
		x, _ := tensor.New(tensor.Float32, []int{1, 1, 512, 512})
		copy(x.Float32s(), rot)
		got, err := pred.Predict(context.Background(), process.Sample{"raw": x})
		if err != nil {
			t.Fatal(err)
		}
		mask := make([]float32, len(rot))
		inv := make([]float32, len(rot))
		for i, p := range got["probability"].Float32s() {
			if p > 0.5 {
				mask[i] = 1
			}
			inv[i] = hi - rot[i]
		}
		save(t, filepath.Join(images, name+".npy"), []int{1, 1, 512, 512}, inv)
		save(t, filepath.Join(masks, name+".npy"), []int{512, 512}, mask)
	}
	out := filepath.Join(dir, "finetuned")
	rep, err := finetune.Run(context.Background(), filepath.Join(nuclei, "bioimageio.yaml"), finetune.Options{
		Task: finetune.TaskSegment, Images: images, Masks: masks, Out: out,
		Iterations: 25, LR: 1e-3, Patch: 128, Batch: 2, Seed: 1, Parent: "affable-shark/1",
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Status != "finetuned" {
		t.Fatalf("status %s: %s", rep.Status, rep.Message)
	}
	t.Logf("%s; IoU %.3f → %.3f, Dice %.3f → %.3f, peak %d MiB, %.0f s", rep.Message, rep.Before["iou"], rep.After["iou"], rep.Before["dice"], rep.After["dice"], rep.PeakRSS>>20, rep.Seconds)
	if !(rep.After["iou"] > rep.Before["iou"]+0.1) {
		t.Errorf("held-out IoU %.3f → %.3f: fine-tuning did not raise it by 0.1", rep.Before["iou"], rep.After["iou"])
	}
	checkPackage(t, out, "affable-shark", "1")
}

// rotate turns a 512×512 image by k·90°.
func rotate(src []float32, k int) []float32 {
	out := append([]float32(nil), src...)
	for ; k > 0; k-- {
		next := make([]float32, len(out))
		for y := 0; y < 512; y++ {
			for x := 0; x < 512; x++ {
				next[x*512+(511-y)] = out[y*512+x]
			}
		}
		out = next
	}
	return out
}

// What cannot be fine-tuned says why.
func TestCannotFinetune(t *testing.T) {
	needTrainer(t)
	onnxOnly := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	_, err := finetune.Run(context.Background(), onnxOnly, finetune.Options{Task: finetune.TaskDenoise, Images: t.TempDir(), Out: filepath.Join(t.TempDir(), "o")})
	if err == nil || !containsAll(err.Error(), "needs PyTorch weights", "onnx") {
		t.Errorf("ONNX-only model: %v", err)
	}
	_, err = finetune.Run(context.Background(), "testdata/denoiser", finetune.Options{Task: finetune.TaskSegment, Images: t.TempDir(), Masks: t.TempDir(), Out: filepath.Join(t.TempDir(), "o")})
	if err == nil || !containsAll(err.Error(), "foreground probability") {
		t.Errorf("segmenting with a denoiser: %v", err)
	}
	_, err = finetune.Run(context.Background(), "testdata/denoiser", finetune.Options{Task: finetune.TaskDenoise, Images: t.TempDir(), Out: filepath.Join(t.TempDir(), "o")})
	if err == nil || !containsAll(err.Error(), "at least 2") {
		t.Errorf("no images: %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// A run stopped after its first checkpoint and started again on the same
// work folder resumes there and ends with the result of a run never
// stopped (same seed): the same losses and the same held-out outputs,
// within 1e-5.
func TestResumeEqualsUninterrupted(t *testing.T) {
	needTrainer(t)
	_, img := nucleiImage(t)
	dir := t.TempDir()
	noisy := filepath.Join(dir, "noisy")
	os.Mkdir(noisy, 0o755)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, at := range [][2]int{{0, 0}, {0, 256}, {256, 256}} {
		c := crop(img, at[0], at[1], 64)
		for k := range c {
			c[k] += float32(rng.NormFloat64() * 0.2)
		}
		save(t, filepath.Join(noisy, string(rune('a'+i))+".npy"), []int{1, 1, 64, 64}, c)
	}
	opts := func(out, work string) finetune.Options {
		return finetune.Options{Task: finetune.TaskDenoise, Images: noisy, Out: out, Work: work,
			Iterations: 12, LR: 2e-3, Patch: 32, Batch: 2, Seed: 7, CheckpointSeconds: 1e-9}
	}
	// Uninterrupted (it checkpoints too: writing one must change nothing).
	whole, err := finetune.Run(context.Background(), "testdata/denoiser", opts(filepath.Join(dir, "whole"), filepath.Join(dir, "w1")))
	if err != nil || whole.Status != "finetuned" {
		t.Fatalf("uninterrupted run: %v %+v", err, whole)
	}
	// Stopped at its fifth checkpoint, then resumed.
	ctx, cancel := context.WithCancel(context.Background())
	work := filepath.Join(dir, "w2")
	o := opts(filepath.Join(dir, "stopped"), work)
	stoppedAt := 0
	o.Checkpoint = func(p string, n int) {
		if n >= 5 && stoppedAt == 0 {
			stoppedAt = n
			cancel()
		}
	}
	if rep, err := finetune.Run(ctx, "testdata/denoiser", o); err == nil && rep.Status == "finetuned" {
		t.Fatalf("the stopped run finished")
	}
	if stoppedAt == 0 {
		t.Fatal("no checkpoint was written")
	}
	if _, err := os.Stat(finetune.CheckpointPath(work)); err != nil {
		t.Fatalf("the stopped run left no checkpoint: %v", err)
	}
	var resumedFrom int
	o = opts(filepath.Join(dir, "resumed"), work)
	o.Progress = func(msg string) {
		if strings.Contains(msg, "resumed from the checkpoint") {
			fmt.Sscanf(strings.TrimPrefix(msg, "iteration "), "%d", &resumedFrom)
		}
	}
	resumed, err := finetune.Run(context.Background(), "testdata/denoiser", o)
	if err != nil || resumed.Status != "finetuned" {
		t.Fatalf("resumed run: %v %+v", err, resumed)
	}
	if resumedFrom < 5 {
		t.Errorf("the second run resumed from iteration %d, want the checkpoint (≥ 5, stopped at %d)", resumedFrom, stoppedAt)
	}
	if len(resumed.Losses) != 12 || len(whole.Losses) != 12 {
		t.Fatalf("losses: %d resumed, %d whole", len(resumed.Losses), len(whole.Losses))
	}
	for i := range whole.Losses {
		if d := math.Abs(whole.Losses[i] - resumed.Losses[i]); d > 1e-5*math.Max(1, math.Abs(whole.Losses[i])) {
			t.Errorf("loss %d: %g uninterrupted, %g resumed", i+1, whole.Losses[i], resumed.Losses[i])
		}
	}
	a, err := npy.ReadFile(filepath.Join(dir, "whole", "test_output_finetuned.npy"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := npy.ReadFile(filepath.Join(dir, "resumed", "test_output_finetuned.npy"))
	if err != nil {
		t.Fatal(err)
	}
	maxDiff := 0.0
	for i, v := range a.Float32s() {
		maxDiff = math.Max(maxDiff, math.Abs(float64(v-b.Float32s()[i])))
	}
	if maxDiff > 1e-5 {
		t.Errorf("the resumed model's output differs from the uninterrupted one's by %g (tolerance 1e-5)", maxDiff)
	}
	t.Logf("stopped at checkpoint %d, resumed from %d: losses equal, outputs differ by at most %g", stoppedAt, resumedFrom, maxDiff)
}
