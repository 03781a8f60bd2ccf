package repo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// PublicVersions lists published and retired versions only, with the
// model's type and, for a retired one, when it was retired.
func TestPublicVersions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "upsample-onnx")
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range e.jobs {
		if err := e.svc.RunTest(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, 1, repo.Accept, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{ModelID: v.ModelID, Draft: true}); err != nil {
		t.Fatal(err)
	}
	check := func(wantRetired bool) {
		t.Helper()
		for _, id := range []string{"", v.ModelID} {
			pvs, err := e.svc.PublicVersions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(pvs) != 1 || pvs[0].Number != 1 || pvs[0].Type != "model" {
				t.Fatalf("PublicVersions(%q) = %+v, want version 1 only (not the draft)", id, pvs)
			}
			if got := !pvs[0].RetiredAt.IsZero(); got != wantRetired {
				t.Fatalf("retired time set %v, want %v", got, wantRetired)
			}
		}
	}
	check(false)
	before := time.Now().Add(-time.Second)
	if _, err := e.svc.Retire(ctx, e.alice, v.ModelID, 1, "superseded"); err != nil {
		t.Fatal(err)
	}
	check(true)
	if pvs, _ := e.svc.PublicVersions(ctx, v.ModelID); pvs[0].RetiredAt.Before(before) || pvs[0].State != zoo.StateRetired {
		t.Errorf("retired at %v, state %s", pvs[0].RetiredAt, pvs[0].State)
	}
	if pvs, err := e.svc.PublicVersions(ctx, "no-such-model"); err != nil || len(pvs) != 0 {
		t.Errorf("unknown model: %v %v", pvs, err)
	}
}
