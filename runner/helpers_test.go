package runner

import (
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/torch"
)

// needORT skips a test when the ONNX Runtime library is missing, except
// under CI and make test, where its absence fails (internal/testenv).
func needORT(t testing.TB) {
	t.Helper()
	testenv.NeedONNXRuntime(t)
}

// haveTorch reports whether TorchScript weights run here. A test that goes
// on without them checks less (the not-supported answer instead of a run),
// so under CI and make test their absence fails it (testenv.Have).
func haveTorch(t testing.TB) bool {
	t.Helper()
	var err error
	if !Supported("torchscript") {
		if err = torch.Available(); err == nil {
			err = errors.New("torch.Available() is nil but the torchscript backend is not registered")
		}
	}
	return testenv.Have(t, testenv.Libtorch, err)
}

// loadPredictor loads a fixture package's ONNX weights.
func loadPredictor(t testing.TB, name string) *Predictor {
	t.Helper()
	needORT(t)
	pkg, err := Load(fixtures.Path(t, "packages", name), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPredictor(pkg, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// nucleiImage is a deterministic synthetic microscopy image: bright
// Gaussian blobs (nuclei) on a noisy background, shape (b, 1, h, w).
func nucleiImage(seed int64, b, h, w int) *tensor.Tensor {
	r := rand.New(rand.NewSource(seed))
	t, _ := tensor.New(tensor.Float32, []int{b, 1, h, w})
	t.Axes = []string{"batch", "channel", "y", "x"}
	v := t.Float32s()
	for k := 0; k < b; k++ {
		img := v[k*h*w : (k+1)*h*w]
		for i := range img {
			img[i] = float32(120 + r.Float64()*30)
		}
		for range h * w / 4000 {
			by, bx := r.Float64()*float64(h), r.Float64()*float64(w)
			s, a := 3+r.Float64()*8, 500+r.Float64()*2000
			rad := int(3 * s)
			for y := max(0, int(by)-rad); y < min(h, int(by)+rad); y++ {
				for x := max(0, int(bx)-rad); x < min(w, int(bx)+rad); x++ {
					d := (float64(y)-by)*(float64(y)-by) + (float64(x)-bx)*(float64(x)-bx)
					img[y*w+x] += float32(a * math.Exp(-d/(2*s*s)))
				}
			}
		}
	}
	return t
}

// withAxes returns a shallow copy of t with other axis names.
func withAxes(t *tensor.Tensor, axes ...string) *tensor.Tensor {
	return &tensor.Tensor{DType: t.DType, Shape: t.Shape, Axes: axes, Data: t.Data}
}
