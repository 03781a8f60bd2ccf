package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// producedEnv is a service whose Tester writes, per run, the
// files named in outputs (output → content) for weight format "onnx".
type producedEnv struct {
	svc     *repo.Service
	blobs   zoo.BlobStore
	alice   *zoo.User
	jobs    []repo.TestArgs
	outputs map[string][]byte
}

func (q *producedEnv) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	q.jobs = append(q.jobs, args.(repo.TestArgs))
	return int64(len(q.jobs)), nil
}

func newProducedEnv(t *testing.T, maxProduced int64) *producedEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &producedEnv{blobs: blobs}
	tester := func(ctx context.Context, pkg, out string) (*repo.TestResult, error) {
		if _, err := os.Stat(filepath.Join(pkg, "rdf.yaml")); err != nil {
			return nil, err
		}
		res := &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{"status":"passed","formats":{"onnx":{"status":"passed"}}}`)}
		i := 0
		for o, b := range e.outputs {
			i++
			name := filepath.Join(out, fmt.Sprintf("onnx_%d.npy", i))
			if err := os.WriteFile(name, b, 0o644); err != nil {
				return nil, err
			}
			res.Status = zoo.TestFailed
			res.Report = json.RawMessage(`{"status":"failed","formats":{"onnx":{"status":"failed","message":"kept"}}}`)
			res.Produced = append(res.Produced, repo.Produced{Format: "onnx", Output: o, Path: name, Shape: []int{1, len(b)}, DType: "uint8"})
		}
		return res, nil
	}
	e.svc = repo.New(db, blobs, e, repo.Config{TempDir: t.TempDir(), Tester: tester, MaxProduced: maxProduced})
	if e.alice, err = db.CreateUser(ctx, "alice", zoo.RoleContributor); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *producedEnv) hasBlob(t *testing.T, sha string) bool {
	t.Helper()
	_, err := e.blobs.Stat(context.Background(), sha)
	if err != nil && zoo.KindOf(err) != zoo.NotFound {
		t.Fatal(err)
	}
	return err == nil
}

// A failed test's produced tensors are stored as blobs, referenced from
// the report with their sha256 and size, kept by GC while the report
// references them, and deleted by GC once a later run replaced the report.
func TestRunTestKeepsProducedUntilReplaced(t *testing.T) {
	ctx := context.Background()
	e := newProducedEnv(t, 0)
	e.outputs = map[string][]byte{"output0": []byte("produced bytes of output0")}
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	v, err = e.svc.Get(ctx, e.alice, v.ModelID, v.Number)
	if err != nil {
		t.Fatal(err)
	}
	ps := repo.ProducedOf(v.TestReport)
	if v.TestStatus != zoo.TestFailed || len(ps) != 1 {
		t.Fatalf("status %s, produced %+v in %s", v.TestStatus, ps, v.TestReport)
	}
	p := ps[0]
	if p.Format != "onnx" || p.Output != "output0" || p.Size != int64(len(e.outputs["output0"])) || p.DType != "uint8" || len(p.Shape) != 2 {
		t.Errorf("entry %+v", p)
	}
	// The tester's own report is kept around the entries.
	var rep struct {
		Formats map[string]map[string]any `json:"formats"`
	}
	if err := json.Unmarshal(v.TestReport, &rep); err != nil || rep.Formats["onnx"]["message"] != "kept" {
		t.Errorf("report %s lost the tester's fields", v.TestReport)
	}
	b, err := e.blobs.Open(ctx, p.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	b.Close()
	if string(got) != string(e.outputs["output0"]) {
		t.Errorf("blob %q", got)
	}
	if got, err := repo.ProducedTensor(v, "onnx", "output0"); err != nil || got.SHA256 != p.SHA256 {
		t.Errorf("ProducedTensor: %+v, %v", got, err)
	}
	if _, err := repo.ProducedTensor(v, "onnx", "other"); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("ProducedTensor of another output: %v", err)
	}

	if n, err := e.svc.GC(ctx); err != nil || n != 0 || !e.hasBlob(t, p.SHA256) {
		t.Fatalf("GC while referenced: deleted %d, %v; blob kept %v", n, err, e.hasBlob(t, p.SHA256))
	}
	// The test runs again and passes: the old produced tensor is no longer
	// referenced.
	e.outputs = nil
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	v, _ = e.svc.Get(ctx, e.alice, v.ModelID, v.Number)
	if v.TestStatus != zoo.TestPassed || len(repo.ProducedOf(v.TestReport)) != 0 {
		t.Fatalf("rerun: %s %s", v.TestStatus, v.TestReport)
	}
	if n, err := e.svc.GC(ctx); err != nil || n != 1 || e.hasBlob(t, p.SHA256) {
		t.Fatalf("GC after replacement: deleted %d, %v; blob still there %v", n, err, e.hasBlob(t, p.SHA256))
	}
	// The package itself survived.
	if _, err := e.blobs.Stat(ctx, v.PackageSHA256); err != nil {
		t.Errorf("package blob: %v", err)
	}
}

// Over the per-run budget, produced tensors are not kept and the report
// says so; names that cannot be URL segments are refused.
func TestRunTestProducedBudgetAndNames(t *testing.T) {
	ctx := context.Background()
	e := newProducedEnv(t, 10)
	e.outputs = map[string][]byte{"small": []byte("0123456789"), "large": []byte("0123456789a"), "../x": []byte("y")}
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	v, _ = e.svc.Get(ctx, e.alice, v.ModelID, v.Number)
	ps := repo.ProducedOf(v.TestReport)
	if len(ps) != 1 || ps[0].Output != "small" {
		t.Fatalf("kept %+v", ps)
	}
	var rep struct {
		Formats map[string]struct {
			Skipped []repo.SkippedProduced `json:"produced_skipped"`
		} `json:"formats"`
	}
	if err := json.Unmarshal(v.TestReport, &rep); err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, s := range rep.Formats["onnx"].Skipped {
		skipped[s.Output] = s.Reason
	}
	if len(skipped) != 2 || skipped["large"] == "" || skipped["../x"] == "" {
		t.Errorf("skipped %+v", skipped)
	}
}

func TestValidProducedName(t *testing.T) {
	for s, want := range map[string]bool{
		"onnx": true, "pytorch_state_dict": true, "output0": true, "a.b": true, "x+y-1": true,
		"": false, ".": false, "..": false, "a..b": false, "../x": false, "a/b": false, `a\b`: false,
		"%2e%2e": false, ".hidden": false, "-x": false, "a b": false, "é": false,
	} {
		if got := repo.ValidProducedName(s); got != want {
			t.Errorf("ValidProducedName(%q) = %v", s, got)
		}
	}
}

// ProducedOf ignores entries that do not belong to their format or have
// invalid names or keys (a report is outside input to readers).
func TestProducedOfHostile(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	rep := `{"formats":{"onnx":{"produced":[
		{"format":"onnx","output":"ok","sha256":"` + sha + `"},
		{"format":"torch","output":"wrongformat","sha256":"` + sha + `"},
		{"format":"onnx","output":"../etc","sha256":"` + sha + `"},
		{"format":"onnx","output":"badsha","sha256":"../../x"}]}}}`
	ps := repo.ProducedOf(json.RawMessage(rep))
	if len(ps) != 1 || ps[0].Output != "ok" {
		t.Errorf("ProducedOf = %+v", ps)
	}
	for _, r := range []string{``, `null`, `[]`, `{"formats":[]}`, `{"formats":{"onnx":null}}`, `"x"`} {
		if ps := repo.ProducedOf(json.RawMessage(r)); len(ps) != 0 {
			t.Errorf("ProducedOf(%s) = %+v", r, ps)
		}
	}
}

func FuzzProducedOf(f *testing.F) {
	f.Add(`{"formats":{"onnx":{"produced":[{"format":"onnx","output":"o","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range repo.ProducedOf(json.RawMessage(s)) {
			if !repo.ValidProducedName(p.Format) || !repo.ValidProducedName(p.Output) || len(p.SHA256) != 64 {
				t.Fatalf("invalid entry %+v", p)
			}
		}
	})
}
