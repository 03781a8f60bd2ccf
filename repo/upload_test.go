package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// failingBlobs fails every Put after the first n.
type failingBlobs struct {
	zoo.BlobStore
	n int
}

func (b *failingBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	if b.n == 0 {
		return "", 0, zoo.E("test.Put", zoo.Unavailable, errors.New("disk full"), "the blob store is full")
	}
	b.n--
	return b.BlobStore.Put(ctx, r)
}

// An upload that fails after its model id was drawn (here: the blob store
// fails part-way, as a killed server would stop) leaves no model, no
// version and no audit entry; the next upload succeeds and its model has
// version 1.
func TestFailedUploadLeavesNoModel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "unet2d-nuclei-broad-onnx")
	for _, n := range []int{0, 1, 3} {
		failing := repo.New(e.cat, &failingBlobs{BlobStore: e.svc.Blobs(), n: n}, nil, repo.Config{TempDir: t.TempDir()})
		if _, err := failing.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{}); zoo.KindOf(err) != zoo.Unavailable {
			t.Fatalf("upload with a blob store failing after %d puts: %v, want Unavailable", n, err)
		}
	}
	ms, err := e.cat.ListModels(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := e.cat.ListVersions(ctx, zoo.VersionFilter{})
	audit, _ := e.cat.Audit(ctx, "", 0)
	if len(ms) != 0 || len(vs) != 0 || len(audit) != 0 {
		t.Fatalf("failed uploads left %d models, %d versions, %d audit entries; want none", len(ms), len(vs), len(audit))
	}
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Number != 1 {
		t.Errorf("first stored version = %d, want 1", v.Number)
	}
	audit, _ = e.cat.Audit(ctx, v.ModelID, 0)
	if len(audit) != 1 || audit[0].Action != "upload" || audit[0].Version != 1 || audit[0].ActorID != e.alice.ID {
		t.Errorf("audit of the upload = %+v", audit)
	}
}
