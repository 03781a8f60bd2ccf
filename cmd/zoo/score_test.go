package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// writeTensor writes values of the given dtype and shape to dir/name (.npy
// or .tif) and returns the path.
func writeTensor(t *testing.T, dir, name string, dtype tensor.DType, shape []int, values ...float64) string {
	t.Helper()
	x, err := tensor.New(dtype, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		x.SetFloat64(i, v)
	}
	path := filepath.Join(dir, name)
	if strings.HasSuffix(name, ".npy") {
		err = npy.WriteFile(path, x)
	} else {
		err = tiff.WriteFile(path, x)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

type scoreJSON struct {
	Metric string `json:"metric"`
	Value  any    `json:"value"`
}

func scoreOK(t *testing.T, args ...string) scoreJSON {
	t.Helper()
	code, out, stderr := runZoo(t, append([]string{"score", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	var r scoreJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("%v: not one JSON line: %q", args, out)
	}
	return r
}

func TestScoreImageMetrics(t *testing.T) {
	dir := t.TempDir()
	// truth [1 2 3 4], prediction [1 3 1 4] (see score/image_test.go):
	// MSE 1.25, MAE 0.75, L = 3, PSNR = 10·log10(9/1.25).
	truth := writeTensor(t, dir, "truth.npy", tensor.Uint8, []int{2, 2}, 1, 2, 3, 4)
	pred := writeTensor(t, dir, "pred.tif", tensor.Float32, []int{2, 2}, 1, 3, 1, 4)
	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"--metric", "mse"}, 1.25},
		{[]string{"--metric", "mae"}, 0.75},
		{[]string{"--metric", "psnr"}, 10 * math.Log10(7.2)},
		{[]string{"--metric", "psnr", "--data-range", "255"}, 10 * math.Log10(52020)},
		{[]string{"--metric", "si-psnr"}, 10 * math.Log10(26244.0/2322)},
	} {
		r := scoreOK(t, append(c.args, "--truth", truth, "--prediction", pred)...)
		v, ok := r.Value.(float64)
		if r.Metric != c.args[1] || !ok || math.Abs(v-c.want) > 1e-12 {
			t.Errorf("%v: %+v, want %v", c.args, r, c.want)
		}
	}
	// Identical images: PSNR is +Inf, written as the string "Infinity".
	if r := scoreOK(t, "--metric", "psnr", "--truth", truth, "--prediction", truth); r.Value != "Infinity" {
		t.Errorf("identical: %+v", r)
	}
	code, out, _ := runZoo(t, "score", "--metric", "psnr", "--truth", truth, "--prediction", pred)
	if code != 0 || out != "psnr: 8.57332 dB\n" {
		t.Errorf("text: exit %d %q", code, out)
	}
	code, out, _ = runZoo(t, "score", "--metric", "psnr", "--truth", truth, "--prediction", truth)
	if code != 0 || !strings.HasPrefix(out, "psnr: +Inf dB") {
		t.Errorf("text identical: exit %d %q", code, out)
	}
}

func TestScoreSSIM(t *testing.T) {
	dir := t.TempDir()
	// One 7×7 window (score/ssim_test.go): truth 49 at one pixel, prediction
	// 0; L = 49: S = 0.2401·2.1609/(1.2401·51.1609).
	v := make([]float64, 49)
	v[17] = 49
	truth := writeTensor(t, dir, "truth.tif", tensor.Uint8, []int{7, 7}, v...)
	pred := writeTensor(t, dir, "pred.npy", tensor.Float64, []int{7, 7}, make([]float64, 49)...)
	r := scoreOK(t, "--metric", "ssim", "--truth", truth, "--prediction", pred)
	if got, _ := r.Value.(float64); math.Abs(got-0.51883209/63.44463209) > 1e-13 {
		t.Errorf("ssim %+v", r)
	}
}

func TestScoreLabelMetrics(t *testing.T) {
	dir := t.TempDir()
	// The hand example of score/match_test.go:
	//	truth        prediction
	//	1 1 0 0      5 5 5 0
	//	1 1 0 2      5 0 0 0
	//	0 0 0 2      0 0 7 7
	// IoU(1,5) = 3/5, IoU(2,7) = 1/3.
	truth := writeTensor(t, dir, "truth.tif", tensor.Uint16, []int{3, 4}, 1, 1, 0, 0, 1, 1, 0, 2, 0, 0, 0, 2)
	pred := writeTensor(t, dir, "pred.npy", tensor.Int32, []int{3, 4}, 5, 5, 5, 0, 5, 0, 0, 0, 0, 0, 7, 7)
	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"--metric", "iou"}, 0.5},      // 4/8
		{[]string{"--metric", "dice"}, 2.0 / 3}, // 8/12
		{[]string{"--metric", "f1"}, 0.5},       // TP 1, FP 1, FN 1: 2/4
		{[]string{"--metric", "ap"}, 1.0 / 3},   // 1/3
		{[]string{"--metric", "ap", "--threshold", "0.3"}, 1},
		{[]string{"--metric", "f1", "--threshold", "0.7"}, 0},
		{[]string{"--metric", "mean-ap"}, 0.1}, // 1/3 at 0.50, 0.55, 0.60; 0 above
		{[]string{"--metric", "pq"}, 0.3},      // 0.6/(1 + 1/2 + 1/2)
	} {
		r := scoreOK(t, append(c.args, "--truth", truth, "--prediction", pred)...)
		if v, ok := r.Value.(float64); !ok || math.Abs(v-c.want) > 1e-15 {
			t.Errorf("%v: %+v, want %v", c.args, r, c.want)
		}
	}
	code, out, _ := runZoo(t, "score", "--metric", "ap", "--threshold", "0.3", "--truth", truth, "--prediction", pred)
	if code != 0 || out != "ap (IoU ≥ 0.3): 1\n" {
		t.Errorf("text: exit %d %q", code, out)
	}
	// Neither image has an instance: 1.
	empty := writeTensor(t, dir, "empty.npy", tensor.Uint8, []int{3, 4}, make([]float64, 12)...)
	if r := scoreOK(t, "--metric", "mean-ap", "--truth", empty, "--prediction", empty); r.Value != 1.0 {
		t.Errorf("empty: %+v", r)
	}
	// An empty prediction: 0.
	if r := scoreOK(t, "--metric", "pq", "--truth", truth, "--prediction", empty); r.Value != 0.0 {
		t.Errorf("empty prediction: %+v", r)
	}
}

func TestScoreErrors(t *testing.T) {
	dir := t.TempDir()
	truth := writeTensor(t, dir, "truth.npy", tensor.Float32, []int{2, 2}, 1, 2, 3, 4)
	nan := writeTensor(t, dir, "nan.npy", tensor.Float32, []int{2, 2}, 1, 2, math.NaN(), 4)
	short := writeTensor(t, dir, "short.tif", tensor.Float32, []int{1, 2}, 1, 2)
	flat := writeTensor(t, dir, "flat.npy", tensor.Float32, []int{2, 2}, 5, 5, 5, 5)
	frac := writeTensor(t, dir, "frac.npy", tensor.Float32, []int{2, 2}, 0, 1, 1.5, 0)
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--metric", "psnr", "--truth", truth, "--prediction", nan}, 1, []string{"prediction " + nan, "NaN at index (1, 0)"}},
		{[]string{"--metric", "ssim", "--truth", truth, "--prediction", short}, 1, []string{"prediction " + short, "shape (1, 2) differs from the ground truth's (2, 2)"}},
		{[]string{"--metric", "psnr", "--truth", flat, "--prediction", truth}, 1, []string{"truth " + flat, "constant"}},
		{[]string{"--metric", "ssim", "--truth", truth, "--prediction", truth}, 1, []string{"truth " + truth, "7×7"}},
		{[]string{"--metric", "dice", "--truth", truth, "--prediction", frac}, 1, []string{"prediction " + frac, "not a label image", "1.5"}},
		{[]string{"--metric", "psnr", "--truth", filepath.Join(dir, "missing.npy"), "--prediction", truth}, 1, []string{"truth " + filepath.Join(dir, "missing.npy"), "cannot read"}},
		{[]string{"--metric", "accuracy", "--truth", truth, "--prediction", truth}, 2, []string{`unknown metric "accuracy"`, "mean-ap"}},
		{[]string{"--metric", "psnr", "--truth", truth}, 2, []string{"needs --metric, --truth and --prediction"}},
		{[]string{"--metric", "psnr", "--truth", truth, "--prediction", truth, "--threshold", "0.5"}, 2, []string{"psnr takes no IoU threshold"}},
		{[]string{"--metric", "pq", "--truth", truth, "--prediction", truth, "--threshold", "0.7"}, 2, []string{"pq takes no IoU threshold"}},
		{[]string{"--metric", "ap", "--truth", truth, "--prediction", truth, "--threshold", "0"}, 2, []string{"(0, 1]"}},
		{[]string{"--metric", "iou", "--truth", truth, "--prediction", truth, "--data-range", "1"}, 2, []string{"iou takes no data range"}},
		{[]string{"--metric", "psnr", "--truth", truth, "--prediction", truth, "--data-range", "-1"}, 2, []string{"positive"}},
		{[]string{"--metric", "psnr", "--truth", truth, "--prediction", truth, "--threshold", "x"}, 2, []string{"threshold"}},
		{[]string{"--metric", "psnr", "--truth", "truth.jpg", "--prediction", truth}, 2, []string{"truth.jpg", ".npy"}},
	} {
		err := runZooErr(t, append([]string{"score"}, c.args...)...)
		if code := exitCode(err); code != c.code || err == nil {
			t.Errorf("%v: exit %d (%v), want %d", c.args, code, err, c.code)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", c.args, err, w)
			}
		}
	}
}
