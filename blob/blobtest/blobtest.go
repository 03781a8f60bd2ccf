// Package blobtest is the conformance suite of zoo.BlobStore: every
// backend (blob/disk, blob/s3) runs Run against itself, so that they all
// keep the same contract. It also holds the shared benchmarks.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call (one per subtest) and clean it up with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) zoo.BlobStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("ShortReads", func(t *testing.T) { testShortReads(t, newStore(t)) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("Dedup", func(t *testing.T) { testDedup(t, newStore(t)) })
	t.Run("ConcurrentSameContent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, newStore(t)) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, newStore(t)) })
	t.Run("ReadEnd", func(t *testing.T) { testReadEnd(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("Walk", func(t *testing.T) { testWalk(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("FailedPut", func(t *testing.T) { testFailedPut(t, newStore(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("Aged", func(t *testing.T) { testAged(t, newStore(t)) })
}

// testAged checks blob.Aged: times, refreshed by a Put of existing
// content, and DeleteOlder sparing blobs (re-)stored at or after the
// cutoff — what makes garbage collection safe during uploads.
func testAged(t *testing.T, s zoo.BlobStore) {
	a, ok := s.(blob.Aged)
	if !ok {
		t.Fatalf("%T does not implement blob.Aged", s)
	}
	ctx := context.Background()
	ages := func() map[string]time.Time {
		m := map[string]time.Time{}
		if err := a.WalkAged(ctx, func(sha string, size int64, mod time.Time) error { m[sha] = mod; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := time.Now().Add(-2 * time.Second) // S3 times have whole seconds
	x, y := content(7, 1000), content(8, 2000)
	xs, ys := put(t, s, x), put(t, s, y)
	m := ages()
	if len(m) != 2 || m[xs].Before(before) || m[xs].After(time.Now().Add(2*time.Second)) {
		t.Fatalf("WalkAged = %v, want both blobs stored about now", m)
	}
	// A cutoff before the store: both spared.
	for _, sha := range []string{xs, ys} {
		if del, err := a.DeleteOlder(ctx, sha, before); err != nil || del {
			t.Errorf("DeleteOlder(fresh blob, earlier cutoff) = %v, %v; want kept", del, err)
		}
	}
	// Re-storing x later refreshes its time; y keeps its own.
	time.Sleep(1100 * time.Millisecond)
	mid := time.Now()
	time.Sleep(1100 * time.Millisecond)
	put(t, s, x)
	m = ages()
	if !m[xs].After(mid) || m[ys].After(mid) {
		t.Fatalf("after re-storing x: x at %v, y at %v; want x after %v and y before", m[xs], m[ys], mid)
	}
	if del, err := a.DeleteOlder(ctx, xs, mid); err != nil || del {
		t.Errorf("DeleteOlder(re-stored blob, cutoff before the re-store) = %v, %v; want kept", del, err)
	}
	if del, err := a.DeleteOlder(ctx, ys, mid); err != nil || !del {
		t.Errorf("DeleteOlder(old blob) = %v, %v; want deleted", del, err)
	}
	if got := ReadAll(t, s, xs); !bytes.Equal(got, x) {
		t.Error("the re-stored blob changed")
	}
	if _, err := s.Stat(ctx, ys); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("Stat of the deleted old blob = %v, want NotFound", err)
	}
	if del, err := a.DeleteOlder(ctx, ys, time.Now()); err != nil || del {
		t.Errorf("DeleteOlder(missing blob) = %v, %v; want false, nil", del, err)
	}
	if _, err := a.DeleteOlder(ctx, "../x", time.Now()); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("DeleteOlder(bad key) = %v, want Invalid", err)
	}
	// Deleted, then stored again: a fresh blob.
	put(t, s, y)
	if got := ReadAll(t, s, ys); !bytes.Equal(got, y) {
		t.Error("a blob stored again after its deletion reads back wrong")
	}
	if del, err := a.DeleteOlder(ctx, ys, mid); err != nil || del {
		t.Errorf("DeleteOlder(blob stored again) = %v, %v; want kept", del, err)
	}
	// A re-store protects a blob only until the next cutoff: x, re-stored
	// before a later cutoff and unused since, is collected like any other
	// old blob (and its refresh leaves nothing that keeps it).
	time.Sleep(1100 * time.Millisecond)
	late := time.Now()
	if del, err := a.DeleteOlder(ctx, xs, late); err != nil || !del {
		t.Errorf("DeleteOlder(blob re-stored before the cutoff) = %v, %v; want deleted", del, err)
	}
	if _, err := s.Stat(ctx, xs); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("Stat of the collected re-stored blob = %v, want NotFound", err)
	}
	if m := ages(); len(m) != 1 || m[ys].IsZero() {
		t.Errorf("WalkAged after collecting x = %v, want y only", m)
	}
}

// MiB is a mebibyte.
const MiB = 1 << 20

// LargeSize is the size of the suite's large blob. It is larger than the
// part size of S3 multipart uploads, so a streaming backend cannot hold it
// in one buffer.
const LargeSize = 64 * MiB

// mixedSize is larger than common multipart part sizes (5 to 16 MiB), so
// that S3 backends take their multipart path.
const mixedSize = 24*MiB + 5

func testRoundTrip(t *testing.T, s zoo.BlobStore) {
	for _, size := range []int64{1, 4095, 4096, MiB + 1} {
		data := content(uint64(size), size)
		sha := put(t, s, data)
		if got := ReadAll(t, s, sha); !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes that differ from what was put", size, len(got))
		}
		if n, err := s.Stat(t.Context(), sha); err != nil || n != size {
			t.Fatalf("Stat(%s) = %d, %v; want %d", sha, n, err, size)
		}
	}
}

// testShortReads puts through readers that return little at a time, or
// data together with io.EOF.
func testShortReads(t *testing.T, s zoo.BlobStore) {
	data := content(1, 10000)
	for name, r := range map[string]io.Reader{
		"OneByte": iotest.OneByteReader(bytes.NewReader(data)),
		"Half":    iotest.HalfReader(bytes.NewReader(data)),
		"DataErr": iotest.DataErrReader(bytes.NewReader(data)),
	} {
		sha, size, err := s.Put(t.Context(), r)
		if err != nil || sha != hexSHA(data) || size != int64(len(data)) {
			t.Fatalf("%s: Put = %s, %d, %v; want %s, %d", name, sha, size, err, hexSHA(data), len(data))
		}
	}
	if got := ReadAll(t, s, hexSHA(data)); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
}

func testEmpty(t *testing.T, s zoo.BlobStore) {
	sha := put(t, s, nil)
	if want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; sha != want {
		t.Fatalf("empty blob key %s, want %s", sha, want)
	}
	b, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != 0 {
		t.Errorf("Size() = %d, want 0", b.Size())
	}
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read = %d, %v; want 0, io.EOF", n, err)
	}
	if got := walk(t, s); !maps.Equal(got, map[string]int64{sha: 0}) {
		t.Errorf("Walk = %v, want the empty blob only", got)
	}
}

func testDedup(t *testing.T, s zoo.BlobStore) {
	for _, size := range []int64{3000, mixedSize} {
		data := content(uint64(size), size)
		a := put(t, s, data)
		b := put(t, s, data)
		if a != b {
			t.Fatalf("same content, two keys: %s, %s", a, b)
		}
		if got := ReadAll(t, s, a); !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
	}
	if got := walk(t, s); len(got) != 2 {
		t.Fatalf("Walk lists %d blobs after putting two contents twice each, want 2: %v", len(got), got)
	}
}

func testConcurrent(t *testing.T, s zoo.BlobStore) {
	for _, c := range []struct {
		size int64
		n    int
	}{{MiB + 7, 8}, {mixedSize, 3}} {
		data := content(42+uint64(c.size), c.size)
		want := hexSHA(data)
		var wg sync.WaitGroup
		errs := make([]error, c.n)
		for i := range c.n {
			wg.Go(func() {
				sha, size, err := s.Put(t.Context(), bytes.NewReader(data))
				if err == nil && (sha != want || size != c.size) {
					err = errors.New("Put returned " + sha)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent Puts of %d bytes: %v", c.size, err)
		}
		if got := ReadAll(t, s, want); !bytes.Equal(got, data) {
			t.Fatalf("after concurrent Puts of %d bytes the blob reads back differently", c.size)
		}
	}
	if got := walk(t, s); len(got) != 2 {
		t.Fatalf("Walk lists %d blobs, want 2: %v", len(got), got)
	}
}

// testLarge streams a generated LargeSize blob in and out and checks that
// Put does not buffer it: it may allocate at most a few part buffers.
func testLarge(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	put(t, s, []byte("warm up connections and pools"))
	pattern() // allocated once, before measuring

	h := sha256.New()
	src := io.TeeReader(Content(7, LargeSize), h)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sha, size, err := s.Put(ctx, src)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(h.Sum(nil)); sha != want || size != LargeSize {
		t.Fatalf("Put = %s, %d; want %s, %d", sha, size, want, LargeSize)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d MiB allocated %.1f MiB", LargeSize/MiB, float64(alloc)/MiB)
	if alloc > LargeSize*3/8 {
		t.Errorf("Put of %d MiB allocated %.1f MiB: it must stream, not buffer the blob", LargeSize/MiB, float64(alloc)/MiB)
	}

	b, err := s.Open(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != LargeSize {
		t.Fatalf("Size() = %d, want %d", b.Size(), LargeSize)
	}
	h.Reset()
	if n, err := io.Copy(h, b); err != nil || n != LargeSize {
		t.Fatalf("reading back: %d bytes, %v", n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		t.Fatalf("read back hashes to %s, want %s", got, sha)
	}
}

func testSeek(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	data := content(3, MiB+123)
	size := int64(len(data))
	sha := put(t, s, data)
	b, err := s.Open(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if b.Size() != size {
		t.Fatalf("Size() = %d, want %d", b.Size(), size)
	}

	seek := func(off int64, whence int, want int64) {
		t.Helper()
		if got, err := b.Seek(off, whence); err != nil || got != want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", off, whence, got, err, want)
		}
	}
	readN := func(n int, want []byte) {
		t.Helper()
		buf := make([]byte, n)
		if _, err := io.ReadFull(b, buf); err != nil {
			t.Fatalf("reading %d bytes: %v", n, err)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("read %d bytes that differ from the blob's", n)
		}
	}

	readN(100, data[:100])
	seek(5000, io.SeekStart, 5000)
	readN(1000, data[5000:6000])
	seek(10, io.SeekCurrent, 6010)
	readN(5, data[6010:6015])
	seek(-10, io.SeekCurrent, 6005)
	readN(3, data[6005:6008])
	seek(-10, io.SeekEnd, size-10)
	if rest, err := io.ReadAll(b); err != nil || !bytes.Equal(rest, data[size-10:]) {
		t.Fatalf("reading the last 10 bytes: %q, %v", rest, err)
	}
	seek(0, io.SeekCurrent, size)
	if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	seek(size+100, io.SeekStart, size+100)
	if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read beyond the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to a negative offset succeeded")
	}

	// What http.ServeContent does: size by seeking to the end, rewind, read.
	seek(0, io.SeekEnd, size)
	seek(0, io.SeekStart, 0)
	if all, err := io.ReadAll(b); err != nil || !bytes.Equal(all, data) {
		t.Fatalf("reading all after a rewind: %d bytes, %v", len(all), err)
	}
	// A range in the middle, then another before it.
	seek(size/2, io.SeekStart, size/2)
	readN(70000, data[size/2:size/2+70000])
	seek(1, io.SeekStart, 1)
	readN(2, data[1:3])

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}

	// Two open blobs keep their own offsets.
	b1, err1 := s.Open(ctx, sha)
	b2, err2 := s.Open(ctx, sha)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	defer b1.Close()
	defer b2.Close()
	b2.Seek(1000, io.SeekStart)
	p1, p2 := make([]byte, 10), make([]byte, 10)
	io.ReadFull(b1, p1)
	io.ReadFull(b2, p2)
	if !bytes.Equal(p1, data[:10]) || !bytes.Equal(p2, data[1000:1010]) {
		t.Fatal("two open blobs share an offset")
	}
}

// testReadEnd checks how a blob ends, the same for every backend and as
// for an os.File: a Read that returns bytes returns no error with them,
// and the end is a Read of 0 bytes with io.EOF (then again at every Read).
// A caller that reads a small blob with one Read and stops at the first
// error (a header, a short description) sees every byte on every backend.
func testReadEnd(t *testing.T, s zoo.BlobStore) {
	for _, size := range []int64{1, 100, 4096, 70000} {
		data := content(uint64(size)+9, size)
		sha := put(t, s, data)
		b, err := s.Open(t.Context(), sha)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, size+10) // room for more than the blob
		for i := 0; ; i++ {
			n, err := b.Read(buf)
			got = append(got, buf[:n]...)
			if n > 0 && err != nil {
				t.Errorf("%d-byte blob: Read returned %d bytes together with %v, want the bytes with nil and the end on its own", size, n, err)
			}
			if err != nil || i > int(size)+10 {
				if err != io.EOF || n != 0 {
					t.Errorf("%d-byte blob: last Read = %d, %v; want 0, io.EOF", size, n, err)
				}
				break
			}
			if n == 0 {
				t.Errorf("%d-byte blob: Read returned 0 bytes and no error at offset %d", size, len(got))
			}
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%d-byte blob read back as %d bytes that differ", size, len(got))
		}
		if n, err := b.Read(buf); n != 0 || err != io.EOF {
			t.Errorf("%d-byte blob: Read after the end = %d, %v; want 0, io.EOF", size, n, err)
		}
		b.Close()
	}
}

func testNotFound(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	put(t, s, []byte("something else"))
	missing := hexSHA([]byte("zoo: never stored"))
	_, err := s.Open(ctx, missing)
	wantKind(t, "Open", err, zoo.NotFound)
	_, err = s.Stat(ctx, missing)
	wantKind(t, "Stat", err, zoo.NotFound)
	wantKind(t, "Delete", s.Delete(ctx, missing), zoo.NotFound)
}

// testInvalidKeys checks that keys other than 64 lower-case hex digits are
// refused as Invalid before they reach storage (a lookup would answer
// NotFound), so that no key can name a path outside the store.
func testInvalidKeys(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	data := []byte("a stored blob")
	sha := put(t, s, data)
	for _, key := range []string{
		"",
		"..",
		"../x",
		"../../../../../../etc/passwd",
		"/etc/passwd",
		"ab/cd/" + sha,
		"blobs/" + sha,
		sha[:63],
		sha + "0",
		strings.ToUpper(sha),
		"../" + sha[3:],
		sha[:62] + "/.",
		sha[:63] + "\x00",
		sha[:60] + "%2e.",
		strings.Repeat("g", 64),
		strings.Repeat("a", 1000),
	} {
		_, err := s.Open(ctx, key)
		wantKind(t, "Open("+key+")", err, zoo.Invalid)
		_, err = s.Stat(ctx, key)
		wantKind(t, "Stat("+key+")", err, zoo.Invalid)
		wantKind(t, "Delete("+key+")", s.Delete(ctx, key), zoo.Invalid)
	}
	if got := walk(t, s); !maps.Equal(got, map[string]int64{sha: int64(len(data))}) {
		t.Fatalf("after deleting invalid keys Walk = %v, want the one blob", got)
	}
}

func testWalk(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("Walk of a new store = %v, want nothing", got)
	}
	want := map[string]int64{}
	for i, size := range []int64{0, 1, 100, 4096, 70000} {
		data := content(uint64(100+i), size)
		want[put(t, s, data)] = size
	}
	if got := walk(t, s); !maps.Equal(got, want) {
		t.Fatalf("Walk = %v\nwant %v", got, want)
	}

	errStop := errors.New("stop")
	calls := 0
	err := s.Walk(ctx, func(string, int64) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Fatalf("Walk with a failing fn = %v after %d calls; want fn's error after 1", err, calls)
	}
}

func testDelete(t *testing.T, s zoo.BlobStore) {
	ctx := t.Context()
	a, b := content(1, 5000), content(2, 6000)
	ka, kb := put(t, s, a), put(t, s, b)
	if err := s.Delete(ctx, ka); err != nil {
		t.Fatal(err)
	}
	_, err := s.Stat(ctx, ka)
	wantKind(t, "Stat after Delete", err, zoo.NotFound)
	_, err = s.Open(ctx, ka)
	wantKind(t, "Open after Delete", err, zoo.NotFound)
	wantKind(t, "second Delete", s.Delete(ctx, ka), zoo.NotFound)
	if got := walk(t, s); !maps.Equal(got, map[string]int64{kb: 6000}) {
		t.Fatalf("Walk after Delete = %v, want only %s", got, kb)
	}
	if got := ReadAll(t, s, kb); !bytes.Equal(got, b) {
		t.Fatal("Delete damaged another blob")
	}
	put(t, s, a) // content can come back
	if got := ReadAll(t, s, ka); !bytes.Equal(got, a) {
		t.Fatal("read back differs after Delete and Put")
	}
}

// errBoom is the error of failing readers.
var errBoom = errors.New("blobtest: reader failed")

func testFailedPut(t *testing.T, s zoo.BlobStore) {
	for _, size := range []int64{0, 1000, mixedSize} {
		r := io.MultiReader(Content(uint64(size), size), iotest.ErrReader(errBoom))
		sha, _, err := s.Put(t.Context(), r)
		if err == nil {
			t.Fatalf("Put of a reader failing after %d bytes succeeded: %s", size, sha)
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("Put of a failing reader: %v; want it to wrap the reader's error", err)
		}
	}
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("failed Puts left blobs: %v", got)
	}
}

func testCancelledPut(t *testing.T, s zoo.BlobStore) {
	for _, size := range []int64{1000, mixedSize} {
		ctx, cancel := context.WithCancel(t.Context())
		// The reader cancels the context after size bytes, then has more.
		r := io.MultiReader(Content(uint64(size), size), cancelReader(cancel), Content(1, 1000))
		_, _, err := s.Put(ctx, r)
		cancel()
		if err == nil {
			t.Fatalf("Put cancelled after %d bytes succeeded", size)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Put: %v; want it to wrap context.Canceled", err)
		}
	}
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("cancelled Puts left blobs: %v", got)
	}
}

// cancelReader cancels a context when it is read, and ends.
type cancelReader context.CancelFunc

func (c cancelReader) Read([]byte) (int, error) {
	c()
	return 0, io.EOF
}

// Helpers.

func put(t testing.TB, s zoo.BlobStore, data []byte) string {
	t.Helper()
	sha, size, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put of %d bytes: %v", len(data), err)
	}
	if want := hexSHA(data); sha != want || size != int64(len(data)) {
		t.Fatalf("Put = %s, %d; want %s, %d", sha, size, want, len(data))
	}
	return sha
}

// ReadAll returns the blob's bytes, failing the test if it cannot.
func ReadAll(t testing.TB, s zoo.BlobStore, sha string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatalf("Open(%s): %v", sha, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading %s: %v", sha, err)
	}
	if int64(len(data)) != b.Size() {
		t.Fatalf("read %d bytes of %s, Size() = %d", len(data), sha, b.Size())
	}
	return data
}

func walk(t testing.TB, s zoo.BlobStore) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.Walk(t.Context(), func(sha string, size int64) error {
		if _, dup := got[sha]; dup {
			t.Errorf("Walk listed %s twice", sha)
		}
		got[sha] = size
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

func wantKind(t testing.TB, what string, err error, kind zoo.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want a %s error", what, kind)
	} else if got := zoo.KindOf(err); got != kind {
		t.Errorf("%s: kind %s (%v), want %s", what, got, err, kind)
	}
}

func hexSHA(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func content(seed uint64, size int64) []byte {
	data, _ := io.ReadAll(Content(seed, size))
	return data
}

// pattern is the incompressible material Content repeats.
var pattern = sync.OnceValue(func() []byte {
	p := make([]byte, MiB-17) // not a power of two: parts don't repeat it in step
	rand.NewChaCha8([32]byte{'z', 'o', 'o'}).Read(p)
	return p
})

// Content returns size bytes generated on the fly, different for each seed
// and costing no allocation: the seed, then a fixed random pattern.
func Content(seed uint64, size int64) io.Reader {
	g := &generator{size: size}
	binary.LittleEndian.PutUint64(g.seed[:], seed)
	return g
}

type generator struct {
	seed      [8]byte
	off, size int64
}

func (g *generator) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	if rest := g.size - g.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	pat := pattern()
	n := 0
	for n < len(p) {
		if off := g.off + int64(n); off < int64(len(g.seed)) {
			n += copy(p[n:], g.seed[off:])
		} else {
			n += copy(p[n:], pat[(off-int64(len(g.seed)))%int64(len(pat)):])
		}
	}
	g.off += int64(n)
	return n, nil
}

// BenchPut measures Put of size-byte blobs of new content (b.SetBytes:
// MB/s is the upload throughput). Each blob is deleted outside the timer.
func BenchPut(b *testing.B, s zoo.BlobStore, size int64) {
	b.SetBytes(size)
	b.ReportAllocs()
	seed := rand.Uint64()
	for b.Loop() {
		seed++
		sha, _, err := s.Put(b.Context(), Content(seed, size))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(b.Context(), sha); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchGet measures Open and reading a size-byte blob to the end through
// a 32 KiB buffer, as an HTTP server would (b.SetBytes: MB/s is the
// download throughput).
func BenchGet(b *testing.B, s zoo.BlobStore, size int64) {
	sha, _, err := s.Put(b.Context(), Content(rand.Uint64(), size))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		blob, err := s.Open(b.Context(), sha)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{blob}, buf)
		blob.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
	}
}
