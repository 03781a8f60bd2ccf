package runner

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// BenchmarkPredictOverhead measures zoo's whole predict path for one file
// with the nuclei model (PredictFile: read test_input.npy, map axes,
// statistics, preprocess, run, postprocess, write .npy) against a bare
// ONNX Runtime call (onnx.Session.Run of the same session, so the same
// thread pool) on the same preprocessed tensor. The two are interleaved in
// every iteration so that machine noise hits both alike; it reports the
// median of each and the overhead of one median over the other in percent,
// and the same for the fastest runs (the machine may be shared: medians
// and minima are steadier than means).
//
//	go test -run '^$' -bench PredictOverhead -benchtime 40x ./runner
func BenchmarkPredictOverhead(b *testing.B) {
	p := loadPredictor(b, "unet2d-nuclei-broad-onnx")
	dir := fixtures.Path(b, "packages", "unet2d-nuclei-broad-onnx")
	input := filepath.Join(dir, "test_input.npy")
	out := b.TempDir()
	sess := p.net.(*onnxModel).sess
	img, err := ReadImage(input)
	if err != nil {
		b.Fatal(err)
	}
	x, _ := ToInput(img, &p.Model.Inputs[0], nil)
	pre, err := p.pipe.Preprocess(Sample{"raw": x})
	if err != nil {
		b.Fatal(err)
	}
	bare := []*tensor.Tensor{pre["raw"]}
	for range 2 { // warm up both
		if _, _, err := PredictFile(ctx, p, input, out, nil, Tiling{}); err != nil {
			b.Fatal(err)
		}
		if _, err := sess.Run(bare); err != nil {
			b.Fatal(err)
		}
	}
	var tZoo, tORT []float64 // ms per iteration
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := PredictFile(ctx, p, input, out, nil, Tiling{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := sess.Run(bare); err != nil {
			b.Fatal(err)
		}
		tZoo = append(tZoo, t1.Sub(t0).Seconds()*1e3)
		tORT = append(tORT, time.Since(t1).Seconds()*1e3)
	}
	zooMin, ortMin := slices.Min(tZoo), slices.Min(tORT)
	zoo, ort := median(tZoo), median(tORT)
	b.ReportMetric(zoo, "ms/predict")
	b.ReportMetric(ort, "ms/ort-run")
	b.ReportMetric((zoo/ort-1)*100, "%overhead")
	b.ReportMetric(zooMin, "ms/predict-min")
	b.ReportMetric(ortMin, "ms/ort-run-min")
	b.ReportMetric((zooMin/ortMin-1)*100, "%overhead-min")
}

// BenchmarkPredictOverheadTiled is BenchmarkPredictOverhead for a
// 2048×2048 float32 TIFF, which the nuclei model (512×512) takes in 25
// tiles: the whole zoo predict path (read, preprocess the whole image, cut
// 25 blocks, run, stitch, postprocess, write) against 25 bare
// Session.Run calls on the same preprocessed blocks (cut beforehand).
//
//	go test -run '^$' -bench PredictOverheadTiled -benchtime 5x ./runner
func BenchmarkPredictOverheadTiled(b *testing.B) {
	p := loadPredictor(b, "unet2d-nuclei-broad-onnx")
	dir := b.TempDir()
	input := filepath.Join(dir, "big.tif")
	x := nucleiImage(42, 1, 2048, 2048)
	sq, _ := x.Squeeze()
	sq.Axes = []string{"y", "x"}
	if err := tiff.WriteFile(input, sq); err != nil {
		b.Fatal(err)
	}
	sess := p.net.(*onnxModel).sess
	pre, err := p.pipe.Preprocess(Sample{"raw": x})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := NewPlan(p.Model, sampleSizes(p.Model.Inputs, Sample{"raw": x}), Tiling{})
	if err != nil {
		b.Fatal(err)
	}
	var blocks [][]*tensor.Tensor
	for _, blk := range plan.blocks() {
		tin := &p.Model.Inputs[0]
		blocks = append(blocks, []*tensor.Tensor{extract(pre["raw"], plan.inputBox(tin, blk), plan.blockIn.Shape(tin), reflect)})
	}
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	var tZoo, tORT []float64
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := PredictFile(ctx, p, input, out, nil, Tiling{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for _, blk := range blocks {
			if _, err := sess.Run(blk); err != nil {
				b.Fatal(err)
			}
		}
		tZoo = append(tZoo, t1.Sub(t0).Seconds()*1e3)
		tORT = append(tORT, time.Since(t1).Seconds()*1e3)
	}
	zoo, ort := median(tZoo), median(tORT)
	b.ReportMetric(float64(len(blocks)), "tiles")
	b.ReportMetric(zoo, "ms/predict")
	b.ReportMetric(ort, "ms/ort-runs")
	b.ReportMetric((zoo/ort-1)*100, "%overhead")
	b.ReportMetric((slices.Min(tZoo)/slices.Min(tORT)-1)*100, "%overhead-min")
}

// median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// TestWriteBenchPreprocessed writes the nuclei test input after the
// model's preprocessing, for the bare ONNX Runtime process of
// bench/runtime.sh (bench/ortrun), when ZOO_BENCH_PREPROCESSED names where.
func TestWriteBenchPreprocessed(t *testing.T) {
	path := os.Getenv("ZOO_BENCH_PREPROCESSED")
	if path == "" {
		t.Skip("set ZOO_BENCH_PREPROCESSED to write the preprocessed nuclei input")
	}
	p := loadPredictor(t, "unet2d-nuclei-broad-onnx")
	img, err := ReadImage(filepath.Join(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := ToInput(img, &p.Model.Inputs[0], nil)
	pre, err := p.pipe.Preprocess(Sample{"raw": x})
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(path, pre["raw"]); err != nil {
		t.Fatal(err)
	}
}

// TestWriteBenchImage writes the synthetic 4096×4096 float32 TIFF that
// bench/runtime.sh predicts, when ZOO_BENCH_IMAGE names where.
func TestWriteBenchImage(t *testing.T) {
	path := os.Getenv("ZOO_BENCH_IMAGE")
	if path == "" {
		t.Skip("set ZOO_BENCH_IMAGE to write the benchmark image")
	}
	x := nucleiImage(42, 1, 4096, 4096)
	sq, _ := x.Squeeze()
	sq.Axes = []string{"y", "x"}
	if err := tiff.WriteFile(path, sq); err != nil {
		t.Fatal(err)
	}
}
