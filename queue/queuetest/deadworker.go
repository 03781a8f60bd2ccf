package queuetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/queue"
)

// CrashEnv is set in the environment of the helper process DeadWorker
// starts: its value is the store the helper opens.
const CrashEnv = "ZOO_QUEUETEST_CRASH"

// crashKind is the job kind whose handler exits the helper process.
const crashKind = "crash"

// Crash is the helper process of DeadWorker: a test that calls it when
// os.Getenv(CrashEnv) is set (and returns) works crash jobs on the store
// open gives, and exits the process with status 3 in the middle of the
// first one — as a worker killed by the kernel would, without finishing
// or failing the job.
func Crash(t *testing.T, open func(opts queue.Options) (*queue.Queue, error)) {
	opts := options(map[string]queue.Handler{
		crashKind: func(ctx context.Context, j *queue.Job) error {
			os.Exit(3)
			return nil
		},
	})
	opts.Lease = time.Second
	q, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Second)
	t.Fatal("the crash job did not run in 60 s")
}

// DeadWorker checks that the job of a worker process that died is re-run
// promptly by another worker (within a few leases, not River's hour), on
// the store named by store: test is the name of the caller's test, which
// must call Crash when CrashEnv is set; open opens a queue on the store.
// It also checks that a job whose worker dies on its last attempt is
// discarded, not retried again, and that a live worker's long job is
// left alone.
func DeadWorker(t *testing.T, test, store string, open func(opts queue.Options) (*queue.Queue, error)) {
	enq, err := open(options(nil))
	if err != nil {
		t.Fatal(err)
	}
	crash := func() {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), CrashEnv+"="+store)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("the helper worker did not crash in its job (exit status 3): %v\n%s", err, out)
		}
	}
	first, err := enq.Enqueue(ctx, crashKind, nil)
	if err != nil {
		t.Fatal(err)
	}
	crash()
	j, err := enq.Job(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != queue.Running {
		t.Fatalf("after the crash the job is %s, want running", j.State)
	}

	var runs atomic.Int32
	release := make(chan struct{})
	opts := options(map[string]queue.Handler{
		crashKind: func(ctx context.Context, j *queue.Job) error { runs.Add(1); return nil },
		"slow": func(ctx context.Context, j *queue.Job) error {
			runs.Add(100)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
	})
	opts.Lease = time.Second
	q, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	start(t, q)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if j, err = q.Job(ctx, first); err != nil {
			t.Fatal(err)
		}
		if j.State == queue.Completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead worker's job is %s 15 s after another worker started (lease 1 s), want completed: re-queued promptly", j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a dead worker's job re-ran %s after another worker started (lease 1 s)", time.Since(begin).Round(10*time.Millisecond))
	if j.Attempt != 2 || j.Rescues != 1 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "stopped without finishing it") {
		t.Errorf("the rescued job = %+v, want attempt 2, one rescue and an error saying its worker stopped", j)
	}

	// A live worker's long job is not taken from it.
	slow, err := q.Enqueue(ctx, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	close(release)
	if j = waitFor(t, q, slow, queue.Completed); j.Attempt != 1 || j.Rescues != 0 {
		t.Errorf("a live worker's long job = %+v, want one attempt, no rescue", j)
	}
	if n := runs.Load(); n != 101 {
		t.Errorf("handlers ran %d (crash) and %d (slow) times, want 1 and 1", n%100, n/100)
	}
}

// LastAttempt checks that a job whose worker dies on its last attempt is
// discarded with the reason, not run again (a job that kills its worker
// must not crash worker after worker). Same arguments as DeadWorker.
func LastAttempt(t *testing.T, test, store string, open func(opts queue.Options) (*queue.Queue, error)) {
	o := options(nil)
	o.MaxAttempts = 1
	enq, err := open(o)
	if err != nil {
		t.Fatal(err)
	}
	id, err := enq.Enqueue(ctx, crashKind, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), CrashEnv+"="+store)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the helper worker did not crash:\n%s", out)
	}
	var runs atomic.Int32
	opts := options(map[string]queue.Handler{crashKind: func(ctx context.Context, j *queue.Job) error { runs.Add(1); return nil }})
	opts.Lease = time.Second
	q, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	start(t, q)
	j := waitFor(t, q, id, queue.Discarded)
	if j.Rescues != 1 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "last attempt") || j.FinalizedAt == nil {
		t.Errorf("the job whose worker died on its last attempt = %+v", j)
	}
	time.Sleep(300 * time.Millisecond)
	if runs.Load() != 0 {
		t.Errorf("a discarded job ran again")
	}
}
