package main

// The scale-out test of inference jobs on one machine: two `zoo serve
// --workers 0` replicas and two `zoo worker` processes (this test binary
// re-executed as zoo, see TestMain) on one PostgreSQL database and one S3
// bucket (VersityGW). The nuclei model is published by the first
// replica's --seed. Jobs are submitted through both replicas and polled
// through the other one; a worker is killed with SIGKILL in the middle of
// a large job, whose lease then runs out: the sweeper queues it again, the
// other worker runs it to the end. Every job succeeds, each result equals
// the in-process prediction of its image, and every job ran once — but the
// killed one, which ran twice and was finished once.
//
// It needs ZOO_TEST_POSTGRES and ZOO_TEST_S3 (make test sets them) and
// ONNX Runtime; without the services it skips, except under CI.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/postgres"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// proc is a zoo child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// startProc runs this binary as zoo with args and waits until its log
// matches ready.
func startProc(t *testing.T, name string, env []string, ready *regexp.Regexp, args ...string) (*proc, []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asZooEnv+"=1"), env...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, log)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := ready.FindStringSubmatch(log.String()); m != nil {
			return p, m
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before it was ready:\n%s", name, cmd.ProcessState, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 2 minutes:\n%s", name, log)
		}
	}
}

func TestScaleOutJobs(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	testenv.Need(t, testenv.ONNXRuntime, onnx.Init())
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/scaleout-" + strings.ToLower(strconv.FormatUint(rand.Uint64(), 36))
	blobs := u.String()
	store, err := s3.New(blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var keys []string
		store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			store.Delete(ctx, k)
		}
	})
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	jstore := db.Jobs()

	seed := t.TempDir()
	pkgDir := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	if err := os.CopyFS(filepath.Join(seed, "unet2d-nuclei-broad-onnx"), os.DirFS(pkgDir)); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--db", dsn, "--blobs", blobs}
	// A short lease and sweep, so that a dead worker's job is taken over
	// within seconds.
	env := []string{"ZOO_JOBS_LEASE=2s", "ZOO_JOBS_SWEEP=500ms"}
	serveArgs := append([]string{"serve", "--addr", "127.0.0.1:0", "--workers", "0"}, storage...)
	_, m := startProc(t, "serve A", env, listening, append(serveArgs, "--seed", seed)...)
	urlA := m[1]
	_, m = startProc(t, "serve B", env, listening, serveArgs...)
	urlB := m[1]
	workerReady := regexp.MustCompile(`zoo worker: running`)
	workerArgs := append([]string{"worker", "--concurrency", "1"}, storage...)
	w1, _ := startProc(t, "worker 1", env, workerReady, workerArgs...)
	w2, _ := startProc(t, "worker 2", env, workerReady, workerArgs...)

	// The seeded model, as both replicas list it.
	var model string
	deadline := time.Now().Add(time.Minute)
	for model == "" {
		for _, base := range []string{urlA, urlB} {
			var list struct{ Models []struct{ ID string } }
			getJSON(t, base+"/api/v1/models", &list)
			if len(list.Models) == 1 {
				model = list.Models[0].ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the seeded model was not published within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}

	small, err := os.ReadFile(filepath.Join(pkgDir, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	large := smoothImage(t, 2048)

	// The large job first, through replica A; then four small ones through
	// both replicas.
	type sub struct {
		id, via string
		image   []byte
	}
	var subs []sub
	submit := func(base string, img []byte) {
		id := submitJob(t, base, model, img)
		subs = append(subs, sub{id, base, img})
	}
	submit(urlA, large)
	for i := range 4 {
		submit([]string{urlA, urlB}[i%2], small)
	}
	victim := subs[0].id

	// Kill the worker running the large job once it has done two tiles,
	// observed through replica B.
	var killed *proc
	deadline = time.Now().Add(5 * time.Minute)
	for killed == nil {
		v := jobView(t, urlB, victim)
		if v.State == jobs.Running && v.Progress.Done >= 2 && v.Progress.Done < v.Progress.Total-1 {
			for _, w := range []*proc{w1, w2} {
				if strings.Contains(w.log.String(), "job="+victim) {
					killed = w
				}
			}
			if killed == nil {
				t.Fatalf("job %s runs, but no worker's log names it", victim)
			}
			killed.cmd.Process.Signal(syscall.SIGKILL)
			<-killed.done
			t.Logf("killed %s at tile %d of %d of job %s", killed.name, v.Progress.Done, v.Progress.Total, victim)
			break
		}
		if v.State.Terminal() {
			t.Fatalf("the large job ended (%s) before a worker could be killed mid-job", v.State)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the large job did not reach its third tile within 5 minutes: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	survivor := w1
	if killed == w1 {
		survivor = w2
	}

	// Every job completes, answered by either replica.
	want := map[string]*tensor.Tensor{}
	start := time.Now()
	for i, s := range subs {
		other := urlA
		if s.via == urlA {
			other = urlB
		}
		var v jobViewT
		for {
			v = jobView(t, other, s.id)
			if v.State.Terminal() {
				break
			}
			if time.Since(start) > 10*time.Minute {
				t.Fatalf("job %d (%s) is still %s after 10 minutes: %+v", i, s.id, v.State, v)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if v.State != jobs.Succeeded {
			t.Fatalf("job %d (%s): %s: %s", i, s.id, v.State, v.Error)
		}
		key := strconv.Itoa(len(s.image))
		if want[key] == nil {
			want[key] = predictInProcess(t, pkgDir, s.image)
		}
		got := downloadResult(t, s.via, s.id)
		if d := tensorDiff(t, got, want[key]); d > 1e-5 {
			t.Errorf("job %d (%s): the result differs from the in-process prediction by %g", i, s.id, d)
		}
		rec, err := jstore.Job(ctx, s.id)
		if err != nil {
			t.Fatal(err)
		}
		runs := 1
		if s.id == victim {
			runs = 2
		}
		if rec.Runs != runs || rec.ResultSHA256 == "" {
			t.Errorf("job %d (%s) ran %d time(s), want %d: %+v", i, s.id, rec.Runs, runs, rec)
		}
	}
	if !strings.Contains(survivor.log.String(), "job="+victim) {
		t.Errorf("the surviving worker did not run the killed worker's job")
	}
	n, err := jstore.ActiveJobs(ctx)
	if err != nil || n != 0 {
		t.Errorf("%d job(s) still queued or running (%v)", n, err)
	}
	t.Logf("%d jobs through 2 replicas on 2 workers, one killed mid-job: all succeeded in %v, results equal to the in-process prediction", len(subs), time.Since(start).Round(time.Millisecond))
}

type jobViewT struct {
	ID       string     `json:"id"`
	State    jobs.State `json:"state"`
	Error    string     `json:"error"`
	Progress struct {
		Done, Total int
	} `json:"progress"`
}

func getJSON(t *testing.T, u string, v any) {
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
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func jobView(t *testing.T, base, id string) jobViewT {
	t.Helper()
	var v jobViewT
	getJSON(t, base+"/api/v1/jobs/"+id, &v)
	return v
}

func submitJob(t *testing.T, base, model string, img []byte) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/jobs?model="+model, "application/octet-stream", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v jobViewT
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &v) != nil || !jobs.ValidID(v.ID) {
		t.Fatalf("POST %s/api/v1/jobs: %s %s", base, resp.Status, b)
	}
	return v.ID
}

func downloadResult(t *testing.T, base, id string) *tensor.Tensor {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/jobs/" + id + "/result?format=npy")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("result of %s: %s %s", id, resp.Status, b)
	}
	x, err := npy.Read(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// smoothImage is a size×size float32 .npy of smooth structures.
func smoothImage(t *testing.T, size int) []byte {
	t.Helper()
	x, _ := tensor.New(tensor.Float32, []int{size, size})
	f := x.Float32s()
	for i := range size {
		for j := range size {
			f[i*size+j] = float32(math.Sin(float64(i)/13) * math.Cos(float64(j)/29))
		}
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, x); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// predictInProcess predicts an .npy image with the model in dir, as zoo
// predict does.
func predictInProcess(t *testing.T, dir string, img []byte) *tensor.Tensor {
	t.Helper()
	x, err := npy.Read(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := runner.Load(dir, runner.LoadOptions{})
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

func tensorDiff(t *testing.T, a, b *tensor.Tensor) float64 {
	t.Helper()
	if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		t.Fatalf("result of shape %v, want %v", a.Shape, b.Shape)
	}
	d := 0.0
	for i := range a.Len() {
		d = math.Max(d, math.Abs(a.Float64At(i)-b.Float64At(i)))
	}
	return d
}
