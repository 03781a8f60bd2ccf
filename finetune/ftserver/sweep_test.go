package ftserver_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/finetune/ftjob"
	"github.com/zoo-bioimage/zoo/finetune/ftserver"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// Sweep deletes the images and checkpoints of jobs past their retention
// time, stops such a job if it still runs, spares kept jobs and a blob
// another job still names.
func TestSweepDeletesExpiredData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(s string) string {
		sha, _, err := blobs.Put(ctx, strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	shared, own, ck, kept, live := put("shared images"), put("own images"), put("checkpoint"), put("kept images"), put("live images")
	st := db.FinetuneJobs()
	now := time.Now().UTC()
	mk := func(id, data, ckpt string, state ftjob.State, expires time.Time, keep bool) {
		j := &ftjob.Job{ID: id, Owner: "alice", Model: "m", Version: 1, State: state, DataSHA256: data, CheckpointSHA256: ckpt,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: expires, Keep: keep}
		if err := st.CreateFinetune(ctx, j, 100); err != nil {
			t.Fatal(err)
		}
	}
	mk("old-running", own, ck, ftjob.Running, now.Add(-time.Minute), false)
	mk("old-shared", shared, "", ftjob.Succeeded, now.Add(-time.Minute), false)
	mk("new-shared", shared, "", ftjob.Queued, now.Add(time.Hour), false)
	mk("old-kept", kept, "", ftjob.Succeeded, now.Add(-time.Minute), true)
	mk("new", live, "", ftjob.Succeeded, now.Add(time.Hour), false)
	s := ftserver.New(ftserver.Options{Store: st, Repo: repo.New(db, blobs, nil, repo.Config{})})
	n, err := s.Sweep(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("swept %d (%v), want 2", n, err)
	}
	for sha, want := range map[string]bool{own: false, ck: false, shared: true, kept: true, live: true} {
		_, err := blobs.Stat(ctx, sha)
		if (err == nil) != want {
			t.Errorf("blob %s: exists %v, want %v", sha[:8], err == nil, want)
		}
	}
	j, _ := st.Finetune(ctx, "old-running")
	if !j.DataDeleted || j.State != ftjob.Cancelled || !strings.Contains(j.Message, "retention") {
		t.Errorf("expired running job: %+v", j)
	}
	if n, _ := s.Sweep(ctx, now); n != 0 {
		t.Errorf("a second sweep cleared %d jobs", n)
	}
	if !strings.Contains(s.Retention(), "7 days") {
		t.Errorf("retention %q", s.Retention())
	}
}
