// Package disk is the embedded zoo.BlobStore: content-addressed files in a
// folder on the local file system.
//
// Layout under the root folder:
//
//	<root>/
//	  blobs/                    complete blobs, by content
//	    9f/86/9f86d081…0a08     <root>/blobs/<sha[0:2]>/<sha[2:4]>/<sha>, 64 lower-case hex
//	  tmp/                      Puts in progress
//	    w-123456/               one folder per open Store (process), locked while it lives
//	      put-1234567890        a temporary file per Put; renamed into blobs/ when complete
//
// A Put streams into a fresh file in tmp/ while hashing, fsyncs it, and
// renames it to its key (tmp/ and blobs/ are on the same file system, so
// the rename is atomic), then fsyncs the folder. A blob is therefore visible
// only when complete. When the content is already stored the temporary file
// is discarded. A crash can leave files in its process's folder in tmp/
// (never in blobs/); the next New, by any process, removes the folders of
// processes that have ended (internal/tmpown), and CleanTemp does too.
//
// Keys are validated (exactly 64 lower-case hex digits) before any file
// system call, so no key can name a path outside blobs/.
package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/internal/tmpown"
)

// Store is a zoo.BlobStore on a local folder. It is safe for concurrent use,
// also by several processes sharing the folder.
type Store struct {
	blobs   string // <root>/blobs
	tmpRoot string // <root>/tmp
	tmp     string // <root>/tmp/w-<random>: this Store's own, locked (tmpown)
	// Swept is how many folders of ended processes New removed.
	Swept int
}

var _ zoo.BlobStore = (*Store)(nil)

// New opens the store in root, creating the folders it needs.
func New(root string) (*Store, error) {
	const op = "disk.New"
	s := &Store{blobs: filepath.Join(root, "blobs"), tmpRoot: filepath.Join(root, "tmp")}
	for _, dir := range []string{s.blobs, s.tmpRoot} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot create the blob folder %s", dir)
		}
	}
	// Puts of processes that crashed or were killed left their files in
	// their own folders: remove those, then take a folder of our own.
	n, err := tmpown.Sweep(s.tmpRoot, ownPrefix)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot clean the temporary folder %s", s.tmpRoot)
	}
	s.Swept = n
	d, err := tmpown.Claim(s.tmpRoot, ownPrefix)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot create a temporary folder in %s", s.tmpRoot)
	}
	s.tmp = d.Path
	runtime.AddCleanup(s, func(d *tmpown.Dir) { d.Release() }, d)
	return s, nil
}

// Ping checks that the blob folder is there (the readiness check; a
// removed or unmounted folder fails).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := os.Stat(s.blobs); err != nil {
		return zoo.E("disk.Ping", zoo.Unavailable, err, "the blob folder %s cannot be read", s.blobs)
	}
	return nil
}

// ownPrefix names the temporary folders of Stores (tmp/w-<random>).
const ownPrefix = "w-"

// path returns the file of a (validated) key.
func (s *Store) path(sha string) string {
	return filepath.Join(s.blobs, sha[0:2], sha[2:4], sha)
}

// copyBuffers holds the buffers Put copies through, so that concurrent Puts
// of large blobs do not allocate per call.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put stores the bytes of r under their sha256. It never holds more than a
// small copy buffer in memory. If r fails, or ctx is cancelled, nothing
// becomes visible and the error is returned (wrapping r's error).
func (s *Store) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	const op = "disk.Put"
	f, err := os.CreateTemp(s.tmp, "put-")
	if err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot create a temporary file")
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()

	h := sha256.New()
	src := &blob.Source{Ctx: ctx, R: r}
	buf := copyBuffers.Get().(*[]byte)
	size, err := io.CopyBuffer(io.MultiWriter(f, h), src, *buf)
	copyBuffers.Put(buf)
	if src.Err != nil {
		return "", 0, blob.ReadError(op, src.Err)
	}
	if err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	if err := f.Chmod(0o444); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	if err := f.Sync(); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	if err := f.Close(); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	sha := hex.EncodeToString(h.Sum(nil))
	dst := s.path(sha)

	// Existing content: keep the stored file and drop ours, refreshing its
	// modification time (the age garbage collection spares; DeleteOlder).
	// A stored file of the wrong size (damaged outside zoo) is replaced,
	// and one deleted meanwhile is stored again.
	if fi, err := os.Stat(dst); err == nil && fi.Size() == size {
		now := time.Now()
		if err := os.Chtimes(dst, now, now); err == nil {
			return sha, size, nil // the deferred function removes tmp
		}
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot create the blob folder")
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	done = true
	if err := syncDir(dir); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot store the blob")
	}
	return sha, size, nil
}

// Open returns the blob as an open file (Read, Seek, Close, Size).
func (s *Store) Open(ctx context.Context, sha string) (zoo.Blob, error) {
	const op = "disk.Open"
	if err := blob.CheckKey(op, sha); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(sha))
	if err != nil {
		return nil, fileError(op, sha, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileError(op, sha, err)
	}
	return &File{File: f, size: fi.Size()}, nil
}

// File is an open blob of a Store.
type File struct {
	*os.File
	size int64
}

// Size is the blob's size in bytes.
func (f *File) Size() int64 { return f.size }

// Stat returns the size of a blob.
func (s *Store) Stat(ctx context.Context, sha string) (int64, error) {
	const op = "disk.Stat"
	if err := blob.CheckKey(op, sha); err != nil {
		return 0, err
	}
	fi, err := os.Stat(s.path(sha))
	if err != nil {
		return 0, fileError(op, sha, err)
	}
	return fi.Size(), nil
}

// Delete removes a blob. Readers that have it open can finish reading.
func (s *Store) Delete(ctx context.Context, sha string) error {
	const op = "disk.Delete"
	if err := blob.CheckKey(op, sha); err != nil {
		return err
	}
	if err := os.Remove(s.path(sha)); err != nil {
		return fileError(op, sha, err)
	}
	return nil
}

var _ blob.Aged = (*Store)(nil)

// WalkAged is Walk with each blob's modification time (blob.Aged).
func (s *Store) WalkAged(ctx context.Context, fn func(sha string, size int64, modified time.Time) error) error {
	return s.walk(ctx, "disk.Walk", func(sha string, fi fs.FileInfo) error { return fn(sha, fi.Size(), fi.ModTime()) })
}

// DeleteOlder deletes the blob unless it was stored or re-stored at or
// after cutoff (blob.Aged). The file is first renamed out of blobs/ and
// its time read there, so a Put that refreshes it concurrently either
// comes first (the file is put back) or finds it gone and stores it anew:
// no blob a Put has just returned is lost.
func (s *Store) DeleteOlder(ctx context.Context, sha string, cutoff time.Time) (bool, error) {
	const op = "disk.Delete"
	if err := blob.CheckKey(op, sha); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p := s.path(sha)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fileError(op, sha, err)
	}
	if !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	trash := filepath.Join(s.tmp, "gc-"+sha+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(p, trash); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fileError(op, sha, err)
	}
	defer os.Remove(trash)
	if fi, err = os.Stat(trash); err != nil {
		return false, fileError(op, sha, err)
	}
	if !fi.ModTime().Before(cutoff) {
		// Re-stored since the first look: put it back (unless a Put has
		// stored it anew meanwhile).
		if err := os.Link(trash, p); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, fileError(op, sha, err)
		}
		return false, nil
	}
	return true, nil
}

// Walk calls fn for every stored blob. Files in blobs/ that are not named
// by a key are skipped. An error from fn stops the walk and is returned as
// it is.
func (s *Store) Walk(ctx context.Context, fn func(sha string, size int64) error) error {
	return s.walk(ctx, "disk.Walk", func(sha string, fi fs.FileInfo) error { return fn(sha, fi.Size()) })
}

func (s *Store) walk(ctx context.Context, op string, fn func(sha string, fi fs.FileInfo) error) error {
	var fnErr error
	err := filepath.WalkDir(s.blobs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // deleted while walking
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !blob.ValidKey(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(d.Name(), fi); err != nil {
			fnErr = err
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		if ctx.Err() != nil {
			return zoo.E(op, zoo.Unavailable, err, "walk cancelled")
		}
		return zoo.E(op, zoo.Internal, err, "cannot list the blobs")
	}
	return nil
}

// CleanTemp removes what interrupted Puts left: the folders of processes
// that have ended (crashed or killed; New removes them too), and files
// last written more than olderThan ago in this Store's folder and in
// tmp/ itself (earlier versions' layout). It returns how many it removed.
// Choose olderThan well above the longest stall of a running Put (an hour
// or more): a running Put's file is removed if it is idle that long.
func (s *Store) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	const op = "disk.CleanTemp"
	n, err := tmpown.Sweep(s.tmpRoot, ownPrefix)
	if err != nil {
		return 0, zoo.E(op, zoo.Internal, err, "cannot clean the temporary folder")
	}
	cutoff := time.Now().Add(-olderThan)
	for _, dir := range []string{s.tmpRoot, s.tmp} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return n, zoo.E(op, zoo.Internal, err, "cannot list the temporary files")
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return n, zoo.E(op, zoo.Unavailable, err, "cleaning cancelled")
			}
			if e.Name() == ".owner" {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // renamed or removed meanwhile
			} else if err != nil {
				return n, zoo.E(op, zoo.Internal, err, "cannot inspect the temporary file %s", e.Name())
			}
			if fi.IsDir() || !fi.ModTime().Before(cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, zoo.E(op, zoo.Internal, err, "cannot remove the temporary file %s", e.Name())
			}
			n++
		}
	}
	return n, nil
}

// fileError translates an error of a file system call on blob sha.
func fileError(op, sha string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return zoo.E(op, zoo.NotFound, err, "no blob %s", sha)
	}
	return zoo.E(op, zoo.Internal, err, "cannot access blob %s", sha)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
