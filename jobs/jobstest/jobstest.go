// Package jobstest is the conformance suite every jobs.Store passes
// (sqlite, postgres). A backend's test calls Run with a function that
// returns a store on a fresh, empty database.
package jobstest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
)

// Run runs the suite; subtests call open in parallel.
func Run(t *testing.T, open func(t *testing.T) jobs.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s jobs.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Lifecycle", testLifecycle},
		{"LeaseGuardsWrites", testLease},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Cancel", testCancel},
		{"RequeueStale", testRequeueStale},
		{"Expiry", testExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// t0 is a fixed time with whole milliseconds.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newJob(t *testing.T, s jobs.Store, input string) *jobs.Job {
	t.Helper()
	j := &jobs.Job{ID: jobs.NewID(), ModelID: "affable-shark", Version: 2, InputSHA256: input, InputSize: 1234,
		InputFormat: "tif", Axes: "yx", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	return j
}

func get(t *testing.T, s jobs.Store, id string) *jobs.Job {
	t.Helper()
	j, err := s.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func wantKind(t *testing.T, what string, err error, k zoo.Kind) {
	t.Helper()
	if zoo.KindOf(err) != k || err == nil {
		t.Fatalf("%s: %v (kind %v), want kind %v", what, err, zoo.KindOf(err), k)
	}
}

func testRoundTrip(t *testing.T, s jobs.Store) {
	j := newJob(t, s, "aa")
	got := get(t, s, j.ID)
	want := *j
	want.State, want.UpdatedAt = jobs.Queued, t0
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("stored %+v\nread back %+v", want, *got)
	}
	wantKind(t, "second CreateJob with the same id", s.CreateJob(ctx, j), zoo.Conflict)
	_, err := s.Job(ctx, jobs.NewID())
	wantKind(t, "Job of an unknown id", err, zoo.NotFound)
	if n, err := s.ActiveJobs(ctx); err != nil || n != 1 {
		t.Fatalf("ActiveJobs = %d, %v; want 1", n, err)
	}
}

func testLifecycle(t *testing.T, s jobs.Store) {
	j := newJob(t, s, "aa")
	c, err := s.ClaimJob(ctx, j.ID, "L1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.State != jobs.Running || c.Lease != "L1" || c.Runs != 1 || !c.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claimed job: %+v", c)
	}
	if err := s.Heartbeat(ctx, j.ID, "L1", jobs.Progress{Done: 3, Total: 9, Message: "tile 3 of 9"}, t0.Add(time.Second), t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	g := get(t, s, j.ID)
	if g.Done != 3 || g.Total != 9 || g.Message != "tile 3 of 9" || !g.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after a heartbeat: %+v", g)
	}
	// A failed attempt puts it back; the next claim counts a second run.
	if err := s.ReleaseJob(ctx, j.ID, "L1", "attempt 1 failed", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if g := get(t, s, j.ID); g.State != jobs.Queued || g.Lease != "" || g.Message != "attempt 1 failed" {
		t.Fatalf("released: %+v", g)
	}
	if _, err := s.ClaimJob(ctx, j.ID, "L2", t0.Add(3*time.Second), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, j.ID, "L2", jobs.Finish{State: jobs.Succeeded, ResultSHA256: "bb", ResultSize: 99, Message: "done"}, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	g = get(t, s, j.ID)
	if g.State != jobs.Succeeded || g.ResultSHA256 != "bb" || g.ResultSize != 99 || g.Runs != 2 || g.Lease != "" ||
		!g.FinishedAt.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("finished: %+v", g)
	}
	_, err = s.ClaimJob(ctx, j.ID, "L3", t0.Add(time.Hour), t0.Add(2*time.Hour))
	wantKind(t, "claiming a succeeded job", err, zoo.Conflict)
	if n, _ := s.ActiveJobs(ctx); n != 0 {
		t.Fatalf("ActiveJobs = %d after the only job succeeded", n)
	}
	for _, sha := range []string{"aa", "bb"} {
		if in, err := s.BlobInUse(ctx, sha); err != nil || !in {
			t.Errorf("BlobInUse(%s) = %v, %v; want true", sha, in, err)
		}
	}
	if in, _ := s.BlobInUse(ctx, "cc"); in {
		t.Error("BlobInUse of a blob no job has: true")
	}
}

func testLease(t *testing.T, s jobs.Store) {
	j := newJob(t, s, "aa")
	if _, err := s.ClaimJob(ctx, j.ID, "L1", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := s.ClaimJob(ctx, j.ID, "L2", t0.Add(30*time.Second), t0.Add(2*time.Minute))
	wantKind(t, "claiming a job under a live lease", err, zoo.Conflict)
	wantKind(t, "heartbeat with another lease", s.Heartbeat(ctx, j.ID, "L2", jobs.Progress{Done: 1}, t0, t0.Add(time.Hour)), zoo.Conflict)
	wantKind(t, "finish with another lease", s.FinishJob(ctx, j.ID, "L2", jobs.Finish{State: jobs.Failed}, t0), zoo.Conflict)
	// The lease ran out: another worker takes over, and the first one's
	// writes are refused.
	if _, err := s.ClaimJob(ctx, j.ID, "L2", t0.Add(2*time.Minute), t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("claiming a job whose lease ran out: %v", err)
	}
	wantKind(t, "finish by the worker that lost its lease", s.FinishJob(ctx, j.ID, "L1", jobs.Finish{State: jobs.Succeeded, ResultSHA256: "x"}, t0), zoo.Conflict)
	if g := get(t, s, j.ID); g.State != jobs.Running || g.Lease != "L2" || g.Runs != 2 || g.ResultSHA256 != "" {
		t.Fatalf("after a lost lease: %+v", g)
	}
	err = s.Heartbeat(ctx, jobs.NewID(), "L1", jobs.Progress{}, t0, t0)
	wantKind(t, "heartbeat of an unknown job", err, zoo.NotFound)
}

func testClaimConcurrent(t *testing.T, s jobs.Store) {
	j := newJob(t, s, "aa")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			_, err := s.ClaimJob(ctx, j.ID, fmt.Sprint("L", i), t0, t0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch zoo.KindOf(err) {
			case zoo.Conflict:
			default:
				if err != nil {
					t.Errorf("claim %d: %v", i, err)
					return
				}
				won++
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 concurrent claims won; want exactly 1", won)
	}
}

func testCancel(t *testing.T, s jobs.Store) {
	q := newJob(t, s, "aa")
	c, err := s.CancelJob(ctx, q.ID, t0.Add(time.Second))
	if err != nil || c.State != jobs.Cancelled || !c.FinishedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("cancelling a queued job: %+v, %v", c, err)
	}
	_, err = s.ClaimJob(ctx, q.ID, "L", t0, t0.Add(time.Minute))
	wantKind(t, "claiming a cancelled job", err, zoo.Conflict)

	r := newJob(t, s, "aa")
	if _, err := s.ClaimJob(ctx, r.ID, "L", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c, err := s.CancelJob(ctx, r.ID, t0.Add(time.Second)); err != nil || c.State != jobs.Cancelled {
		t.Fatalf("cancelling a running job: %+v, %v", c, err)
	}
	wantKind(t, "heartbeat of a cancelled job", s.Heartbeat(ctx, r.ID, "L", jobs.Progress{Done: 1}, t0, t0.Add(time.Minute)), zoo.Conflict)
	wantKind(t, "finishing a cancelled job", s.FinishJob(ctx, r.ID, "L", jobs.Finish{State: jobs.Succeeded}, t0), zoo.Conflict)

	d := newJob(t, s, "aa")
	s.ClaimJob(ctx, d.ID, "L", t0, t0.Add(time.Minute))
	s.FinishJob(ctx, d.ID, "L", jobs.Finish{State: jobs.Succeeded, ResultSHA256: "bb"}, t0)
	if c, err := s.CancelJob(ctx, d.ID, t0.Add(time.Hour)); err != nil || c.State != jobs.Succeeded {
		t.Fatalf("cancelling a succeeded job changed it: %+v, %v", c, err)
	}
	_, err = s.CancelJob(ctx, jobs.NewID(), t0)
	wantKind(t, "cancelling an unknown job", err, zoo.NotFound)
}

func testRequeueStale(t *testing.T, s jobs.Store) {
	live, dead, queued := newJob(t, s, "aa"), newJob(t, s, "aa"), newJob(t, s, "aa")
	s.ClaimJob(ctx, live.ID, "L1", t0, t0.Add(time.Hour))
	s.ClaimJob(ctx, dead.ID, "L2", t0, t0.Add(time.Second))
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 4 { // replicas sweeping at once
		wg.Go(func() {
			ids, err := s.RequeueStale(ctx, t0.Add(time.Minute), 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if !slices.Equal(got, []string{dead.ID}) {
		t.Fatalf("RequeueStale returned %v; want the dead worker's job %s once", got, dead.ID)
	}
	if g := get(t, s, dead.ID); g.State != jobs.Queued || g.Lease != "" {
		t.Fatalf("stale job after RequeueStale: %+v", g)
	}
	if g := get(t, s, live.ID); g.State != jobs.Running {
		t.Fatalf("a live job was requeued: %+v", g)
	}
	_ = queued
}

func testExpiry(t *testing.T, s jobs.Store) {
	old := newJob(t, s, "aa")
	s.ClaimJob(ctx, old.ID, "L", t0, t0.Add(time.Minute))
	s.FinishJob(ctx, old.ID, "L", jobs.Finish{State: jobs.Succeeded, ResultSHA256: "bb"}, t0)
	young := &jobs.Job{ID: jobs.NewID(), ModelID: "m", Version: 1, InputSHA256: "cc", InputFormat: "npy", CreatedAt: t0, ExpiresAt: t0.Add(72 * time.Hour)}
	if err := s.CreateJob(ctx, young); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(25 * time.Hour)
	exp, err := s.ExpireJobs(ctx, now, 10)
	if err != nil || len(exp) != 1 || exp[0].ID != old.ID || exp[0].ResultSHA256 != "bb" {
		t.Fatalf("ExpireJobs = %v, %v; want the succeeded job of 24 h", exp, err)
	}
	if again, _ := s.ExpireJobs(ctx, now, 10); len(again) != 0 {
		t.Fatalf("a job expired twice: %v", again)
	}
	if g := get(t, s, old.ID); g.State != jobs.Expired {
		t.Fatalf("expired job: %+v", g)
	}
	for _, sha := range []string{"aa", "bb"} {
		if in, _ := s.BlobInUse(ctx, sha); in {
			t.Errorf("blob %s of an expired job is still in use", sha)
		}
	}
	if in, _ := s.BlobInUse(ctx, "cc"); !in {
		t.Error("the input of a live job is not in use")
	}
	var kept []string
	if err := s.JobBlobs(ctx, func(sha string) error { kept = append(kept, sha); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept, []string{"cc"}) {
		t.Errorf("JobBlobs = %v; want the live job's input cc alone", kept)
	}
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	_, err = s.Job(ctx, old.ID)
	wantKind(t, "a deleted job", err, zoo.NotFound)
	get(t, s, young.ID)
}
