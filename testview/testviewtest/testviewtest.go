// Package testviewtest makes packages whose reproducibility test fails for
// the tests of testview, pages and cmd/zoo.
package testviewtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// BrokenPackage copies the unet2d-nuclei-broad-onnx fixture into a
// temporary folder with its test output (probability, float32
// 1×1×512×512) multiplied by scale and the sha256 in the description
// updated, so that the package is valid and its model runs but, for
// scale ≠ 1, does not reproduce the test output. It returns the folder.
func BrokenPackage(t testing.TB, scale float32) string {
	t.Helper()
	src := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	dst := filepath.Join(t.TempDir(), "unet2d-broken")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if scale == 1 {
		return dst
	}
	name := filepath.Join(dst, "test_output.npy")
	old, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	vals := x.Float32s()
	for i, v := range vals {
		vals[i] = v * scale
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(name, x); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(dst, "bioimageio.yaml")
	d, err := os.ReadFile(yaml)
	if err != nil {
		t.Fatal(err)
	}
	oldSum, newSum := sha256.Sum256(old), sha256.Sum256(b)
	if !bytes.Contains(d, []byte(hex.EncodeToString(oldSum[:]))) {
		t.Fatal("the fixture's description does not carry the test output's sha256")
	}
	d = bytes.ReplaceAll(d, []byte(hex.EncodeToString(oldSum[:])), []byte(hex.EncodeToString(newSum[:])))
	if err := os.WriteFile(yaml, d, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Zip is the deterministic package zip of the folder dir (bundle.Build).
func Zip(t testing.TB, dir string) []byte {
	t.Helper()
	pkg, _, err := bundle.Build(dir, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
