package main

// End-to-end tests of the server side of conversion: a state-dict-only
// upload is converted by a worker that can (PyTorch and bubblewrap),
// tested on its converted formats, published, and then runs over /v2;
// the package as uploaded stays the default download and the converted
// one has its own route; a worker without PyTorch leaves the conversion
// to one that has it.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// stateDictPackage is make run's state-dict-only example.
const stateDictPackage = "../../examples/packages/tinynet-state-dict"

// needConverter skips (fails under CI, which installs them) unless this
// machine converts on a server: PyTorch and bubblewrap.
func needConverter(t *testing.T) {
	t.Helper()
	needORT(t)
	if err := canConvert(); err != nil {
		dep := testenv.PyTorch
		if sandbox.Available() != nil {
			dep = testenv.Sandbox
		}
		testenv.Missing(t, dep, err.Error())
	}

}

// versionJSON is what these tests read of a version's API record.
type versionJSON struct {
	ID         string `json:"id"`
	Version    int    `json:"version"`
	State      string `json:"state"`
	TestStatus string `json:"test_status"`
	Files      []struct {
		Path string `json:"path"`
	} `json:"files"`
	PackageSHA256 string `json:"package_sha256"`
	TestReport    struct {
		Formats map[string]struct {
			Status string `json:"status"`
		} `json:"formats"`
	} `json:"test_report"`
	Converted *struct {
		Status  string `json:"status"`
		Message string `json:"message"`
		Formats []struct {
			Format string `json:"format"`
			Path   string `json:"path"`
			Method string `json:"method"`
			Opset  int    `json:"opset"`
		} `json:"formats"`
		Package *struct {
			SHA256 string `json:"sha256"`
		} `json:"package"`
		ZooVersion   string          `json:"zoo_version"`
		TorchVersion string          `json:"torch_version"`
		Report       json.RawMessage `json:"report"`
		At           string          `json:"converted_at"`
	} `json:"converted"`
}

func getVersion(t *testing.T, server, ref, tok string) versionJSON {
	t.Helper()
	id, n, _ := strings.Cut(ref, "/")
	req, _ := http.NewRequest("GET", server+"/api/v1/models/"+id+"/versions/"+n, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v versionJSON
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET version %s: %s %v", ref, resp.Status, err)
	}
	return v
}

// waitConvertedAndTested polls until ref is converted (or its conversion
// failed) and tested.
func waitConvertedAndTested(t *testing.T, server, ref, tok string, within time.Duration) versionJSON {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := getVersion(t, server, ref, tok)
		if v.Converted != nil && v.Converted.Status != "waiting" && v.TestStatus != "pending" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %v: conversion %+v, test %s", ref, within, v.Converted, v.TestStatus)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// uploadStateDict uploads the state-dict-only example and returns its
// ref; right after the upload it waits for a converter (or is being
// converted) and its test is pending, not failed.
func uploadStateDict(t *testing.T, server, tok string) string {
	t.Helper()
	out := zooOK(t, "upload", "--server", server, "--token", tok, copyDir(t, stateDictPackage), "--json")
	var up struct{ ID string }
	if err := json.Unmarshal([]byte(out), &up); err != nil || up.ID == "" {
		t.Fatalf("zoo upload printed %q", out)
	}
	ref := up.ID + "/1"
	v := getVersion(t, server, ref, tok)
	if v.Converted == nil || v.TestStatus == "failed" {
		t.Fatalf("a state-dict-only upload: conversion %+v, test %s; want a conversion, no failure", v.Converted, v.TestStatus)
	}
	return ref
}

// checkConverted checks a converted, tested version and publishes it, then
// runs it over /v2 on its test input and compares with its test output,
// and checks both downloads.
func checkConverted(t *testing.T, server, ref, alice, rita string, v versionJSON) {
	t.Helper()
	c := v.Converted
	var formats []string
	for _, f := range c.Formats {
		formats = append(formats, f.Format)
		if f.Method != "script" && f.Method != "trace" || f.Format == "onnx" && f.Opset < 17 {
			t.Errorf("converted format %+v: no method or opset", f)
		}
	}
	slices.Sort(formats)
	if c.Status != "converted" || !slices.Equal(formats, []string{"onnx", "torchscript"}) || c.TorchVersion == "" || c.ZooVersion == "" || c.At == "" || !json.Valid(c.Report) {
		t.Fatalf("conversion %+v; want converted to onnx and torchscript with provenance", c)
	}
	if v.TestStatus != "passed" || v.TestReport.Formats["onnx"].Status != "passed" {
		t.Fatalf("test of the converted package: %s %+v; want passed with onnx", v.TestStatus, v.TestReport)
	}
	// The upload itself is unchanged: no converted file among its files.
	for _, f := range v.Files {
		if strings.HasSuffix(f.Path, ".onnx") || strings.Contains(f.Path, "torchscript") {
			t.Errorf("the uploaded files gained %s", f.Path)
		}
	}
	if out := zooOK(t, "review", "--server", server, "--token", rita, "accept", ref); !strings.Contains(out, "is now published") {
		t.Fatalf("review printed %q", out)
	}

	// /v2 runs it (converted weights) and reproduces the test output.
	in, err := npy.ReadFile(filepath.Join(stateDictPackage, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(stateDictPackage, "output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(in.Float32s())
	body := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":%s,"datatype":"FP32","data":%s}]}`, jsonInts(in.Shape), data)
	id, n, _ := strings.Cut(ref, "/")
	resp, err := http.Post(server+"/v2/models/"+id+"/versions/"+n+"/infer", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var inf struct {
		Outputs []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(rb, &inf); err != nil || resp.StatusCode != 200 || len(inf.Outputs) != 1 {
		t.Fatalf("POST /v2/models/%s/infer: %s %s", ref, resp.Status, rb)
	}
	o := inf.Outputs[0]
	exp := want.Float32s()
	if o.Name != "prob" || !slices.Equal(o.Shape, want.Shape) || len(o.Data) != len(exp) {
		t.Fatalf("/v2 output %s %v (%d values), want prob %v", o.Name, o.Shape, len(o.Data), want.Shape)
	}
	for i := range exp {
		if math.Abs(o.Data[i]-float64(exp[i])) > 1e-3 {
			t.Fatalf("/v2 output[%d] = %v, the test output has %v", i, o.Data[i], exp[i])
		}
	}

	// Downloads: the package as uploaded by default, the converted one at
	// its own route.
	pkg := fetchBytes(t, server+"/packages/"+id+"/"+n)
	if sha(pkg) != v.PackageSHA256 || zipHas(t, pkg, "weights.onnx") {
		t.Errorf("/packages/%s is not the package as uploaded", ref)
	}
	// zoo download gives the package as uploaded, or with --converted the
	// runnable one; zoo export triton takes the converted ONNX weights.
	plain, withConv := filepath.Join(t.TempDir(), "plain"), filepath.Join(t.TempDir(), "conv")
	zooOK(t, "download", "--server", server, ref, "-o", plain)
	zooOK(t, "download", "--server", server, ref, "--converted", "-o", withConv)
	if _, err := os.Stat(filepath.Join(plain, "weights.onnx")); !os.IsNotExist(err) {
		t.Errorf("zoo download wrote converted weights")
	}
	if _, err := os.Stat(filepath.Join(withConv, "weights.onnx")); err != nil {
		t.Errorf("zoo download --converted: %v", err)
	}
	tri := t.TempDir()
	zooOK(t, "export", "triton", "--server", server, ref, "-o", tri)
	if _, err := os.Stat(filepath.Join(tri, id, "1", "model.onnx")); err != nil {
		t.Errorf("zoo export triton of a converted model: %v", err)
	}
	conv := fetchBytes(t, server+"/api/v1/models/"+id+"/versions/"+n+"/converted.zip")
	if sha(conv) != c.Package.SHA256 || !zipHas(t, conv, "weights.onnx") || !zipHas(t, conv, "weights_torchscript.pt") || !zipHas(t, conv, "tinynet.py") {
		t.Errorf("converted.zip of %s lacks the converted weights", ref)
	}
}

func jsonInts(s []int) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func fetchBytes(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return b
}

func zipHas(t *testing.T, data []byte, name string) bool {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			return true
		}
	}
	return false
}

// On zoo serve (SQLite, in-process workers that can convert) the seeded
// state-dict-only example is converted and published, and a state-dict-only
// upload is converted, tested, published and runs over /v2.
func TestServeConvertsStateDictSQLite(t *testing.T) {
	needConverter(t)
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	rita := token(t, storage, "rita", "reviewer")
	// make run's seed converts, tests and publishes the state-dict-only
	// example before the server listens.
	server, log := startServe(t, "--data", data, "--seed", filepath.Dir(stateDictPackage))
	if !strings.Contains(log.String(), "this process converts PyTorch weights") {
		t.Errorf("zoo serve does not say it converts:\n%s", log)
	}
	m := regexp.MustCompile(`--seed: published ([a-z]+-[a-z]+)/1 \(TinyNet \(state dict only\); conversion converted; test passed\)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("the seed did not convert, test and publish the example:\n%s", log)
	}
	resp, err := http.Get(server + "/v2/models/" + m[1] + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/v2 ready of the seeded converted example: %s", resp.Status)
	}
	// An upload is converted by the workers.
	ref := uploadStateDict(t, server, alice)
	v := waitConvertedAndTested(t, server, ref, alice, 5*time.Minute)
	checkConverted(t, server, ref, alice, rita, v)
}

// On PostgreSQL + S3, with a serving-only replica: a worker without
// PyTorch (ZOO_CONVERT_PYTHON=/nonexistent) never takes the conversion —
// the version waits, its test pending — and a worker that has PyTorch,
// started later, converts it; then it is tested, published and runs.
func TestConvertWorkersPostgresS3(t *testing.T) {
	needConverter(t)
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	dsn := pgtest.DSN(t)
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/conv-" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
	storage := []string{"--db", dsn, "--blobs", u.String()}
	catalog := []string{"--db", dsn}
	alice := token(t, catalog, "alice", "contributor")
	rita := token(t, catalog, "rita", "reviewer")
	server, _ := startServe(t, append(append([]string{}, storage...), "--workers", "0")...)
	noTorch, _ := startProc(t, "worker without PyTorch", []string{convertPythonEnv + "=/nonexistent"},
		regexp.MustCompile(`zoo worker: running`), append([]string{"worker"}, storage...)...)
	if !strings.Contains(noTorch.log.String(), "does not convert PyTorch weights") {
		t.Errorf("the worker without PyTorch does not say so:\n%s", noTorch.log)
	}

	ref := uploadStateDict(t, server, alice)
	time.Sleep(8 * time.Second) // the worker polls every second
	v := getVersion(t, server, ref, alice)
	if v.Converted == nil || v.Converted.Status != "waiting" || !strings.Contains(v.Converted.Message, "waiting for a converter") || v.TestStatus != "pending" {
		t.Fatalf("with only a worker without PyTorch: conversion %+v, test %s; want waiting for a converter, test pending", v.Converted, v.TestStatus)
	}

	id, n, _ := strings.Cut(ref, "/")
	req, _ := http.NewRequest("GET", server+"/api/v1/models/"+id+"/versions/"+n+"/converted.zip", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "waiting for a converter") {
		t.Errorf("converted.zip of a waiting version: %s %s; want 404 saying it waits", resp.Status, b)
	}

	background(t, regexp.MustCompile(`zoo worker: running`), append([]string{"worker"}, storage...)...)
	v = waitConvertedAndTested(t, server, ref, alice, 5*time.Minute)
	checkConverted(t, server, ref, alice, rita, v)
	if strings.Contains(noTorch.log.String(), "msg=converting") {
		t.Errorf("the worker without PyTorch took a conversion:\n%s", noTorch.log)
	}
}

// Killing the process that is converting an upload leaves the job
// running in the queue; once the attempt's time is up, the restarted
// server takes it for lost and converts the version again (the
// conversion is idempotent): a retry, not a stuck version.
func TestKilledConverterRetries(t *testing.T) {
	needConverter(t)
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	env := []string{"ZOO_JOB_TIMEOUT=90s"}
	first, m := startProc(t, "first serve", env, listening, "serve", "--data", data, "--addr", "127.0.0.1:0")
	ref := uploadStateDict(t, m[1], alice)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(first.log.String(), "msg=converting") {
		if time.Now().After(deadline) {
			t.Fatalf("the conversion did not start:\n%s", first.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Killed at once: PyTorch takes more than a second to start in the
	// sandbox, so the conversion is still running (a fixed sleep let it
	// finish on an idle machine).
	time.Sleep(200 * time.Millisecond)
	first.cmd.Process.Kill()
	<-first.done

	second, m := startProc(t, "second serve", env, listening, "serve", "--data", data, "--addr", "127.0.0.1:0")
	if v := getVersion(t, m[1], ref, alice); v.Converted == nil || v.Converted.Status != "waiting" {
		t.Fatalf("after the kill: conversion %+v, want still waiting", v.Converted)
	}
	v := waitConvertedAndTested(t, m[1], ref, alice, 8*time.Minute)
	if v.Converted.Status != "converted" || v.TestStatus != "passed" {
		t.Fatalf("after the retry: conversion %+v, test %s", v.Converted, v.TestStatus)
	}
	if !strings.Contains(second.log.String(), "attempt=2") {
		t.Errorf("the second server did not retry the job:\n%s", second.log)
	}
}

// make run's seed where this machine cannot convert: the state-dict-only
// example is published waiting for a converter, and its page says what the
// server lacks. (Where it can, TestServeConvertsStateDictSQLite checks that
// the seed converts, tests and publishes it.)
func TestSeedStateDictExampleWithoutConverter(t *testing.T) {
	needORT(t)
	t.Setenv(convertPythonEnv, "/nonexistent/python3")
	server, log := startServe(t, "--data", t.TempDir(), "--seed", filepath.Dir(stateDictPackage))
	m := regexp.MustCompile(`--seed: published ([a-z]+-[a-z]+)/1 \(TinyNet \(state dict only\)\) waiting for a converter: this server does not convert PyTorch weights: (.*)`).FindStringSubmatch(log.String())
	if m == nil || !strings.Contains(m[2], "python3-torch") {
		t.Fatalf("the seed log does not say the example waits for a converter and what the server lacks:\n%s", log)
	}
	page := string(fetchBytes(t, server+"/models/"+m[1]))
	if !strings.Contains(page, "waiting for a converter") || !strings.Contains(page, "python3-torch") || !strings.Contains(page, "bubblewrap") {
		t.Errorf("the model page of the waiting example does not say what a server needs to convert it")
	}
}
