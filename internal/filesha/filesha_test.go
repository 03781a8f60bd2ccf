package filesha

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyAndSum(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a")
	os.WriteFile(src, []byte("abc"), 0o644)
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")
	got, err := Copy(src, filepath.Join(dir, "b"))
	if err != nil || got != want {
		t.Fatalf("Copy: %s %v", got, err)
	}
	if s, err := Sum(filepath.Join(dir, "b")); err != nil || s != want {
		t.Errorf("Sum: %s %v", s, err)
	}
	if _, err := Copy(src, filepath.Join(dir, "b")); err == nil {
		t.Error("Copy overwrote an existing file")
	}
}
