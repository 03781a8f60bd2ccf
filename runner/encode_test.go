package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// TestEncodeImageEqualsWriteImage: the in-browser runner's downloads
// (EncodeImage) are byte for byte the files zoo predict writes
// (WriteImage), in every format.
func TestEncodeImageEqualsWriteImage(t *testing.T) {
	o := &spec.Tensor{ID: "out", Axes: []spec.Axis{{ID: "batch", Type: spec.AxisBatch}, {ID: "channel", Type: spec.AxisChannel, Size: spec.Size{Kind: spec.SizeFixed, Fixed: 1}}, {ID: "y", Type: spec.AxisSpace}, {ID: "x", Type: spec.AxisSpace}}}
	x, _ := tensor.New(tensor.Float32, []int{1, 1, 7, 9})
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i) / 63
	}
	x.Axes = o.AxisIDs()
	dir := t.TempDir()
	for _, f := range []string{FormatTIFF, FormatNPY, FormatPNG} {
		path := filepath.Join(dir, "out."+f)
		wnote, err := WriteImage(path, f, x, o)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enote, err := EncodeImage(&buf, f, x, o)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(path)
		if !bytes.Equal(buf.Bytes(), want) || wnote != enote {
			t.Errorf("%s: EncodeImage gave %d bytes (note %q), WriteImage %d (note %q)", f, buf.Len(), enote, len(want), wnote)
		}
	}
	if _, err := EncodeImage(&bytes.Buffer{}, "jpg", x, o); err == nil {
		t.Error("jpg encoded")
	}
}
