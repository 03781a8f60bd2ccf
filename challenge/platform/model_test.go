package platform

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/score"
)

// TestModelSubmission publishes the nuclei example model and submits it:
// the worker runs it on the test input, whose ground truth is the
// package's own test output, so the score must be near perfect; an
// unpublished version is refused.
func TestModelSubmission(t *testing.T) {
	dir := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	testenv.Need(t, testenv.ONNXRuntime, onnx.Init())

	e := newEnv(t)
	pkg, _, err := bundle.Build(dir, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	pr, pw := io.Pipe()
	go func() { _, _, err := bundle.Write(pw, pkg); pw.CloseWithError(err) }()
	v, err := e.repo.Upload(ctx, e.alice, pr, repo.UploadOptions{})
	pr.CloseWithError(errors.New("done"))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := os.ReadFile(filepath.Join(dir, "test_input.npy"))
	out, _ := os.ReadFile(filepath.Join(dir, "test_output.npy"))
	c := &challenge.Challenge{Slug: "nuclei", Title: "Nuclei", Metrics: []challenge.Metric{{Name: score.MetricMAE}, {Name: score.MetricSSIM}},
		Phases: e.challenge("x", "public").Phases}
	if err := e.svc.Create(ctx, e.org, c, []NewFile{{Kind: challenge.Input, Name: "cells.npy", Data: in}, {Kind: challenge.Truth, Name: "cells.npy", Data: out}}); err != nil {
		t.Fatal(err)
	}
	ref := v.ModelID + "/1"
	_, err = e.svc.Submit(ctx, e.alice, "nuclei", "dev", nil, ref)
	if zoo.KindOf(err) != zoo.Invalid || !strings.Contains(zoo.MessageOf(err), "only published versions") {
		t.Errorf("an unpublished model: %v", err)
	}
	// Publish it (a stand-in test result: this test is about the challenge).
	if err := e.repo.Catalog().SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.Review(ctx, e.org, v.ModelID, 1, repo.Accept, "ok"); err != nil {
		t.Fatal(err)
	}
	// Too slow: a limit no model meets.
	e.svc.ModelTimeout = time.Nanosecond
	s, err := e.svc.Submit(ctx, e.bo, "nuclei", "dev", nil, ref)
	if err != nil || s.Status != challenge.StatusFailed || !strings.Contains(s.Message, "longer than the limit of 1ns") {
		t.Errorf("a model over its time limit: %v %+v", err, s)
	}
	e.svc.ModelTimeout = 0
	s, err = e.svc.Submit(ctx, e.bo, "nuclei", "dev", nil, ref)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != challenge.StatusScored || s.Kind != challenge.KindModel {
		t.Fatalf("model submission: %s %s", s.Status, s.Message)
	}
	if mae, ssim := float64(s.Scores["mae"]), float64(s.Scores["ssim"]); mae > 1e-3 || math.Abs(ssim-1) > 1e-3 {
		t.Errorf("the model reproducing its own test output scores mae %v, ssim %v", mae, ssim)
	}
}
