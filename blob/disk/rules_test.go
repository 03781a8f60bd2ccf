package disk

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestRePutKeepsStoredFile: a Put of content already stored keeps the
// stored file — the same file, not a new copy renamed over it (no write,
// no rename; readers and hard links keep seeing the one file) — and
// refreshes its time, which garbage collection reads as the blob's age.
func TestRePutKeepsStoredFile(t *testing.T) {
	s := newStore(t)
	data := []byte("stored once")
	sha, _, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	path := s.path(sha)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("a Put of stored content replaced the stored file")
	}
	if !after.ModTime().After(old.Add(59 * time.Minute)) {
		t.Errorf("a Put of stored content left its time at %v, want now", after.ModTime())
	}
}

// TestPutLeaksNoFiles: Puts close every file they open (a long-running
// server would otherwise run out of file descriptors). The garbage
// collector is off, so that no finalizer closes a forgotten file.
func TestPutLeaksNoFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts open files in /proc/self/fd")
	}
	s := newStore(t)
	open := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(fds)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := open()
	const puts = 30
	for i := range puts {
		if _, _, err := s.Put(t.Context(), bytes.NewReader(fmt.Appendf(nil, "blob %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if after := open(); after-before >= puts/3 {
		t.Errorf("%d Puts left %d more files open", puts, after-before)
	}
}

// TestSyncDirReportsFailure: a folder sync that fails is reported — the
// rename it should make durable may be lost — not hidden by the Close that
// follows succeeding. (/proc's folders refuse fsync.)
func TestSyncDirReportsFailure(t *testing.T) {
	d, err := os.Open("/proc")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	serr := d.Sync()
	d.Close()
	if serr == nil {
		t.Skip("/proc accepts fsync here")
	}
	if err := syncDir("/proc"); err == nil {
		t.Errorf("syncDir of a folder whose fsync fails (%v) = nil, want the error", serr)
	}
	if err := syncDir(t.TempDir()); err != nil {
		t.Errorf("syncDir of a plain folder: %v", err)
	}
}
