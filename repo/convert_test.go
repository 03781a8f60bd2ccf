package repo_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/repo"
)

// stateDictZip is the deterministic zip of convert's TinyNet fixture: a
// state-dict-only package zoo cannot run but can convert.
func stateDictZip(t *testing.T) []byte {
	t.Helper()
	pkg, _, err := bundle.Build(filepath.Join("..", "convert", "testdata", "tinynet"), bundle.BuildOptions{})
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

// fakeConverter copies the package and adds "torchscript" weights (a
// file of fake bytes) to the description, as convert.Convert would. It
// counts its calls and checks it never sees converted files.
type fakeConverter struct {
	calls int
	err   error
}

func (f *fakeConverter) convert(ctx context.Context, dir, out string) (*repo.Converted, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if _, err := os.Stat(filepath.Join(dir, "weights_torchscript.pt")); err == nil {
		return nil, zoo.E("fake", zoo.Internal, nil, "the converter was given converted files")
	}
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		return nil, err
	}
	ts := []byte("fake torchscript weights")
	if err := os.WriteFile(filepath.Join(out, "weights_torchscript.pt"), ts, 0o644); err != nil {
		return nil, err
	}
	p := filepath.Join(out, "rdf.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var d map[string]any
	if err := yaml.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	d["weights"].(map[string]any)["torchscript"] = map[string]any{
		"source": "weights_torchscript.pt", "sha256": sha(ts), "parent": "pytorch_state_dict", "pytorch_version": "1.13.1",
	}
	if b, err = yaml.Marshal(d); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return nil, err
	}
	return &repo.Converted{
		Status: zoo.ConversionConverted, Message: "converted to torchscript", TorchVersion: "1.13.1",
		Formats: []zoo.ConvertedFormat{{Format: "torchscript", Path: "weights_torchscript.pt", Method: "script"}},
		Report:  json.RawMessage(`{"status":"converted"}`),
	}, nil
}

func newConvertEnv(t *testing.T, conv repo.Converter, tester repo.Tester) *env {
	e := newEnv(t, tester)
	e.svc = repo.New(e.cat, e.svc.Blobs(), recQueue{e}, repo.Config{TempDir: t.TempDir(), Tester: tester, Converter: conv, ZooVersion: "test"})
	return e
}

func readAll(t *testing.T, svc *repo.Service, sha string) []byte {
	t.Helper()
	b, err := svc.Blobs().Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, _ := io.ReadAll(b)
	return data
}

// A state-dict-only upload waits for a converter (no test job, test
// pending, not failed); the conversion stores the converted files beside
// the unchanged upload, queues the test, and from then on Unpack and
// Description give the runnable package.
func TestConversionFlow(t *testing.T) {
	ctx := context.Background()
	fc := &fakeConverter{}
	var tested []string
	tester := func(ctx context.Context, dir, out string) (*repo.TestResult, error) {
		d, _ := os.ReadFile(filepath.Join(dir, "rdf.yaml"))
		tested = append(tested, string(d))
		return &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{"status":"passed"}`)}, nil
	}
	e := newConvertEnv(t, fc.convert, tester)
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(stateDictZip(t)), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !repo.Waiting(v) || v.Converted.Message != repo.WaitingMessage || v.TestStatus != zoo.TestPending {
		t.Fatalf("a state-dict-only upload: converted %+v, test %s; want waiting, pending", v.Converted, v.TestStatus)
	}
	if len(e.jobs) != 0 || len(e.converts) != 1 || e.converts[0] != (repo.ConvertArgs{ID: v.ModelID, Version: 1}) {
		t.Fatalf("queued tests %v, conversions %v; want one conversion and no test", e.jobs, e.converts)
	}
	// A stray test job does not test the unconverted package.
	if err := e.svc.RunTest(ctx, repo.TestArgs{ID: v.ModelID, Version: 1}); err != nil || len(tested) != 0 {
		t.Fatalf("test of a waiting version: %v, tested %d", err, len(tested))
	}
	uploadedPkg := readAll(t, e.svc, v.PackageSHA256)

	if err := e.svc.RunConvert(ctx, e.converts[0]); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, e.alice, v.ModelID, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Converted
	if c == nil || c.Status != zoo.ConversionConverted || c.TorchVersion != "1.13.1" || c.ZooVersion != "test" || c.At == nil ||
		len(c.Formats) != 1 || c.Formats[0].Method != "script" || len(c.Files) != 1 || c.Files[0].Path != "weights_torchscript.pt" ||
		c.Description == nil || c.Package == nil || string(c.Report) != `{"status":"converted"}` {
		t.Fatalf("conversion %+v", c)
	}
	// The upload is byte for byte what it was.
	if got.PackageSHA256 != v.PackageSHA256 || !slices.Equal(got.Files, v.Files) || !bytes.Equal(readAll(t, e.svc, got.PackageSHA256), uploadedPkg) {
		t.Fatal("the conversion changed the uploaded package")
	}
	if len(e.jobs) != 1 || e.jobs[0] != (repo.TestArgs{ID: v.ModelID, Version: 1}) {
		t.Fatalf("after the conversion, queued tests %v", e.jobs)
	}
	// Unpack gives the runnable package, UnpackUploaded the upload.
	run, up := t.TempDir(), t.TempDir()
	if err := e.svc.Unpack(ctx, got, run); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.UnpackUploaded(ctx, got, up); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(run, "weights_torchscript.pt")); err != nil || string(b) != "fake torchscript weights" {
		t.Errorf("Unpack: converted weights %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(up, "weights_torchscript.pt")); !os.IsNotExist(err) {
		t.Errorf("UnpackUploaded wrote the converted weights")
	}
	rd, _ := os.ReadFile(filepath.Join(run, "rdf.yaml"))
	ud, _ := os.ReadFile(filepath.Join(up, "rdf.yaml"))
	if !strings.Contains(string(rd), "torchscript") || strings.Contains(string(ud), "torchscript") {
		t.Errorf("descriptions: runnable has torchscript %v, uploaded %v", strings.Contains(string(rd), "torchscript"), strings.Contains(string(ud), "torchscript"))
	}
	if raw, _ := e.svc.RawDescription(ctx, got); !bytes.Equal(raw, ud) {
		t.Error("RawDescription is not the uploaded description")
	}
	m, err := e.svc.Description(ctx, got)
	if err != nil || m.Weights.Torchscript == nil || m.Weights.PytorchStateDict == nil {
		t.Fatalf("Description after the conversion: %v %v", m, err)
	}
	// The runnable package zip: the uploaded files, the converted ones and
	// the runnable description.
	zdata := readAll(t, e.svc, c.Package.SHA256)
	zr, err := zip.NewReader(bytes.NewReader(zdata), int64(len(zdata)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	var want []string
	for _, f := range repo.RunnableFiles(got) {
		want = append(want, f.Path)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("converted package holds %v, want %v", names, want)
	}
	// The test runs on the runnable package.
	if err := e.svc.RunTest(ctx, e.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if len(tested) != 1 || !strings.Contains(tested[0], "torchscript") {
		t.Fatalf("the test did not see the converted description")
	}
	// Idempotent: a second run (a retried job) converts nothing again.
	if err := e.svc.RunConvert(ctx, e.converts[0]); err != nil || fc.calls != 1 {
		t.Fatalf("second RunConvert: %v, %d conversions", err, fc.calls)
	}
	if len(e.jobs) != 1 {
		t.Errorf("a tested version got its test queued again: %v", e.jobs)
	}
	// Accepted and garbage-collected: the conversion's blobs stay.
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, 1, repo.Accept, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.GC(ctx); err != nil || n != 0 {
		t.Errorf("GC deleted %d blobs (%v)", n, err)
	}
	for _, k := range c.Blobs() {
		if _, err := e.svc.Blobs().Stat(ctx, k); err != nil {
			t.Errorf("blob %s of the conversion: %v", k, err)
		}
	}
}

// A package the converter refuses (Invalid) is a failed conversion with
// its message, and is then tested (not supported) like any model zoo
// cannot run; an error of this process (Unavailable), or a process
// without a converter, leaves it waiting for the job to run again.
func TestConversionFailures(t *testing.T) {
	ctx := context.Background()
	fc := &fakeConverter{err: zoo.E("convert", zoo.Unavailable, nil, "no PyTorch here")}
	e := newConvertEnv(t, fc.convert, passTester)
	v, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(stateDictZip(t)), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := repo.ConvertArgs{ID: v.ModelID, Version: v.Number}
	if err := e.svc.RunConvert(ctx, args); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("RunConvert with an unavailable converter: %v, want Unavailable", err)
	}
	none := repo.New(e.cat, e.svc.Blobs(), recQueue{e}, repo.Config{TempDir: t.TempDir()})
	if err := none.RunConvert(ctx, args); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("RunConvert without a converter: %v, want Unavailable", err)
	}
	if got, _ := e.cat.Version(ctx, v.ModelID, v.Number); !repo.Waiting(got) || len(e.jobs) != 0 {
		t.Fatalf("after failed attempts: %+v, tests %v; want waiting, none", got.Converted, e.jobs)
	}
	// Waiting for a converter does not keep a reviewer from publishing.
	if _, err := e.svc.Review(ctx, e.rita, v.ModelID, v.Number, repo.Accept, ""); err != nil {
		t.Fatalf("accepting a version waiting for a converter: %v", err)
	}
	fc.err = zoo.E("convert", zoo.Invalid, nil, "the architecture imports the Python module \"vigra\"")
	if err := e.svc.RunConvert(ctx, args); err != nil {
		t.Fatal(err)
	}
	got, _ := e.cat.Version(ctx, v.ModelID, v.Number)
	if c := got.Converted; c == nil || c.Status != zoo.ConversionFailed || !strings.Contains(c.Message, "vigra") || c.At == nil || len(c.Files) != 0 {
		t.Fatalf("refused conversion: %+v", c)
	}
	if got.State != zoo.StatePublished || len(e.jobs) != 1 {
		t.Fatalf("after a failed conversion: state %s, tests %v", got.State, e.jobs)
	}
	// A package zoo runs needs no conversion.
	w, err := e.svc.Upload(ctx, e.alice, bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Converted != nil || len(e.converts) != 1 || len(e.jobs) != 2 {
		t.Errorf("an ONNX upload: converted %+v, conversions %v, tests %v", w.Converted, e.converts, e.jobs)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
