package npy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

func TestReadFixture(t *testing.T) {
	path := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy")
	x, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if x.DType != tensor.Float32 || tensor.FormatShape(x.Shape) != "(1, 1, 512, 512)" || x.Axes != nil {
		t.Fatalf("got %s %v axes %v", x.DType, x.Shape, x.Axes)
	}
	var sum float64
	for _, v := range x.Float32s() {
		sum += float64(v)
	}
	if mean := sum / float64(x.Len()); mean < 256.11 || mean > 256.12 {
		t.Errorf("mean = %v, want ≈ 256.115", mean)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := npy.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if h.DType != tensor.Float32 || len(h.Shape) != 4 || h.FortranOrder || h.DataOffset != 128 || h.DataSize() != 512*512*4 {
		t.Errorf("header = %+v", h)
	}
}

// Every fixture written by numpy is reproduced byte for byte by Write.
func TestWriteMatchesNumpy(t *testing.T) {
	var paths []string
	for _, dir := range []string{"packages", "bioimageio-examples"} {
		root := fixtures.Path(t, dir)
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && filepath.Ext(p) == ".npy" {
				paths = append(paths, p)
			}
			return nil
		})
	}
	if len(paths) == 0 {
		testenv.Missing(t, testenv.Fixtures, "no .npy files under packages/ and bioimageio-examples/")
	}

	for _, p := range paths {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		x, err := npy.Read(bytes.NewReader(want))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		var got bytes.Buffer
		if err := npy.Write(&got, x); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			n := min(len(want), got.Len(), 128)
			t.Errorf("%s: Write differs from numpy's file:\n got %q\nwant %q", p, got.Bytes()[:n], want[:n])
		}
	}
	t.Logf("%d fixtures", len(paths))
}

func BenchmarkRead512(b *testing.B) {
	data, err := os.ReadFile(fixtures.Path(b, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := npy.Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
