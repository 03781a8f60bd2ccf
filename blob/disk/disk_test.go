package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/blobtest"
)

func newStore(t testing.TB) *Store {
	s, err := New(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) zoo.BlobStore {
		s := newStore(t)
		t.Cleanup(func() {
			// No Put may leave a temporary file behind.
			if left, _ := os.ReadDir(s.tmp); len(left) > 1 { // .owner
				t.Errorf("temporary files left: %v", left)
			}
		})
		return s
	})
}

func TestLayout(t *testing.T) {
	s := newStore(t)
	sha, _, err := s.Put(t.Context(), bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(s.blobs)
	path := filepath.Join(root, "blobs", sha[:2], sha[2:4], sha)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("blob not at %s: %v", path, err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want read-only", fi.Mode())
	}
	b, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if f, ok := b.(*File); !ok || f.Name() != path {
		t.Errorf("Open returned %T, want a *File of %s", b, path)
	}
}

// TestPutMemoryFlat checks that Put streams: a 64 MiB blob costs no more
// allocation than a copy buffer, whatever its size.
func TestPutMemoryFlat(t *testing.T) {
	s := newStore(t)
	s.Put(t.Context(), bytes.NewReader([]byte("warm up the pool")))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, err := s.Put(t.Context(), blobtest.Content(1, blobtest.LargeSize)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d MiB allocated %d bytes", blobtest.LargeSize>>20, alloc)
	if alloc > 1<<20 {
		t.Errorf("Put of %d MiB allocated %d bytes, want under 1 MiB", blobtest.LargeSize>>20, alloc)
	}
}

// TestTraversal checks that keys naming paths outside the store never
// reach the file system.
func TestTraversal(t *testing.T) {
	dir := t.TempDir()
	s, err := New(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../victim", "../../victim", "../../../victim", "../../../../victim", victim} {
		if err := s.Delete(t.Context(), key); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("Delete(%q) = %v, want Invalid", key, err)
		}
		if _, err := s.Open(t.Context(), key); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("Open(%q) = %v, want Invalid", key, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("a file outside the store is gone: %v", err)
	}
}

func TestCleanTemp(t *testing.T) {
	s := newStore(t)
	old := filepath.Join(s.tmp, "put-crashed")
	fresh := filepath.Join(s.tmp, "put-running")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	n, err := s.CleanTemp(t.Context(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old temporary file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
	if err := s.Walk(t.Context(), func(string, int64) error { return errors.New("listed a temporary file") }); err != nil {
		t.Error(err)
	}
}

// TestWalkSkipsStrays checks that files in blobs/ that are not blobs are
// not listed.
func TestWalkSkipsStrays(t *testing.T) {
	s := newStore(t)
	sha, _, err := s.Put(t.Context(), bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.blobs, "README"), []byte("not a blob"), 0o644)
	os.WriteFile(filepath.Join(s.blobs, sha[:2], sha[2:4], sha+".bak"), []byte("x"), 0o644)
	var got []string
	s.Walk(t.Context(), func(k string, _ int64) error { got = append(got, k); return nil })
	if len(got) != 1 || got[0] != sha {
		t.Fatalf("Walk = %v, want [%s]", got, sha)
	}
}

// TestPutRepairs checks that a stored file of the wrong size (damaged
// outside zoo) is replaced by a Put of its content.
func TestPutRepairs(t *testing.T) {
	s := newStore(t)
	data := []byte("the real content")
	sha, _, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	path := s.path(sha)
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, []byte("trunc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Fatalf("damaged blob not repaired: %q", got)
	}
}

// TestReaderZooError checks that a zoo error of the reader (a size limit,
// say) keeps its kind.
func TestReaderZooError(t *testing.T) {
	s := newStore(t)
	limit := zoo.E("upload", zoo.TooLarge, nil, "over the limit")
	_, _, err := s.Put(t.Context(), io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(limit)))
	if zoo.KindOf(err) != zoo.TooLarge {
		t.Fatalf("Put = %v, want the reader's TooLarge", err)
	}
}

func BenchmarkPut256MiB(b *testing.B) { blobtest.BenchPut(b, newStore(b), 256<<20) }
func BenchmarkGet256MiB(b *testing.B) { blobtest.BenchGet(b, newStore(b), 256<<20) }

// blockReader never ends: a Put of it runs until the process dies.
type blockReader struct{}

func (blockReader) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return copy(p, "partial"), nil
}

// TestCrashLeftoversRemovedByNew kills a process in the middle of a Put
// and checks that the next New removes its temporary file, while a live
// Store's stays (issue 15: a crash left blob temp files behind).
func TestCrashLeftoversRemovedByNew(t *testing.T) {
	if root := os.Getenv("DISK_CRASH_ROOT"); root != "" {
		s, err := New(root)
		if err != nil {
			os.Exit(2)
		}
		go s.Put(context.Background(), blockReader{})
		time.Sleep(200 * time.Millisecond)
		os.Stdout.WriteString("putting\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	root := t.TempDir()
	live, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	go live.Put(t.Context(), blockReader{}) // a Put of this process, in progress
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeftoversRemovedByNew$")
	cmd.Env = append(os.Environ(), "DISK_CRASH_ROOT="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := out.Read(buf); string(buf[:n]) != "putting\n" {
		t.Fatalf("child said %q", buf[:n])
	}
	cmd.Process.Kill()
	cmd.Wait()
	count := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(root, "tmp"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "put-") {
				n++
			}
			return nil
		})
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d temporary files before the restart, want 2 (ours and the killed process's)", n)
	}
	again, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if again.Swept != 1 || count() != 1 {
		t.Errorf("after New: %d folders swept, %d temporary files left; want 1 and 1 (the live Put's)", again.Swept, count())
	}
}
