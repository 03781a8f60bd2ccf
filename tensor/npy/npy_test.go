package npy_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// file builds an npy file by hand: magic, version major.0, the header
// length for that version, the dict padded with spaces to a multiple of 64
// bytes and a newline, then data.
func file(major byte, dict string, data []byte) []byte {
	lenSize := 4
	if major == 1 {
		lenSize = 2
	}
	hlen := len(dict) + 1
	hlen += (64 - (8+lenSize+hlen)%64) % 64
	dict += strings.Repeat(" ", hlen-len(dict)-1) + "\n"
	return rawFile(major, 0, lenSize, uint32(hlen), dict, data)
}

// rawFile builds a file with an arbitrary (possibly lying) header length.
func rawFile(major, minor byte, lenSize int, hlen uint32, header string, data []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, major, minor)
	if lenSize == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(hlen))
	} else {
		b = binary.LittleEndian.AppendUint32(b, hlen)
	}
	b = append(b, header...)
	return append(b, data...)
}

func dict(descr string, fortran bool, shape string) string {
	f := "False"
	if fortran {
		f = "True"
	}
	return "{'descr': '" + descr + "', 'fortran_order': " + f + ", 'shape': " + shape + ", }"
}

// streamOnly hides every method but Read, so Read cannot seek.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

func values(x *tensor.Tensor) []float64 {
	out := make([]float64, x.Len())
	for i := range out {
		out[i] = x.Float64At(i)
	}
	return out
}

func TestRoundTripAllDTypes(t *testing.T) {
	shapes := [][]int{{}, {0}, {5}, {2, 3}, {2, 0, 3}, {1, 2, 3, 4}, {3, 1, 1, 1, 1, 2}}
	for _, dt := range tensor.DTypes {
		for _, shape := range shapes {
			x, err := tensor.New(dt, shape)
			if err != nil {
				t.Fatal(err)
			}
			for i := range x.Len() {
				x.SetFloat64(i, float64(i%2)*float64(i+1)) // bool-safe: 0 or nonzero
			}
			var buf bytes.Buffer
			if err := npy.Write(&buf, x); err != nil {
				t.Fatal(err)
			}
			h, err := npy.ReadHeader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("%s %v: %v", dt, shape, err)
			}
			if h.DataOffset%64 != 0 || h.DataOffset+h.DataSize() != int64(buf.Len()) || h.DType != dt || !slices.Equal(h.Shape, shape) || h.FortranOrder {
				t.Errorf("%s %v: header %+v for %d bytes", dt, shape, h, buf.Len())
			}
			for _, r := range []io.Reader{bytes.NewReader(buf.Bytes()), streamOnly{bytes.NewReader(buf.Bytes())}} {
				y, err := npy.Read(r)
				if err != nil {
					t.Fatalf("%s %v: %v", dt, shape, err)
				}
				if y.DType != dt || !slices.Equal(y.Shape, shape) || !bytes.Equal(y.Data, x.Data) {
					t.Errorf("%s %v: read back %s %v %v", dt, shape, y.DType, y.Shape, y.Data)
				}
			}
		}
	}
}

func TestWriteHeaderText(t *testing.T) {
	tests := []struct {
		dt    tensor.DType
		shape []int
		want  string
	}{
		{tensor.Float32, []int{1, 1, 512, 512}, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 512, 512), }"},
		{tensor.Bool, []int{5}, "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }"},
		{tensor.Int8, []int{}, "{'descr': '|i1', 'fortran_order': False, 'shape': (), }"},
		{tensor.Uint8, []int{2}, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }"},
		{tensor.Float16, []int{1}, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }"},
		{tensor.Uint64, []int{1}, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }"},
		{tensor.Int16, []int{1}, "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }"},
	}
	for _, tt := range tests {
		x, _ := tensor.New(tt.dt, tt.shape)
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if string(b[:8]) != "\x93NUMPY\x01\x00" {
			t.Errorf("%s: prefix %q", tt.dt, b[:8])
		}
		hlen := int(binary.LittleEndian.Uint16(b[8:]))
		text := string(b[10 : 10+hlen])
		if !strings.HasPrefix(text, tt.want) || strings.TrimLeft(text[len(tt.want):], " ") != "\n" || (10+hlen)%64 != 0 {
			t.Errorf("%s %v: header %q, want %q padded to 64 bytes", tt.dt, tt.shape, text, tt.want)
		}
		// numpy leaves room for the first dimension to grow to 21 digits.
		if len(tt.shape) > 0 && len(text)-len(tt.want)-1 < 21-len(tensor.FormatShape(tt.shape[:1]))+3 {
			t.Errorf("%s %v: only %d bytes of padding", tt.dt, tt.shape, len(text)-len(tt.want)-1)
		}
	}
}

func TestReadByteOrders(t *testing.T) {
	tests := []struct {
		descr string
		data  []byte
		want  []float64
		dt    tensor.DType
	}{
		{">i4", []byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe}, []float64{1, -2}, tensor.Int32},
		{"<i4", []byte{1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}, []float64{1, -2}, tensor.Int32},
		{">u2", []byte{1, 2, 0xff, 0xfe}, []float64{0x102, 0xfffe}, tensor.Uint16},
		{">i2", []byte{0x80, 0, 0, 7}, []float64{-32768, 7}, tensor.Int16},
		{">i8", []byte{0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []float64{256, -1}, tensor.Int64},
		{">u8", []byte{0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0, 0, 0, 0, 0, 0, 0}, []float64{5, 1 << 63}, tensor.Uint64},
		{">u4", []byte{0, 0, 1, 0, 0, 0, 0, 9}, []float64{256, 9}, tensor.Uint32},
		{">f2", []byte{0x3c, 0x00, 0xc0, 0x00}, []float64{1, -2}, tensor.Float16},
		{">f4", []byte{0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0}, []float64{1, -2.5}, tensor.Float32},
		{">f8", []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0x59, 0, 0, 0, 0, 0, 0}, []float64{1, -100}, tensor.Float64},
		{"|b1", []byte{0, 7}, []float64{0, 1}, tensor.Bool},
		{">b1", []byte{1, 0}, []float64{1, 0}, tensor.Bool},
		{"|i1", []byte{0x80, 0x7f}, []float64{-128, 127}, tensor.Int8},
		{"<i1", []byte{0xff, 1}, []float64{-1, 1}, tensor.Int8},
		{"|u1", []byte{0xff, 1}, []float64{255, 1}, tensor.Uint8},
		{"<?", []byte{1, 1}, []float64{1, 1}, tensor.Bool},
		{"=f4", []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0}, []float64{1, 0}, tensor.Float32},
		{"f4", []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0}, []float64{1, 0}, tensor.Float32},
		{"float32", []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0}, []float64{1, 0}, tensor.Float32},
	}
	for _, tt := range tests {
		x, err := npy.Read(bytes.NewReader(file(1, dict(tt.descr, false, "(2,)"), tt.data)))
		if err != nil {
			t.Errorf("%s: %v", tt.descr, err)
			continue
		}
		if x.DType != tt.dt || !slices.Equal(values(x), tt.want) {
			t.Errorf("%s: got %s %v, want %s %v", tt.descr, x.DType, values(x), tt.dt, tt.want)
		}
	}
}

func TestReadFortranOrder(t *testing.T) {
	// numpy.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores the columns in turn.
	data := []byte{1, 4, 2, 5, 3, 6}
	x, err := npy.Read(bytes.NewReader(file(1, dict("|u1", true, "(2, 3)"), data)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape, []int{2, 3}) || !slices.Equal(x.Data, []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("got %v %v", x.Shape, x.Data)
	}

	// A 2×3×4 big-endian int16 array in Fortran order: element (i, j, k)
	// sits at i + 2j + 6k and holds 100i + 10j + k.
	shape := []int{2, 3, 4}
	be := make([]byte, 2*24)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				binary.BigEndian.PutUint16(be[2*(i+2*j+6*k):], uint16(100*i+10*j+k))
			}
		}
	}
	x, err = npy.Read(streamOnly{bytes.NewReader(file(1, dict(">i2", true, "(2, 3, 4)"), be))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape, shape) {
		t.Fatalf("shape %v", x.Shape)
	}
	for n, v := range values(x) {
		i, j, k := n/12, n/4%3, n%4
		if v != float64(100*i+10*j+k) {
			t.Fatalf("element (%d, %d, %d) = %v", i, j, k, v)
		}
	}

	// One dimension: Fortran and C order are the same.
	x, err = npy.Read(bytes.NewReader(file(1, dict("|u1", true, "(3,)"), []byte{7, 8, 9})))
	if err != nil || !slices.Equal(x.Data, []byte{7, 8, 9}) {
		t.Errorf("1-d Fortran: %v %v", x, err)
	}
}

func TestReadVersions(t *testing.T) {
	data := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40} // float32 1, 2
	for _, major := range []byte{1, 2, 3} {
		b := file(major, dict("<f4", false, "(2,)"), data)
		h, err := npy.ReadHeader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("version %d: %v", major, err)
		}
		if h.DataOffset != int64(len(b)-8) || h.DataOffset%64 != 0 {
			t.Errorf("version %d: DataOffset %d in a %d-byte file", major, h.DataOffset, len(b))
		}
		x, err := npy.Read(bytes.NewReader(b))
		if err != nil || !slices.Equal(values(x), []float64{1, 2}) {
			t.Errorf("version %d: %v %v", major, x, err)
		}
	}
	// Valid UTF-8 that is not Python whitespace after the dict.
	text := dict("<f4", false, "(2,)") + " \u00a0"
	b := rawFile(3, 0, 4, uint32(len(text)+1), text+"\n", data)
	if _, err := npy.Read(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "after the dict") {
		t.Errorf("non-breaking space after the dict: %v", err)
	}
}

func TestReadHeaderSyntax(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name, dict string
		shape      []int
	}{
		{"numpy", "{'descr': '|u1', 'fortran_order': False, 'shape': (6,), }", []int{6}},
		{"any key order", "{'shape': (2, 3), 'descr': '|u1', 'fortran_order': False}", []int{2, 3}},
		{"no trailing comma", "{'descr': '|u1', 'fortran_order': False, 'shape': (6,)}", []int{6}},
		{"trailing comma in shape", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3,), }", []int{2, 3}},
		{"double quotes", `{"descr": "|u1", "fortran_order": False, "shape": (3, 2)}`, []int{3, 2}},
		{"spaces and newlines", "{ 'descr' :'|u1' ,\n\t'fortran_order':False,'shape':( 1 , 6 ) , }", []int{1, 6}},
		{"python 2 longs", "{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 3L), }", []int{2, 3}},
		{"unicode prefix", "{u'descr': u'|u1', 'fortran_order': False, 'shape': (6,), }", []int{6}},
		{"escaped quote", `{'descr': '|u1', 'fortran_order': False, 'shape': (6,), }`, []int{6}},
		{"plus sign", "{'descr': '|u1', 'fortran_order': False, 'shape': (+6,), }", []int{6}},
		{"parenthesized descr", "{'descr': ('|u1'), 'fortran_order': False, 'shape': (6,), }", []int{6}},
	}
	for _, tt := range tests {
		x, err := npy.Read(bytes.NewReader(file(1, tt.dict, data)))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(x.Shape, tt.shape) || !bytes.Equal(x.Data, data) {
			t.Errorf("%s: shape %v", tt.name, x.Shape)
		}
	}
	x, err := npy.Read(bytes.NewReader(file(1, dict("<f8", false, "()"), []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f})))
	if err != nil || len(x.Shape) != 0 || x.Float64At(0) != 1 {
		t.Errorf("scalar: %v %v", x, err)
	}
}

// Several arrays written one after another are read in turn.
func TestReadConsumesExactly(t *testing.T) {
	var buf bytes.Buffer
	for i := range 3 {
		x, _ := tensor.New(tensor.Int32, []int{i + 1})
		x.SetFloat64(i, float64(i+10))
		if err := npy.Write(&buf, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []io.Reader{bytes.NewReader(buf.Bytes()), iotest.OneByteReader(bytes.NewReader(buf.Bytes()))} {
		for i := range 3 {
			x, err := npy.Read(r)
			if err != nil {
				t.Fatalf("array %d: %v", i, err)
			}
			if x.Len() != i+1 || x.Float64At(i) != float64(i+10) {
				t.Errorf("array %d: %v", i, values(x))
			}
		}
		if _, err := npy.Read(r); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("after the last array: %v", err)
		}
	}
}

// Data larger than one read chunk, from a reader that cannot seek.
func TestReadLargeStream(t *testing.T) {
	x, _ := tensor.New(tensor.Float32, []int{3, 1000, 1000})
	for i := range x.Data {
		x.Data[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, x); err != nil {
		t.Fatal(err)
	}
	y, err := npy.Read(streamOnly{iotest.HalfReader(bytes.NewReader(buf.Bytes()))})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(y.Data, x.Data) {
		t.Error("data differs")
	}
	// The same, one byte short.
	_, err = npy.Read(streamOnly{bytes.NewReader(buf.Bytes()[:buf.Len()-1])})
	if err == nil || !strings.Contains(err.Error(), "has only 11999999 bytes of data") {
		t.Errorf("short by one byte: %v", err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	x, _ := tensor.New(tensor.Uint16, []int{4, 5})
	for i := range x.Len() {
		x.SetFloat64(i, float64(i*1000))
	}
	path := filepath.Join(dir, "x.npy")
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
	y, err := npy.ReadFile(path)
	if err != nil || !bytes.Equal(y.Data, x.Data) || !slices.Equal(y.Shape, x.Shape) {
		t.Fatalf("ReadFile: %v %v", y, err)
	}

	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, 0, 0), 0o644)
	_, err = npy.ReadFile(path)
	checkError(t, "trailing data", err, zoo.Invalid, "x.npy: the file has 2 bytes after the data")

	os.WriteFile(path, b[:len(b)-3], 0o644)
	_, err = npy.ReadFile(path)
	checkError(t, "truncated file", err, zoo.Invalid, "npy.ReadFile: "+path+": the header promises shape (4, 5) uint16 = 40 bytes but the file has only 37 bytes of data")

	_, err = npy.ReadFile(filepath.Join(dir, "missing.npy"))
	checkError(t, "missing file", err, zoo.NotFound, "does not exist")

	bad := &tensor.Tensor{DType: tensor.Float32, Shape: []int{3}, Data: make([]byte, 4)}
	out := filepath.Join(dir, "bad.npy")
	checkError(t, "WriteFile of a malformed tensor", npy.WriteFile(out, bad), zoo.Invalid, "needs 12 bytes")
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile left a partial file: %v", err)
	}
	checkError(t, "WriteFile into a missing directory", npy.WriteFile(filepath.Join(dir, "no", "x.npy"), x), zoo.Internal, "cannot create")
}

func checkError(t *testing.T, name string, err error, kind zoo.Kind, want string) {
	t.Helper()
	var e *zoo.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %q", name, want)
	case !errors.As(err, &e):
		t.Errorf("%s: %T is not a *zoo.Error: %v", name, err, err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", name, err, want)
	case e.Kind != kind:
		t.Errorf("%s: kind %v, want %v (%v)", name, e.Kind, kind, err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	x, _ := tensor.New(tensor.Float32, []int{2})
	checkError(t, "failing writer", npy.Write(failingWriter{}, x), zoo.Internal, "disk full")
	deep := &tensor.Tensor{DType: tensor.Uint8, Shape: make([]int, 33), Data: nil}
	for i := range deep.Shape {
		deep.Shape[i] = 1
	}
	deep.Data = []byte{0}
	checkError(t, "33 dimensions", npy.Write(io.Discard, deep), zoo.TooLarge, "at most 32")
	checkError(t, "unknown dtype", npy.Write(io.Discard, &tensor.Tensor{DType: "c8", Shape: []int{1}}), zoo.Invalid, "unknown dtype")
	checkError(t, "nil tensor", npy.Write(io.Discard, nil), zoo.Invalid, "nil")

	// Bool bytes other than 0/1 are written as 1.
	b := &tensor.Tensor{DType: tensor.Bool, Shape: []int{3}, Data: []byte{0, 2, 1}}
	var buf bytes.Buffer
	if err := npy.Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes()[buf.Len()-3:]; !bytes.Equal(got, []byte{0, 1, 1}) || b.Data[1] != 2 {
		t.Errorf("bool data written as %v (source now %v)", got, b.Data)
	}
}

type errReader struct{ data []byte }

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadIOError(t *testing.T) {
	b := file(1, dict("<f4", false, "(10,)"), make([]byte, 8))
	_, err := npy.Read(&errReader{b})
	checkError(t, "reader error", err, zoo.Internal, "connection reset")
}

// allocated returns how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHostileInput(t *testing.T) {
	f4 := func(shape string, n int) []byte { return file(1, dict("<f4", false, shape), make([]byte, n)) }
	deep := "(" + strings.Repeat("1, ", 1000) + ")"
	nested := "{'descr': " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + ", 'fortran_order': False, 'shape': (1,)}"
	tests := []struct {
		name string
		data []byte
		kind zoo.Kind
		want string
	}{
		{"empty", nil, zoo.Invalid, "the file is empty"},
		{"garbage magic", []byte("GIF89a\x01\x00\x00\x00"), zoo.Invalid, `not an npy file: it starts with "GIF89a\x01\x00"`},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), zoo.Invalid, ".npz file"},
		{"short garbage", []byte("hi"), zoo.Invalid, `not an npy file: it starts with "hi"`},
		{"short magic", []byte("\x93NUM"), zoo.Invalid, "only 4 bytes long"},
		{"no header length", []byte("\x93NUMPY\x01\x00\x10"), zoo.Invalid, "ends inside the header length"},
		{"version 4.0", rawFile(4, 0, 4, 0, "", nil), zoo.NotSupported, "version 4.0"},
		{"version 1.1", rawFile(1, 1, 2, 0, "", nil), zoo.NotSupported, "version 1.1"},
		{"version 0.0", rawFile(0, 0, 2, 0, "", nil), zoo.NotSupported, "version 0.0"},
		{"header beyond the file", rawFile(1, 0, 2, 1000, "{'descr': '<f4'", nil), zoo.Invalid, "the header is 1000 bytes long but the file ends after 15 of them"},
		{"header too long", rawFile(2, 0, 4, 1<<31, "{", nil), zoo.TooLarge, "the header is 2147483648 bytes long; zoo reads headers of at most 65536"},
		{"invalid UTF-8 in v3", rawFile(3, 0, 4, 8, "{'\xff': 1}", nil), zoo.Invalid, "not valid UTF-8"},
		{"truncated data", f4("(10,)", 12), zoo.Invalid, "the header promises shape (10,) float32 = 40 bytes but the file has only 12 bytes of data"},
		{"lying shape", f4("(90000, 90000)", 1000), zoo.Invalid, "npy.Read: the header promises shape (90000, 90000) float32 = 32.4 GB but the file has only 1000 bytes of data"},
		{"huge dimensions", f4("(1099511627776, 1099511627776)", 0), zoo.TooLarge, "more than 8589934592 elements"},
		{"too many elements", f4("(8589934593,)", 0), zoo.TooLarge, "more than 8589934592 elements"},
		{"dimension beyond int64", f4("(99999999999999999999,)", 0), zoo.Invalid, "integer too large"},
		{"negative dimension", f4("(-1, 5)", 0), zoo.Invalid, "dimension 0 of 'shape' is negative (-1)"},
		{"ndim 1000", f4(deep, 0), zoo.TooLarge, "the shape has 1000 dimensions; zoo reads at most 32"},
		{"ndim 33", f4("("+strings.Repeat("1,", 33)+")", 4), zoo.TooLarge, "33 dimensions"},
		{"shape not a tuple", f4("[2]", 8), zoo.Invalid, "'shape' is a list"},
		{"shape an int", f4("(2)", 8), zoo.Invalid, "'shape' is an integer"},
		{"float dimension", f4("(2.0,)", 8), zoo.Invalid, "only decimal integers"},
		{"string dimension", f4("('2',)", 8), zoo.Invalid, "dimension 0 of 'shape' is a string"},
		{"fortran_order not bool", file(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", nil), zoo.Invalid, "'fortran_order' is an integer"},
		{"missing key", file(1, "{'descr': '<f4', 'shape': (1,)}", nil), zoo.Invalid, `no "fortran_order" key`},
		{"extra key", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", nil), zoo.Invalid, `unexpected key "x"`},
		{"duplicate key", file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", nil), zoo.Invalid, `key "descr" twice`},
		{"non-string key", file(1, "{1: '<f4', 'fortran_order': False, 'shape': (1,)}", nil), zoo.Invalid, "key that is an integer"},
		{"not a dict", file(1, "['<f4', False, (1,)]", nil), zoo.Invalid, "the header is a list, not a dict"},
		{"trailing junk", file(1, dict("<f4", false, "(1,)")+" x", nil), zoo.Invalid, "after the dict"},
		{"unterminated string", file(1, "{'descr: '<f4'}", nil), zoo.Invalid, "not a valid Python dict literal"},
		{"missing colon", file(1, "{'descr' '<f4'}", nil), zoo.Invalid, "expected ':'"},
		{"missing comma", file(1, "{'descr': '<f4' 'shape': (1,)}", nil), zoo.Invalid, "expected ',' or '}'"},
		{"unknown name", file(1, "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", nil), zoo.Invalid, `unexpected name "false"`},
		{"deep nesting", file(1, nested, nil), zoo.Invalid, "nested deeper than 64"},
		{"NUL padding", rawFile(1, 0, 2, 60, dict("<f4", false, "(1,)")+"\x00\x00\n", nil), zoo.Invalid, "after the dict"},
		{"object dtype", file(1, dict("|O", false, "(1,)"), make([]byte, 8)), zoo.NotSupported, "not supported: dtype \"|O\" holds Python objects"},
		{"complex dtype", file(1, dict("<c8", false, "(1,)"), make([]byte, 8)), zoo.NotSupported, "complex numbers"},
		{"unicode dtype", file(1, dict("<U5", false, "(1,)"), make([]byte, 20)), zoo.NotSupported, "unicode strings"},
		{"bytes dtype", file(1, dict("|S3", false, "(1,)"), make([]byte, 3)), zoo.NotSupported, "byte strings"},
		{"datetime dtype", file(1, dict("<M8[ns]", false, "(1,)"), make([]byte, 8)), zoo.NotSupported, "datetimes"},
		{"long double", file(1, dict("<f16", false, "(1,)"), make([]byte, 16)), zoo.NotSupported, "extended-precision"},
		{"structured dtype", file(1, "{'descr': [('x', '<f4'), ('y', '<i2')], 'fortran_order': False, 'shape': (1,)}", make([]byte, 6)), zoo.NotSupported, "structured"},
		{"descr not a string", file(1, "{'descr': 4, 'fortran_order': False, 'shape': (1,)}", nil), zoo.Invalid, "'descr' is an integer"},
		{"unknown descr", file(1, dict("<q9", false, "(1,)"), nil), zoo.Invalid, `descr "<q9" is not a numpy dtype`},
		{"empty descr", file(1, dict("", false, "(1,)"), nil), zoo.Invalid, `descr "" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tt.data), streamOnly{bytes.NewReader(tt.data)}} {
				var err error
				n := allocated(func() { _, err = npy.Read(r) })
				checkError(t, tt.name, err, tt.kind, tt.want)
				if err != nil && !strings.HasPrefix(err.Error(), "npy.Read: ") {
					t.Errorf("%s: error %q lacks the operation", tt.name, err)
				}
				if n > 4<<20 {
					t.Errorf("%s: Read allocated %d bytes", tt.name, n)
				}
			}
		})
	}
}

// A header promising 32 GB with a little data, from a stream: the memory
// used follows the data present, not the promise.
func TestLyingHeaderStreamMemory(t *testing.T) {
	b := file(1, dict("<f4", false, "(90000, 90000)"), make([]byte, 3<<20))
	var err error
	n := allocated(func() { _, err = npy.Read(streamOnly{bytes.NewReader(b)}) })
	checkError(t, "lying header", err, zoo.Invalid, "has only 3145728 bytes of data")
	if n > 16<<20 {
		t.Errorf("Read allocated %d bytes for 3 MiB of data", n)
	}
}

func TestHeaderDataSize(t *testing.T) {
	h := npy.Header{DType: tensor.Float64, Shape: []int{3, 4}}
	if h.DataSize() != 96 {
		t.Errorf("DataSize = %d", h.DataSize())
	}
}

var typeCode = map[tensor.DType]string{
	tensor.Bool: "b1", tensor.Int8: "i1", tensor.Int16: "i2", tensor.Int32: "i4", tensor.Int64: "i8",
	tensor.Uint8: "u1", tensor.Uint16: "u2", tensor.Uint32: "u4", tensor.Uint64: "u8",
	tensor.Float16: "f2", tensor.Float32: "f4", tensor.Float64: "f8",
}

// encode writes x by hand in the given byte order ('<', '>' or '|') and,
// if fortran, in column-major order.
func encode(t *testing.T, x *tensor.Tensor, order byte, fortran bool, major byte) []byte {
	t.Helper()
	data := x.Data
	if fortran {
		// Fortran order of x is C order of x with its dimensions reversed.
		r, err := x.Transpose(nil)
		if err != nil {
			t.Fatal(err)
		}
		data = r.Data
	}
	data = slices.Clone(data)
	if order == '>' {
		size := x.DType.Size()
		for i := 0; i < len(data); i += size {
			slices.Reverse(data[i : i+size])
		}
	}
	return file(major, dict(string(order)+typeCode[x.DType], fortran, tensor.FormatShape(x.Shape)), data)
}

// Every dtype in every byte order, C and Fortran order, and every format
// version reads back as the same little-endian C-order tensor.
func TestReadAllOrders(t *testing.T) {
	for _, dt := range tensor.DTypes {
		for _, shape := range [][]int{{}, {4}, {2, 3}, {2, 3, 4}, {3, 1, 2, 2}, {2, 0, 3}} {
			x, _ := tensor.New(dt, shape)
			for i := range x.Len() {
				x.SetFloat64(i, float64(i*37%101)-40) // wraps for unsigned, nonzero → true for bool
			}
			for _, order := range []byte{'<', '>', '|'} {
				for _, fortran := range []bool{false, true} {
					for _, major := range []byte{1, 2, 3} {
						b := encode(t, x, order, fortran, major)
						y, err := npy.Read(bytes.NewReader(b))
						if err != nil {
							t.Fatalf("%s %v order %c fortran %v v%d: %v", dt, shape, order, fortran, major, err)
						}
						if y.DType != dt || !slices.Equal(y.Shape, shape) || !bytes.Equal(y.Data, x.Data) {
							t.Fatalf("%s %v order %c fortran %v v%d: read %v %v", dt, shape, order, fortran, major, y.Shape, values(y))
						}
					}
				}
			}
		}
	}
}
