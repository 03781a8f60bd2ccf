package testview_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/testview/testviewtest"
	"github.com/zoo-bioimage/zoo/web"
)

// env is a repository on SQLite + disk whose test jobs run the real
// runner through testview.Tester, behind web with testview's routes.
type env struct {
	db     *sqlite.DB
	svc    *repo.Service
	blobs  zoo.BlobStore
	srv    *httptest.Server
	tokens map[string]string // user name → bearer token
	users  map[string]*zoo.User
	jobs   []repo.TestArgs
}

func (e *env) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	e.jobs = append(e.jobs, args.(repo.TestArgs))
	return int64(len(e.jobs)), nil
}

func newEnv(t *testing.T) *env {
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
	e := &env{db: db, blobs: blobs, tokens: map[string]string{}, users: map[string]*zoo.User{}}
	e.svc = repo.New(db, blobs, e, repo.Config{TempDir: t.TempDir(), Tester: testview.Tester})
	for name, role := range map[string]zoo.Role{"alice": zoo.RoleContributor, "bob": zoo.RoleContributor, "rita": zoo.RoleReviewer} {
		u, err := db.CreateUser(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		tok := web.NewToken()
		if _, err := db.CreateToken(ctx, u.ID, web.HashToken(tok)); err != nil {
			t.Fatal(err)
		}
		e.tokens[name], e.users[name] = tok, u
	}
	e.srv = httptest.NewServer(web.New(e.svc, web.Options{Routes: testview.Routes(e.svc), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(e.srv.Close)
	return e
}

// get fetches path as user ("" = anonymous).
func (e *env) get(t *testing.T, user, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// upload builds the package in dir, uploads it as alice and runs its test.
func (e *env) upload(t *testing.T, dir string) *zoo.Version {
	t.Helper()
	ctx := context.Background()
	v, err := e.svc.Upload(ctx, e.users["alice"], bytes.NewReader(testviewtest.Zip(t, dir)), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, e.jobs[len(e.jobs)-1]); err != nil {
		t.Fatal(err)
	}
	if v, err = e.svc.Get(ctx, e.users["alice"], v.ModelID, v.Number); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFailedVersion uploads the broken package once (its test runs the
// model) and checks what the failed test kept.
func TestFailedVersion(t *testing.T) {
	dir := testviewtest.BrokenPackage(t, 0.5)
	e := newEnv(t)
	v := e.upload(t, dir)
	t.Run("keeps produced tensor", func(t *testing.T) { testKeepsProducedTensor(t, e, v, dir) })
	t.Run("images", func(t *testing.T) { testProducedImages(t, e, v) })
	t.Run("hostile requests", func(t *testing.T) { testHostileRequests(t, e, v) })
	t.Run("GC", func(t *testing.T) { testGCProduced(t, e, v) }) // last: it replaces the report
}

// A test whose output does not reproduce keeps the produced tensor: the
// report lists it, the .npy is what the runner produces for the test
// input, the uploader and reviewers may fetch it, others get 404.
func testKeepsProducedTensor(t *testing.T, e *env, v *zoo.Version, dir string) {
	if v.TestStatus != zoo.TestFailed {
		t.Fatalf("test status %s: %s", v.TestStatus, v.TestReport)
	}
	ps := repo.ProducedOf(v.TestReport)
	if len(ps) != 1 {
		t.Fatalf("produced %+v in %s", ps, v.TestReport)
	}
	p := ps[0]
	if p.Format != "onnx" || p.Output != "probability" || p.DType != "float32" || len(p.Shape) != 4 || p.Shape[2] != 512 || p.Shape[3] != 512 {
		t.Errorf("entry %+v", p)
	}
	if strings.Contains(string(v.TestReport), `"saved"`) || strings.Contains(string(v.TestReport), os.TempDir()) {
		t.Errorf("the report carries temporary paths: %s", v.TestReport)
	}

	url := testview.URL(v.ModelID, v.Number, "onnx", "probability", "npy")
	resp, body := e.get(t, "alice", url)
	if resp.StatusCode != 200 {
		t.Fatalf("uploader: %s %s", resp.Status, body)
	}
	sum := sha256.Sum256(body)
	if resp.Header.Get("ETag") != `"`+p.SHA256+`"` || hex.EncodeToString(sum[:]) != p.SHA256 || int64(len(body)) != p.Size ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("ETag %s, sha %x, size %d, disposition %q", resp.Header.Get("ETag"), sum, len(body), resp.Header.Get("Content-Disposition"))
	}
	got, err := npy.Read(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// What the runner produces here for the test input.
	local := t.TempDir()
	rep := runner.Test(context.Background(), dir, runner.TestOptions{SaveDir: local, Formats: []string{"onnx"}})
	if rep.Status != runner.StatusFailed {
		t.Fatalf("local test: %s", rep.Status)
	}
	want, err := npy.ReadFile(filepath.Join(local, "onnx_probability.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(got.Shape, want.Shape) {
		t.Fatalf("shape %v, local %v", got.Shape, want.Shape)
	}
	worst := 0.0
	for i, g := range got.Float32s() {
		worst = max(worst, math.Abs(float64(g-want.Float32s()[i])))
	}
	if worst > 1e-5 {
		t.Errorf("served tensor differs from the local prediction by up to %g", worst)
	}

	for user, status := range map[string]int{"": 404, "bob": 404, "rita": 200} {
		if resp, body := e.get(t, user, url); resp.StatusCode != status {
			t.Errorf("%q: %s %s, want %d", user, resp.Status, body, status)
		}
	}
	// Conditional request.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+url, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
	req.Header.Set("If-None-Match", `"`+p.SHA256+`"`)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	// Another output or format has none.
	for _, u := range []string{
		testview.URL(v.ModelID, v.Number, "onnx", "other", "npy"),
		testview.URL(v.ModelID, v.Number, "pytorch_state_dict", "probability", "npy"),
		testview.URL(v.ModelID, v.Number+1, "onnx", "probability", "npy"),
	} {
		resp, body := e.get(t, "alice", u)
		if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("%s: %s %s", u, resp.Status, body)
		}
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Each view is a decodable PNG of the y×x plane; expected and produced
// share the expected's display range, so the halved expected output is
// darker than the produced one; the difference is largest where the
// produced output is.
func testProducedImages(t *testing.T, e *env, v *zoo.Version) {
	imgs := map[string]image.Image{}
	for _, view := range []string{"expected", "produced", "diff"} {
		resp, body := e.get(t, "alice", testview.URL(v.ModelID, v.Number, "onnx", "probability", "png")+"?view="+view)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s: %s %s", view, resp.Status, body)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", view, err)
		}
		if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
			t.Errorf("%s: %v, want 512×512", view, b)
		}
		imgs[view] = img
	}
	// On the halved expected output's range, values of the produced
	// output above the expected's 99.5th percentile are white.
	white := func(img image.Image) int {
		n := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r == 0xffff {
					n++
				}
			}
		}
		return n
	}
	if we, wp := white(imgs["expected"]), white(imgs["produced"]); !(wp > 2*we) {
		t.Errorf("produced has %d white pixels, the halved expected %d: not on one display range", wp, we)
	}
	if _, ok := imgs["diff"].(*image.NRGBA); !ok {
		if _, ok := imgs["diff"].(*image.RGBA); !ok {
			// png decodes an RGBA image as *image.RGBA or *image.NRGBA.
			t.Errorf("diff is %T, want colour", imgs["diff"])
		}
	}
	// Default view is the produced tensor.
	_, def := e.get(t, "alice", testview.URL(v.ModelID, v.Number, "onnx", "probability", "png"))
	_, prod := e.get(t, "alice", testview.URL(v.ModelID, v.Number, "onnx", "probability", "png")+"?view=produced")
	if !bytes.Equal(def, prod) {
		t.Errorf("the default view differs from view=produced")
	}
	// Visibility as for the .npy.
	if resp, _ := e.get(t, "", testview.URL(v.ModelID, v.Number, "onnx", "probability", "png")+"?view=diff"); resp.StatusCode != 404 {
		t.Errorf("anonymous diff image: %s", resp.Status)
	}
}

// Hostile path segments and query parameters are 400 or 404 and never
// serve anything but the report's tensor.
func testHostileRequests(t *testing.T, e *env, v *zoo.Version) {
	base := "/api/v1/models/" + v.ModelID + "/versions/1/test/produced/"
	for path, want := range map[string]int{
		base + "onnx/probability.png?view=other":                                          400,
		base + "onnx/probability.png?view=":                                               200,
		base + "onnx/probability.png?view=diff&view=expected":                             400,
		base + "onnx/probability.png?size=4096":                                           400,
		base + "onnx/probability.npy?view=diff":                                           400,
		base + "onnx/probability.png?view=%00":                                            400,
		base + "onnx/probability.tif":                                                     404,
		base + "onnx/probability":                                                         404,
		base + "onnx/..%2F..%2Frdf.yaml":                                                  404,
		base + "onnx/%2e%2e.npy":                                                          404,
		base + "..%2Fonnx/probability.npy":                                                404,
		base + "onnx%2F..%2Fx/probability.npy":                                            404,
		base + "onnx/probability%2F..%2F..%2Fpackage.npy":                                 404,
		base + "onnx/probability/x.npy":                                                   404,
		base + "onnx/" + strings.Repeat("a", 5000) + ".npy":                               404,
		"/api/v1/models/" + v.ModelID + "/versions/01/test/produced/onnx/probability.npy": 404,
		"/api/v1/models/" + v.ModelID + "/versions/-1/test/produced/onnx/probability.npy": 404,
		"/api/v1/models/" + v.ModelID + "/versions/1/test/produced/onnx/" + strings.TrimSuffix(v.DescriptionFile, ".yaml") + ".npy": 404,
	} {
		resp, body := e.get(t, "alice", path)
		if resp.StatusCode != want {
			t.Errorf("%s: %s %.200s, want %d", path, resp.Status, body, want)
		}
	}
}

// A package that reproduces stores no produced blob.
func TestPassingStoresNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := 0
	e.blobs.Walk(ctx, func(string, int64) error { before++; return nil })
	v := e.upload(t, testviewtest.BrokenPackage(t, 1))
	if v.TestStatus != zoo.TestPassed {
		t.Fatalf("status %s: %s", v.TestStatus, v.TestReport)
	}
	if ps := repo.ProducedOf(v.TestReport); len(ps) != 0 {
		t.Errorf("produced %+v", ps)
	}
	// Only the package's files and its zip are stored.
	keys := map[string]bool{v.PackageSHA256: true}
	for _, f := range v.Files {
		keys[f.SHA256] = true
	}
	e.blobs.Walk(ctx, func(sha string, _ int64) error {
		if !keys[sha] {
			t.Errorf("blob %s is neither a file nor the package", sha)
		}
		return nil
	})
	if resp, _ := e.get(t, "alice", testview.URL(v.ModelID, v.Number, "onnx", "probability", "npy")); resp.StatusCode != 404 {
		t.Errorf("passing version's produced tensor: %s", resp.Status)
	}
}

// GC keeps the produced blob while the report references it and deletes
// it once a later test run's report no longer does.
func testGCProduced(t *testing.T, e *env, v *zoo.Version) {
	ctx := context.Background()
	ps := repo.ProducedOf(v.TestReport)
	if len(ps) != 1 {
		t.Fatalf("produced %+v", ps)
	}
	if n, err := e.svc.GC(ctx); err != nil || n != 0 {
		t.Fatalf("GC: %d, %v", n, err)
	}
	if _, err := e.blobs.Stat(ctx, ps[0].SHA256); err != nil {
		t.Fatalf("the referenced produced blob is gone: %v", err)
	}
	// The test runs again on a service that keeps at most 1 byte of
	// produced tensors: the new report lists the tensor as skipped.
	again := repo.New(e.db, e.blobs, e, repo.Config{TempDir: t.TempDir(), Tester: testview.Tester, MaxProduced: 1})
	if err := again.RunTest(ctx, repo.TestArgs{ID: v.ModelID, Version: v.Number}); err != nil {
		t.Fatal(err)
	}
	v2, err := again.Get(ctx, e.users["alice"], v.ModelID, v.Number)
	if err != nil {
		t.Fatal(err)
	}
	if v2.TestStatus != zoo.TestFailed || len(repo.ProducedOf(v2.TestReport)) != 0 || !strings.Contains(string(v2.TestReport), `"produced_skipped"`) {
		t.Fatalf("second run: %s %s", v2.TestStatus, v2.TestReport)
	}
	if n, err := e.svc.GC(ctx); err != nil || n != 1 {
		t.Fatalf("GC after replacement: %d, %v", n, err)
	}
	if _, err := e.blobs.Stat(ctx, ps[0].SHA256); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("the unreferenced produced blob is still there: %v", err)
	}
	if resp, _ := e.get(t, "alice", testview.URL(v.ModelID, v.Number, "onnx", "probability", "npy")); resp.StatusCode != 404 {
		t.Errorf("after the rerun the old tensor is served: %s", resp.Status)
	}
}
