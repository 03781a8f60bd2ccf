package main

// The scale-out test of fine-tuning jobs: one `zoo serve --workers 0`
// replica and two `zoo worker` processes (this test binary re-executed as
// zoo) on one PostgreSQL database and one S3 bucket. The untrained
// denoiser fixture is published by the replica's --seed. A fine-tuning job
// is submitted through the API; once it has stored a checkpoint in S3, the
// worker running it is killed with SIGKILL. The queue gives the job to the
// other worker (after the dead worker's lease), which resumes from the
// stored checkpoint. A second job with the same images, settings and seed
// runs uninterrupted; both end with the same losses and a draft whose
// model gives the same output (tolerance 1e-5). The draft passes the
// repository's test, validates and passes zoo test here, and once
// submitted and accepted by a reviewer the parent's page lists it as a
// fine-tuned child.
//
// It needs ZOO_TEST_POSTGRES and ZOO_TEST_S3 (make test sets them), the
// sandbox, Debian's PyTorch and libtorch; without them it skips, except
// under CI.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// ftView is the part of a fine-tuning job's JSON the tests read.
type ftView struct {
	ID                  string             `json:"id"`
	State               string             `json:"state"`
	Iteration           int                `json:"iteration"`
	Losses              []float64          `json:"losses"`
	CheckpointIteration int                `json:"checkpoint_iteration"`
	Resumed             []int              `json:"resumed"`
	Runs                int                `json:"runs"`
	Message             string             `json:"message"`
	Error               string             `json:"error"`
	Metric              string             `json:"metric"`
	After               map[string]float64 `json:"after"`
	Before              map[string]float64 `json:"before"`
	Draft               *struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"draft"`
}

func needFinetune(t *testing.T) {
	t.Helper()
	testenv.Need(t, testenv.PyTorch, canFinetune())
}

// finetuneImages writes 3 noisy 64×64 crops of the nuclei example (and
// their clean versions) and returns them as a job's zip.
func finetuneImages(t *testing.T) []byte {
	t.Helper()
	x, err := npy.ReadFile(filepath.Join(fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad"), "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	d := x.Float32s()
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range d {
		lo, hi = min(lo, v), max(hi, v)
	}
	dir := t.TempDir()
	for _, sub := range []string{"images", "clean"} {
		os.Mkdir(filepath.Join(dir, sub), 0o755)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i, at := range [][2]int{{0, 0}, {128, 256}, {256, 128}} {
		clean, _ := tensor.New(tensor.Float32, []int{1, 1, 64, 64})
		noisy, _ := tensor.New(tensor.Float32, []int{1, 1, 64, 64})
		for r := range 64 {
			for c := range 64 {
				v := (d[(at[0]+r)*512+at[1]+c] - lo) / (hi - lo)
				clean.Float32s()[r*64+c] = v
				noisy.Float32s()[r*64+c] = v + float32(rng.NormFloat64()*0.2)
			}
		}
		name := "img" + strconv.Itoa(i) + ".npy"
		if err := npy.WriteFile(filepath.Join(dir, "images", name), noisy); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(filepath.Join(dir, "clean", name), clean); err != nil {
			t.Fatal(err)
		}
	}
	zp := filepath.Join(dir, "data.zip")
	if _, err := dataZip(zp, filepath.Join(dir, "images"), "", filepath.Join(dir, "clean")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(zp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ftRequest(t *testing.T, method, u, tok string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/zip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func ftJob(t *testing.T, base, tok, id string) ftView {
	t.Helper()
	code, b := ftRequest(t, "GET", base+"/api/v1/finetune/"+id, tok, nil)
	var v ftView
	if code != 200 || json.Unmarshal(b, &v) != nil {
		t.Fatalf("GET fine-tuning job %s: %d %s", id, code, b)
	}
	return v
}

func ftSubmit(t *testing.T, base, tok, query string, zip []byte) string {
	t.Helper()
	code, b := ftRequest(t, "POST", base+"/api/v1/finetune?"+query, tok, zip)
	var v ftView
	if code != http.StatusAccepted || json.Unmarshal(b, &v) != nil || v.ID == "" {
		t.Fatalf("POST /api/v1/finetune?%s: %d %s", query, code, b)
	}
	return v.ID
}

func ftWait(t *testing.T, base, tok, id string, limit time.Duration) ftView {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := ftJob(t, base, tok, id)
		if v.State == "succeeded" || v.State == "failed" || v.State == "cancelled" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("fine-tuning job %s still %s after %v: %+v", id, v.State, limit, v)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestFinetuneScaleOut(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	needFinetune(t)
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/finetune-" + strings.ToLower(strconv.FormatUint(rand.Uint64(), 36))
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
	seed := t.TempDir()
	if err := os.CopyFS(filepath.Join(seed, "denoiser"), os.DirFS("../../finetune/testdata/denoiser")); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--db", dsn, "--blobs", blobs}
	// A checkpoint every second, so that one is stored soon.
	env := []string{"ZOO_FINETUNE_CHECKPOINT=1s"}
	_, m := startProc(t, "serve", env, listening, append([]string{"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--seed", seed}, storage...)...)
	base := m[1]
	workerReady := regexp.MustCompile(`zoo worker: running`)
	workerArgs := append([]string{"worker", "--concurrency", "1"}, storage...)
	w1, _ := startProc(t, "worker 1", env, workerReady, workerArgs...)
	w2, _ := startProc(t, "worker 2", env, workerReady, workerArgs...)
	for _, w := range []*proc{w1, w2} {
		if !strings.Contains(w.log.String(), "runs finetune jobs") {
			t.Fatalf("%s does not fine-tune:\n%s", w.name, w.log)
		}
	}
	code, out, errs := runZoo(t, "admin", "token", "--db", dsn, "--user", "alice")
	if code != 0 {
		t.Fatalf("admin token: %s", errs)
	}
	alice := strings.TrimSpace(out)
	code, out, errs = runZoo(t, "admin", "token", "--db", dsn, "--user", "rita", "--role", "reviewer")
	if code != 0 {
		t.Fatalf("admin token: %s", errs)
	}
	rita := strings.TrimSpace(out)

	// The seeded denoiser, published once its test passed.
	var parent string
	deadline := time.Now().Add(3 * time.Minute)
	for parent == "" {
		var list struct{ Models []struct{ ID string } }
		getJSON(t, base+"/api/v1/models", &list)
		if len(list.Models) == 1 {
			parent = list.Models[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("the seeded denoiser was not published within 3 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	zipData := finetuneImages(t)
	// Enough iterations that an idle machine is still training when the
	// first checkpoint (after a second) is stored and the worker is killed.
	const iterations = 1000
	settings := fmt.Sprintf("model=%s/1&iterations=%d&patch=32&batch=2&lr=0.002&seed=5", parent, iterations)

	// Job 1: its worker is killed after a checkpoint was stored.
	first := ftSubmit(t, base, alice, settings, zipData)
	var killed, survivor *proc
	var killedAt ftView
	deadline = time.Now().Add(5 * time.Minute)
	for killed == nil {
		v := ftJob(t, base, alice, first)
		if v.State == "running" && v.CheckpointIteration >= 3 && v.Iteration < iterations*4/5 {
			for _, w := range []*proc{w1, w2} {
				if ranJob(w, first) {
					killed = w
				}
			}
			if killed == nil {
				t.Fatalf("job %s runs, but no worker's log names it", first)
			}
			killed.cmd.Process.Signal(syscall.SIGKILL)
			<-killed.done
			killedAt = v
			t.Logf("killed %s at iteration %d, checkpoint at %d", killed.name, v.Iteration, v.CheckpointIteration)
			break
		}
		if v.State != "queued" && v.State != "running" {
			t.Fatalf("job %s ended (%s: %s %s) before its worker could be killed", first, v.State, v.Message, v.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s stored no checkpoint within 5 minutes: %+v", first, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	survivor = w1
	if killed == w1 {
		survivor = w2
	}
	start := time.Now()
	resumed := ftWait(t, base, alice, first, 8*time.Minute)
	if resumed.State != "succeeded" {
		t.Fatalf("the killed worker's job: %s: %s %s", resumed.State, resumed.Message, resumed.Error)
	}
	if len(resumed.Resumed) != 1 || resumed.Resumed[0] < killedAt.CheckpointIteration || resumed.Resumed[0] > killedAt.Iteration || resumed.Runs != 2 {
		t.Errorf("job %s: resumed at %v after %d runs; want one resumption from the checkpoint stored before the kill (≥ %d, ≤ %d)",
			first, resumed.Resumed, resumed.Runs, killedAt.CheckpointIteration, killedAt.Iteration)
	}
	if !ranJob(survivor, first) {
		t.Errorf("the surviving worker did not run the killed worker's job")
	}
	t.Logf("the job resumed from iteration %d on %s and ended %v after the kill: %s", resumed.Resumed, survivor.name, time.Since(start).Round(time.Second), resumed.Message)

	// Job 2: the same, never interrupted.
	second := ftSubmit(t, base, alice, settings, zipData)
	whole := ftWait(t, base, alice, second, 5*time.Minute)
	if whole.State != "succeeded" || len(whole.Resumed) != 0 || whole.Runs != 1 {
		t.Fatalf("the uninterrupted job: %+v", whole)
	}
	if len(whole.Losses) != iterations || len(resumed.Losses) != iterations {
		t.Fatalf("losses: %d uninterrupted, %d resumed; want %d", len(whole.Losses), len(resumed.Losses), iterations)
	}
	const tol = 1e-5
	maxLoss := 0.0
	for i := range whole.Losses {
		maxLoss = math.Max(maxLoss, math.Abs(whole.Losses[i]-resumed.Losses[i]))
	}
	if maxLoss > tol {
		t.Errorf("the resumed job's losses differ from the uninterrupted one's by up to %g (tolerance %g)", maxLoss, tol)
	}
	c, err := client.New(base, alice)
	if err != nil {
		t.Fatal(err)
	}
	output := func(j ftView) *tensor.Tensor {
		d, err := c.File(ctx, j.Draft.ID, j.Draft.Version, "test_output_finetuned.npy")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		x, err := npy.Read(d)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	maxOut := tensorDiff(t, output(resumed), output(whole))
	if maxOut > tol {
		t.Errorf("the resumed job's model differs from the uninterrupted one's by %g on the held-out image (tolerance %g)", maxOut, tol)
	}
	t.Logf("resumed vs uninterrupted (seed 5, %d iterations): losses differ by at most %g, held-out outputs by %g; held-out MSE %.5f → %.5f",
		iterations, maxLoss, maxOut, resumed.Before["mse"], resumed.After["mse"])

	// The draft passes the repository's test, validates and passes zoo
	// test here, and names its parent.
	draft := resumed.Draft
	deadline = time.Now().Add(5 * time.Minute)
	for {
		v, err := c.Get(ctx, draft.ID, draft.Version)
		if err != nil {
			t.Fatal(err)
		}
		if v.TestStatus != "pending" {
			if v.TestStatus != "passed" {
				t.Fatalf("the draft's test: %s %s", v.TestStatus, v.TestReport)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the draft was not tested within 5 minutes")
		}
		time.Sleep(300 * time.Millisecond)
	}
	dir := t.TempDir()
	if _, _, err := download(ctx, c, draft.ID, draft.Version, dir, false); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runZoo(t, "validate", dir); code != 0 {
		t.Errorf("zoo validate of the draft: %d %s %s", code, out, errs)
	}
	if code, out, errs := runZoo(t, "test", dir); code != 0 {
		t.Errorf("zoo test of the draft: %d %s %s", code, out, errs)
	}
	desc, _ := os.ReadFile(filepath.Join(dir, "rdf.yaml"))
	if !regexp.MustCompile(`(?m)^parent:\s*\n\s+id: ` + parent + `\n\s+version: "?1"?`).Match(desc) {
		t.Errorf("the draft's description does not name %s/1 as its parent:\n%s", parent, desc)
	}

	// Submitted and accepted, it is the parent's fine-tuned child.
	if code, b := ftRequest(t, "POST", base+"/api/v1/models/"+draft.ID+"/versions/1/submit", alice, nil); code != 200 {
		t.Fatalf("submit: %d %s", code, b)
	}
	rc, err := client.New(base, rita)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Review(ctx, draft.ID, draft.Version, "accept", "fine-tuned draft"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/models/" + parent)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	children := regexp.MustCompile(`(?s)<ul class="plain" id="finetune-children">.*?</ul>`).Find(page)
	if !bytes.Contains(children, []byte(draft.ID)) {
		t.Errorf("the parent's page does not list %s as a fine-tuned child:\n%s", draft.ID, children)
	}
	resp, err = http.Get(base + "/models/" + draft.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte(`id="finetune-parent"`)) || !bytes.Contains(page, []byte("/models/"+parent+"/1")) {
		t.Errorf("the child's page does not link its parent")
	}
}

// ranJob reports whether worker w's log has its "fine-tuning" line for job
// id (the line a worker writes when it starts or resumes the job).
func ranJob(w *proc, id string) bool {
	return regexp.MustCompile(`msg=fine-tuning .*job=` + regexp.QuoteMeta(id) + `\b`).MatchString(w.log.String())
}
