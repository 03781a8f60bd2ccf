package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob/disk"
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
