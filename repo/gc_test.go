package repo_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

type nopQueue struct{}

func (nopQueue) Enqueue(context.Context, string, any) (int64, error) { return 1, nil }

// GC runs in a loop while uploads store blobs (issue 15: zoo gc during an
// upload deleted the blobs it had just stored, and the version then
// answered 500). With the grace period no version loses a blob — including
// content stored long ago, collected as unreferenced, that an upload
// stores again — while an old orphan is still collected.
func TestGCDuringUploads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	svc := repo.New(db, blobs, nopQueue{}, repo.Config{TempDir: t.TempDir(), GCGrace: repo.DefaultGCGrace})
	alice, err := db.CreateUser(ctx, "alice", zoo.RoleContributor)
	if err != nil {
		t.Fatal(err)
	}
	age := func(sha string) {
		t.Helper()
		old := time.Now().Add(-2 * repo.DefaultGCGrace)
		if err := os.Chtimes(filepath.Join(dir, "store", "blobs", sha[:2], sha[2:4], sha), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// An orphan from long ago, and the package's description stored long
	// ago by an upload that never finished: both unreferenced and old.
	orphan, _, err := blobs.Put(ctx, strings.NewReader("left by a crash"))
	if err != nil {
		t.Fatal(err)
	}
	age(orphan)
	pkg := packageZip(t, "upsample-onnx")
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		sha, _, err := blobs.Put(ctx, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		age(sha)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	collected := 0
	go func() {
		defer wg.Done()
		for !done.Load() {
			n, err := svc.GC(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			collected += n
		}
	}()
	var versions []*zoo.Version
	for range 6 {
		v, err := svc.Upload(ctx, alice, bytes.NewReader(pkg), repo.UploadOptions{Draft: true})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	done.Store(true)
	wg.Wait()
	for _, v := range versions {
		for _, f := range v.Files {
			if _, err := blobs.Stat(ctx, f.SHA256); err != nil {
				t.Errorf("%s/%d: file %s was collected while its upload ran: %v", v.ModelID, v.Number, f.Path, err)
			}
		}
		if _, err := blobs.Stat(ctx, v.PackageSHA256); err != nil {
			t.Errorf("%s/%d: the package was collected while its upload ran: %v", v.ModelID, v.Number, err)
		}
	}
	if _, err := blobs.Stat(ctx, orphan); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("the old orphan survived GC: %v", err)
	}
	if collected < 1 {
		t.Errorf("GC collected %d blobs, want at least the old orphan", collected)
	}
}
