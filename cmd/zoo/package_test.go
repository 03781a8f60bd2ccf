package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

func TestPackageCommand(t *testing.T) {
	src := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	out := filepath.Join(t.TempDir(), "pkg.zip")
	code, stdout, stderr := runZoo(t, "package", src, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var got struct {
		Output string `json:"output"`
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
		Files  []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %s", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got.Output != out || got.SHA256 != hex.EncodeToString(sum[:]) || got.Size != int64(len(data)) {
		t.Errorf("output %q sha256 %s size %d, the zip has sha256 %x and %d bytes", got.Output, got.SHA256, got.Size, sum, len(data))
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if zr.File[0].Name != "rdf.yaml" || len(zr.File) != len(got.Files) || len(got.Files) != 8 {
		t.Errorf("zip entries %d (first %s), JSON files %d", len(zr.File), zr.File[0].Name, len(got.Files))
	}
	for _, f := range got.Files {
		if len(f.SHA256) != 64 || f.Size <= 0 || f.Path == "" {
			t.Errorf("file %+v", f)
		}
	}
	// the package validates, and packaging it again gives the same zip
	if code, stdout, _ := runZoo(t, "validate", out); code != 0 {
		t.Errorf("zoo validate of the package: exit %d\n%s", code, stdout)
	}
	again := filepath.Join(t.TempDir(), "again.zip")
	code, stdout, _ = runZoo(t, "package", out, "-o", again)
	if code != 0 || !strings.Contains(stdout, got.SHA256) || !strings.Contains(stdout, "8 files") {
		t.Errorf("repackaging: exit %d\n%s", code, stdout)
	}
}

func TestPackageCommandFailures(t *testing.T) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir := t.TempDir()
	for _, n := range []string{"bioimageio.yaml", "docs.md", "test_input.npy", "test_output.npy"} {
		data, _ := os.ReadFile(filepath.Join(src, n))
		os.WriteFile(filepath.Join(dir, n), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "weights.onnx"), []byte("not the weights"), 0o644)
	out := filepath.Join(t.TempDir(), "pkg.zip")

	code, stdout, _ := runZoo(t, "package", dir, "-o", out)
	if code != 1 || !strings.Contains(stdout, "Sha256 mismatch") || !strings.Contains(stdout, "bioimageio.yaml:") {
		t.Errorf("invalid description: exit %d, want 1 and the report\n%s", code, stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a zip was written for an invalid description")
	}
	code, stdout, _ = runZoo(t, "package", dir, "-o", out, "--json")
	if code != 1 || !strings.Contains(stdout, `"status":"failed"`) {
		t.Errorf("invalid description with --json: exit %d\n%s", code, stdout)
	}

	if code, _, _ := runZoo(t, "package", dir); code != 2 {
		t.Errorf("missing -o: exit %d, want 2", code)
	}

	evil := filepath.Join(t.TempDir(), "evil.zip")
	f, _ := os.Create(evil)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("rdf.yaml")
	w.Write([]byte("type: model\n"))
	zw.Create("../../escape.txt")
	zw.Close()
	f.Close()
	if code, _, _ := runZoo(t, "package", evil, "-o", out); code != 1 {
		t.Errorf("unsafe zip: exit %d, want 1", code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a zip was written for an unsafe input")
	}
}

// A refused package's message speaks to the contributor, without zoo's
// internal operation names (issue 17: "bundle.OpenZip: …").
func TestRefusedZipMessageHasNoInternalPrefix(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("../evil.yaml")
	w.Write([]byte("x"))
	zw.Close()
	p := filepath.Join(t.TempDir(), "evil.zip")
	os.WriteFile(p, buf.Bytes(), 0o644)
	code, msg := zooFail(t, "upload", "--server", "http://127.0.0.1:1", "--token", "zoo_x", p)
	if code != 1 || strings.Contains(msg, "bundle.") || strings.Contains(msg, "OpenZip") || msg == "" {
		t.Errorf("exit %d, message %q", code, msg)
	}
}
