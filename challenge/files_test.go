package challenge

import (
	"archive/zip"
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

func img(t testing.TB, shape []int, fill float32) *tensor.Tensor {
	x, err := tensor.New(tensor.Float32, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Float32s() {
		x.Float32s()[i] = fill + float32(i%7)
	}
	return x
}

func npyBytes(t testing.TB, x *tensor.Tensor) []byte {
	var b bytes.Buffer
	if err := npy.Write(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type entry struct {
	name string
	data []byte
	mode uint32 // 0: regular
}

func zipOf(t testing.TB, entries ...entry) []byte { return zipMethod(t, zip.Deflate, entries...) }

var (
	inputs = []string{"img01.tif", "img02.npy"}
	shapes = map[string][]int{"img01.tif": {4, 5}, "img02.npy": {4, 5}}
	axes   = map[string][]string{}
)

func read(t *testing.T, z []byte) (map[string]*tensor.Tensor, error) {
	t.Helper()
	return ReadPredictions(z, inputs, shapes, axes, ZipLimits{})
}

func TestReadPredictionsValid(t *testing.T) {
	var tb bytes.Buffer
	if err := tiff.Write(&tb, img(t, []int{4, 5}, 1)); err != nil {
		t.Fatal(err)
	}
	z := zipOf(t,
		entry{name: "img01.tif", data: tb.Bytes()},                             // TIFF for a TIFF input
		entry{name: "img02.npy", data: npyBytes(t, img(t, []int{1, 4, 5}, 2))}, // an extra axis of size 1 is fine
		entry{name: "__MACOSX/._img01.tif", data: []byte("junk")},
		entry{name: ".DS_Store", data: []byte("junk")},
	)
	got, err := read(t, z)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["img02.npy"].Shape[0] != 4 || got["img01.tif"].Float32s()[1] != 2 {
		t.Errorf("got %v", got)
	}
	// Predictions may use another extension than their input.
	z = zipOf(t, entry{name: "img01.npy", data: npyBytes(t, img(t, []int{4, 5}, 0))}, entry{name: "img02.tiff", data: tb.Bytes()})
	if _, err := read(t, z); err != nil {
		t.Errorf("img01.npy + img02.tiff: %v", err)
	}
}

// Every refusal names the file and says why.
func TestReadPredictionsRefusals(t *testing.T) {
	good := npyBytes(t, img(t, []int{4, 5}, 0))
	nan := img(t, []int{4, 5}, 0)
	nan.Float32s()[7] = float32(math.NaN())
	inf := img(t, []int{4, 5}, 0)
	inf.Float32s()[3] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name string
		zip  []byte
		kind zoo.Kind
		want []string
	}{
		{"not a zip", []byte("hello"), zoo.Invalid, []string{"not a readable zip", "img01.tif"}},
		{"missing", zipOf(t, entry{name: "img01.npy", data: good}), zoo.Invalid, []string{"missing prediction", `"img02.npy"`}},
		{"extra", zipOf(t, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good}, entry{name: "img03.npy", data: good}),
			zoo.Invalid, []string{`extra file "img03.npy"`, "no test input"}},
		{"extra non-image", zipOf(t, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good}, entry{name: "notes.txt", data: good}),
			zoo.Invalid, []string{`extra file "notes.txt"`}},
		{"duplicate", zipOf(t, entry{name: "img01.npy", data: good}, entry{name: "img01.tif", data: good}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`two predictions for test input "img01.tif"`}},
		{"wrong shape", zipOf(t, entry{name: "img01.npy", data: npyBytes(t, img(t, []int{5, 4}, 0))}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`prediction "img01.npy"`, "shape (5, 4)", "(4, 5)"}},
		{"NaN", zipOf(t, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: npyBytes(t, nan)}),
			zoo.Invalid, []string{`prediction "img02.npy"`, "NaN", "element 7"}},
		{"Inf", zipOf(t, entry{name: "img01.npy", data: npyBytes(t, inf)}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`prediction "img01.npy"`, "infinity", "element 3"}},
		{"unreadable", zipOf(t, entry{name: "img01.npy", data: []byte("\x93NUMPY garbage")}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`prediction "img01.npy" cannot be read`}},
		{"zip slip", zipOf(t, entry{name: "../img01.npy", data: good}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`"../img01.npy"`, "not a plain file name"}},
		{"absolute", zipOf(t, entry{name: "/etc/img01.npy", data: good}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`"/etc/img01.npy"`}},
		{"in a folder", zipOf(t, entry{name: "preds/img01.npy", data: good}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`"preds/img01.npy"`, "top of the zip"}},
		{"backslash", zipOf(t, entry{name: `..\img01.npy`, data: good}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`not a plain file name`}},
		{"symlink", zipOf(t, entry{name: "img01.npy", data: []byte("/etc/passwd"), mode: 0o120777}, entry{name: "img02.npy", data: good}),
			zoo.Invalid, []string{`"img01.npy" is not a regular file`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.zip)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := zoo.MessageOf(err)
			if zoo.KindOf(err) != tc.kind {
				t.Errorf("kind %v, want %v (%s)", zoo.KindOf(err), tc.kind, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
		})
	}
}

// A file larger than the limit is refused while decompressing, whatever
// its header declares; a zip bomb's ratio is refused before.
func TestReadPredictionsSizeLimit(t *testing.T) {
	good := npyBytes(t, img(t, []int{4, 5}, 0))
	bomb := zipOf(t, entry{name: "img01.npy", data: make([]byte, 64<<20)}, entry{name: "img02.npy", data: good})
	_, err := ReadPredictions(bomb, inputs, shapes, axes, ZipLimits{MaxRatio: 200})
	if zoo.KindOf(err) != zoo.TooLarge || !strings.Contains(zoo.MessageOf(err), `"img01.npy" expands`) {
		t.Errorf("zip bomb, ratio 200: %v", err)
	}
	_, err = ReadPredictions(bomb, inputs, shapes, axes, ZipLimits{MaxFileSize: 16 << 20, MaxRatio: 1e9})
	if zoo.KindOf(err) != zoo.TooLarge || !strings.Contains(zoo.MessageOf(err), `"img01.npy" is 67108864 bytes`) {
		t.Errorf("zip bomb, 16 MiB per file: %v", err)
	}
	lying := bytes.Replace(bomb, []byte{0, 0, 0, 4}, []byte{0, 0, 0, 0}, -1) // declared sizes zeroed
	if _, err := ReadPredictions(lying, inputs, shapes, axes, ZipLimits{MaxFileSize: 16 << 20}); err == nil {
		t.Error("a zip whose entry lies about its size was accepted")
	}
	big := npyBytes(t, img(t, []int{4, 5}, 0))
	z := zipOf(t, entry{name: "img01.npy", data: big}, entry{name: "img02.npy", data: big})
	_, err = ReadPredictions(z, inputs, shapes, axes, ZipLimits{MaxFileSize: 64})
	if zoo.KindOf(err) != zoo.TooLarge || !strings.Contains(zoo.MessageOf(err), "img01.npy") {
		t.Errorf("64-byte limit: %v", err)
	}
	_, err = ReadPredictions(z, inputs, shapes, axes, ZipLimits{MaxFiles: 1})
	if zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("1-entry limit: %v", err)
	}
}

func FuzzReadPredictions(f *testing.F) {
	good := npyBytes(f, img(f, []int{4, 5}, 0))
	f.Add(zipOf(f, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good}))
	f.Add(zipOf(f, entry{name: "../img01.npy", data: good}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadPredictions(data, inputs, shapes, axes, ZipLimits{MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20})
		if err == nil {
			for _, in := range inputs {
				p := got[in]
				if p == nil || len(p.Shape) != 2 || p.Shape[0] != 4 || p.Shape[1] != 5 || NonFinite(p) != "" {
					t.Fatalf("accepted a bad prediction for %s: %v", in, p)
				}
			}
		} else if k := zoo.KindOf(err); k != zoo.Invalid && k != zoo.TooLarge {
			t.Fatalf("kind %v: %v", k, err)
		}
	})
}
