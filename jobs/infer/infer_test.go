package infer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
	"github.com/zoo-bioimage/zoo/web"
)

const nuclei = "unet2d-nuclei-broad-onnx"

// fakeQueue records enqueued jobs; tests run them with run.
type fakeQueue struct {
	mu   sync.Mutex
	args []infer.Args
}

func (q *fakeQueue) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	if kind != infer.Kind {
		return 0, fmt.Errorf("kind %q", kind)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.args = append(q.args, args.(infer.Args))
	return int64(len(q.args)), nil
}

func (q *fakeQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.args)
}

type rig struct {
	t     testing.TB
	env   *cachetest.Env
	v     *zoo.Version
	store jobs.Store
	q     *fakeQueue
	s     *infer.Service
	srv   *httptest.Server
}

func newRig(t testing.TB, tune func(*infer.Options)) *rig {
	t.Helper()
	env := cachetest.New(t)
	r := &rig{t: t, env: env, v: env.Publish(t, nuclei), q: &fakeQueue{}}
	r.store = env.Svc.Catalog().(interface{ Jobs() jobs.Store }).Jobs()
	cache := modelcache.New(env.Svc, modelcache.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { cache.Close() })
	o := infer.Options{Store: r.store, Repo: env.Svc, Queue: r.q, TempDir: t.TempDir(),
		Load: func(ctx context.Context, v *zoo.Version) (*runner.Predictor, func(), error) {
			e, err := cache.Get(ctx, v)
			if err != nil {
				return nil, nil, err
			}
			return e.Predictor(), e.Release, nil
		}}
	if tune != nil {
		tune(&o)
	}
	r.s = infer.New(o)
	r.srv = httptest.NewServer(web.New(env.Svc, web.Options{Routes: r.s.Routes()}))
	t.Cleanup(r.srv.Close)
	return r
}

func needONNX(t testing.TB) {
	t.Helper()
	testenv.Need(t, testenv.ONNXRuntime, onnx.Init())

}

func (r *rig) submit(query, ctype string, body []byte) (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/api/v1/jobs?"+query, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (r *rig) get(path string) (*http.Response, []byte) {
	r.t.Helper()
	resp, err := http.Get(r.srv.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (r *rig) view(id string) infer.View {
	r.t.Helper()
	resp, b := r.get("/api/v1/jobs/" + id)
	if resp.StatusCode != 200 {
		r.t.Fatalf("GET job: %s %s", resp.Status, b)
	}
	var v infer.View
	if err := json.Unmarshal(b, &v); err != nil {
		r.t.Fatal(err)
	}
	return v
}

// accepted submits body and returns the job's view (202 required).
func (r *rig) accepted(query, ctype string, body []byte) infer.View {
	r.t.Helper()
	resp, b := r.submit(query, ctype, body)
	if resp.StatusCode != http.StatusAccepted {
		r.t.Fatalf("submit: %s %s", resp.Status, b)
	}
	var v infer.View
	if err := json.Unmarshal(b, &v); err != nil {
		r.t.Fatal(err)
	}
	if v.State != jobs.Queued || !jobs.ValidID(v.ID) || resp.Header.Get("Location") != "/api/v1/jobs/"+v.ID {
		r.t.Fatalf("submitted job: %+v (Location %q)", v, resp.Header.Get("Location"))
	}
	return v
}

// work runs the handler on the queue's job i.
func (r *rig) work(ctx context.Context, i, attempt int) error {
	r.q.mu.Lock()
	a := r.q.args[i]
	r.q.mu.Unlock()
	args, _ := json.Marshal(a)
	return r.s.Handle(ctx, &queue.Job{Kind: infer.Kind, Args: args, Attempt: attempt, MaxAttempts: 5})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(t, "packages", nuclei, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference predicts x in process, as zoo predict does.
func reference(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	pkg, err := runner.Load(fixtures.Path(t, "packages", nuclei), runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.NewPredictor(pkg, "", runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := runner.ToInput(x, &pkg.Model.Inputs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	s := runner.Sample{pkg.Model.Inputs[0].ID: in}
	if err := p.UseDatasetStats([]runner.Sample{s}); err != nil {
		t.Fatal(err)
	}
	out, err := p.PredictTiled(context.Background(), s, runner.Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	return out[pkg.Model.Outputs[0].ID]
}

func maxDiff(t *testing.T, a, b *tensor.Tensor) float64 {
	t.Helper()
	if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		t.Fatalf("shapes %v and %v", a.Shape, b.Shape)
	}
	d := 0.0
	for i := range a.Len() {
		d = math.Max(d, math.Abs(a.Float64At(i)-b.Float64At(i)))
	}
	return d
}

func TestJobRunsAndDownloads(t *testing.T) {
	needONNX(t)
	r := newRig(t, nil)
	in := fixture(t, "test_input.npy")
	v := r.accepted("model="+r.v.ModelID, "application/octet-stream", in)
	if v.Model != r.v.ModelID || v.Version != r.v.Number || v.ExpiresAt.Sub(v.CreatedAt) != 24*time.Hour || len(v.ResultFormats) != 0 {
		t.Fatalf("job: %+v", v)
	}
	if resp, b := r.get("/api/v1/jobs/" + v.ID + "/result"); resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "queued") {
		t.Fatalf("result of a queued job: %s %s", resp.Status, b)
	}
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	got := r.view(v.ID)
	if got.State != jobs.Succeeded || got.Progress.Done != got.Progress.Total || got.Progress.Total < 1 || got.Progress.Fraction != 1 ||
		strings.Join(got.ResultFormats, ",") != "tif,npy" || got.FinishedAt == nil {
		t.Fatalf("after the run: %+v", got)
	}
	// The result equals the in-process prediction, and the test output
	// within the model's tolerance.
	x, err := npy.Read(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, x)
	resp, b := r.get("/api/v1/jobs/" + v.ID + "/result?format=npy")
	if resp.StatusCode != 200 {
		t.Fatalf("result npy: %s %s", resp.Status, b)
	}
	y, err := npy.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, y, want); d > 1e-5 {
		t.Errorf("the job's result differs from the in-process prediction by %g", d)
	}
	exp, _ := npy.Read(bytes.NewReader(fixture(t, "test_output.npy")))
	if d := maxDiff(t, y, exp); d > 1e-3 {
		t.Errorf("the job's result differs from the test output by %g", d)
	}
	resp, b = r.get("/api/v1/jobs/" + v.ID + "/result?format=tif")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/tiff" {
		t.Fatalf("result tif: %s %s", resp.Status, resp.Header)
	}
	ty, err := tiff.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if ty.Len() != y.Len() || !bytes.Equal(ty.Data, y.Data) {
		t.Errorf("the TIFF result (%v %v) holds other values than the npy (%v)", ty.Shape, ty.DType, y.Shape)
	}
	for _, p := range []string{"input.png", "output.png?low=1&high=99"} {
		resp, b := r.get("/api/v1/jobs/" + v.ID + "/preview/" + p)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("preview %s: %s %s", p, resp.Status, b)
		}
		img, err := png.Read(bytes.NewReader(b))
		if err != nil || img.Len() < 512*512 {
			t.Fatalf("preview %s: %v %v", p, img, err)
		}
	}
	if resp, _ := r.get("/api/v1/jobs/" + v.ID + "/preview/output.png?low=90&high=10"); resp.StatusCode != 400 {
		t.Errorf("preview with low > high: %s", resp.Status)
	}
	// A second delivery of the same queue job changes nothing.
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	if again := r.view(v.ID); again.State != jobs.Succeeded || again.FinishedAt == nil || !again.FinishedAt.Equal(*got.FinishedAt) {
		t.Errorf("a redelivered job ran again: %+v", again)
	}
	// Cancelling a finished job leaves it.
	req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+"/api/v1/jobs/"+v.ID, nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil || dresp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", dresp, err)
	}
	if r.view(v.ID).State != jobs.Succeeded {
		t.Error("DELETE of a succeeded job changed it")
	}
}

// big returns a size×size float32 image as .npy (smooth blobs).
func big(t testing.TB, size int) []byte {
	t.Helper()
	x, _ := tensor.New(tensor.Float32, []int{size, size})
	f := x.Float32s()
	for i := range size {
		for j := range size {
			f[i*size+j] = float32(math.Sin(float64(i)/17) * math.Cos(float64(j)/23))
		}
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, x); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCancelStopsAtNextTile(t *testing.T) {
	needONNX(t)
	r := newRig(t, nil)
	v := r.accepted("model="+r.v.ModelID+"&axes=yx", "", big(t, 1536))
	done := make(chan error, 1)
	go func() { done <- r.work(context.Background(), 0, 1) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		g := r.view(v.ID)
		if g.State == jobs.Running && g.Progress.Done >= 1 {
			if g.Progress.Total < 4 {
				t.Fatalf("a 1536² image on a 512² model ran in %d tiles", g.Progress.Total)
			}
			break
		}
		if g.State.Terminal() || time.Now().After(deadline) {
			t.Fatalf("job did not start tiling: %+v", g)
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+"/api/v1/jobs/"+v.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the handler of a cancelled job: %v", err)
	}
	g := r.view(v.ID)
	if g.State != jobs.Cancelled || g.Progress.Done >= g.Progress.Total {
		t.Fatalf("cancelled job: %+v (it should stop before its last tile)", g)
	}
	if resp, _ := r.get("/api/v1/jobs/" + v.ID + "/result"); resp.StatusCode != http.StatusConflict {
		t.Errorf("result of a cancelled job: %s", resp.Status)
	}
}

// A worker that dies mid-job (its lease runs out) leaves the job to the
// sweeper, which queues it again; the next run completes it once.
func TestDeadWorkerJobIsRetried(t *testing.T) {
	needONNX(t)
	r := newRig(t, func(o *infer.Options) { o.Lease = 300 * time.Millisecond })
	v := r.accepted("model="+r.v.ModelID, "", fixture(t, "test_input.npy"))
	ctx := context.Background()
	if _, err := r.store.ClaimJob(ctx, v.ID, "dead-worker", time.Now(), time.Now().Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// While the lease is live, a second delivery leaves the job alone.
	if err := r.work(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if g := r.view(v.ID); g.State != jobs.Running {
		t.Fatalf("a job under a live lease: %+v", g)
	}
	if err := r.s.Sweep(ctx); err != nil || r.q.count() != 1 {
		t.Fatalf("a sweep before the lease ran out re-queued (%d queue jobs, %v)", r.q.count(), err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := r.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if r.q.count() != 2 {
		t.Fatalf("the sweep queued %d jobs after the lease ran out; want 1 more", r.q.count()-1)
	}
	if err := r.work(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	j, _ := r.store.Job(ctx, v.ID)
	if j.State != jobs.Succeeded || j.Runs != 2 {
		t.Fatalf("retried job: %+v", j)
	}
	// The dead worker's late finish is refused.
	err := r.store.FinishJob(ctx, v.ID, "dead-worker", jobs.Finish{State: jobs.Failed, Error: "late"}, time.Now())
	if zoo.KindOf(err) != zoo.Conflict {
		t.Fatalf("a finish by the dead worker: %v", err)
	}
}

func TestExpirySweep(t *testing.T) {
	needONNX(t)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, func(o *infer.Options) { o.Now = clock; o.TTL = time.Hour })
	in := fixture(t, "test_input.npy")
	v := r.accepted("model="+r.v.ModelID, "", in)
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	j, _ := r.store.Job(context.Background(), v.ID)
	blobs := r.env.Svc.Blobs()
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := r.s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := r.view(v.ID); g.State != jobs.Expired {
		t.Fatalf("after its TTL: %+v", g)
	}
	if _, err := blobs.Stat(context.Background(), j.ResultSHA256); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("the result blob of an expired job is still stored (%v)", err)
	}
	// The input is the model's own test input: a blob the catalog refers
	// to, which must stay.
	if _, err := blobs.Stat(context.Background(), j.InputSHA256); err != nil {
		t.Errorf("expiry deleted a blob a model version refers to: %v", err)
	}
	if resp, b := r.get("/api/v1/jobs/" + v.ID + "/result"); resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "expired") {
		t.Errorf("result of an expired job: %s %s", resp.Status, b)
	}
}

// lyingTIFF is a little-endian TIFF whose one IFD claims w×h pixels of
// 8 bits with one strip of n bytes at offset 8 (the file is much smaller).
func lyingTIFF(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(8))
	entries := [][3]uint32{{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1}, {273, 4, 200}, {277, 3, 1}, {278, 4, h}, {279, 4, w * h}}
	binary.Write(&b, binary.LittleEndian, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, binary.LittleEndian, uint16(e[0]))
		binary.Write(&b, binary.LittleEndian, uint16(e[1]))
		binary.Write(&b, binary.LittleEndian, uint32(1))
		binary.Write(&b, binary.LittleEndian, e[2])
	}
	binary.Write(&b, binary.LittleEndian, uint32(0))
	b.Write(make([]byte, 300))
	return b.Bytes()
}

func npyHeader(shape string) []byte {
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	return append(append(out, h...), make([]byte, 64)...)
}

func TestHostileSubmissions(t *testing.T) {
	r := newRig(t, func(o *infer.Options) { o.MaxInputBytes = 4 << 20 })
	m := "model=" + r.v.ModelID
	cases := []struct {
		name, query, ctype string
		body               []byte
		status             int
		detail             string
	}{
		{"no model", "", "", fixture(t, "test_input.npy"), 400, "no model given"},
		{"bad version", m + "/x", "", fixture(t, "test_input.npy"), 400, "version after /"},
		{"unknown model", "model=no-such-model", "", fixture(t, "test_input.npy"), 404, ""},
		{"empty body", m, "", nil, 400, "no body"},
		{"not an image", m, "", []byte("GIF89a this is not a format zoo reads"), 400, "not a TIFF, PNG or NumPy"},
		{"content type lies", m, "image/png", fixture(t, "test_input.npy"), 400, "Content-Type says image/png"},
		{"lying TIFF header", m, "image/tiff", lyingTIFF(300000, 300000), 413, "crop it"},
		{"TIFF IFD past the end", m, "", []byte("II*\x00\xff\xff\xff\x00"), 400, "TIFF is damaged"},
		{"huge npy shape", m, "", npyHeader("(100000, 100000)"), 413, "elements"},
		{"npy shape overflowing", m, "", npyHeader("(4611686018427387904, 4611686018427387904)"), 413, ""},
		{"truncated npy", m, "", npyHeader("(512, 512)"), 400, ""},
		{"too many bytes", m, "", append(npyHeader("(2048, 2048)"), make([]byte, 5<<20)...), 413, "MiB"},
		{"axes of another rank", m + "&axes=zyx", "", fixture(t, "test_input.npy"), 400, "axes parameter"},
		{"bad axes letters", m + "&axes=qq", "", fixture(t, "test_input.npy"), 400, "not an axis letter"},
		// (A colour PNG on a one-channel model is read as grey: see
		// TestColourPNGOnOneChannelModel. Two channels have no such reading.)
		{"two channels for a one-channel model", m + "&axes=yxc", "", func() []byte {
			x, _ := tensor.New(tensor.Uint8, []int{64, 64, 2})
			var b bytes.Buffer
			npy.Write(&b, x)
			return b.Bytes()
		}(), 400, "the model takes 1 channel, the image has 2"},
		{"a volume for a 2-d model", m + "&axes=zyx", "", func() []byte {
			x, _ := tensor.New(tensor.Float32, []int{4, 64, 64})
			var b bytes.Buffer
			npy.Write(&b, x)
			return b.Bytes()
		}(), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := r.submit(c.query, c.ctype, c.body)
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.detail) {
				t.Fatalf("%s: %s", resp.Status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			t.Logf("%d %s", resp.StatusCode, b)
		})
	}
	if r.q.count() != 0 {
		t.Errorf("%d refused submission(s) were queued", r.q.count())
	}
	for path, status := range map[string]int{
		"/api/v1/jobs/not-an-id":                                     404,
		"/api/v1/jobs/" + jobs.NewID():                               404,
		"/api/v1/jobs/" + jobs.NewID() + "/result?format=png":        400,
		"/api/v1/jobs/" + jobs.NewID() + "/result":                   404,
		"/api/v1/jobs/" + jobs.NewID() + "/preview/input.png?low=-1": 400,
		"/api/v1/jobs/" + jobs.NewID() + "/preview/other.png":        404,
	} {
		if resp, b := r.get(path); resp.StatusCode != status {
			t.Errorf("GET %s: %s %s; want %d", path, resp.Status, b, status)
		}
	}
}

func TestUnpublishedVersionsDoNotRun(t *testing.T) {
	r := newRig(t, nil)
	draft := r.env.Upload(t, nuclei, false) // submitted, not published
	for _, q := range []string{fmt.Sprintf("model=%s/%d", draft.ModelID, draft.Number), "model=" + draft.ModelID} {
		resp, b := r.submit(q, "", fixture(t, "test_input.npy"))
		if resp.StatusCode != 404 {
			t.Errorf("%s: %s %s", q, resp.Status, b)
		}
	}
}

func TestBackpressure(t *testing.T) {
	r := newRig(t, func(o *infer.Options) { o.MaxActive, o.MaxAnonymous = 2, 2; o.RetryAfter = 7 * time.Second })
	in := fixture(t, "test_input.npy")
	q := fmt.Sprintf("model=%s/%d", r.v.ModelID, r.v.Number)
	first := r.accepted(q, "", in)
	r.accepted(q, "", in)
	resp, b := r.submit(q, "", in)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), "queue is full") {
		t.Fatalf("third job over a limit of 2: %s %v %s", resp.Status, resp.Header, b)
	}
	// A cancelled job frees its place.
	req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+"/api/v1/jobs/"+first.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	if g := r.view(first.ID); g.State != jobs.Cancelled {
		t.Fatalf("cancelled queued job: %+v", g)
	}
	r.accepted(q, "", in)
	// The cancelled job's queue job does nothing.
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	if g := r.view(first.ID); g.State != jobs.Cancelled {
		t.Fatalf("a cancelled job ran: %+v", g)
	}
}

// The spool of a submission is removed whatever happens.
func TestNoSpoolLeft(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, func(o *infer.Options) { o.TempDir = dir })
	r.submit("model="+r.v.ModelID, "", []byte("junk"))
	r.submit("model="+r.v.ModelID, "", fixture(t, "test_input.npy"))
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("left in the temporary folder: %v", left)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("II*\x00\x08\x00\x00\x00"), "")
	f.Add(lyingTIFF(100, 100), "image/tiff")
	f.Add(lyingTIFF(1<<20, 1<<20), "")
	f.Add(npyHeader("(3, 4)"), "application/x-npy")
	f.Add(npyHeader("(100000, 100000)"), "")
	f.Add([]byte("\x89PNG\r\n\x1a\n"), "image/png")
	f.Fuzz(func(t *testing.T, data []byte, ctype string) {
		r := bytes.NewReader(data)
		format, err := infer.Sniff(ctype, r)
		if err != nil {
			return
		}
		x, err := infer.Decode(format, r, int64(len(data)), 1<<16)
		if err == nil && (x.Len() > 1<<16 || x.Len() == 0) {
			t.Fatalf("decoded %v elements past the limit", x.Shape)
		}
	})
}

func FuzzParseModelRef(f *testing.F) {
	for _, s := range []string{"affable-shark", "affable-shark/3", "a/0", "/1", "a/b/c", "a/99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, n, err := infer.ParseModelRef(s)
		if err != nil {
			return
		}
		if id == "" || n < 0 || strings.Contains(id, "/") {
			t.Fatalf("ParseModelRef(%q) = %q, %d", s, id, n)
		}
	})
}

// zoo gc keeps the blobs of live jobs (repo.Config.KeepBlobs = JobBlobs).
func TestGCKeepsJobBlobs(t *testing.T) {
	needONNX(t)
	r := newRig(t, nil)
	v := r.accepted("model="+r.v.ModelID+"&axes=yx", "", big(t, 300))
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	j, _ := r.store.Job(context.Background(), v.ID)
	svc := repo.New(r.env.Svc.Catalog(), r.env.Svc.Blobs(), nil, repo.Config{KeepBlobs: r.store.JobBlobs})
	if n, err := svc.GC(context.Background()); err != nil || n != 0 {
		t.Fatalf("GC deleted %d blob(s) (%v); the job's are referenced", n, err)
	}
	for _, sha := range []string{j.InputSHA256, j.ResultSHA256} {
		if _, err := r.env.Svc.Blobs().Stat(context.Background(), sha); err != nil {
			t.Errorf("blob %s of a live job: %v", sha, err)
		}
	}
	if resp, b := r.get("/api/v1/jobs/" + v.ID + "/result?format=npy"); resp.StatusCode != 200 {
		t.Errorf("result after GC: %s %s", resp.Status, b)
	}
}

func TestTimeLimitFailsTheJob(t *testing.T) {
	needONNX(t)
	r := newRig(t, func(o *infer.Options) { o.Timeout = 50 * time.Millisecond })
	v := r.accepted("model="+r.v.ModelID+"&axes=yx", "", big(t, 1536))
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatalf("a job over its time limit is failed, not retried: %v", err)
	}
	g := r.view(v.ID)
	if g.State != jobs.Failed || !strings.Contains(g.Error, "longer than this server's limit") {
		t.Fatalf("job over its time limit: %+v", g)
	}
}

// A failure a retry may fix puts the job back for the queue's next
// attempt; the last attempt fails it with the reason.
func TestFailedAttemptIsRetried(t *testing.T) {
	needONNX(t)
	var mu sync.Mutex
	failing := true
	r := newRig(t, nil)
	r.s = infer.New(infer.Options{Store: r.store, Repo: r.env.Svc, Queue: r.q,
		Load: func(ctx context.Context, v *zoo.Version) (*runner.Predictor, func(), error) {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return nil, nil, zoo.E("test", zoo.Unavailable, nil, "the model store is down")
			}
			pkg, err := runner.Load(fixtures.Path(t, "packages", nuclei), runner.LoadOptions{})
			if err != nil {
				return nil, nil, err
			}
			p, err := runner.NewPredictor(pkg, "", runner.Options{})
			if err != nil {
				return nil, nil, err
			}
			return p, func() { p.Close() }, nil
		}})
	ctx := context.Background()
	j1, err := r.s.Submit(ctx, nil, infer.Submission{Model: r.v.ModelID, Body: bytes.NewReader(fixture(t, "test_input.npy"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.work(ctx, 0, 1); err == nil {
		t.Fatal("a failed attempt returned nil to the queue (no retry)")
	}
	if g, _ := r.store.Job(ctx, j1.ID); g.State != jobs.Queued || !strings.Contains(g.Message, "the model store is down") {
		t.Fatalf("after a failed attempt: %+v", g)
	}
	if err := r.work(ctx, 0, 5); err != nil {
		t.Fatalf("the last attempt: %v", err)
	}
	if g, _ := r.store.Job(ctx, j1.ID); g.State != jobs.Failed || !strings.Contains(g.Error, "the model store is down") {
		t.Fatalf("after the last attempt: %+v", g)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	j2, err := r.s.Submit(ctx, nil, infer.Submission{Model: r.v.ModelID, Body: bytes.NewReader(fixture(t, "test_input.npy"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.work(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.store.Job(ctx, j2.ID); g.State != jobs.Succeeded {
		t.Fatalf("with the model back: %+v", g)
	}
}

// A job whose workers keep dying on it fails instead of running forever.
func TestJobKillingWorkersFails(t *testing.T) {
	r := newRig(t, func(o *infer.Options) { o.MaxRuns = 2 })
	v := r.accepted("model="+r.v.ModelID, "", fixture(t, "test_input.npy"))
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	for i := range 2 { // two workers claimed it and died
		at := past.Add(time.Duration(i) * time.Minute)
		if _, err := r.store.ClaimJob(ctx, v.ID, fmt.Sprint("dead", i), at, at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.work(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if g := r.view(v.ID); g.State != jobs.Failed || !strings.Contains(g.Error, "stopped each time") {
		t.Fatalf("a job claimed 3 times with MaxRuns 2: %+v", g)
	}
}

// A colour (palette) PNG on a one-channel model runs on its grey values
// and the finished job says so; before, it ended in "input raw has axes
// bcyx; give the image's axes with the axes parameter", a parameter the
// web form does not have.
func TestColourPNGOnOneChannelModel(t *testing.T) {
	needONNX(t)
	r := newRig(t, nil)
	v := r.accepted("model="+r.v.ModelID, "image/png", fixture(t, "cover0.png"))
	if err := r.work(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	got := r.view(v.ID)
	if got.State != jobs.Succeeded {
		t.Fatalf("colour PNG: %s: %s", got.State, got.Error)
	}
	if !strings.HasPrefix(got.Message, "done; ") || !strings.Contains(got.Message, "grey") {
		t.Errorf("the finished job does not say how the colour image was read: %q", got.Message)
	}
}

// A model jobs cannot run is refused with what to do instead, and the
// reason says "not supported" once.
func TestRunnableSaysWhatToDo(t *testing.T) {
	pkg, err := runner.Load(fixtures.Path(t, "packages", "unet2d-multi-tensor-onnx"), runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = infer.Runnable(pkg.Model)
	msg := zoo.MessageOf(err)
	if err == nil || strings.Count(msg, "not supported") != 1 || !strings.Contains(msg, "zoo predict") || !strings.Contains(msg, "2 inputs") {
		t.Errorf("two-input model: %q", msg)
	}
}

func TestDownloadStem(t *testing.T) {
	for in, want := range map[string]string{
		"cells 01.tif":           "cells_01",
		"../../etc/passwd":       "passwd",
		`C:\\x\\scan.tiff`:       "scan",
		"a\"b\r\nc.png":          "a_b__c",
		".hidden":                "hidden",
		"":                       "",
		"..":                     "",
		strings.Repeat("x", 300): strings.Repeat("x", 100),
	} {
		if got := infer.DownloadStem(in); got != want {
			t.Errorf("DownloadStem(%q) = %q, want %q", in, got, want)
		}
	}
}

// cutReader sends some bytes, then fails as a connection the client
// closed mid-body does.
type cutReader struct{ sent bool }

func (c *cutReader) Read(p []byte) (int, error) {
	if !c.sent {
		c.sent = true
		return copy(p, "\x93NUMPY\x01\x00v\x00{'descr': '<f4'"), nil
	}
	return 0, io.ErrUnexpectedEOF
}

// A submission the client cut off is its fault: 400, and not logged as a
// server error (issue 15: it was a 500 with an error line).
func TestCutOffSubmission(t *testing.T) {
	r := newRig(t, nil)
	var log bytes.Buffer
	h := web.New(r.env.Svc, web.Options{Routes: r.s.Routes(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/jobs?model="+r.v.ModelID, &cutReader{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "cut off") {
		t.Errorf("a cut-off body: %d %s; want 400 saying it was cut off", w.Code, w.Body)
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("a cut-off body was logged as an error:\n%s", log.String())
	}
	if r.q.count() != 0 {
		t.Error("a cut-off submission was queued")
	}
}
