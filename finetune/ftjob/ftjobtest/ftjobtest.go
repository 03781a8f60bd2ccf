// Package ftjobtest is the conformance suite of ftjob.Store, run by the
// sqlite and postgres backends.
package ftjobtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/finetune/ftjob"
)

// Run runs the suite on stores made by open (each a fresh database).
func Run(t *testing.T, open func(t *testing.T) ftjob.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	newJob := func(id, owner string) *ftjob.Job {
		return &ftjob.Job{ID: id, Owner: owner, Model: "m", Version: 1, State: ftjob.Queued,
			DataSHA256: fmt.Sprintf("%064d", len(id)), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}

	t.Run("CreateGetUpdate", func(t *testing.T) {
		s := open(t)
		j := newJob("a1", "alice")
		j.Settings = ftjob.Settings{Task: "denoise", Iterations: 5, LR: 1e-3}
		if err := s.CreateFinetune(ctx, j, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFinetune(ctx, j, 2); zoo.KindOf(err) != zoo.Conflict || errors.Is(err, ftjob.ErrTooMany) {
			t.Errorf("second create of one id: %v, want Conflict", err)
		}
		if _, err := s.Finetune(ctx, "nope"); zoo.KindOf(err) != zoo.NotFound {
			t.Errorf("missing job: %v", err)
		}
		got, err := s.UpdateFinetune(ctx, "a1", func(j *ftjob.Job) error {
			j.State, j.Iteration, j.Losses = ftjob.Running, 1, []float64{0.5}
			return nil
		})
		if err != nil || got.Iteration != 1 {
			t.Fatalf("update: %v %+v", err, got)
		}
		boom := errors.New("boom")
		if _, err := s.UpdateFinetune(ctx, "a1", func(j *ftjob.Job) error { j.Iteration = 99; return boom }); !errors.Is(err, boom) {
			t.Errorf("update whose fn fails: %v", err)
		}
		got, err = s.Finetune(ctx, "a1")
		if err != nil || got.Iteration != 1 || got.State != ftjob.Running || len(got.Losses) != 1 || got.Settings.LR != 1e-3 || !got.CreatedAt.Equal(now) {
			t.Errorf("stored job: %v %+v", err, got)
		}
		if _, err := s.UpdateFinetune(ctx, "nope", func(*ftjob.Job) error { return nil }); zoo.KindOf(err) != zoo.NotFound {
			t.Errorf("update of a missing job: %v", err)
		}
	})

	t.Run("PerOwnerLimit", func(t *testing.T) {
		s := open(t)
		// 8 concurrent submissions of one owner with a limit of 3: exactly 3
		// are created.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.CreateFinetune(ctx, newJob(fmt.Sprintf("b%d", i), "bob"), 3)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ftjob.ErrTooMany):
				t.Errorf("create: %v", err)
			}
		}
		if ok != 3 {
			t.Errorf("%d of 8 concurrent jobs created under a limit of 3", ok)
		}
		// Another owner is not limited by bob's jobs; a finished job no
		// longer counts.
		if err := s.CreateFinetune(ctx, newJob("c1", "carol"), 1); err != nil {
			t.Error(err)
		}
		list, err := s.Finetunes(ctx, "bob", 10)
		if err != nil || len(list) != 3 {
			t.Fatalf("bob's jobs: %v %d", err, len(list))
		}
		if _, err := s.UpdateFinetune(ctx, list[0].ID, func(j *ftjob.Job) error { j.State = ftjob.Succeeded; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFinetune(ctx, newJob("b9", "bob"), 3); err != nil {
			t.Errorf("create after one finished: %v", err)
		}
	})

	t.Run("ExpiryAndBlobs", func(t *testing.T) {
		s := open(t)
		for _, id := range []string{"e1", "e22", "e333"} {
			if err := s.CreateFinetune(ctx, newJob(id, "eve"), 5); err != nil {
				t.Fatal(err)
			}
		}
		s.UpdateFinetune(ctx, "e22", func(j *ftjob.Job) error { j.Keep = true; return nil })
		s.UpdateFinetune(ctx, "e333", func(j *ftjob.Job) error { j.CheckpointSHA256 = fmt.Sprintf("%064d", 7); return nil })
		ids, err := s.ExpiredFinetunes(ctx, now.Add(2*time.Hour), 10)
		if err != nil || fmt.Sprint(ids) != "[e1 e333]" {
			t.Errorf("expired: %v %v, want [e1 e333] (e22 is kept)", ids, err)
		}
		if ids, _ := s.ExpiredFinetunes(ctx, now, 10); len(ids) != 0 {
			t.Errorf("expired before their time: %v", ids)
		}
		s.UpdateFinetune(ctx, "e1", func(j *ftjob.Job) error { j.DataDeleted, j.DataSHA256 = true, ""; return nil })
		if ids, _ := s.ExpiredFinetunes(ctx, now.Add(2*time.Hour), 10); fmt.Sprint(ids) != "[e333]" {
			t.Errorf("expired after e1's data was deleted: %v", ids)
		}
		seen := map[string]bool{}
		if err := s.FinetuneBlobs(ctx, func(sha string) error { seen[sha] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{fmt.Sprintf("%064d", 3): true, fmt.Sprintf("%064d", 4): true, fmt.Sprintf("%064d", 7): true}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("blobs in use: %v, want %v", seen, want)
		}
	})
}
