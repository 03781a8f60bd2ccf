// Package queuetest is the conformance suite of the job queue on each
// database (sqlite, postgres): one set of tests, run by each backend's
// tests.
package queuetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/queue"
)

// Run runs the suite. open returns a queue with opts on a fresh, empty job
// store and arranges its cleanup with t.Cleanup; subtests call it in
// parallel.
func Run(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue)
	}{
		{"EachJobOnce", testEachJobOnce},
		{"Retry", testRetry},
		{"GiveUp", testGiveUp},
		{"EnqueueOnly", testEnqueueOnly},
		{"OtherKindsWait", testOtherKindsWait},
		{"RoutedQueues", testRoutedQueues},
		{"StopCancelsStuckJobs", testStopCancels},
		{"OperatorTools", testOperatorTools},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

var ctx = context.Background()

// options are fast, quiet test settings around handlers.
func options(handlers map[string]queue.Handler) queue.Options {
	return queue.Options{
		Handlers:     handlers,
		Workers:      3,
		MaxAttempts:  3,
		Backoff:      func(int) time.Duration { return 10 * time.Millisecond },
		PollInterval: 100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

func start(t *testing.T, q *queue.Queue) {
	t.Helper()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := q.Stop(sctx); err != nil {
			t.Error(err)
		}
	})
}

// waitFor polls job id until it reaches state (30 s at most).
func waitFor(t *testing.T, q *queue.Queue, id int64, state queue.State) *queue.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s after 30 s, want %s (errors %q)", id, j.State, state, j.Errors)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameJSON compares JSON by value: PostgreSQL keeps job args as jsonb,
// which reformats them.
func sameJSON(got json.RawMessage, want string) bool {
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal([]byte(want), &w) == nil && reflect.DeepEqual(g, w)
}

type args struct {
	N int `json:"n"`
}

func testEachJobOnce(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	var mu sync.Mutex
	runs := map[int64]int{}
	seen := map[int]bool{}
	q := open(t, options(map[string]queue.Handler{
		"count": func(ctx context.Context, j *queue.Job) error {
			var a args
			if err := json.Unmarshal(j.Args, &a); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			runs[j.ID]++
			seen[a.N] = true
			return nil
		},
	}))
	var ids []int64
	for i := range 5 {
		id, err := q.Enqueue(ctx, "count", args{N: i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	j, err := q.Job(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if j.State != queue.Available || j.Kind != "count" || !sameJSON(j.Args, `{"n":0}`) || j.Attempt != 0 || j.MaxAttempts != 3 {
		t.Errorf("enqueued job = %+v", j)
	}
	start(t, q)
	for _, id := range ids {
		j := waitFor(t, q, id, queue.Completed)
		if j.Attempt != 1 || len(j.Errors) != 0 || j.FinalizedAt == nil {
			t.Errorf("completed job = %+v", j)
		}
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate run to show
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if runs[id] != 1 {
			t.Errorf("job %d ran %d times, want once", id, runs[id])
		}
	}
	if len(runs) != 5 || len(seen) != 5 {
		t.Errorf("ran %d jobs with %d distinct args, want 5 and 5", len(runs), len(seen))
	}
}

func testRetry(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	var mu sync.Mutex
	attempts := 0
	q := open(t, options(map[string]queue.Handler{
		"flaky": func(ctx context.Context, j *queue.Job) error {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if j.Attempt < 3 {
				return fmt.Errorf("flaky failure %d", j.Attempt)
			}
			return nil
		},
	}))
	start(t, q)
	id, err := q.Enqueue(ctx, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := waitFor(t, q, id, queue.Completed)
	if j.Attempt != 3 || len(j.Errors) != 2 || !strings.Contains(j.Errors[0], "flaky failure 1") || !strings.Contains(j.Errors[1], "flaky failure 2") {
		t.Errorf("job after two failures and a success = %+v", j)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Errorf("handler ran %d times, want 3", attempts)
	}
}

func testGiveUp(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	q := open(t, options(map[string]queue.Handler{
		"broken":  func(ctx context.Context, j *queue.Job) error { return errors.New("always fails") },
		"useless": func(ctx context.Context, j *queue.Job) error { return queue.Cancel(errors.New("version is gone")) },
	}))
	start(t, q)
	broken, err := q.Enqueue(ctx, "broken", json.RawMessage(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	useless, err := q.Enqueue(ctx, "useless", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := waitFor(t, q, broken, queue.Discarded)
	if j.Attempt != 3 || len(j.Errors) != 3 || !sameJSON(j.Args, `{"x":1}`) {
		t.Errorf("discarded job = %+v", j)
	}
	j = waitFor(t, q, useless, queue.Cancelled)
	if j.Attempt != 1 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "version is gone") {
		t.Errorf("cancelled job = %+v", j)
	}
}

func testEnqueueOnly(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	q := open(t, queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := q.Start(ctx); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("Start without handlers = %v, want Invalid", err)
	}
	if err := q.Stop(ctx); err != nil {
		t.Errorf("Stop of a queue that never started = %v", err)
	}
	a, err := q.Enqueue(ctx, "index", map[string]string{"model": "patient-heron"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Enqueue(ctx, "test-version", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, "", nil); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("Enqueue without kind = %v, want Invalid", err)
	}
	if _, err := q.Enqueue(ctx, "index", func() {}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("Enqueue of unencodable args = %v, want Invalid", err)
	}
	jobs, err := q.Jobs(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].ID != b || jobs[1].ID != a || jobs[0].State != queue.Available {
		t.Errorf("Jobs = %+v, want b then a, available", jobs)
	}
	jobs, err = q.Jobs(ctx, "index", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].ID != a || !sameJSON(jobs[0].Args, `{"model":"patient-heron"}`) {
		t.Errorf("Jobs(index) = %+v", jobs)
	}
	if _, err := q.Job(ctx, b+1000); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("Job(unknown) = %v, want NotFound", err)
	}
	un, err := q.Unfinished(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 2 || un[0].ID != a || un[1].ID != b {
		t.Errorf("Unfinished = %+v, want a then b", un)
	}
}

func testOtherKindsWait(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	q := open(t, options(map[string]queue.Handler{
		"mine": func(ctx context.Context, j *queue.Job) error { return nil },
	}))
	start(t, q)
	theirs, err := q.Enqueue(ctx, "theirs", nil)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := q.Enqueue(ctx, "mine", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, q, mine, queue.Completed)
	time.Sleep(300 * time.Millisecond)
	j, err := q.Job(ctx, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != queue.Available || j.Attempt != 0 {
		t.Errorf("a job of a kind this worker does not handle = %+v, want available for another worker", j)
	}
}

// A kind routed to its own queue waits there, even in a process with its
// handler, until a process that works that queue takes it.
func testRoutedQueues(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	var mu sync.Mutex
	ran := map[string]int{}
	h := func(ctx context.Context, j *queue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		ran[j.Kind]++
		return nil
	}
	routes := map[string]string{"convert": "convert"}
	for _, works := range []bool{false, true} {
		opts := options(map[string]queue.Handler{"convert": h, "test": h})
		opts.Routes = routes
		opts.Queues = map[string]int{queue.DefaultQueue: 2}
		if works {
			opts.Queues["convert"] = 1
		}
		q := open(t, opts)
		start(t, q)
		conv, err := q.Enqueue(ctx, "convert", nil)
		if err != nil {
			t.Fatal(err)
		}
		test, err := q.Enqueue(ctx, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, q, test, queue.Completed)
		if works {
			if j := waitFor(t, q, conv, queue.Completed); j.Queue != "convert" {
				t.Errorf("routed job in queue %q", j.Queue)
			}
			continue
		}
		time.Sleep(300 * time.Millisecond)
		j, err := q.Job(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != queue.Available || j.Attempt != 0 || j.Queue != "convert" {
			t.Errorf("a routed job in a process that does not work its queue = %+v, want available in queue convert", j)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if ran["convert"] != 1 || ran["test"] != 2 {
		t.Errorf("ran %v, want convert once and test twice", ran)
	}
	bad := options(map[string]queue.Handler{"test": h})
	bad.Queues = map[string]int{"x": 0}
	if _, err := queue.New[any](nil, bad); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("a queue with 0 workers: %v, want Invalid", err)
	}
}

func testStopCancels(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	q := open(t, options(map[string]queue.Handler{
		"stuck": func(ctx context.Context, j *queue.Job) error {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		},
	}))
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, "stuck", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not start in 30 s")
	}
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := q.Stop(sctx); err != nil {
		t.Errorf("Stop = %v", err)
	}
	select {
	case <-cancelled:
	default:
		t.Error("Stop returned before the stuck handler saw its context cancelled")
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Stop took %v", d)
	}
}

// List filters by kind and state; Retry gives a discarded job another
// run; Cancel stops a waiting job from running; unknown ids are NotFound
// and unknown states Invalid (zoo jobs list/retry/cancel).
func testOperatorTools(t *testing.T, open func(t *testing.T, opts queue.Options) *queue.Queue) {
	var ok atomic.Bool
	opts := options(map[string]queue.Handler{
		"flip": func(ctx context.Context, j *queue.Job) error {
			if !ok.Load() {
				return errors.New("not yet")
			}
			return nil
		},
	})
	opts.Routes = map[string]string{"parked": "nobody-works-this"}
	q := open(t, opts)
	start(t, q)
	flip, err := q.Enqueue(ctx, "flip", nil)
	if err != nil {
		t.Fatal(err)
	}
	parked, err := q.Enqueue(ctx, "parked", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := waitFor(t, q, flip, queue.Discarded)
	if len(j.Errors) != 3 || j.Errors[2] != "not yet" {
		t.Errorf("discarded job %+v", j)
	}
	got, err := q.List(ctx, queue.Filter{States: []queue.State{queue.Discarded}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != flip {
		t.Errorf("List(discarded) = %+v", got)
	}
	got, err = q.List(ctx, queue.Filter{Kind: "parked"})
	if err != nil || len(got) != 1 || got[0].ID != parked || got[0].State != queue.Available {
		t.Errorf("List(kind parked) = %+v, %v", got, err)
	}
	if _, err := q.List(ctx, queue.Filter{States: []queue.State{"stuck"}}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("List(unknown state) = %v, want Invalid", err)
	}
	// Retry: the discarded job runs again and now succeeds.
	ok.Store(true)
	if _, err := q.Retry(ctx, flip); err != nil {
		t.Fatal(err)
	}
	waitFor(t, q, flip, queue.Completed)
	// Cancel: the waiting job never runs.
	if j, err := q.Cancel(ctx, parked); err != nil || j.State != queue.Cancelled {
		t.Errorf("Cancel = %+v, %v", j, err)
	}
	for _, f := range []func(context.Context, int64) (*queue.Job, error){q.Retry, q.Cancel} {
		if _, err := f(ctx, 1<<40); zoo.KindOf(err) != zoo.NotFound {
			t.Errorf("unknown job: %v, want NotFound", err)
		}
	}
}
