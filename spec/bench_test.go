package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// BenchmarkValidateCorpus validates every description of the real corpus
// (format only, no file checks) per iteration and reports the time per
// description, for comparison with the reference validator (≈ 8.6 ms per
// description after a 1.1 s import; bench/RESULTS.md).
func BenchmarkValidateCorpus(b *testing.B) {
	dir := fixtures.Path(b, "rdf-corpus", "rdfs")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no corpus files in %s: %v", dir, err)
	}
	type desc struct {
		name string
		data []byte
	}
	var descs []desc
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		descs = append(descs, desc{filepath.Base(f), data})
		total += len(data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, d := range descs {
			Validate(d.data, d.name, Options{})
		}
		n++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(n*len(descs))
	b.ReportMetric(per, "ns/description")
	b.ReportMetric(float64(len(descs)), "descriptions")
}

// BenchmarkValidateNuclei validates the primary fixture (model 0.5, the
// nuclei U-Net package description) without file checks.
func BenchmarkValidateNuclei(b *testing.B) {
	data, err := os.ReadFile(fixtures.Path(b, "packages", "unet2d-nuclei-broad-onnx", "bioimageio.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if !Validate(data, "bioimageio.yaml", Options{}).Report.OK() {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkValidateNucleiFiles validates the nuclei package folder with
// file checks: 7 files hashed (4.2 MB), 2 test tensors read and checked.
func BenchmarkValidateNucleiFiles(b *testing.B) {
	dir := fixtures.Path(b, "packages", "unet2d-nuclei-broad-onnx")
	b.ReportAllocs()
	for b.Loop() {
		if !ValidatePath(dir, Options{Files: true}).Report.OK() {
			b.Fatal("invalid")
		}
	}
}
