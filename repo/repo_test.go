package repo_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// env is a service on the embedded backends (SQLite + disk) with a
// synchronous fake queue that records jobs.
type env struct {
	svc                     *repo.Service
	cat                     zoo.Catalog
	alice, bob, rita, admin *zoo.User
	jobs                    []repo.TestArgs
	converts                []repo.ConvertArgs
}

type recQueue struct{ e *env }

func (q recQueue) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	switch a := args.(type) {
	case repo.TestArgs:
		q.e.jobs = append(q.e.jobs, a)
	case repo.ConvertArgs:
		if kind != repo.JobConvert {
			panic("conversion queued as " + kind)
		}
		q.e.converts = append(q.e.converts, a)
	}
	return int64(len(q.e.jobs) + len(q.e.converts)), nil
}

func newEnv(t *testing.T, tester repo.Tester) *env {
	t.Helper()
	return newEnvWith(t, tester, nil)
}

// newEnvWith is newEnv with the service's configuration adjusted by edit.
func newEnvWith(t *testing.T, tester repo.Tester, edit func(*repo.Config)) *env {
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
	e := &env{cat: db}
	cfg := repo.Config{TempDir: t.TempDir(), Tester: tester}
	if edit != nil {
		edit(&cfg)
	}
	e.svc = repo.New(db, blobs, recQueue{e}, cfg)
	mk := func(name string, r zoo.Role) *zoo.User {
		u, err := db.CreateUser(ctx, name, r)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.alice, e.bob, e.rita, e.admin = mk("alice", zoo.RoleContributor), mk("bob", zoo.RoleContributor), mk("rita", zoo.RoleReviewer), mk("root", zoo.RoleAdmin)
	return e
}

// packageZip builds the deterministic zip of a fixture package.
func packageZip(t *testing.T, name string) []byte {
	t.Helper()
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", name), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func passTester(ctx context.Context, dir, out string) (*repo.TestResult, error) {
	if _, err := os.Stat(filepath.Join(dir, "rdf.yaml")); err != nil {
		return nil, err
	}
	return &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{"status":"passed"}`)}, nil
}

func TestUploadReviewPublishDownload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "upsample-onnx")
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Number != 1 || v.State != zoo.StateSubmitted || v.TestStatus != zoo.TestPending {
		t.Fatalf("new version %+v", v)
	}
	// Not visible to anonymous or other contributors before publication.
	for _, u := range []*zoo.User{nil, e.bob} {
		if _, err := e.svc.Get(ctx, u, v.ModelID, 1); zoo.KindOf(err) != zoo.NotFound {
			t.Errorf("unpublished version visible to %v: %v", u, err)
		}
	}
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, 1, repo.Accept, ""); zoo.KindOf(err) != zoo.Conflict {
		t.Errorf("accept before the test: %v", err)
	}
	if len(e.jobs) != 1 {
		t.Fatalf("jobs %v", e.jobs)
	}
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Review(ctx, e.alice, v.ModelID, 1, repo.Accept, ""); zoo.KindOf(err) != zoo.Forbidden {
		t.Errorf("contributor accepting: %v", err)
	}
	pub, err := e.svc.Review(ctx, e.rita, v.ModelID, 1, repo.Accept, "looks good")
	if err != nil {
		t.Fatal(err)
	}
	if pub.State != zoo.StatePublished || pub.TestStatus != zoo.TestPassed {
		t.Fatalf("after accept %+v", pub)
	}
	got, err := e.svc.Get(ctx, nil, v.ModelID, 0)
	if err != nil || got.Number != 1 {
		t.Fatalf("latest for anonymous: %v %v", got, err)
	}
	// The package blob is the deterministic zip with the id written in.
	b, err := e.svc.Blobs().Open(ctx, got.PackageSHA256)
	if err != nil {
		t.Fatal(err)
	}
	zdata, _ := io.ReadAll(b)
	b.Close()
	zr, err := zip.NewReader(bytes.NewReader(zdata), int64(len(zdata)))
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := zr.Open("rdf.yaml")
	desc, _ := io.ReadAll(rc)
	if !strings.Contains(string(desc), "\nid: "+v.ModelID+"\n") {
		t.Errorf("id not written into the description:\n%s", desc)
	}
	f, err := repo.FileOf(got, "weights.onnx")
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := e.svc.Blobs().Open(ctx, f.SHA256)
	wdata, _ := io.ReadAll(wb)
	wb.Close()
	orig, _ := os.ReadFile(fixtures.Path(t, "packages", "upsample-onnx", "weights.onnx"))
	if !bytes.Equal(wdata, orig) {
		t.Error("weights differ from the uploaded ones")
	}
	// A second version by a non-maintainer is refused; by alice it is 2.
	if _, err := e.svc.Upload(ctx, e.bob, bytes.NewReader(data), repo.UploadOptions{ModelID: v.ModelID}); zoo.KindOf(err) != zoo.Forbidden {
		t.Errorf("bob adding a version: %v", err)
	}
	v2, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{ModelID: v.ModelID, Draft: true})
	if err != nil || v2.Number != 2 || v2.State != zoo.StateDraft {
		t.Fatalf("second version %+v %v", v2, err)
	}
	if got, _ := e.svc.Get(ctx, nil, v.ModelID, 0); got.Number != 1 {
		t.Errorf("a draft became the latest")
	}
	if _, err := e.svc.Retire(ctx, e.alice, v.ModelID, 1, "superseded"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Get(ctx, nil, v.ModelID, 1); err != nil || got.State != zoo.StateRetired {
		t.Errorf("retired version: %+v %v", got, err)
	}
	if n, err := e.svc.GC(ctx); err != nil || n != 0 {
		t.Errorf("GC deleted %d referenced blobs (%v)", n, err)
	}
}

func TestBrokenPackageIsRefusedWithReport(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "upsample-onnx")
	// Break the description: an unknown field.
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, _ := zw.Create(f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		if f.Name == "rdf.yaml" {
			b = append(b, []byte("\nspeed: fast\n")...)
		}
		w.Write(b)
	}
	zw.Close()
	_, err := e.svc.Upload(ctx, e.alice, &buf, repo.UploadOptions{})
	var ip *repo.InvalidPackage
	if zoo.KindOf(err) != zoo.Invalid || !errors.As(err, &ip) {
		t.Fatalf("err %v", err)
	}
	if ip.Report.Errors[0].Loc != "speed" || ip.Report.Errors[0].Line == 0 {
		t.Errorf("report %+v", ip.Report.Errors)
	}
	if n, _ := e.svc.GC(ctx); n != 0 {
		t.Errorf("a refused upload left %d blobs", n)
	}
	if vs, _ := e.cat.ListVersions(ctx, zoo.VersionFilter{}); len(vs) != 0 {
		t.Errorf("a refused upload left versions: %v", vs)
	}
}

// A test that kept killing its worker is recorded as failed with the
// reason, not left pending (issue 15).
func TestFailCrashedTest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.FailCrashedTest(ctx, repo.TestArgs{ID: v.ModelID, Version: v.Number}, repo.MaxTestCrashes); err != nil {
		t.Fatal(err)
	}
	got, err := e.cat.Version(ctx, v.ModelID, v.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.TestStatus != zoo.TestFailed || !strings.Contains(string(got.TestReport), "stopped the worker running it 2 times") {
		t.Errorf("after FailCrashedTest: %s %s", got.TestStatus, got.TestReport)
	}
	if err := e.svc.FailCrashedTest(ctx, repo.TestArgs{ID: "no-such", Version: 1}, 2); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("FailCrashedTest of an unknown version = %v, want NotFound", err)
	}
}

// The stored test report shows no path of the server's file system
// (issue 15): paths inside the package become relative, other temporary
// paths are cut to their file name.
func TestTestReportHasNoServerPaths(t *testing.T) {
	ctx := context.Background()
	var leaked []string
	tester := func(ctx context.Context, dir, out string) (*repo.TestResult, error) {
		weights := filepath.Join(os.TempDir(), "zoo-weights-123", "model.onnx")
		leaked = []string{dir, out, weights, os.TempDir()}
		rep, _ := json.Marshal(map[string]any{
			"source":  filepath.Join(dir, "rdf.yaml"),
			"status":  "failed",
			"message": fmt.Sprintf("cannot load %s: bad; see %s, %s", weights, filepath.Join(dir, "weights", "a.onnx"), dir),
			"formats": map[string]any{"onnx": map[string]any{"message": "saved to " + filepath.Join(out, "onnx_output0.npy") + ")"}},
		})
		return &repo.TestResult{Status: zoo.TestFailed, Report: rep}, nil
	}
	e := newEnv(t, tester)
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	got, err := e.cat.Version(ctx, v.ModelID, v.Number)
	if err != nil {
		t.Fatal(err)
	}
	rep := string(got.TestReport)
	for _, p := range leaked {
		if strings.Contains(rep, p) {
			t.Errorf("the report shows the server path %s: %s", p, rep)
		}
	}
	for _, want := range []string{`"source":"rdf.yaml"`, "cannot load model.onnx: bad; see weights/a.onnx", "saved to onnx_output0.npy)"} {
		if !strings.Contains(rep, want) {
			t.Errorf("the report lacks %q: %s", want, rep)
		}
	}
}

// Uploading to a model one may not maintain: a model with only drafts (or
// submitted versions) answers exactly as an unknown id does (issue 15:
// 403 against 404 revealed that it exists); a published one says who may.
func TestUploadToHiddenModelLooksUnknown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	data := packageZip(t, "upsample-onnx")
	draft, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	_, hidden := e.svc.Upload(ctx, e.bob, bytes.NewReader(data), repo.UploadOptions{ModelID: draft.ModelID})
	_, unknown := e.svc.Upload(ctx, e.bob, bytes.NewReader(data), repo.UploadOptions{ModelID: "no-such-model"})
	if zoo.KindOf(hidden) != zoo.NotFound || zoo.KindOf(unknown) != zoo.NotFound {
		t.Fatalf("upload to a draft-only model: %v; to an unknown id: %v; want both NotFound", hidden, unknown)
	}
	if strings.ReplaceAll(zoo.MessageOf(hidden), draft.ModelID, "ID") != strings.ReplaceAll(zoo.MessageOf(unknown), "no-such-model", "ID") {
		t.Errorf("the answers differ: %q and %q", zoo.MessageOf(hidden), zoo.MessageOf(unknown))
	}
	// Its maintainer still adds versions; once published, others are told
	// they may not.
	if _, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{ModelID: draft.ModelID}); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[len(e.jobs)-1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, v.Number, repo.Accept, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Upload(ctx, e.bob, bytes.NewReader(data), repo.UploadOptions{ModelID: v.ModelID}); zoo.KindOf(err) != zoo.Forbidden {
		t.Errorf("upload to another's published model: %v, want Forbidden", err)
	}
}

// A dataset has no model to run: its test checks the description and its
// files, passes, and the dataset can be published (issue 15: its test
// always failed with "not a model"). Damaged files fail the check.
func TestDatasetIsCheckedAndPublished(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(context.Context, string, string) (*repo.TestResult, error) {
		t.Fatal("the model tester ran on a dataset")
		return nil, nil
	})
	pkg, _, err := bundle.Build(filepath.Join("testdata", "dataset"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	pkg.Close()
	v, err := e.svc.Upload(ctx, e.alice, &buf, repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[len(e.jobs)-1]); err != nil {
		t.Fatal(err)
	}
	got, err := e.cat.Version(ctx, v.ModelID, v.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.TestStatus != zoo.TestPassed || !strings.Contains(string(got.TestReport), `"name":"files","status":"passed"`) {
		t.Fatalf("the dataset's test: %s %s", got.TestStatus, got.TestReport)
	}
	if pub, err := e.svc.Review(ctx, e.rita, v.ModelID, v.Number, repo.Accept, ""); err != nil || pub.State != zoo.StatePublished {
		t.Fatalf("accepting the dataset: %v", err)
	}

	// The same checks on a damaged copy fail, naming the file.
	dir := t.TempDir()
	if err := e.svc.Unpack(ctx, got, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "masks.csv"), []byte("image,mask\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := repo.CheckResource(got, dir)
	if res.Status != zoo.TestFailed || !strings.Contains(string(res.Report), "masks.csv") {
		t.Errorf("a damaged dataset: %s %s", res.Status, res.Report)
	}
	os.Remove(filepath.Join(dir, "README.md"))
	if res := repo.CheckResource(got, dir); res.Status != zoo.TestFailed || !strings.Contains(string(res.Report), "README.md: missing") {
		t.Errorf("a dataset missing its documentation: %s %s", res.Status, res.Report)
	}
}

// TestGetHiddenModelLooksUnknown: asking for a version of a model that
// has only drafts answers a stranger — even one signed in — exactly as an
// unknown model does; its reviewers and uploaders are told which version
// is missing instead.
func TestGetHiddenModelLooksUnknown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, passTester)
	draft, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	same := func(u *zoo.User) bool {
		_, hidden := e.svc.Get(ctx, u, draft.ModelID, 7)
		_, unknown := e.svc.Get(ctx, u, "no-such-model", 7)
		if zoo.KindOf(hidden) != zoo.NotFound || zoo.KindOf(unknown) != zoo.NotFound {
			t.Fatalf("%v / %v, want NotFound", hidden, unknown)
		}
		return strings.ReplaceAll(zoo.MessageOf(hidden), draft.ModelID, "ID") == strings.ReplaceAll(zoo.MessageOf(unknown), "no-such-model", "ID")
	}
	if !same(nil) || !same(e.bob) {
		t.Error("a stranger can tell a draft-only model from an unknown one")
	}
	if same(e.rita) || same(e.alice) {
		t.Error("the model's reviewer or uploader is not told which version is missing")
	}
}

// TestPublishedHookAndRetire: the Published hook (search indexing, feeds)
// runs once when a version is accepted and not on other review actions;
// retiring returns the retired version.
func TestPublishedHookAndRetire(t *testing.T) {
	ctx := context.Background()
	var published []string
	e := newEnvWith(t, passTester, func(c *repo.Config) {
		c.Published = func(_ context.Context, v *zoo.Version) {
			published = append(published, fmt.Sprintf("%s/%d", v.ModelID, v.Number))
		}
	})
	data := packageZip(t, "upsample-onnx")
	submit := func() *zoo.Version {
		v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(data), repo.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RunTest(ctx, e.jobs[len(e.jobs)-1]); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := submit()
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, v.Number, repo.RequestChanges, "fix the cover"); err != nil {
		t.Fatal(err)
	}
	if len(published) != 0 {
		t.Fatalf("Published ran on request-changes: %v", published)
	}
	w := submit()
	if _, err := e.svc.Review(ctx, e.rita, w.ModelID, w.Number, repo.Accept, ""); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s/%d", w.ModelID, w.Number); len(published) != 1 || published[0] != want {
		t.Fatalf("Published ran for %v, want once for %s", published, want)
	}
	r, err := e.svc.Retire(ctx, e.alice, w.ModelID, w.Number, "superseded")
	if err != nil || r == nil || r.State != zoo.StateRetired {
		t.Fatalf("Retire = %+v, %v; want the retired version", r, err)
	}
	if _, err := e.svc.Retire(ctx, e.alice, w.ModelID, w.Number, "again"); err == nil {
		t.Error("a retired version was retired again")
	}
}
