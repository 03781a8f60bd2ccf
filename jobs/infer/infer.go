// Package infer runs asynchronous inference jobs: a large image is
// submitted over HTTP and answered at once with a job id; a worker (zoo
// worker, or serve's in-process workers) runs the model tile by tile,
// reporting progress, and stores the result; the submitter polls the job,
// downloads the result as TIFF or NumPy, or cancels it. A sweeper in every
// process re-queues the jobs of workers that died and deletes expired
// jobs.
//
// The job id (128 random bits) is the capability: whoever knows it may
// read and cancel the job, so anonymous users can run published models.
// Only published versions run.
//
// Records live in a jobs.Store, input and result bytes in the blob store
// (content-addressed: a job run twice stores the same result under the
// same key), execution in the queue as jobs of kind Kind. Delivery is at
// least once; a lease on the record (see package jobs) makes sure that
// one worker at a time works on a job and that only the holder's finish
// counts.
package infer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Kind is the queue job kind of an inference job; its arguments are Args.
const Kind = "infer"

// Args are the queue arguments of a Kind job.
type Args struct {
	Job string `json:"job"`
}

// Enqueuer adds queue jobs (*queue.Queue).
type Enqueuer interface {
	Enqueue(ctx context.Context, kind string, args any) (int64, error)
}

// Loader returns a predictor of a version, and a function to call when
// the job is done with it. The predictor is the job's alone while held
// (UseDatasetStats changes it).
type Loader func(ctx context.Context, v *zoo.Version) (p *runner.Predictor, release func(), err error)

// Options configure a Service. Store, Repo, Queue are required; Load is
// required where jobs run.
type Options struct {
	Store jobs.Store
	Repo  *repo.Service
	Queue Enqueuer
	Load  Loader
	// TTL is how long a job and its result are kept (default 24 h).
	TTL time.Duration
	// MaxActive bounds the jobs queued or running; a submission beyond it
	// is refused with 429 and Retry-After (default 32: with the default 2
	// workers per process and a few worker processes, a few minutes of
	// work on large images).
	MaxActive int
	// MaxPerClient bounds the active jobs of one anonymous client (its
	// address, web.ClientKey) admitted by this process (default 4).
	MaxPerClient int
	// MaxPerUser bounds the active jobs of one signed-in user admitted by
	// this process (default 8).
	MaxPerUser int
	// MaxAnonymous bounds the active anonymous jobs together admitted by
	// this process (default three quarters of MaxActive), so that
	// signed-in users keep room however many addresses flood the queue.
	MaxAnonymous int
	// RetryAfter is the Retry-After of a refused submission (default 30 s).
	RetryAfter time.Duration
	// MaxInputBytes bounds a submitted image's bytes (default 512 MiB).
	MaxInputBytes int64
	// MaxElements bounds a submitted image's elements (default 1<<26,
	// e.g. 8192×8192 pixels, or a 512×512×256 volume).
	MaxElements int
	// Timeout bounds one run of a job (default 25 min, below the queue's
	// own 30-minute limit of an attempt, so that the job fails with this
	// message rather than being retried); a job over it fails.
	Timeout time.Duration
	// Lease is how long a worker owns a job without a heartbeat (default
	// 30 s); it heartbeats at every tile and every Lease/3.
	Lease time.Duration
	// MaxRuns fails a job claimed this many times without finishing (its
	// workers died on it: default 3).
	MaxRuns int
	// TempDir is where submissions are spooled ("" = os.TempDir()).
	TempDir string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service is the inference job service.
type Service struct {
	o      Options
	quotas quotas
}

// New returns a Service with o's defaults filled in.
func New(o Options) *Service {
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.MaxActive <= 0 {
		o.MaxActive = 32
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 30 * time.Second
	}
	if o.MaxPerClient <= 0 {
		o.MaxPerClient = 4
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = 8
	}
	if o.MaxAnonymous <= 0 {
		o.MaxAnonymous = max(1, o.MaxActive*3/4)
	}
	if o.MaxInputBytes <= 0 {
		o.MaxInputBytes = 512 << 20
	}
	if o.MaxElements <= 0 {
		o.MaxElements = 1 << 26
	}
	if o.Timeout <= 0 {
		o.Timeout = 25 * time.Minute
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// BusyError is the refusal of a submission while the queue, or the
// submitter's quota, is full.
type BusyError struct {
	Active, Limit int
	RetryAfter    time.Duration
	Scope         string // ScopeQueue, ScopeClient, ScopeUser or ScopeAnonymous
}

// Scopes of a BusyError: which limit refused.
const (
	ScopeQueue     = ""          // MaxActive: every job of the instance
	ScopeClient    = "client"    // MaxPerClient: an anonymous address's jobs
	ScopeUser      = "user"      // MaxPerUser: a signed-in user's jobs
	ScopeAnonymous = "anonymous" // MaxAnonymous: all anonymous jobs
)

// LimitName is the name of the limit that refused, for metrics and logs.
func (e *BusyError) LimitName() string {
	switch e.Scope {
	case ScopeClient:
		return "jobs_per_client"
	case ScopeUser:
		return "jobs_per_user"
	case ScopeAnonymous:
		return "jobs_anonymous"
	}
	return "jobs_active"
}

func (e *BusyError) Error() string {
	n, l, wait := strconv.Itoa(e.Active), strconv.Itoa(e.Limit), strconv.Itoa(int(e.RetryAfter.Seconds()))
	switch e.Scope {
	case ScopeClient:
		return "you already have " + n + " jobs waiting or running (the limit per address without signing in is " + l + "); wait for one to finish, cancel one, or sign in; try again in " + wait + " s"
	case ScopeUser:
		return "you already have " + n + " jobs waiting or running (the limit per user is " + l + "); wait for one to finish or cancel one; try again in " + wait + " s"
	case ScopeAnonymous:
		return "the queue's places for anonymous jobs are taken (" + n + " of " + l + "); sign in to submit now, or try again in " + wait + " s"
	}
	return "the inference queue is full (" + n + " jobs waiting or running, the limit is " + l + "); try again in " + wait + " s"
}

// Submission is a submitted image.
type Submission struct {
	Model       string // "ID" (latest published) or "ID/N"
	Axes        string // letters, "" to guess
	Client      string // the submitter's address (web.ClientKey): the quota of anonymous submissions
	ContentType string // may be empty: the format is then found by magic bytes
	Body        io.Reader
}

// ParseModelRef splits "ID" or "ID/N" (N ≥ 1; 0 = latest published).
func ParseModelRef(s string) (id string, n int, err error) {
	const op = "infer.ParseModelRef"
	if s == "" {
		return "", 0, zoo.E(op, zoo.Invalid, nil, "no model given: add ?model=ID or ?model=ID/N")
	}
	if len(s) > 200 {
		return "", 0, zoo.E(op, zoo.Invalid, nil, "model %.40q…: too long for a model id", s)
	}
	id, num, versioned := strings.Cut(s, "/")
	if id == "" || strings.ContainsAny(id, "/?#% ") {
		return "", 0, zoo.E(op, zoo.Invalid, nil, "model %q: give ID or ID/N", s)
	}
	if versioned {
		n, err = strconv.Atoi(num)
		if err != nil || n < 1 || n > 1<<30 {
			return "", 0, zoo.E(op, zoo.Invalid, nil, "model %q: the version after / must be a number ≥ 1", s)
		}
	}
	return id, n, nil
}

// Submit checks an image against the model's input, stores it and queues
// its job. Only published versions run (NotFound otherwise, as for an
// unknown model). A full queue is refused with a *BusyError.
func (s *Service) Submit(ctx context.Context, u *zoo.User, sub Submission) (*jobs.Job, error) {
	const op = "infer.Submit"
	id, n, err := ParseModelRef(sub.Model)
	if err != nil {
		return nil, err
	}
	var letters []string
	if sub.Axes != "" {
		if len(sub.Axes) > 8 {
			return nil, zoo.E(op, zoo.Invalid, nil, "axes %.20q: at most the 7 letters b c t i z y x", sub.Axes)
		}
		if letters, err = runner.ParseAxes(sub.Axes); err != nil {
			return nil, err
		}
	}
	v, err := s.o.Repo.Get(ctx, u, id, n)
	if err != nil {
		return nil, err
	}
	if v.State != zoo.StatePublished {
		return nil, zoo.E(op, zoo.NotFound, nil, "%s/%d is not published; jobs run published versions only", v.ModelID, v.Number)
	}
	m, err := s.o.Repo.Description(ctx, v)
	if err != nil {
		return nil, err
	}
	if err := runnable(m); err != nil {
		return nil, err
	}
	active, err := s.o.Store.ActiveJobs(ctx)
	if err != nil {
		return nil, err
	}
	if active >= s.o.MaxActive {
		return nil, &BusyError{Active: active, Limit: s.o.MaxActive, RetryAfter: s.o.RetryAfter}
	}
	key, anonymous := owner(u, sub.Client)
	record, err := s.admit(ctx, key, anonymous)
	if err != nil {
		return nil, err
	}
	var admitted string
	defer func() { record(admitted) }()

	spool, size, err := s.spool(sub.Body)
	if err != nil {
		return nil, err
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	format, err := Sniff(sub.ContentType, spool)
	if err != nil {
		return nil, err
	}
	img, err := Decode(format, spool, size, s.o.MaxElements)
	if err != nil {
		return nil, err
	}
	if _, _, err := toInput(img, m, letters); err != nil {
		return nil, err
	}
	img = nil
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	sha, _, err := s.o.Repo.Blobs().Put(ctx, spool)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC().Truncate(time.Millisecond)
	j := &jobs.Job{ID: jobs.NewID(), ModelID: v.ModelID, Version: v.Number, State: jobs.Queued,
		InputSHA256: sha, InputSize: size, InputFormat: format, Axes: strings.Join(letters, ""),
		Message: "queued", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.o.TTL)}
	if err := s.o.Store.CreateJob(ctx, j); err != nil {
		return nil, err
	}
	if _, err := s.o.Queue.Enqueue(ctx, Kind, Args{Job: j.ID}); err != nil {
		s.o.Store.CancelJob(context.WithoutCancel(ctx), j.ID, s.o.Now())
		return nil, zoo.E(op, zoo.Unavailable, err, "the job could not be queued; try again")
	}
	admitted = j.ID
	return j, nil
}

// Runnable reports whether jobs can run m (nil) or why not, in words for
// the person who wanted to: one input, one output, a weight format this
// server executes. The web pages offer "try it" only where it is nil.
func Runnable(m *spec.Model) error { return runnable(m) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func runnable(m *spec.Model) error {
	const op = "infer.runnable"
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return zoo.E(op, zoo.NotSupported, nil, "jobs run models with one input and one output; this model has %d %s and %d %s: download it and run it with zoo predict or a tool that reads bioimage.io models", len(m.Inputs), plural(len(m.Inputs), "input"), len(m.Outputs), plural(len(m.Outputs), "output"))
	}
	if _, err := runner.PickFormat(m); err != nil {
		var ze *zoo.Error
		if errors.As(err, &ze) {
			return zoo.E(op, zoo.NotSupported, err, "%s", ze.Message)
		}
		return zoo.E(op, zoo.NotSupported, err, "this server cannot run the model's weights")
	}
	return nil
}

// toInput arranges img as the model's input (with notes on conversions,
// e.g. colour to grey); its messages speak of the axes parameter rather
// than the command line's --axes.
func toInput(img *tensor.Tensor, m *spec.Model, letters []string) (*tensor.Tensor, []string, error) {
	x, notes, err := runner.ToInputNoted(img, &m.Inputs[0], letters)
	if err != nil {
		var ze *zoo.Error
		if errors.As(err, &ze) {
			e := *ze
			e.Message = strings.ReplaceAll(ze.Message, "--axes", "the axes parameter")
			return nil, nil, &e
		}
		return nil, nil, err
	}
	return x, notes, nil
}

// spool copies body into a temporary file, refusing more than
// MaxInputBytes.
func (s *Service) spool(body io.Reader) (*os.File, int64, error) {
	const op = "infer.Submit"
	f, err := os.CreateTemp(s.o.TempDir, "zoo-job-")
	if err != nil {
		return nil, 0, zoo.E(op, zoo.Internal, err, "")
	}
	src := &readErr{r: body}
	n, err := io.Copy(f, io.LimitReader(src, s.o.MaxInputBytes+1))
	switch {
	case src.err != nil && errors.As(src.err, new(*http.MaxBytesError)):
		err = zoo.E(op, zoo.TooLarge, nil, "the image is larger than this server's limit of %d MiB for a job; crop it or split it into parts", s.o.MaxInputBytes>>20)
	case src.err != nil:
		// The client's fault (it stopped sending, or the connection
		// broke): a 400, not a server error.
		err = zoo.E(op, zoo.Invalid, src.err, "the image was cut off after %d bytes, before the request ended; send it again", n)
	case err != nil:
		err = zoo.E(op, zoo.Internal, err, "cannot store the image for the job")
	}
	if err == nil && n > s.o.MaxInputBytes {
		err = zoo.E(op, zoo.TooLarge, nil, "the image is larger than this server's limit of %d MiB for a job; crop it or split it into parts", s.o.MaxInputBytes>>20)
	}
	if err == nil && n == 0 {
		err = zoo.E(op, zoo.Invalid, nil, "the request has no body: send the image (TIFF, PNG or .npy) as the body")
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// readErr remembers the error of its reader, to tell the client's read
// errors from the server's write errors.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// Job returns the job with id (NotFound for a malformed or unknown id).
func (s *Service) Job(ctx context.Context, id string) (*jobs.Job, error) {
	if !jobs.ValidID(id) {
		return nil, zoo.E("infer.Job", zoo.NotFound, nil, "no job %.40q: a job id is 32 hexadecimal digits", id)
	}
	return s.o.Store.Job(ctx, id)
}

// Cancel cancels a queued or running job (a running one stops at its next
// tile) and returns it; a finished job is returned unchanged.
func (s *Service) Cancel(ctx context.Context, id string) (*jobs.Job, error) {
	if !jobs.ValidID(id) {
		return nil, zoo.E("infer.Cancel", zoo.NotFound, nil, "no job %.40q: a job id is 32 hexadecimal digits", id)
	}
	return s.o.Store.CancelJob(ctx, id, s.o.Now())
}
