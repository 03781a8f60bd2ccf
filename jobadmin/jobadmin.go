// Package jobadmin is the operator's view of an instance's background
// jobs: list them by state and kind with their age, attempts and last
// error; retry or cancel one; re-run a version's test; and Check, which
// finds versions whose blobs are missing from the blob store or whose
// test (or conversion) is stuck — pending with no job that will finish
// it. The same Tools serve `zoo jobs` directly on the storage (--db) and
// the admin-only API under /api/v1/admin (Routes), which `zoo jobs
// --server URL --token T` calls.
package jobadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
)

// Tools work on one instance's queue, catalog and blob store.
type Tools struct {
	Queue *queue.Queue
	Repo  *repo.Service
	// StuckAfter is how long a test or conversion job may wait or run
	// before Check calls its version stuck (default 2 hours).
	StuckAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (t *Tools) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tools) stuckAfter() time.Duration {
	if t.StuckAfter > 0 {
		return t.StuckAfter
	}
	return 2 * time.Hour
}

// Job is a job as operators see it.
type Job struct {
	queue.Job
	// Age is how long ago the job was created, in whole seconds.
	Age int64 `json:"age_seconds"`
	// LastError is the error of its latest failed attempt ("" if none).
	LastError string `json:"last_error,omitempty"`
	// Version names the model version the job is about ("ID/N"), for
	// the kinds whose arguments say (tests, conversions, DOI mints).
	Version string `json:"version,omitempty"`
}

// MaxList bounds one listing.
const MaxList = 1000

// Filter selects jobs: State is one of queue.States or "" (all), or
// "unfinished" (available, scheduled, pending, retryable, running).
type Filter struct {
	State string
	Kind  string
	Limit int // default 100, at most MaxList
}

// unfinished are the states of jobs that will still run.
var unfinished = []queue.State{queue.Available, queue.Scheduled, queue.Pending, queue.Retryable, queue.Running}

// List returns the jobs f selects, newest first.
func (t *Tools) List(ctx context.Context, f Filter) ([]Job, error) {
	const op = "jobadmin.List"
	qf := queue.Filter{Kind: f.Kind, Limit: min(max(f.Limit, 0), MaxList)}
	if qf.Limit == 0 {
		qf.Limit = 100
	}
	switch {
	case f.State == "":
	case f.State == "unfinished":
		qf.States = unfinished
	case slices.Contains(queue.States, queue.State(f.State)):
		qf.States = []queue.State{queue.State(f.State)}
	default:
		return nil, zoo.E(op, zoo.Invalid, nil, "unknown job state %q; give one of unfinished, %s", f.State, states())
	}
	if len(f.Kind) > 100 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the job kind is longer than 100 characters")
	}
	jobs, err := t.Queue.List(ctx, qf)
	if err != nil {
		return nil, err
	}
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		out[i] = t.view(j)
	}
	return out, nil
}

func states() string {
	s := make([]string, len(queue.States))
	for i, st := range queue.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// view adds the operator's fields to j.
func (t *Tools) view(j *queue.Job) Job {
	v := Job{Job: *j, Age: int64(t.now().Sub(j.CreatedAt) / time.Second)}
	if n := len(j.Errors); n > 0 {
		v.LastError = j.Errors[n-1]
	}
	var a struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if json.Unmarshal(j.Args, &a) == nil && a.ID != "" && a.Version > 0 {
		v.Version = fmt.Sprintf("%s/%d", a.ID, a.Version)
	}
	return v
}

// Retry runs a job again at once (see queue.Queue.Retry).
func (t *Tools) Retry(ctx context.Context, id int64) (*Job, error) {
	j, err := t.Queue.Retry(ctx, id)
	if err != nil {
		return nil, err
	}
	v := t.view(j)
	return &v, nil
}

// Cancel cancels a job (see queue.Queue.Cancel).
func (t *Tools) Cancel(ctx context.Context, id int64) (*Job, error) {
	j, err := t.Queue.Cancel(ctx, id)
	if err != nil {
		return nil, err
	}
	v := t.view(j)
	return &v, nil
}

// Retest queues the reproducibility test of version n of model id again
// (any state: a published version's report is replaced when the test
// has run). A version waiting for its conversion is tested after it, so
// its conversion is queued instead.
func (t *Tools) Retest(ctx context.Context, id string, n int) (*Job, error) {
	v, err := t.Repo.Catalog().Version(ctx, id, n)
	if err != nil {
		return nil, err
	}
	kind, args := repo.JobTest, any(repo.TestArgs{ID: v.ModelID, Version: v.Number})
	if repo.Waiting(v) {
		kind, args = repo.JobConvert, repo.ConvertArgs{ID: v.ModelID, Version: v.Number}
	}
	jid, err := t.Queue.Enqueue(ctx, kind, args)
	if err != nil {
		return nil, err
	}
	j, err := t.Queue.Job(ctx, jid)
	if err != nil {
		return nil, err
	}
	jv := t.view(j)
	return &jv, nil
}

// Problem is one thing Check found wrong with a version.
type Problem struct {
	Version string `json:"version"` // ID/N
	State   string `json:"state"`   // the version's state
	// Problem is "missing-blobs", "test-stuck" or "conversion-stuck".
	Problem string `json:"problem"`
	Detail  string `json:"detail"`
	// Missing are the blob keys (sha256) absent from the blob store.
	Missing []string `json:"missing,omitempty"`
	// Job is the stuck job, if there is one.
	Job *int64 `json:"job,omitempty"`
	Fix string `json:"fix"` // what an operator can do
}

// Report is what Check found.
type Report struct {
	Versions int       `json:"versions"` // versions checked
	Blobs    int       `json:"blobs"`    // blobs in the store
	Jobs     int       `json:"jobs"`     // unfinished test and conversion jobs seen
	Problems []Problem `json:"problems"`
}

// Check finds versions whose blobs (package files, package zip,
// converted files, kept test outputs) are missing from the blob store,
// and versions whose test is pending (or conversion waiting) with no
// unfinished job, or with a job older than StuckAfter that has not
// finished (its worker cannot run it, or every worker is busy or gone).
func (t *Tools) Check(ctx context.Context) (*Report, error) {
	cat, blobs := t.Repo.Catalog(), t.Repo.Blobs()
	versions, err := cat.ListVersions(ctx, zoo.VersionFilter{})
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	if err := blobs.Walk(ctx, func(sha string, _ int64) error { have[sha] = true; return nil }); err != nil {
		return nil, err
	}
	jobs, err := t.Queue.List(ctx, queue.Filter{States: unfinished, Limit: 10000})
	if err != nil {
		return nil, err
	}
	type key struct {
		kind, ref string
	}
	open := map[key]*queue.Job{} // the oldest unfinished job per kind and version
	seen := 0
	for _, j := range jobs {
		if j.Kind != repo.JobTest && j.Kind != repo.JobConvert {
			continue
		}
		seen++
		v := t.view(j)
		k := key{j.Kind, v.Version}
		if o, ok := open[k]; !ok || j.CreatedAt.Before(o.CreatedAt) {
			open[k] = j
		}
	}
	rep := &Report{Versions: len(versions), Blobs: len(have), Jobs: seen, Problems: []Problem{}}
	now := t.now()
	for _, v := range versions {
		ref := fmt.Sprintf("%s/%d", v.ModelID, v.Number)
		var missing []string
		for _, sha := range blobsOf(v) {
			if !have[sha] && !slices.Contains(missing, sha) {
				missing = append(missing, sha)
			}
		}
		if len(missing) > 0 {
			rep.Problems = append(rep.Problems, Problem{Version: ref, State: string(v.State), Problem: "missing-blobs", Missing: missing,
				Detail: fmt.Sprintf("%d blob(s) this version refers to are not in the blob store", len(missing)),
				Fix:    "restore the blob store from a backup taken together with the catalog; a missing blob cannot be made again"})
		}
		kind, what, problem := "", "", ""
		switch {
		case repo.Waiting(v):
			kind, what, problem = repo.JobConvert, "conversion", "conversion-stuck"
		case v.TestStatus == zoo.TestPending && v.State != zoo.StateRejected:
			kind, what, problem = repo.JobTest, "test", "test-stuck"
		default:
			continue
		}
		j := open[key{kind, ref}]
		switch {
		case j == nil:
			rep.Problems = append(rep.Problems, Problem{Version: ref, State: string(v.State), Problem: problem,
				Detail: fmt.Sprintf("the %s is pending but no %s job is waiting or running (its jobs ran out of attempts or were cancelled)", what, kind),
				Fix:    fmt.Sprintf("zoo jobs retest %s (workers also re-queue these when they start)", ref)})
		case now.Sub(j.CreatedAt) > t.stuckAfter():
			id := j.ID
			detail := fmt.Sprintf("its %s job %d has been %s for %s (attempt %d of %d)", what, j.ID, j.State, now.Sub(j.CreatedAt).Round(time.Minute), j.Attempt, j.MaxAttempts)
			if n := len(j.Errors); n > 0 {
				detail += "; last error: " + j.Errors[n-1]
			}
			rep.Problems = append(rep.Problems, Problem{Version: ref, State: string(v.State), Problem: problem, Job: &id, Detail: detail,
				Fix: fmt.Sprintf("check that a worker runs %s jobs (zoo worker prints what it runs and declines); zoo jobs retry %d", kind, j.ID)})
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Version < rep.Problems[j].Version })
	return rep, nil
}

// blobsOf lists every blob a version refers to.
func blobsOf(v *zoo.Version) []string {
	var out []string
	for _, f := range v.Files {
		out = append(out, f.SHA256)
	}
	if v.PackageSHA256 != "" {
		out = append(out, v.PackageSHA256)
	}
	out = append(out, v.Converted.Blobs()...)
	for _, p := range repo.ProducedOf(v.TestReport) {
		out = append(out, p.SHA256)
	}
	return out
}
