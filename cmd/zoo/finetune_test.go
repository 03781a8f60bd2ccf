package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/finetune/ftjob"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// zoo gc keeps the images and checkpoints of fine-tuning jobs; once a
// job's data is deleted (expiry), they are collected.
func TestGCKeepsFinetuneBlobs(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	zooOK(t, "gc", "--data", data) // creates the layout
	blobs, err := disk.New(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	zipSHA, _, err := blobs.Put(ctx, strings.NewReader("the user's images"))
	if err != nil {
		t.Fatal(err)
	}
	ckSHA, _, err := blobs.Put(ctx, strings.NewReader("a checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	j := &ftjob.Job{ID: "j1", Owner: "alice", Model: "m", Version: 1, State: ftjob.Running, DataSHA256: zipSHA, CheckpointSHA256: ckSHA,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.FinetuneJobs().CreateFinetune(ctx, j, 2); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out := zooOK(t, "gc", "--data", data, "--json", "--grace", "0"); out != `{"deleted":0,"temporary_deleted":0}`+"\n" {
		t.Errorf("zoo gc beside a fine-tuning job printed %q, want nothing deleted", out)
	}
	for _, sha := range []string{zipSHA, ckSHA} {
		if _, err := blobs.Stat(ctx, sha); err != nil {
			t.Errorf("blob %s of a running fine-tuning job: %v", sha[:8], err)
		}
	}
	db, err = sqlite.Open(ctx, filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.FinetuneJobs().UpdateFinetune(ctx, "j1", func(j *ftjob.Job) error {
		j.DataDeleted, j.DataSHA256, j.CheckpointSHA256 = true, "", ""
		return nil
	})
	db.Close()
	if out := zooOK(t, "gc", "--data", data, "--json", "--grace", "0"); out != `{"deleted":2,"temporary_deleted":0}`+"\n" {
		t.Errorf("zoo gc after the job's data was deleted printed %q, want 2 deleted", out)
	}
}

// The job API on one instance (SQLite): a replica that runs no jobs leaves
// a job queued and says it waits for a worker that can fine-tune; a
// worker then runs it. Only its owner sees a job; anonymous submissions
// are refused; a user past the per-user limit gets 429; a running job
// stops when cancelled; keep spares the data; with publish_data the
// training images become a dataset draft named as the model's
// training_data. zoo finetune --server --json follows a job to its
// draft.
func TestFinetuneJobAPI(t *testing.T) {
	needFinetune(t)
	data := t.TempDir()
	seed := t.TempDir()
	if err := os.CopyFS(filepath.Join(seed, "denoiser"), os.DirFS("../../finetune/testdata/denoiser")); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--data", data}
	env := []string{"ZOO_FINETUNE_PER_USER=1", "ZOO_FINETUNE_CHECKPOINT=1s"}
	_, m := startProc(t, "serve", env, listening, append([]string{"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--seed", seed}, storage...)...)
	base := m[1]
	alice := token(t, storage, "alice", "contributor")
	bob := token(t, storage, "bob", "contributor")
	// The seed's test needs a worker: start one only for jobs later; the
	// denoiser is published by --seed whatever its test.
	var parent string
	deadline := time.Now().Add(time.Minute)
	for parent == "" {
		var list struct{ Models []struct{ ID string } }
		getJSON(t, base+"/api/v1/models", &list)
		if len(list.Models) == 1 {
			parent = list.Models[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("the seeded denoiser was not published")
		}
		time.Sleep(200 * time.Millisecond)
	}
	zipData := finetuneImages(t)

	if code, b := ftRequest(t, "POST", base+"/api/v1/finetune?model="+parent, "", zipData); code != 401 {
		t.Errorf("anonymous submission: %d %s", code, b)
	}
	first := ftSubmit(t, base, alice, "model="+parent+"&iterations=20&patch=32&batch=2&publish_data=true", zipData)
	time.Sleep(2 * time.Second)
	if v := ftJob(t, base, alice, first); v.State != "queued" || !strings.Contains(v.Message, "waiting for a worker that can fine-tune") {
		t.Errorf("without a capable worker the job is %s: %q", v.State, v.Message)
	}
	if code, _ := ftRequest(t, "GET", base+"/api/v1/finetune/"+first, bob, nil); code != 404 {
		t.Errorf("bob sees alice's job: %d", code)
	}
	if code, b := ftRequest(t, "POST", base+"/api/v1/finetune?model="+parent, alice, zipData); code != 429 || !strings.Contains(string(b), "fine-tuning job") {
		t.Errorf("a second active job past a limit of 1: %d %s", code, b)
	}
	code, b := ftRequest(t, "POST", base+"/api/v1/finetune/"+first+"/keep?keep=true", alice, nil)
	if code != 200 || !strings.Contains(string(b), `"keep":true`) || strings.Contains(string(b), "data_deleted_at") {
		t.Errorf("keep: %d %s", code, b)
	}
	startProc(t, "worker", env, regexp.MustCompile(`zoo worker: running`), append([]string{"worker", "--concurrency", "1"}, storage...)...)
	done := ftWait(t, base, alice, first, 5*time.Minute)
	if done.State != "succeeded" || done.Draft == nil {
		t.Fatalf("job: %+v", done)
	}
	var full struct {
		Dataset *struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
		} `json:"dataset"`
	}
	_, b = ftRequest(t, "GET", base+"/api/v1/finetune/"+first, alice, nil)
	json.Unmarshal(b, &full)
	if full.Dataset == nil {
		t.Fatalf("publish_data made no dataset: %s", b)
	}
	c, _ := client.New(base, alice)
	ds, err := c.Get(context.Background(), full.Dataset.ID, full.Dataset.Version)
	if err != nil || ds.State != "draft" || len(ds.Files) < 4 {
		t.Errorf("the dataset draft: %v %+v", err, ds)
	}
	d, err := c.File(context.Background(), done.Draft.ID, done.Draft.Version, "rdf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := io.ReadAll(d)
	d.Close()
	if !strings.Contains(string(desc), "training_data:\n  id: "+full.Dataset.ID) {
		t.Errorf("the model does not name its training data %s:\n%s", full.Dataset.ID, desc)
	}

	// Cancel stops a running job.
	long := ftSubmit(t, base, alice, "model="+parent+"&iterations=2000&patch=32&batch=2", zipData)
	deadline = time.Now().Add(3 * time.Minute)
	for ftJob(t, base, alice, long).Iteration < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the long job did not start")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, b := ftRequest(t, "POST", base+"/api/v1/finetune/"+long+"/cancel", bob, nil); code != 404 {
		t.Errorf("bob cancels alice's job: %d %s", code, b)
	}
	if code, b := ftRequest(t, "POST", base+"/api/v1/finetune/"+long+"/cancel", alice, nil); code != 200 || !strings.Contains(string(b), `"state":"cancelled"`) {
		t.Fatalf("cancel: %d %s", code, b)
	}
	at := ftJob(t, base, alice, long).Iteration
	time.Sleep(5 * time.Second)
	if v := ftJob(t, base, alice, long); v.Iteration > at+2 || v.State != "cancelled" {
		t.Errorf("the cancelled job went on: iteration %d → %d, %s", at, v.Iteration, v.State)
	}

	// The CLI follows a job to its draft.
	out := filepath.Join(t.TempDir(), "draft")
	imgs := t.TempDir()
	zp := filepath.Join(imgs, "d.zip")
	os.WriteFile(zp, zipData, 0o644)
	unzipInto(t, zp, imgs)
	code, stdout, errs := runZoo(t, "finetune", "--server", base, "--token", alice, "--model", parent, "--images", filepath.Join(imgs, "images"),
		"--clean", filepath.Join(imgs, "clean"), "--out", out, "--iterations", "10", "--patch", "32", "--batch", "2", "--json")
	if code != 0 {
		t.Fatalf("zoo finetune --server: %d %s %s", code, stdout, errs)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["event"] != "done" || last["state"] != "succeeded" || last["metric"] != "mse" {
		t.Errorf("last JSON line %s", lines[len(lines)-1])
	}
	if _, err := os.Stat(filepath.Join(out, "weights_finetuned.pt")); err != nil {
		t.Errorf("the draft was not downloaded: %v", err)
	}
}

func unzipInto(t *testing.T, zp, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zp)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		os.WriteFile(p, b, 0o644)
	}
}
