package tiff

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// FuzzRead feeds Read arbitrary bytes: it must return a well-formed tensor
// or a zoo error that is not Internal, and never panic.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.tif"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 4<<10 {
			f.Add(b)
		}
	}
	for _, opt := range []WriteOptions{{}, {Compression: Deflate}} {
		var buf bytes.Buffer
		x := ramp(f, tensor.Uint16, []int{2, 3, 5, 4}, []string{"time", "channel", "y", "x"})
		if err := WriteWith(&buf, x, opt); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	var buf bytes.Buffer
	if err := Write(&buf, ramp(f, tensor.Float64, []int{2, 3, 4}, nil)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(stack(3, "ImageJ=1.11a\nimages=3\nslices=3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opt := range []ReadOptions{{}, {AllPages: true}} {
			x, err := ReadWith(bytes.NewReader(b), int64(len(b)), opt)
			if err != nil {
				if zoo.KindOf(err) == zoo.Internal {
					t.Fatalf("internal error: %v", err)
				}
				continue
			}
			n := tensor.NumElements(x.Shape)
			if n <= 0 || len(x.Data) != n*x.DType.Size() || len(x.Axes) != len(x.Shape) {
				t.Fatalf("malformed tensor %s %v %v with %d bytes", x.DType, x.Shape, x.Axes, len(x.Data))
			}
		}
	})
}

// BenchmarkRead2048 reads a 2048×2048 uint16 TIFF from memory.
func BenchmarkRead2048(b *testing.B) {
	for _, c := range []struct {
		name string
		opt  WriteOptions
	}{{"uncompressed", WriteOptions{}}, {"deflate", WriteOptions{Compression: Deflate}}} {
		b.Run(c.name, func(b *testing.B) {
			x := ramp(b, tensor.Uint16, []int{2048, 2048}, nil)
			for i, v := range x.Uint16s() {
				x.Uint16s()[i] = uint16(i%2048 + i/2048 + int(v%16)) // image-like
			}
			var buf bytes.Buffer
			if err := WriteWith(&buf, x, c.opt); err != nil {
				b.Fatal(err)
			}
			r := bytes.NewReader(buf.Bytes())
			b.SetBytes(int64(len(x.Data)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := Read(r, int64(buf.Len())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
