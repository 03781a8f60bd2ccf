package oip_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/oip"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

const nuclei = "unet2d-nuclei-broad-onnx"

type testServer struct {
	*httptest.Server
	id    string // the published nuclei model
	draft string // a draft's model id
	in    *tensor.Tensor
	want  *tensor.Tensor
	tol   spec.Tolerance
}

func newServer(t *testing.T, lim oip.Limits) *testServer {
	t.Helper()
	env := cachetest.New(t)
	v := env.Publish(t, nuclei)
	d := env.Upload(t, "upsample-onnx", true)
	cache := modelcache.New(env.Svc, modelcache.Options{Threads: 1, TempDir: t.TempDir()})
	t.Cleanup(func() { cache.Close() })
	s := oip.New(env.Svc, cache, oip.Options{Limits: lim, Version: "test"})
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: s.Routes()}))
	t.Cleanup(srv.Close)
	ts := &testServer{Server: srv, id: v.ModelID, draft: d.ModelID}
	var err error
	if ts.in, err = npy.ReadFile(fixtures.Path(t, "packages", nuclei, "test_input.npy")); err != nil {
		t.Fatal(err)
	}
	if ts.want, err = npy.ReadFile(fixtures.Path(t, "packages", nuclei, "test_output.npy")); err != nil {
		t.Fatal(err)
	}
	m, err := env.Svc.Description(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	ts.tol = m.ToleranceFor("probability", "onnx")
	return ts
}

// do sends a request and returns status, headers and body.
func (ts *testServer) do(t *testing.T, method, path string, hdr map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
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
	return resp.StatusCode, resp.Header, b
}

func floatsJSON(xs []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

type response struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string         `json:"name"`
		Datatype   string         `json:"datatype"`
		Shape      []int          `json:"shape"`
		Parameters map[string]any `json:"parameters"`
		Data       []float32      `json:"data"`
	} `json:"outputs"`
}

func (ts *testServer) check(t *testing.T, shape []int, data []float32) {
	t.Helper()
	got, err := tensor.FromFloat32(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := runner.Compare("probability", got, ts.want, ts.tol)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK {
		t.Fatalf("output does not reproduce the test output: %d mismatched, max abs error %g", c.Mismatched, c.MaxAbs)
	}
	t.Logf("reproduced within %+v: max abs error %g", ts.tol, c.MaxAbs)
}

func TestInferJSONReproducesTestOutput(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	body := fmt.Sprintf(`{"id":"r1","inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(ts.in.Float32s()))
	for _, path := range []string{"/v2/models/" + ts.id + "/infer", "/v2/models/" + ts.id + "/versions/1/infer"} {
		st, hdr, b := ts.do(t, "POST", path, nil, []byte(body))
		if st != 200 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		var r response
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.ModelName != ts.id || r.ModelVersion != "1" || r.ID != "r1" || len(r.Outputs) != 1 {
			t.Fatalf("response head %+v", r)
		}
		o := r.Outputs[0]
		if o.Name != "probability" || o.Datatype != "FP32" || fmt.Sprint(o.Shape) != "[1 1 512 512]" {
			t.Fatalf("output %s %s %v", o.Name, o.Datatype, o.Shape)
		}
		ts.check(t, o.Shape, o.Data)
	}
}

// binaryBody builds a binary-extension request of the test input.
func binaryBody(t *testing.T, head string, data []byte) ([]byte, map[string]string) {
	return append([]byte(head), data...), map[string]string{oip.HeaderLength: strconv.Itoa(len(head)), "Content-Type": "application/octet-stream"}
}

func TestInferBinaryReproducesTestOutput(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	head := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{"binary_data_size":%d}}],"outputs":[{"name":"probability","parameters":{"binary_data":true}}]}`, len(ts.in.Data))
	body, hdr := binaryBody(t, head, ts.in.Data)
	st, rh, b := ts.do(t, "POST", "/v2/models/"+ts.id+"/infer", hdr, body)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	hl, err := strconv.Atoi(rh.Get(oip.HeaderLength))
	if err != nil || hl > len(b) {
		t.Fatalf("response %s = %q", oip.HeaderLength, rh.Get(oip.HeaderLength))
	}
	var r response
	if err := json.Unmarshal(b[:hl], &r); err != nil {
		t.Fatal(err)
	}
	o := r.Outputs[0]
	if size := o.Parameters["binary_data_size"]; size != float64(len(b)-hl) || len(b)-hl != 512*512*4 {
		t.Fatalf("binary_data_size %v, binary part %d bytes", size, len(b)-hl)
	}
	data := make([]float32, 512*512)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[hl+4*i:]))
	}
	ts.check(t, o.Shape, data)

	// binary_data_output at request level, without naming outputs.
	head = fmt.Sprintf(`{"parameters":{"binary_data_output":true},"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, len(ts.in.Data))
	body, hdr = binaryBody(t, head, ts.in.Data)
	st, rh, b = ts.do(t, "POST", "/v2/models/"+ts.id+"/infer", hdr, body)
	if st != 200 || rh.Get(oip.HeaderLength) == "" || len(b) < 512*512*4 {
		t.Fatalf("binary_data_output: %d, header %q, %d bytes", st, rh.Get(oip.HeaderLength), len(b))
	}
}

// Without processing, the network's raw output is returned: the
// description's postprocessing (sigmoid) of it is the test output, when the
// client does the preprocessing (zero mean, unit variance) itself.
func TestInferWithoutProcessing(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	xs := ts.in.Float32s()
	var mean, sq float64
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sq += (float64(x) - mean) * (float64(x) - mean)
	}
	std := math.Sqrt(sq / float64(len(xs)))
	pre := make([]float32, len(xs))
	for i, x := range xs {
		pre[i] = float32((float64(x) - mean) / (std + 1e-6))
	}
	body := fmt.Sprintf(`{"parameters":{"zoo_processing":false},"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(pre))
	st, _, b := ts.do(t, "POST", "/v2/models/"+ts.id+"/infer", nil, []byte(body))
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	raw := r.Outputs[0].Data
	outside := 0
	for i, x := range raw {
		if x < 0 || x > 1 {
			outside++
		}
		raw[i] = float32(1 / (1 + math.Exp(-float64(x))))
	}
	if outside == 0 {
		t.Fatal("raw network output lies in [0,1]: postprocessing seems to have run")
	}
	ts.check(t, r.Outputs[0].Shape, raw)
}

func TestMetadataAndHealth(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	st, _, b := ts.do(t, "GET", "/v2", nil, nil)
	if st != 200 || !strings.Contains(string(b), `"binary_tensor_data"`) {
		t.Fatalf("server metadata: %d %s", st, b)
	}
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/" + ts.id + "/ready", "/v2/models/" + ts.id + "/versions/1/ready"} {
		if st, _, b := ts.do(t, "GET", p, nil, nil); st != 200 || !strings.Contains(string(b), "true") {
			t.Errorf("%s: %d %s", p, st, b)
		}
	}
	for _, p := range []string{"/v2/models/" + ts.id, "/v2/models/" + ts.id + "/versions/1"} {
		st, _, b := ts.do(t, "GET", p, nil, nil)
		if st != 200 {
			t.Fatalf("%s: %d %s", p, st, b)
		}
		var md oip.ModelMetadata
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%s %v %s %+v %+v", md.Name, md.Versions, md.Platform, md.Inputs, md.Outputs)
		want := ts.id + " [1] onnx_onnxv1 [{Name:raw Datatype:FP32 Shape:[1 1 512 512]}] [{Name:probability Datatype:FP32 Shape:[-1 1 512 512]}]"
		if got != want {
			t.Errorf("metadata\n got %s\nwant %s", got, want)
		}
	}
}

// Drafts and unknown models or versions do not exist to the protocol.
func TestDraftsAndUnknownAreNotFound(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	for _, p := range []string{
		"/v2/models/" + ts.draft, "/v2/models/" + ts.draft + "/ready", "/v2/models/" + ts.draft + "/versions/1",
		"/v2/models/no-such-model", "/v2/models/" + ts.id + "/versions/2",
	} {
		st, _, b := ts.do(t, "GET", p, nil, nil)
		var e struct{ Error string }
		if st != 404 || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("GET %s: %d %s, want 404 with an error object", p, st, b)
		}
	}
	body := `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`
	for _, p := range []string{"/v2/models/" + ts.draft + "/infer", "/v2/models/" + ts.draft + "/versions/1/infer"} {
		if st, _, b := ts.do(t, "POST", p, nil, []byte(body)); st != 404 {
			t.Errorf("POST %s: %d %s, want 404", p, st, b)
		}
	}
	if st, _, _ := ts.do(t, "GET", "/v2/models/"+ts.id+"/versions/x", nil, nil); st != 400 {
		t.Errorf("version x: %d, want 400", st)
	}
}

func TestHostileRequests(t *testing.T) {
	ts := newServer(t, oip.Limits{MaxBody: 4 << 20})
	path := "/v2/models/" + ts.id + "/infer"
	n := len(ts.in.Data)
	nan := bytes.Clone(ts.in.Data)
	binary.LittleEndian.PutUint32(nan[400:], math.Float32bits(float32(math.NaN())))
	in := func(params string) string {
		return `{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{` + params + `}}]}`
	}
	cases := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		msg    string
	}{
		{"binary size larger than data", nil, nil, 400, "binary_data_size"},
		{"binary size lies small", nil, nil, 400, "needs 1048576 bytes"},
		{"header length beyond body", map[string]string{oip.HeaderLength: "99999999"}, []byte(`{}`), 400, "the body has only"},
		{"header length not a number", map[string]string{oip.HeaderLength: "-1"}, []byte(`{}`), 400, oip.HeaderLength},
		{"shape × datatype mismatch", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,2,2],"datatype":"FP32","data":[1,2,3]}]}`), 400, "the model takes 512"}, // sizes are checked before the data is read (codec_test: the data's own errors)
		{"more data than shape", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,1,1],"datatype":"FP32","data":[1,2,3]}]}`), 400, "the model takes 512"},
		{"huge shape tiny data", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,1000000,1000000],"datatype":"FP32","data":[1]}]}`), 413, "elements"},
		{"NaN", nil, nil, 400, "NaN"},
		{"nesting deeper than shape", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,1,1],"datatype":"FP32","data":[[[[[1]]]]]}]}`), 400, "the model takes 512"},
		{"string data", nil, []byte(`{"inputs":[{"name":"raw","shape":[1],"datatype":"FP32","data":["1"]}]}`), 400, "1 dimensions, but the model's axes are"},
		{"BYTES", nil, []byte(`{"inputs":[{"name":"raw","shape":[1],"datatype":"BYTES","data":["a"]}]}`), 400, "not supported"},
		{"unknown input", nil, []byte(`{"inputs":[{"name":"rawx","shape":[1,1,16,16],"datatype":"FP32","data":[` + strings.Repeat("1,", 255) + `1]}]}`), 400, "its inputs are raw"},
		{"unknown output", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,1,1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"mask"}]}`), 400, "its outputs are probability"},
		{"wrong rank", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1],"datatype":"FP32","data":[1]}]}`), 400, "axes are batch, channel, y, x"},
		{"size the model refuses", nil, []byte(`{"inputs":[{"name":"raw","shape":[1,1,2,2],"datatype":"FP32","data":[1,2,3,4]}]}`), 400, ""},
		{"not JSON", nil, []byte(`{"inputs":`), 400, "not valid JSON"},
		{"no inputs", nil, []byte(`{"inputs":[]}`), 400, "no inputs"},
		{"duplicate input", nil, []byte(`{"inputs":[{"name":"raw","shape":[1],"datatype":"FP32","data":[1]},{"name":"raw","shape":[1],"datatype":"FP32","data":[1]}]}`), 400, "twice"},
		{"parameter not bool", nil, []byte(`{"parameters":{"zoo_processing":"no"},"inputs":[{"name":"raw","shape":[1],"datatype":"FP32","data":[1]}]}`), 400, "true or false"},
		{"body too large", nil, bytes.Repeat([]byte(" "), 5<<20), 413, "larger than"},
	}
	cases[0].body, cases[0].hdr = binaryBody(t, in(fmt.Sprintf(`"binary_data_size":%d`, n)), ts.in.Data[:n-4])
	cases[1].body, cases[1].hdr = binaryBody(t, in(`"binary_data_size":16`), ts.in.Data[:16])
	cases[7].body, cases[7].hdr = binaryBody(t, in(fmt.Sprintf(`"binary_data_size":%d`, n)), nan)
	for _, c := range cases {
		st, _, b := ts.do(t, "POST", path, c.hdr, c.body)
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Errorf("%s: body %q is not an error object", c.name, b)
			continue
		}
		if st != c.status || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, st, e.Error, c.status, c.msg)
		}
	}
	// The server still works afterwards.
	body := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(ts.in.Float32s()))
	if st, _, b := ts.do(t, "POST", path, nil, []byte(body)); st != 200 {
		t.Fatalf("after hostile requests: %d %.200s", st, b)
	}
}

// A model whose preprocessing takes dataset statistics (zero_mean_unit_variance
// over all axes) answers each request with the statistics of its own image,
// as zoo predict does: the answer does not depend on earlier requests.
func TestDatasetStatisticsPerRequest(t *testing.T) {
	src := fixtures.Path(t, "packages", nuclei)
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "bioimageio.yaml" {
			old := "      - id: zero_mean_unit_variance\n        kwargs:\n          axes:\n            - x\n            - y\n"
			if !bytes.Contains(b, []byte(old)) {
				t.Fatal("the fixture's preprocessing changed")
			}
			b = bytes.Replace(b, []byte(old), []byte("      - id: zero_mean_unit_variance\n"), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := cachetest.New(t)
	v := env.PublishPath(t, dir)
	cache := modelcache.New(env.Svc, modelcache.Options{Threads: 1, TempDir: t.TempDir()})
	defer cache.Close()
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: oip.New(env.Svc, cache, oip.Options{}).Routes()}))
	defer srv.Close()
	in, err := npy.ReadFile(filepath.Join(dir, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	bright := make([]float32, in.Len())
	for i, x := range in.Float32s() {
		bright[i] = 5*x + 1000
	}
	infer := func(xs []float32) string {
		body := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(xs))
		resp, err := http.Post(srv.URL+"/v2/models/"+v.ModelID+"/infer", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	first := infer(in.Float32s())
	infer(bright)
	if again := infer(in.Float32s()); again != first {
		t.Fatal("the same request answered differently after another image: dataset statistics leak between requests")
	}
}

// Concurrent requests share one loaded model and each gets its own answer.
func TestConcurrentInfer(t *testing.T) {
	ts := newServer(t, oip.Limits{})
	head := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{"binary_data_size":%d}}],"parameters":{"binary_data_output":true}}`, len(ts.in.Data))
	body, hdr := binaryBody(t, head, ts.in.Data)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			req, _ := http.NewRequest("POST", ts.URL+"/v2/models/"+ts.id+"/infer", bytes.NewReader(body))
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			hl, _ := strconv.Atoi(resp.Header.Get(oip.HeaderLength))
			if resp.StatusCode != 200 || len(b)-hl != 512*512*4 {
				errs <- fmt.Errorf("%d, %d bytes", resp.StatusCode, len(b))
				return
			}
			got := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, 512, 512}, Data: b[hl:]}
			c, err := runner.Compare("probability", got, ts.want, ts.tol)
			if err == nil && !c.OK {
				err = fmt.Errorf("%d mismatched", c.Mismatched)
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
