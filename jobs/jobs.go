// Package jobs is the record of zoo's asynchronous inference jobs and the
// contract of the store that keeps it (implemented by *sqlite.DB and
// *postgres.DB through their Jobs method; jobs/jobstest is the one
// conformance suite both pass). The HTTP API, the worker handler and the
// sweeper live in jobs/infer.
//
// # Life of a job
//
//	queued ──claim──▶ running ──finish──▶ succeeded | failed
//	   ▲                 │
//	   └──release/stale──┘         queued|running ──cancel──▶ cancelled
//	any state ──expiry──▶ expired (blobs deleted; row deleted later)
//
// A worker claims a job with a lease: a random token and a time until
// which it owns the job. It renews the lease with every progress report;
// every write of a running job (progress, finish, release) is conditional
// on state running and the worker's lease, so a worker that lost its lease
// (it was presumed dead, or the job was cancelled) writes nothing and
// learns it from the Conflict error. A job whose lease ran out (its worker
// crashed) is put back to queued by RequeueStale and run again elsewhere.
// The result is a content-addressed blob, so a job run twice stores the
// same bytes under the same key, and only one finish wins: the result is
// written once in effect.
//
// # Schema (table infer_jobs, migration 0004 of each backend)
//
// One row per job: id (32 hex digits, 128 random bits: whoever knows it may
// read and cancel the job), the model version, state, progress (done and
// total tiles, message), the error of a failed job, the input (sha256 of
// its blob, size, format "tif"|"png"|"npy", axes letters or ""), the
// result (sha256 of its .npy blob, size), runs (how often a worker claimed
// it), lease and lease_until, and the times created_at, updated_at,
// expires_at and finished_at (0 = not finished), all as Unix milliseconds.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"
)

// State is where a job is in its life.
type State string

// Job states.
const (
	Queued    State = "queued"    // waiting for a worker
	Running   State = "running"   // a worker holds its lease
	Succeeded State = "succeeded" // its result can be downloaded
	Failed    State = "failed"    // Error says why
	Cancelled State = "cancelled" // cancelled by its submitter
	Expired   State = "expired"   // past ExpiresAt: input and result deleted
)

// Terminal reports whether s is a state a job never leaves (but for
// expiry).
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == Expired
}

// Job is one inference job.
type Job struct {
	ID      string
	ModelID string
	Version int
	State   State
	// Progress: tiles done of total (0 of 0 until a worker has planned the
	// tiling), and a line for people.
	Done, Total int
	Message     string
	Error       string // why a failed job failed, for the submitter

	InputSHA256 string
	InputSize   int64
	InputFormat string // "tif", "png" or "npy"
	Axes        string // the input's axis letters as given (e.g. "yx"), "" = guessed

	ResultSHA256 string // the .npy blob of the output, once succeeded
	ResultSize   int64

	Runs       int       // how many times a worker claimed the job
	Lease      string    // the running worker's token ("" unless running)
	LeaseUntil time.Time // zero unless running

	CreatedAt, UpdatedAt, ExpiresAt time.Time
	FinishedAt                      time.Time // zero until terminal
}

// Progress is a worker's report on a running job.
type Progress struct {
	Done, Total int
	Message     string
}

// Finish is how a running job ends.
type Finish struct {
	State        State // Succeeded or Failed
	ResultSHA256 string
	ResultSize   int64
	Error        string
	Message      string
}

// Store keeps jobs. Times are stored with millisecond precision. All
// methods are safe for concurrent use by several processes on one
// database.
type Store interface {
	// CreateJob stores a new job (State Queued). Conflict if the id exists.
	CreateJob(ctx context.Context, j *Job) error
	// Job returns a job; NotFound if there is none (or it was deleted).
	Job(ctx context.Context, id string) (*Job, error)
	// ClaimJob makes the job running under lease until `until` and counts
	// a run, if it is queued, or running with a lease that ended before
	// now. Conflict otherwise (finished, cancelled, or another worker's
	// lease is live); NotFound if it does not exist.
	ClaimJob(ctx context.Context, id, lease string, now, until time.Time) (*Job, error)
	// Heartbeat records progress and extends the lease to until, if the
	// job is running under lease; Conflict otherwise (the lease was lost:
	// stop working on the job).
	Heartbeat(ctx context.Context, id, lease string, p Progress, now, until time.Time) error
	// FinishJob ends a job running under lease with f; Conflict otherwise.
	FinishJob(ctx context.Context, id, lease string, f Finish, now time.Time) error
	// ReleaseJob puts a job running under lease back to queued (an attempt
	// failed and will be retried), with message; Conflict otherwise.
	ReleaseJob(ctx context.Context, id, lease, message string, now time.Time) error
	// CancelJob cancels a queued or running job (a running worker notices
	// at its next heartbeat) and returns the job as it is then; a job
	// already finished is returned unchanged. NotFound if none.
	CancelJob(ctx context.Context, id string, now time.Time) (*Job, error)
	// ActiveJobs counts the jobs queued or running.
	ActiveJobs(ctx context.Context) (int, error)
	// RequeueStale puts running jobs whose lease ended before now back to
	// queued and returns their ids (at most limit); each id is returned to
	// one caller only, however many call at once.
	RequeueStale(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ExpireJobs marks jobs whose ExpiresAt is before now and that are not
	// expired yet as expired, and returns them as they were (their blobs
	// are to be deleted), at most limit; each job is returned to one caller.
	ExpireJobs(ctx context.Context, now time.Time, limit int) ([]*Job, error)
	// DeleteExpired deletes the rows of expired jobs whose ExpiresAt is
	// before `before` and returns how many.
	DeleteExpired(ctx context.Context, before time.Time) (int, error)
	// BlobInUse reports whether a job that is not expired has sha as its
	// input or result.
	BlobInUse(ctx context.Context, sha string) (bool, error)
	// JobBlobs calls fn with the input and result blob of every job that
	// is not expired (blobs that zoo gc must keep), in no order, possibly
	// more than once each.
	JobBlobs(ctx context.Context, fn func(sha string) error) error
}

// NewID returns a new job id: 128 random bits as 32 lowercase hex digits.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidID reports whether id has the form of a job id (checked before any
// store is asked).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Millis converts t to the stored Unix milliseconds (0 for the zero time).
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis is the inverse of Millis, in UTC.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
