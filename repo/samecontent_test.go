package repo_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// The package as stored by one upload, downloaded and uploaded again as a
// new version of the same model (its description then names the model),
// has the same content as the first; a different package does not; a
// withdrawn upload and versions the caller may not see are left out.
func TestSameContent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "upsample-onnx")
	v1, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	// The stored package (with "id: <v1's model>") as a new version of it.
	b, err := e.svc.Blobs().Open(ctx, v1.PackageSHA256)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(b)
	b.Close()
	v2, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(stored), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v2.ModelID != v1.ModelID || v2.Number != 2 {
		t.Fatalf("re-upload of the stored package went to %s/%d", v2.ModelID, v2.Number)
	}
	// The original package again: a new model.
	v3, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refs := func(u *zoo.User, v *zoo.Version) []string {
		t.Helper()
		vs, err := e.svc.SameContent(ctx, u, v)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range vs {
			out = append(out, repo.Ref(o))
		}
		return out
	}
	r1, r2 := repo.Ref(v1), repo.Ref(v2)
	if got := refs(e.alice, v3); len(got) != 2 || got[0] != r1 || got[1] != r2 {
		t.Errorf("same content as %s: %v, want [%s %s]", repo.Ref(v3), got, r1, r2)
	}
	if got := refs(e.rita, v3); len(got) != 2 {
		t.Errorf("the reviewer sees %v", got)
	}
	if got := refs(e.bob, v3); len(got) != 0 {
		t.Errorf("bob is told of alice's unpublished versions: %v", got)
	}
	other, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "unet2d-nuclei-broad-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(e.alice, other); len(got) != 0 {
		t.Errorf("another package has the same content as %v", got)
	}
	// Only its uploader (or a maintainer) withdraws, and only once.
	if _, err := e.svc.Withdraw(ctx, e.bob, v1.ModelID, 2, ""); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("bob withdrew alice's version: %v", err)
	}
	w, err := e.svc.Withdraw(ctx, e.alice, v1.ModelID, 2, "uploaded twice")
	if err != nil || w.State != zoo.StateRejected || w.ReviewComment != "withdrawn by its uploader: uploaded twice" {
		t.Fatalf("withdraw: %+v %v", w, err)
	}
	if _, err := e.svc.Withdraw(ctx, e.alice, v1.ModelID, 2, ""); zoo.KindOf(err) != zoo.Conflict {
		t.Errorf("withdrawn twice: %v", err)
	}
	if got := refs(e.alice, v3); len(got) != 1 || got[0] != r1 {
		t.Errorf("after withdrawing %s: %v", r2, got)
	}
}
