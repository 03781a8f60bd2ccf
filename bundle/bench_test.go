package bundle

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

const benchFileSize = 256 << 20

// writeRandomFile writes size pseudo-random (incompressible) bytes, 1 MiB
// at a time.
func writeRandomFile(b *testing.B, name string, size int) {
	b.Helper()
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// reportMemory adds the process's peak resident memory and the heap in
// use, to show that memory stays flat while 256 MiB pass through.
func reportMemory(b *testing.B) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

// BenchmarkPackage256MiB writes and reads a package holding one 256 MiB
// file (weights-like random bytes): OpenDir (hash a folder), Write (zip it
// to a file), OpenZip (check and hash the zip), ReadZip (read the file
// back through the package's fs.FS) and Build (validate a description with
// its files, fill the missing sha256, plan) + Write. Throughput is of the
// 256 MiB file; B/op and the memory metrics show no file is buffered.
//
//	go test ./bundle -run '^$' -bench Package256MiB -benchtime 5x
func BenchmarkPackage256MiB(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte(minimalYAML), 0o644)
	writeRandomFile(b, filepath.Join(dir, "weights.onnx"), benchFileSize)
	zipPath := filepath.Join(b.TempDir(), "pkg.zip")

	b.Run("OpenDir", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		for b.Loop() {
			pkg, err := OpenDir(dir, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			pkg.Close()
		}
		reportMemory(b)
	})
	b.Run("Write", func(b *testing.B) {
		pkg, err := OpenDir(dir, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		defer pkg.Close()
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Create(zipPath)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := Write(f, pkg); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		reportMemory(b)
	})
	openZip := func(b *testing.B) (*Package, *os.File) {
		f, err := os.Open(zipPath)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		pkg, err := OpenZip(f, st.Size(), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		return pkg, f
	}
	b.Run("OpenZip", func(b *testing.B) {
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		for b.Loop() {
			_, f := openZip(b)
			f.Close()
		}
		reportMemory(b)
	})
	b.Run("ReadZip", func(b *testing.B) {
		pkg, f := openZip(b)
		defer f.Close()
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		for b.Loop() {
			r, err := pkg.Open("weights.onnx")
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchFileSize {
				b.Fatal(n, err)
			}
			r.Close()
		}
		reportMemory(b)
	})
	b.Run("BuildWrite", func(b *testing.B) {
		src := fixtures.Path(b, "packages", "upsample-onnx")
		mdir := b.TempDir()
		for _, n := range []string{"docs.md", "test_input.npy", "test_output.npy"} {
			data, _ := os.ReadFile(filepath.Join(src, n))
			os.WriteFile(filepath.Join(mdir, n), data, 0o644)
		}
		text, _ := os.ReadFile(filepath.Join(src, "bioimageio.yaml"))
		text = bytes.Replace(text, []byte("    sha256: 605a30450c1ab092feb7123e7e6a71325834f8042eaedcf38dc401f5b06482e7\n"), nil, 1)
		os.WriteFile(filepath.Join(mdir, "bioimageio.yaml"), text, 0o644)
		if err := os.Link(filepath.Join(dir, "weights.onnx"), filepath.Join(mdir, "weights.onnx")); err != nil {
			writeRandomFile(b, filepath.Join(mdir, "weights.onnx"), benchFileSize)
		}
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		for b.Loop() {
			pkg, _, err := Build(mdir, BuildOptions{})
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(zipPath + ".build")
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := Write(f, pkg); err != nil {
				b.Fatal(err)
			}
			f.Close()
			pkg.Close()
		}
		reportMemory(b)
	})
}
