package npy_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// FuzzRead checks that Read never panics, that every error is a zoo error
// naming no internal failure, that seekable and stream readers agree, and
// that whatever Read accepts is a valid tensor that survives a Write/Read
// round trip. Run it with: go test ./tensor/npy -run '^$' -fuzz FuzzRead
func FuzzRead(f *testing.F) {
	for _, dt := range tensor.DTypes {
		for _, shape := range [][]int{{}, {3}, {2, 0}, {2, 3}} {
			x, _ := tensor.New(dt, shape)
			for i := range x.Len() {
				x.SetFloat64(i, float64(i))
			}
			var buf bytes.Buffer
			if err := npy.Write(&buf, x); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
	for _, seed := range [][]byte{
		file(1, dict(">f8", true, "(2, 1, 2)"), make([]byte, 32)),
		file(1, dict(">i2", true, "(3, 2)"), []byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6}),
		file(2, dict("<u4", false, "(2,)"), make([]byte, 8)),
		file(3, dict(">f2", false, "(1,)"), []byte{0x3c, 0}),
		file(1, "{'shape': (2L, 1L,), \"descr\": u'|b1', 'fortran_order': True}", []byte{1, 0}),
		file(1, dict("<f4", false, "(90000, 90000)"), make([]byte, 100)),
		file(1, dict("|O", false, "(1,)"), make([]byte, 8)),
		file(1, "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,)}", make([]byte, 4)),
		file(1, dict("<f4", false, "(-1,)"), nil),
		rawFile(1, 0, 2, 1000, "{'descr': '<f4'", nil),
		rawFile(3, 0, 4, 8, "{'\xff': 1}", nil),
		[]byte("\x93NUMPY"),
		[]byte("PK\x03\x04"),
	} {
		f.Add(seed)
	}
	if p := fixtures.Optional(f, "packages", "upsample-onnx", "test_input.npy"); p != "" {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := npy.Read(bytes.NewReader(data))
		y, err2 := npy.Read(streamOnly{bytes.NewReader(data)})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("seekable and stream readers disagree: %v vs %v", err, err2)
		}
		h, herr := npy.ReadHeader(bytes.NewReader(data))
		if err != nil {
			var e *zoo.Error
			if !errors.As(err, &e) || e.Message == "" || e.Kind == zoo.Internal {
				t.Fatalf("error %T %v is not a user-facing zoo error", err, err)
			}
			if err.Error() != err2.Error() {
				t.Fatalf("different errors for the same input: %v vs %v", err, err2)
			}
			return
		}
		if herr != nil {
			t.Fatalf("Read succeeded but ReadHeader failed: %v", herr)
		}
		if h.DType != x.DType || !slices.Equal(h.Shape, x.Shape) || h.DataOffset+h.DataSize() > int64(len(data)) {
			t.Fatalf("header %+v does not describe %s %v from %d bytes", h, x.DType, x.Shape, len(data))
		}
		if err := x.Validate(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.Data, y.Data) || !slices.Equal(x.Shape, y.Shape) {
			t.Fatal("seekable and stream readers return different tensors")
		}
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatal(err)
		}
		z, err := npy.Read(&buf)
		if err != nil {
			t.Fatalf("reading back what Write wrote: %v", err)
		}
		if z.DType != x.DType || !slices.Equal(z.Shape, x.Shape) || !bytes.Equal(z.Data, x.Data) {
			t.Fatal("Write/Read round trip changed the tensor")
		}
	})
}
