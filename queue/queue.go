// Package queue is zoo's background job queue. The service enqueues jobs by
// kind ("test-version", "reindex", …) with JSON arguments; worker processes
// run one handler per kind and retry a failed job with backoff until it
// succeeds or runs out of attempts. Every job's state (waiting, running,
// retrying, completed, discarded, …), attempt count and errors stay
// visible through Job and Jobs.
//
// It is River (github.com/riverqueue/river) behind a small, non-generic
// API, so the service does not depend on which database holds the jobs: the
// postgres backend keeps them in its own database next to the catalog
// (one transaction-safe store for replicas and workers), the sqlite backend
// in a SQLite file of their own next to the catalog file (River's SQLite
// driver needs a single connection, which would otherwise serialise catalog
// reads behind job polling). Get a Queue from the backend —
// (*sqlite.DB).Queue or (*postgres.DB).Queue — which also runs River's
// migrations at Open; New and Migrate are for backends.
//
// Delivery is at least once: a handler may run again after a crash or a
// timeout, so handlers must be idempotent. A working queue beats in the
// backend every Lease/3 (Liveness, default lease 30 s); the job of a
// worker that died (no heartbeat for a lease) is re-queued by another
// working queue — at its Start and every Lease/2 — with an error saying
// so and its rescue count (Job.Rescues) raised, or discarded when that
// was its last attempt. Handlers see the count and may refuse to run a job
// that keeps killing its workers. Handlers must be idempotent (set a test result, rebuild an
// index entry). Enqueue is not part of a catalog transaction; a service
// that must not lose a job across a crash between a catalog write and
// Enqueue re-enqueues from catalog state (e.g. versions whose test status
// is still pending).
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/zoo-bioimage/zoo"
)

// Handler runs one job. Returning nil completes the job; an error fails
// this attempt, and the job is retried after Options.Backoff until
// MaxAttempts attempts have failed (then it is discarded). Wrap the error
// with Cancel to give up at once. ctx is cancelled when the job times out
// or the queue stops; handlers must return promptly then.
type Handler func(ctx context.Context, job *Job) error

// State is where a job is in its life.
type State string

// Job states (River's).
const (
	Available State = "available" // waiting for a worker
	Scheduled State = "scheduled" // waiting for its time (a retry after a long backoff)
	Pending   State = "pending"   // not yet ready to run
	Running   State = "running"   // a handler is working on it
	Retryable State = "retryable" // an attempt failed; it will run again
	Completed State = "completed" // a handler returned nil
	Cancelled State = "cancelled" // a handler returned Cancel(err), or it was cancelled
	Discarded State = "discarded" // MaxAttempts attempts failed
)

// Job is a job as the queue reports it.
type Job struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"` // as stored: PostgreSQL reformats it (jsonb)
	State       State           `json:"state"`
	Attempt     int             `json:"attempt"` // 1 during the first run
	MaxAttempts int             `json:"max_attempts"`
	Errors      []string        `json:"errors,omitempty"` // one per failed attempt, oldest first
	CreatedAt   time.Time       `json:"created_at"`
	Queue       string          `json:"queue"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
	// Rescues counts the attempts whose worker died while running the job
	// (see Liveness): a handler can refuse to run again a job that keeps
	// killing its workers.
	Rescues int `json:"rescues,omitempty"`
}

// Options configure a Queue. The zero value is an enqueue-only queue with
// River's defaults.
type Options struct {
	// Handlers maps job kinds to their handlers. A queue without handlers
	// only enqueues (a web replica); one with handlers works the jobs of
	// those kinds after Start and leaves other kinds to other workers.
	Handlers map[string]Handler
	// Workers is how many jobs run at once (default 2).
	Workers int
	// MaxAttempts is how often a job runs before it is discarded (default 5).
	MaxAttempts int
	// Backoff is the wait before attempt+1 after attempt failed (default:
	// River's attempt⁴ seconds with jitter: 1 s, 16 s, 81 s, …). It is
	// applied as at least a millisecond.
	Backoff func(attempt int) time.Duration
	// PollInterval is how often workers look for jobs they were not told
	// about (default 1 s).
	PollInterval time.Duration
	// Timeout bounds one attempt (default 30 minutes: a reproducibility
	// test of a large model is slow).
	Timeout time.Duration
	// Logger receives River's logs (default: slog.Default()).
	Logger *slog.Logger
	// Liveness, set by the backends, lets working queues find jobs whose
	// worker died (see Liveness); Lease is how long a worker may go
	// without a heartbeat before they are given to others (default
	// DefaultLease, at least 300 ms).
	Liveness Liveness
	Lease    time.Duration

	// Routes puts the jobs of a kind in a named queue instead of the
	// default one (Enqueue uses it, so every process that enqueues a kind
	// must route it the same way). A job waits in its queue until a
	// process that works that queue takes it.
	Routes map[string]string
	// Queues are the queues this process works, each with how many of its
	// jobs run at once; nil means the default queue with Workers. A
	// process may have a handler for a kind whose queue it does not work:
	// it never takes those jobs, but, as River's leader, it knows the kind
	// and so retries (rather than discards) one whose worker died (see
	// RescueAfter).
	Queues map[string]int
	// RescueAfter is how long a job may run before it is taken for stuck
	// (its worker died) and runs again; it must exceed Timeout (default:
	// Timeout + 1 hour).
	RescueAfter time.Duration
}

// DefaultQueue is the queue of jobs without a route.
const DefaultQueue = river.QueueDefault

// client is what Queue uses of a river.Client[TTx], whatever TTx is.
type client interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Queue enqueues jobs and, when it has handlers, works them. It is safe for
// concurrent use.
type Queue struct {
	client      client
	maxAttempts int
	working     bool

	id       string // River client id: the worker's name in attempted_by
	live     Liveness
	lease    time.Duration
	log      *slog.Logger
	stopBeat context.CancelFunc
	beatDone chan struct{}
	routes   map[string]string
}

// Migrate brings River's tables up to date through driver (idempotent).
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return zoo.E("queue.Migrate", zoo.Internal, err, "")
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return zoo.E("queue.Migrate", zoo.Internal, err, "")
	}
	return nil
}

// PendingMigrations counts River's migrations the database through driver
// lacks (all of them when River's tables do not exist yet).
func PendingMigrations[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) (int, error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return 0, zoo.E("queue.PendingMigrations", zoo.Internal, err, "")
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, storeError("queue.PendingMigrations", err)
	}
	done := map[int]bool{}
	for _, v := range have {
		done[v.Version] = true
	}
	n := 0
	for _, v := range m.AllVersions() {
		if !done[v.Version] {
			n++
		}
	}
	return n, nil
}

// New makes a Queue on driver, whose database must already be migrated.
func New[TTx any](driver riverdriver.Driver[TTx], opts Options) (*Queue, error) {
	const op = "queue.New"
	maxAttempts := opts.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	id := newWorkerID()
	cfg := &river.Config{
		ID:                   id,
		Logger:               opts.Logger,
		MaxAttempts:          maxAttempts,
		JobTimeout:           opts.Timeout,
		FetchPollInterval:    opts.PollInterval,
		SkipUnknownJobCheck:  true, // another worker process may handle the kind
		RescueStuckJobsAfter: opts.RescueAfter,
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if opts.Backoff != nil {
		cfg.RetryPolicy = backoffPolicy(opts.Backoff)
	}
	if len(opts.Handlers) > 0 {
		workers := river.NewWorkers()
		for kind, h := range opts.Handlers {
			if h == nil {
				return nil, zoo.E(op, zoo.Invalid, nil, "job kind %q has a nil handler", kind)
			}
			if err := addWorker(workers, kind, h); err != nil {
				return nil, zoo.E(op, zoo.Invalid, err, "job kind %q cannot be handled", kind)
			}
		}
		n := opts.Workers
		if n <= 0 {
			n = 2
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		if opts.Queues != nil {
			cfg.Queues = map[string]river.QueueConfig{}
			for name, n := range opts.Queues {
				if n <= 0 {
					return nil, zoo.E(op, zoo.Invalid, nil, "queue %q: run at least one job at a time", name)
				}
				cfg.Queues[name] = river.QueueConfig{MaxWorkers: n}
			}
		}
		cfg.FetchOnlyKnownKinds = true
	}
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	lease := opts.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	lease = max(lease, 300*time.Millisecond)
	return &Queue{client: c, maxAttempts: maxAttempts, working: len(opts.Handlers) > 0 && len(cfg.Queues) > 0, routes: opts.Routes,
		id: id, live: opts.Liveness, lease: lease, log: cfg.Logger}, nil
}

// addWorker registers h for kind, turning River's panic on a bad kind into
// an error.
func addWorker(workers *river.Workers, kind string, h Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	river.AddWorkerArgs(workers, rawArgs{kind: kind}, &worker{handle: h})
	return nil
}

// Enqueue adds a job of kind with args (anything json.Marshal takes; a
// json.RawMessage goes in as it is; nil becomes {}) and returns its id.
func (q *Queue) Enqueue(ctx context.Context, kind string, args any) (int64, error) {
	const op = "queue.Enqueue"
	if kind == "" {
		return 0, zoo.E(op, zoo.Invalid, nil, "no job kind given")
	}
	data := []byte("{}")
	if args != nil {
		var err error
		if data, err = json.Marshal(args); err != nil {
			return 0, zoo.E(op, zoo.Invalid, err, "arguments of a %s job cannot be encoded as JSON", kind)
		}
	}
	res, err := q.client.Insert(ctx, rawArgs{kind: kind, data: data}, &river.InsertOpts{MaxAttempts: q.maxAttempts, Queue: q.routes[kind]})
	if err != nil {
		return 0, storeError(op, err)
	}
	return res.Job.ID, nil
}

// Job returns the job with id as it is now (NotFound once it is gone:
// River deletes finished jobs after a retention period, a day for
// completed ones by default).
func (q *Queue) Job(ctx context.Context, id int64) (*Job, error) {
	row, err := q.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, zoo.E("queue.Job", zoo.NotFound, err, "job %d not found", id)
	}
	if err != nil {
		return nil, storeError("queue.Job", err)
	}
	return fromRow(row), nil
}

// Jobs lists jobs, newest first: of kind (all kinds if empty), at most
// limit (100 if limit <= 0).
func (q *Queue) Jobs(ctx context.Context, kind string, limit int) ([]*Job, error) {
	if limit <= 0 {
		limit = 100
	}
	p := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if kind != "" {
		p = p.Kinds(kind)
	}
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, storeError("queue.Jobs", err)
	}
	out := make([]*Job, len(res.Jobs))
	for i, row := range res.Jobs {
		out[i] = fromRow(row)
	}
	return out, nil
}

// Filter selects jobs for List.
type Filter struct {
	Kind   string  // "" for every kind
	States []State // nil for every state
	Limit  int     // at most this many (100 if <= 0, at most 10,000)
}

// States are every job state, for checking a filter.
var States = []State{Available, Scheduled, Pending, Running, Retryable, Completed, Cancelled, Discarded}

// List lists the jobs f selects, newest first.
func (q *Queue) List(ctx context.Context, f Filter) ([]*Job, error) {
	const op = "queue.List"
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	p := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if f.Kind != "" {
		p = p.Kinds(f.Kind)
	}
	if len(f.States) > 0 {
		states := make([]rivertype.JobState, len(f.States))
		for i, s := range f.States {
			if !slices.Contains(States, s) {
				return nil, zoo.E(op, zoo.Invalid, nil, "unknown job state %q; known are %s", s, joinStates())
			}
			states[i] = rivertype.JobState(s)
		}
		p = p.States(states...)
	}
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, storeError(op, err)
	}
	out := make([]*Job, len(res.Jobs))
	for i, row := range res.Jobs {
		out[i] = fromRow(row)
	}
	return out, nil
}

func joinStates() string {
	s := make([]string, len(States))
	for i, st := range States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// Retry makes a job that is not running available at once, with one
// more attempt if it had used them all (discarded, cancelled or
// completed jobs run again too). A running job is left alone.
func (q *Queue) Retry(ctx context.Context, id int64) (*Job, error) {
	row, err := q.client.JobRetry(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, zoo.E("queue.Retry", zoo.NotFound, err, "job %d not found", id)
	}
	if err != nil {
		return nil, storeError("queue.Retry", err)
	}
	return fromRow(row), nil
}

// Cancel cancels a job that has not finished: it will not run (again); a
// running one is asked to stop (its handler's context is cancelled
// wherever it runs). A finished job is returned as it is.
func (q *Queue) Cancel(ctx context.Context, id int64) (*Job, error) {
	row, err := q.client.JobCancel(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, zoo.E("queue.Cancel", zoo.NotFound, err, "job %d not found", id)
	}
	if err != nil {
		return nil, storeError("queue.Cancel", err)
	}
	return fromRow(row), nil
}

// Unfinished lists jobs that are not finished (available, scheduled,
// pending, retryable or running), oldest first, at most limit (1000 if
// limit <= 0): for the depth and age of the queue by kind (metrics).
func (q *Queue) Unfinished(ctx context.Context, limit int) ([]*Job, error) {
	if limit <= 0 {
		limit = 1000
	}
	p := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderAsc).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning)
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, storeError("queue.Unfinished", err)
	}
	out := make([]*Job, len(res.Jobs))
	for i, row := range res.Jobs {
		out[i] = fromRow(row)
	}
	return out, nil
}

// Start starts working jobs in the background until Stop or until ctx is
// cancelled. Only a queue with handlers can start.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return zoo.E("queue.Start", zoo.Invalid, nil, "this queue has no handlers; it can only enqueue")
	}
	if q.live != nil {
		// Alive before the first fetch, so no other worker takes this
		// one's jobs for a dead worker's.
		if err := q.live.Beat(ctx, q.id); err != nil {
			return zoo.E("queue.Start", zoo.Internal, err, "cannot record this worker's heartbeat")
		}
		if _, err := q.Rescue(ctx); err != nil {
			return zoo.E("queue.Start", zoo.Internal, err, "cannot re-queue the jobs of dead workers")
		}
	}
	if err := q.client.Start(ctx); err != nil {
		return zoo.E("queue.Start", zoo.Internal, err, "")
	}
	if q.live != nil {
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		q.stopBeat, q.beatDone = cancel, make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				cancel()
			case <-bctx.Done():
			}
		}()
		go q.heartbeat(bctx)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish until
// ctx ends; then it cancels their contexts and waits up to HardStopWait
// more for their handlers to return. A queue that never started stops at
// once.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	defer q.forget()
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HardStopWait)
		defer cancel()
		err = q.client.StopAndCancel(hctx)
	}
	if err != nil {
		return zoo.E("queue.Stop", zoo.Internal, err, "jobs were still running when the queue stopped")
	}
	return nil
}

// forget ends the heartbeat and removes this worker's record: its jobs
// have finished or were interrupted and are retryable.
func (q *Queue) forget() {
	if q.stopBeat == nil {
		return
	}
	q.stopBeat()
	<-q.beatDone
	q.stopBeat = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.live.Forget(ctx, q.id, 24*time.Hour); err != nil {
		q.log.Warn("queue: cannot remove this worker's heartbeat record", "worker", q.id, "err", err)
	}
}

// HardStopWait is how long Stop waits for handlers to return after
// cancelling their contexts.
const HardStopWait = 10 * time.Second

// Cancel wraps a handler's error to fail the job for good, without retries
// (e.g. its version no longer exists).
func Cancel(err error) error { return river.JobCancel(err) }

// rawArgs carries a job's kind and its JSON arguments through River, which
// otherwise wants one Go type per kind.
type rawArgs struct {
	kind string
	data json.RawMessage
}

func (a rawArgs) Kind() string                  { return a.kind }
func (a rawArgs) MarshalJSON() ([]byte, error)  { return a.data, nil }
func (a *rawArgs) UnmarshalJSON(b []byte) error { a.data = append(a.data[:0], b...); return nil }

// worker runs a Handler for River.
type worker struct {
	river.WorkerDefaults[rawArgs]
	handle Handler
}

func (w *worker) Work(ctx context.Context, job *river.Job[rawArgs]) error {
	return w.handle(ctx, fromRow(job.JobRow))
}

func fromRow(row *rivertype.JobRow) *Job {
	j := &Job{
		ID:          row.ID,
		Kind:        row.Kind,
		Queue:       row.Queue,
		Args:        json.RawMessage(row.EncodedArgs),
		State:       State(row.State),
		Attempt:     row.Attempt,
		MaxAttempts: row.MaxAttempts,
		CreatedAt:   row.CreatedAt.UTC(),
		ScheduledAt: row.ScheduledAt.UTC(),
		Rescues:     rescues(row.Metadata),
	}
	for _, e := range row.Errors {
		j.Errors = append(j.Errors, e.Error)
	}
	if row.FinalizedAt != nil {
		t := row.FinalizedAt.UTC()
		j.FinalizedAt = &t
	}
	return j
}

// storeError translates an error of the queue's database: unreachable
// (zoo.Unreachable) or a context that ended is Unavailable, anything else
// Internal.
func storeError(op string, err error) error {
	if zoo.Unreachable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return zoo.E(op, zoo.Unavailable, err, "the job queue's database cannot be reached; try again later")
	}
	return zoo.E(op, zoo.Internal, err, "")
}

// backoffPolicy is a river.ClientRetryPolicy from Options.Backoff.
type backoffPolicy func(attempt int) time.Duration

func (b backoffPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(max(b(job.Attempt), time.Millisecond))
}

// quietLogger drops River's migration logs; failures come back as errors.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
