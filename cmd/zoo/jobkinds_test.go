package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

func allHandlers() map[string]queue.Handler {
	h := func(context.Context, *queue.Job) error { return nil }
	return map[string]queue.Handler{repo.JobTest: h, infer.Kind: h, challenge.JobEval: h, repo.JobConvert: h, jobMintDOI: h, "reindex": h}
}

// --kinds chooses the queues a worker works, by name or by kind; each kind
// has a queue of its own (inference never waits behind tests), a kind a
// feature adds without a row in jobKinds gets one too, and unknown names
// are usage errors.
func TestPlanWorkKinds(t *testing.T) {
	if needModelRuntime() != nil {
		t.Skip("ONNX Runtime is not installed here")
	}
	p, err := planWork(allHandlers(), []string{"infer", "test-version"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !p.runs(infer.Kind) || !p.runs(repo.JobTest) || p.runs(challenge.JobEval) || p.runs(jobMintDOI) || p.runs("reindex") {
		t.Errorf("runs %+v", p.run)
	}
	if p.queues["infer"] != 3 || p.queues["test"] != 3 || p.queues[queue.DefaultQueue] != 3 || len(p.queues) != 3 {
		t.Errorf("queues %v, want infer, test and the default queue (older jobs), 3 each", p.queues)
	}
	if p.declined[jobMintDOI] != "not in --kinds" {
		t.Errorf("declined %v", p.declined)
	}
	// Every kind routes to its own queue, extra kinds included.
	r := routesFor(allHandlers())
	seen := map[string]string{}
	for kind, q := range r {
		if other, dup := seen[q]; dup {
			t.Errorf("kinds %s and %s share queue %s", kind, other, q)
		}
		seen[q] = kind
	}
	if r[infer.Kind] == r[repo.JobTest] || r["reindex"] != "reindex" {
		t.Errorf("routes %v", r)
	}
	if _, err := planWork(allHandlers(), []string{"tests"}, 1); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "known are test, infer, score, convert, doi, reindex") {
		t.Errorf("unknown kind: %v", err)
	}
	// A kind asked for that cannot run here is an error naming what is
	// missing; without --kinds it is declined with the reason.
	t.Setenv("ZOO_DATACITE_URL", "")
	if _, err := planWork(allHandlers(), []string{"doi"}, 1); zoo.KindOf(err) != zoo.NotSupported || !strings.Contains(zoo.MessageOf(err), "DataCite") {
		t.Errorf("--kinds doi without DataCite settings: %v", err)
	}
	p, err = planWork(allHandlers(), nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.runs(jobMintDOI) || !strings.Contains(p.declined[jobMintDOI], "DataCite") || !p.runs(repo.JobTest) || !p.runs("reindex") {
		t.Errorf("default plan: %s", p.describe())
	}
	if !strings.Contains(p.describe(), "test (2 at a time)") || !strings.Contains(p.describe(), "declining ") {
		t.Errorf("describe: %s", p.describe())
	}
}

// Six queued tests do not hold an inference job (issue #22: a try-it job
// waited at 24 of 64 tiles behind tests): with one slot per kind, the
// inference job completes while the tests are still running or waiting.
func TestInferenceDoesNotWaitBehindTests(t *testing.T) {
	if needModelRuntime() != nil {
		t.Skip("ONNX Runtime is not installed here")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	release := make(chan struct{})
	handlers := map[string]queue.Handler{
		repo.JobTest: func(ctx context.Context, j *queue.Job) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
		infer.Kind: func(context.Context, *queue.Job) error { return nil },
	}
	plan, err := planWork(handlers, []string{"test", "infer"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	q, err := db.Queue(queue.Options{Handlers: handlers, Workers: 1, Queues: plan.queues, Routes: routesFor(handlers),
		PollInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(release)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		q.Stop(sctx)
	})
	for i := range 6 {
		if _, err := q.Enqueue(ctx, repo.JobTest, repo.TestArgs{ID: "shy-owl", Version: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	id, err := q.Enqueue(ctx, infer.Kind, map[string]string{"job": "x"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == queue.Completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inference job is still %s behind six tests", j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waiting, err := q.List(ctx, queue.Filter{Kind: repo.JobTest, States: []queue.State{queue.Available, queue.Running}})
	if err != nil || len(waiting) != 6 {
		t.Errorf("tests not finished when the inference job completed: %d, %v (want all 6 still there)", len(waiting), err)
	}
}
