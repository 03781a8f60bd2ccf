package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Liveness is a backend's record of which workers are alive, and its way
// of giving a dead worker's jobs back. A working Queue beats every
// Lease/3 under its own worker id (the River client id, which River
// records in each job's attempted_by); a job still running under a worker
// that has not beaten for Lease is re-queued (or discarded, when that was
// its last attempt) by any other working queue, at its Start and every
// Lease/2 after. *sqlite.DB and *postgres.DB give one to their queues;
// without one, River's own rescuer re-queues a stuck job only after
// Timeout plus an hour.
type Liveness interface {
	// Beat records that worker id is alive now (by the database's clock).
	Beat(ctx context.Context, id string) error
	// Forget removes worker id (a clean stop) and workers not seen for
	// longer than olderThan.
	Forget(ctx context.Context, id string, olderThan time.Duration) error
	// Ages returns, per known worker, how long ago it last beat (by the
	// database's clock).
	Ages(ctx context.Context) (map[string]time.Duration, error)
	// Requeue gives back job id if it is still running in attempt: made
	// available now, or discarded when discard is set; errJSON (a River
	// attempt error) is appended to its errors and its rescue count
	// (metadata "zoo:rescues") incremented. It reports whether the job
	// was changed.
	Requeue(ctx context.Context, id int64, attempt int, discard bool, errJSON []byte) (bool, error)
}

// DefaultLease is how long a worker may go without a heartbeat before its
// running jobs are given to other workers.
const DefaultLease = 30 * time.Second

// rescueKey is the job metadata key counting rescues.
const rescueKey = "zoo:rescues"

// newWorkerID is a River client id unique to this process and queue:
// host, process id and 8 random hex digits (River keeps at most 100 bytes
// of it in attempted_by).
func newWorkerID() string {
	host, _ := os.Hostname()
	if len(host) > 48 {
		host = host[:48]
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// heartbeat beats until ctx ends, and rescues dead workers' jobs every
// lease/2.
func (q *Queue) heartbeat(ctx context.Context) {
	defer close(q.beatDone)
	beat := time.NewTicker(q.lease / 3)
	defer beat.Stop()
	rescue := time.NewTicker(q.lease / 2)
	defer rescue.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if err := q.live.Beat(ctx, q.id); err != nil && ctx.Err() == nil {
				q.log.Warn("queue: cannot record this worker's heartbeat", "worker", q.id, "err", err)
			}
		case <-rescue.C:
			if _, err := q.Rescue(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("queue: cannot re-queue the jobs of dead workers", "err", err)
			}
		}
	}
}

// Rescue re-queues the jobs still running under workers that have not
// beaten for the lease (crashed, killed, cut off from the database): each
// is made available again, or discarded when that was its last attempt,
// with an error saying its worker stopped. It returns how many jobs it
// gave back. Working queues call it at Start and every Lease/2; a queue
// without a Liveness rescues nothing.
func (q *Queue) Rescue(ctx context.Context) (int, error) {
	if q.live == nil {
		return 0, nil
	}
	ages, err := q.live.Ages(ctx)
	if err != nil {
		return 0, err
	}
	res, err := q.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning).First(10000))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range res.Jobs {
		if len(row.AttemptedBy) == 0 {
			continue
		}
		w := row.AttemptedBy[len(row.AttemptedBy)-1]
		if w == q.id {
			continue
		}
		age, known := ages[w]
		if !known {
			// A worker that never beat (or whose row is gone): dead once
			// the attempt is older than the lease.
			if row.AttemptedAt == nil {
				continue
			}
			age = time.Since(*row.AttemptedAt)
		}
		if age < q.lease {
			continue
		}
		discard := row.Attempt >= row.MaxAttempts
		msg := fmt.Sprintf("the worker running this job (%s) stopped without finishing it — a crash, a kill or a lost database connection; nothing was heard from it for %s", w, age.Round(time.Second))
		if discard {
			msg += "; that was the job's last attempt"
		}
		e, _ := json.Marshal(rivertype.AttemptError{At: time.Now().UTC(), Attempt: row.Attempt, Error: msg})
		ok, err := q.live.Requeue(ctx, row.ID, row.Attempt, discard, e)
		if err != nil {
			return n, err
		}
		if ok {
			n++
			q.log.Warn("queue: re-queued the job of a dead worker", "job", row.ID, "kind", row.Kind, "worker", w, "attempt", row.Attempt, "discarded", discard)
		}
	}
	return n, nil
}

// rescues reads the rescue count from a job's metadata.
func rescues(meta []byte) int {
	var m map[string]any
	if json.Unmarshal(meta, &m) != nil {
		return 0
	}
	f, _ := m[rescueKey].(float64)
	return int(f)
}
