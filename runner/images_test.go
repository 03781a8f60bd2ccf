package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

func TestAxisLetters(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	if got := AxisLetters(&m.Inputs[0]); !slices.Equal(got, []string{"b", "c", "y", "x"}) {
		t.Errorf("%v", got)
	}
	odd := spec.Tensor{ID: "t", Axes: []spec.Axis{
		ax(spec.AxisTime, "time", fixed(3)), ax(spec.AxisSpace, "row", fixed(4)), ax(spec.AxisSpace, "col", fixed(5)), ax(spec.AxisIndex, "index", fixed(2)),
	}}
	if got := AxisLetters(&odd); !slices.Equal(got, []string{"t", "y", "x", "i"}) {
		t.Errorf("space axes by position: %v", got)
	}
	three := spec.Tensor{ID: "t", Axes: []spec.Axis{ax(spec.AxisSpace, "x", fixed(3)), ax(spec.AxisSpace, "a", fixed(4)), ax(spec.AxisSpace, "b", fixed(5))}}
	if got := AxisLetters(&three); !slices.Equal(got, []string{"x", "z", "y"}) {
		t.Errorf("ids first, then by position: %v", got)
	}
}

func TestParseAxes(t *testing.T) {
	if got, err := ParseAxes("CYX"); err != nil || !slices.Equal(got, []string{"c", "y", "x"}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "yy", "yq"} {
		if _, err := ParseAxes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func img(dtype tensor.DType, axes []string, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(dtype, shape)
	for i := 0; i < t.Len(); i++ {
		t.SetFloat64(i, float64(i%251))
	}
	t.Axes = axes
	return t
}

func TestToInput(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	in := &m.Inputs[0]
	ids := []string{"batch", "channel", "y", "x"}

	// A greyscale PNG (y, x) gets batch and channel of size 1.
	x, err := ToInput(img(tensor.Uint8, []string{"y", "x"}, 48, 64), in, nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 1, 48, 64}) || !slices.Equal(x.Axes, ids) {
		t.Fatalf("png: %v %v", x, err)
	}
	// Axes in another order are transposed.
	src := img(tensor.Float32, []string{"x", "y"}, 64, 48)
	x, err = ToInput(src, in, nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 1, 48, 64}) || x.Float64At(1) != src.Float64At(48) {
		t.Fatalf("xy: %v %v", x.Shape, err)
	}
	// A .npy without names: as many dimensions → the model's order; fewer →
	// batch, then other size-1 axes.
	x, err = ToInput(img(tensor.Float32, nil, 48, 64), in, nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 1, 48, 64}) {
		t.Fatalf("npy 2-D: %v %v", x, err)
	}
	x, err = ToInput(img(tensor.Float32, nil, 2, 1, 48, 64), in, nil)
	if err != nil || !slices.Equal(x.Shape, []int{2, 1, 48, 64}) {
		t.Fatalf("npy 4-D: %v %v", x, err)
	}
	// --axes names them.
	x, err = ToInput(img(tensor.Float32, nil, 1, 64, 48), in, []string{"c", "x", "y"})
	if err != nil || !slices.Equal(x.Shape, []int{1, 1, 48, 64}) {
		t.Fatalf("--axes cxy: %v %v", x, err)
	}
	// Errors: a z stack for a 2-D model, RGB for one channel, wrong --axes.
	for _, c := range []struct {
		x    *tensor.Tensor
		axes []string
		want string
	}{
		{img(tensor.Uint16, []string{"z", "y", "x"}, 5, 48, 64), nil, "the image has axis z of size 5"},
		{img(tensor.Uint8, []string{"y", "x", "c"}, 48, 64, 2), nil, "input in (channel c0): the model takes 1 channel, the image has 2; give an image with one channel (grey)"},
		{img(tensor.Uint8, nil, 48, 64), []string{"y"}, "--axes y names 1 axes, but the image has 2 dimensions"},
		{img(tensor.Uint8, nil, 2, 3, 48, 64, 5), nil, "cannot guess the axes"},
	} {
		if _, err := ToInput(c.x, in, c.axes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.x.Shape, c.x.Axes, err, c.want)
		}
	}
	// A model that needs 3 channels cannot take a greyscale image.
	m3 := model2d(param(32, 16), anyBatch, 1, 0, 0)
	m3.Inputs[0].Axes[1] = spec.Axis{Type: spec.AxisChannel, ID: "channel", ChannelNames: []string{"r", "g", "b"}, Size: fixed(3), Scale: 1}
	// A colour image (axis names as the PNG and TIFF codecs give them) on a
	// one-channel model becomes grey, with a note saying so; a grey image on
	// a three-channel model is repeated into three.
	rgb := img(tensor.Uint8, []string{"y", "x", "channel"}, 48, 64, 3)
	x, notes, err := ToInputNoted(rgb, in, nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 1, 48, 64}) || len(notes) != 1 || !strings.Contains(notes[0], "converted to grey") {
		t.Fatalf("RGB for one channel: %v %v %q", x, err, notes)
	}
	x, notes, err = ToInputNoted(img(tensor.Uint8, []string{"y", "x"}, 48, 64), &m3.Inputs[0], nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 3, 48, 64}) || len(notes) != 1 || !strings.Contains(notes[0], "grey values were used for red, green and blue") {
		t.Errorf("grey for RGB: %v %v %q", x, err, notes)
	}
	x, err = ToInput(img(tensor.Uint8, []string{"y", "x", "c"}, 48, 64, 3), &m3.Inputs[0], nil)
	if err != nil || !slices.Equal(x.Shape, []int{1, 3, 48, 64}) {
		t.Errorf("RGB: %v %v", x, err)
	}
}

func TestWriteImage(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	o := &m.Outputs[0]
	zero, one := 0.0, 1.0
	o.Data = []spec.DataDescr{{Type: "float32", Range: [2]*float64{&zero, &one}}}
	x, _ := tensor.New(tensor.Float32, []int{1, 1, 2, 3})
	copy(x.Float32s(), []float32{0, 0.5, 1, 0.25, 2, -1})
	x.Axes = o.AxisIDs()
	dir := t.TempDir()

	note, err := WriteImage(filepath.Join(dir, "a.png"), FormatPNG, x, o)
	if err != nil || note != "" {
		t.Fatalf("%v %q", err, note)
	}
	p, err := png.ReadFile(filepath.Join(dir, "a.png"))
	if err != nil || !slices.Equal(p.Shape, []int{2, 3}) || !slices.Equal(p.Uint8s(), []uint8{0, 128, 255, 64, 255, 0}) {
		t.Fatalf("png %v %v", p, err)
	}
	o.Data = nil // no declared range: min–max, with a note
	if note, err = WriteImage(filepath.Join(dir, "b.png"), FormatPNG, x, o); err != nil || !strings.Contains(note, "no declared value range") {
		t.Fatalf("%v %q", err, note)
	}

	if _, err := WriteImage(filepath.Join(dir, "a.tif"), FormatTIFF, x, o); err != nil {
		t.Fatal(err)
	}
	tf, err := tiff.ReadFile(filepath.Join(dir, "a.tif"))
	if err != nil || !slices.Equal(tf.Shape, []int{2, 3}) || tf.DType != tensor.Float32 || tf.Float32s()[4] != 2 {
		t.Fatalf("tif %v %v", tf, err)
	}
	if _, err := WriteImage(filepath.Join(dir, "a.npy"), FormatNPY, x, o); err != nil {
		t.Fatal(err)
	}
	back, err := ReadImage(filepath.Join(dir, "a.npy"))
	if err != nil || !slices.Equal(back.Shape, []int{1, 1, 2, 3}) {
		t.Fatalf("npy %v %v", back, err)
	}
	if ImageFormat("A.TIFF") != FormatTIFF || ImageFormat("x.jpg") != "" {
		t.Error("ImageFormat")
	}
}

// TestWriteImageReplaces: writing over an existing output replaces the
// file; a link at the output path is replaced too, never written through.
func TestWriteImageReplaces(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	o := &m.Outputs[0]
	x, _ := tensor.New(tensor.Float32, []int{1, 1, 2, 3})
	x.Axes = o.AxisIDs()
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.npy")
	if err := os.WriteFile(keep, []byte("not an output"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, link := range map[string]func(string, string) error{"symlink.npy": os.Symlink, "hardlink.npy": os.Link} {
		path := filepath.Join(dir, name)
		if err := link(keep, path); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteImage(path, FormatNPY, x, o); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(keep); string(b) != "not an output" {
			t.Fatalf("%s: writing the output changed the file it linked to: %q", name, b)
		}
		if back, err := ReadImage(path); err != nil || !slices.Equal(back.Shape, x.Shape) {
			t.Fatalf("%s: %v %v", name, back, err)
		}
	}
	sub := filepath.Join(dir, "folder.npy")
	os.Mkdir(sub, 0o755)
	if _, err := WriteImage(sub, FormatNPY, x, o); err == nil {
		t.Error("writing over a folder succeeded")
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("the folder at the output path is gone: %v", err)
	}
}
