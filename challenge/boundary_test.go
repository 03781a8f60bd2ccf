package challenge

import (
	"archive/zip"
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/tensor"
)

// zipMethod writes the entries with one compression method (zipOf:
// Deflate); a mode sets unix permission bits, and a name ending in "/"
// with no data is a folder entry.
func zipMethod(t testing.TB, method uint16, entries ...entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: method}
		if e.mode != 0 {
			h.ExternalAttrs = e.mode << 16
			h.CreatorVersion = 3 << 8 // unix
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// u8npy returns an .npy file of exactly size bytes: a uint8 vector of
// zeros (or random bytes) and the shape it has.
func u8npy(t testing.TB, size int, random bool) ([]byte, []int) {
	probe, _ := tensor.New(tensor.Uint8, []int{size})
	header := len(npyBytes(t, probe)) - size
	n := size - header
	x, err := tensor.New(tensor.Uint8, []int{n})
	if err != nil {
		t.Fatal(err)
	}
	if random {
		rand.New(rand.NewSource(1)).Read(x.Data)
	}
	b := npyBytes(t, x)
	if len(b) != size {
		t.Fatalf("npy of %d bytes, want %d", len(b), size)
	}
	return b, []int{n}
}

func readOne(data []byte, shape []int, lim ZipLimits) error {
	_, err := ReadPredictions(data, []string{"a.npy"}, map[string][]int{"a.npy": shape}, nil, lim)
	return err
}

// Every size limit accepts a prediction exactly at the limit and refuses
// one byte over, as TooLarge.
func TestReadPredictionsLimitBoundaries(t *testing.T) {
	good := npyBytes(t, img(t, []int{4, 5}, 0))
	n := int64(len(good))
	two := zipOf(t, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good})
	for _, tc := range []struct {
		name     string
		at, over ZipLimits
	}{
		{"file size", ZipLimits{MaxFileSize: n}, ZipLimits{MaxFileSize: n - 1}},
		{"total size", ZipLimits{MaxTotalSize: 2 * n}, ZipLimits{MaxTotalSize: 2*n - 1}},
		{"entries", ZipLimits{MaxFiles: 2}, ZipLimits{MaxFiles: 1}},
	} {
		if _, err := ReadPredictions(two, inputs, shapes, axes, tc.at); err != nil {
			t.Errorf("%s exactly at the limit %+v: %v", tc.name, tc.at, err)
		}
		_, err := ReadPredictions(two, inputs, shapes, axes, tc.over)
		if zoo.KindOf(err) != zoo.TooLarge {
			t.Errorf("%s one over the limit %+v: %v, want TooLarge", tc.name, tc.over, err)
		}
	}
}

// The ratio bound applies only above 1 MiB, and only beyond the ratio:
// an entry stored at exactly 1:1 passes a 1:1 bound, and a file of exactly
// 1 MiB is never judged by its ratio.
func TestReadPredictionsRatioBoundaries(t *testing.T) {
	mib, shape := u8npy(t, 1<<20, false)
	if err := readOne(zipOf(t, entry{name: "a.npy", data: mib}), shape, ZipLimits{MaxRatio: 2}); err != nil {
		t.Errorf("zeros of exactly 1 MiB, ratio 2: %v", err)
	}
	over, shape1 := u8npy(t, 1<<20+1, false)
	if err := readOne(zipOf(t, entry{name: "a.npy", data: over}), shape1, ZipLimits{MaxRatio: 2}); zoo.KindOf(err) != zoo.TooLarge || !strings.Contains(zoo.MessageOf(err), "expands") {
		t.Errorf("zeros of 1 MiB + 1 byte, ratio 2: %v, want refused as a zip bomb", err)
	}
	stored := zipMethod(t, zip.Store, entry{name: "a.npy", data: over})
	if err := readOne(stored, shape1, ZipLimits{MaxRatio: 1}); err != nil {
		t.Errorf("stored (1:1) above 1 MiB, ratio bound 1: %v", err)
	}
	// Default limits accept a large prediction that compresses a little,
	// and one that compresses less than the ratio given, not more.
	noise, shapeN := u8npy(t, 3<<20, true)
	if err := readOne(zipOf(t, entry{name: "a.npy", data: noise}), shapeN, ZipLimits{}); err != nil {
		t.Errorf("3 MiB of noise, default limits: %v", err)
	}
	zeros, shapeZ := u8npy(t, 3<<20, false)
	z := zipOf(t, entry{name: "a.npy", data: zeros})
	r, _ := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	ratio := float64(r.File[0].UncompressedSize64) / float64(r.File[0].CompressedSize64)
	if err := readOne(z, shapeZ, ZipLimits{MaxRatio: ratio * 0.9}); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("3 MiB of zeros (%.0f:1) with bound %.0f:1: %v, want TooLarge", ratio, ratio*0.9, err)
	}
	if err := readOne(z, shapeZ, ZipLimits{MaxRatio: ratio * 1.1}); err != nil {
		t.Errorf("3 MiB of zeros (%.0f:1) with bound %.0f:1: %v", ratio, ratio*1.1, err)
	}
}

// Folder entries are ignored, but not one that climbs out ("../").
func TestReadPredictionsFolderEntries(t *testing.T) {
	good := npyBytes(t, img(t, []int{4, 5}, 0))
	z := zipOf(t, entry{name: "preds/"}, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good})
	if _, err := read(t, z); err != nil {
		t.Errorf("zip with a folder entry: %v", err)
	}
	z = zipOf(t, entry{name: "../", data: nil}, entry{name: "img01.npy", data: good}, entry{name: "img02.npy", data: good})
	if _, err := read(t, z); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("a folder entry named ../: %v, want Invalid", err)
	}
}

// NaN and infinity are found in float64 predictions too, and finite
// float32 and float64 predictions pass.
func TestNonFiniteDTypes(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		x, err := tensor.New(dt, []int{2, 3})
		if err != nil {
			t.Fatal(err)
		}
		if w := NonFinite(x); w != "" {
			t.Errorf("%v zeros: %q", dt, w)
		}
		x.SetFloat64(4, math.NaN())
		if w := NonFinite(x); !strings.Contains(w, "element 4") {
			t.Errorf("%v with NaN at 4: %q", dt, w)
		}
		x.SetFloat64(4, 0)
		x.SetFloat64(1, math.Inf(-1))
		if w := NonFinite(x); !strings.Contains(w, "element 1") {
			t.Errorf("%v with -Inf at 1: %q", dt, w)
		}
	}
}

// Keys keep the threshold as written, so ap@0.75 and ap@0.8 stay apart.
func TestMetricKeyThreshold(t *testing.T) {
	for m, want := range map[Metric]string{
		{Name: score.MetricAP, Threshold: 0.75}: "ap@0.75",
		{Name: score.MetricAP, Threshold: 0.8}:  "ap@0.8",
		{Name: score.MetricF1, Threshold: 0.5}:  "f1@0.5",
		{Name: score.MetricPSNR}:                "psnr",
	} {
		if got := m.Key(); got != want {
			t.Errorf("Key(%+v) = %q, want %q", m, got, want)
		}
	}
}

// A refusal by the daily limit says when the next day starts.
func TestCheckLimitSaysWhen(t *testing.T) {
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	l := Limit{PerDay: 2, Total: 10, DayStart: day}
	if err := CheckLimit("dev", l, 1, 1); err != nil {
		t.Errorf("one below the daily limit: %v", err)
	}
	err := CheckLimit("dev", l, 2, 2)
	if zoo.KindOf(err) != zoo.Conflict || !strings.Contains(zoo.MessageOf(err), "2026-03-05T00:00:00Z") {
		t.Errorf("at the daily limit: %v, want Conflict saying 2026-03-05T00:00:00Z", err)
	}
	if err := CheckLimit("dev", l, 9, 0); err != nil {
		t.Errorf("one below the total: %v", err)
	}
	if err := CheckLimit("dev", l, 10, 0); zoo.KindOf(err) != zoo.Conflict {
		t.Errorf("at the total: %v", err)
	}
}
