// Package ftjob is the record of zoo's fine-tuning jobs and the contract
// of the store that keeps it (implemented by *sqlite.DB and *postgres.DB
// through FinetuneJobs; ftjobtest is the suite both pass). The service —
// API, queue handler, expiry — is package finetune/ftserver.
//
// # Life of a job
//
//	queued ──worker──▶ running ──▶ succeeded | failed
//	   ▲                  │
//	   └─ worker died ────┘       queued|running ──cancel──▶ cancelled
//
// # Schema (table finetune_jobs, migration 0011 of each backend)
//
// The whole record as JSON (column record) and copies of what queries
// need: owner, state, created_at, expires_at (0 when kept or deleted),
// data_sha256 and checkpoint_sha256.
package ftjob

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// State is where a fine-tuning job is.
type State string

// Job states.
const (
	Queued    State = "queued"    // waiting for a worker that can train
	Running   State = "running"   // a worker trains it
	Succeeded State = "succeeded" // the draft model exists
	Failed    State = "failed"    // Error says why
	Cancelled State = "cancelled" // stopped by its owner
)

// Terminal reports whether a job in state s is over.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Settings are the training settings of a job (see finetune.Options).
type Settings struct {
	Task       string  `json:"task"` // "denoise" or "segment"
	Iterations int     `json:"iterations"`
	LR         float64 `json:"lr"`
	Patch      int     `json:"patch"`
	Batch      int     `json:"batch"`
	Seed       int64   `json:"seed"`
}

// Job is one fine-tuning job. The store keeps it whole (as JSON) with its
// id, owner, state and times as columns.
type Job struct {
	ID       string   `json:"id"`
	Owner    string   `json:"owner"` // user name
	Model    string   `json:"model"` // the parent: a published model id
	Version  int      `json:"version"`
	Settings Settings `json:"settings"`
	// Target is one of the owner's models to add the result to as a new
	// version; "" makes a new model.
	Target string `json:"target,omitempty"`
	// PublishData makes a dataset draft of the training data beside the
	// model draft.
	PublishData bool `json:"publish_data"`

	State     State              `json:"state"`
	Iteration int                `json:"iteration"` // iterations done
	Losses    []float64          `json:"losses"`    // one per iteration done
	Message   string             `json:"message"`
	Error     string             `json:"error,omitempty"`
	Metric    string             `json:"metric,omitempty"`
	Before    map[string]float64 `json:"before,omitempty"`
	After     map[string]float64 `json:"after,omitempty"`

	DataSHA256 string `json:"data_sha256"` // the submitted zip's blob
	DataSize   int64  `json:"data_size"`
	// CheckpointSHA256 is the blob of the latest checkpoint (after
	// CheckpointIteration iterations); "" before the first.
	CheckpointSHA256    string `json:"checkpoint_sha256,omitempty"`
	CheckpointIteration int    `json:"checkpoint_iteration,omitempty"`
	// Resumed lists the iterations at which a later run took the job up
	// from a checkpoint.
	Resumed []int `json:"resumed,omitempty"`

	DraftModel     string `json:"draft_model,omitempty"`
	DraftVersion   int    `json:"draft_version,omitempty"`
	DatasetModel   string `json:"dataset_model,omitempty"`
	DatasetVersion int    `json:"dataset_version,omitempty"`

	Runs int    `json:"runs"`          // how many times a worker started it
	Run  string `json:"run,omitempty"` // the token of the run that holds it; a run whose token is replaced stops
	// Keep set by the owner spares the data from deletion at ExpiresAt.
	Keep        bool `json:"keep"`
	DataDeleted bool `json:"data_deleted,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Store keeps fine-tuning jobs; safe for concurrent use by several
// processes on one database.
type Store interface {
	// CreateFinetune stores a new job, unless its owner already has
	// maxActive jobs queued or running (TooMany, counted and created in
	// one transaction). Conflict if the id exists.
	CreateFinetune(ctx context.Context, j *Job, maxActive int) error
	// Finetune returns a job; NotFound if none.
	Finetune(ctx context.Context, id string) (*Job, error)
	// Finetunes returns the owner's jobs, newest first, at most limit.
	Finetunes(ctx context.Context, owner string, limit int) ([]*Job, error)
	// UpdateFinetune reads the job, calls fn on it and stores what fn left
	// (UpdatedAt is set), all under a lock on the row, and returns the job
	// as stored. An error from fn is returned and nothing is stored.
	UpdateFinetune(ctx context.Context, id string, fn func(j *Job) error) (*Job, error)
	// ExpiredFinetunes returns the ids of jobs not kept, whose data is not
	// deleted yet and whose ExpiresAt is before now, at most limit.
	ExpiredFinetunes(ctx context.Context, now time.Time, limit int) ([]string, error)
	// FinetuneBlobs calls fn with every blob a job still refers to (data
	// and checkpoint), for zoo gc, possibly more than once each.
	FinetuneBlobs(ctx context.Context, fn func(sha string) error) error
}

// Columns is the column list of table finetune_jobs in the order Row
// gives their values.
const Columns = "id, owner, state, created_at, expires_at, data_sha256, checkpoint_sha256, record"

// Row gives the column values of j (see Columns) for a store.
func Row(j *Job) []any {
	exp := int64(0)
	if !j.Keep && !j.DataDeleted && !j.ExpiresAt.IsZero() {
		exp = j.ExpiresAt.UnixMilli()
	}
	rec, _ := json.Marshal(j) // a Job always encodes
	return []any{j.ID, j.Owner, string(j.State), j.CreatedAt.UnixMilli(), exp, j.DataSHA256, j.CheckpointSHA256, string(rec)}
}

// Decode reads a stored record.
func Decode(rec string) (*Job, error) {
	var j Job
	if err := json.Unmarshal([]byte(rec), &j); err != nil {
		return nil, zoo.E("ftjob", zoo.Internal, err, "a stored fine-tuning job is unreadable")
	}
	return &j, nil
}

// ErrTooMany is the cause of CreateFinetune's refusal of an owner with too
// many active jobs (the API answers 429).
var ErrTooMany = errors.New("too many active fine-tuning jobs")
