// Package ftserver runs fine-tuning (package finetune) as server jobs: a
// signed-in user submits a zip of images (and masks) with settings for a
// published model, a worker that can train (PyTorch and the sandbox)
// fine-tunes it in the queue's "finetune" queue, progress per iteration
// (loss) is visible through the API, the job can be cancelled, the
// trainer's checkpoint is kept in the blob store every few minutes so that
// a job whose worker died resumes there on another worker, and the result
// becomes a draft model in the repository (a new model, or a new version
// of one of the user's own models) whose parent is the original; the
// training data can be published beside it as a dataset draft.
//
// The user's data (the zip and the checkpoints) are deleted Options.TTL
// after the job was submitted, unless the user keeps them; the draft
// model is the user's like any upload and is not deleted.
//
// # Life of a job
//
//	queued ──worker──▶ running ──▶ succeeded | failed
//	   ▲                  │
//	   └─ worker died ────┘       queued|running ──cancel──▶ cancelled
//
// The record is kept by an ftjob.Store (table finetune_jobs); the queue
// job only names it, so a retried queue job finds the record as the last
// worker left it.
package ftserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/finetune"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sandbox"
)

// Kind is the queue's job kind of fine-tuning (Args), and Queue the queue
// its jobs wait in: only processes that can train (PyTorch, the sandbox,
// libtorch) work it.
const (
	Kind  = "finetune"
	Queue = "finetune"
)

// Args are the queue job's arguments: the record's id.
type Args struct {
	ID string `json:"id"`
}

// Options configure a Service.
type Options struct {
	Store  Store
	Repo   *repo.Service
	Queue  *queue.Queue
	Logger *slog.Logger
	// TempDir holds the working folders of running jobs ("" = os.TempDir()).
	TempDir string
	// MaxActive is how many jobs one user may have queued or running
	// (default 2).
	MaxActive int
	// MaxUploadBytes bounds the submitted zip (default 256 MiB); its
	// images may take 4 times that uncompressed.
	MaxUploadBytes int64
	// MaxIterations bounds a job's iterations (default 2000).
	MaxIterations int
	// TTL is how long a job's data (zip, checkpoints) is kept after
	// submission unless its owner keeps it (default 7 days).
	TTL time.Duration
	// CheckpointEvery is how often a running job's checkpoint is stored
	// in the blob store (default 2 minutes).
	CheckpointEvery time.Duration
	// Limits bound the trainer's sandbox (finetune.Options.Limits).
	Limits sandbox.Limits
}

// Service runs fine-tuning jobs: the API (Routes), the queue handler
// (Handle) and the expiry of data (Sweep).
type Service struct {
	o Options
}

// New returns a service with o's defaults filled in.
func New(o Options) *Service {
	if o.MaxActive <= 0 {
		o.MaxActive = 2
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 256 << 20
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 2000
	}
	if o.TTL <= 0 {
		o.TTL = 7 * 24 * time.Hour
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o}
}

// MaxUploadBytes is the largest zip of images a job takes.
func (s *Service) MaxUploadBytes() int64 { return s.o.MaxUploadBytes }

// Retention says in words how long a job's data is kept.
func (s *Service) Retention() string {
	return fmt.Sprintf("Your images and the training checkpoints are deleted %s after you submit them, unless you choose to keep them; the fine-tuned draft model is yours like any upload and is not deleted.", words(s.o.TTL))
}

func words(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		n := int(d / (24 * time.Hour))
		return plural(n, "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// newID returns a job id: 128 random bits as 32 hex digits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Submission is a new job as the API receives it.
type Submission struct {
	Model       string // published model id
	Version     int    // 0 = the latest published
	Settings    Settings
	Target      string
	PublishData bool
}

// Submit checks a submission by user u with the zip at zipPath and stores
// and queues the job.
func (s *Service) Submit(ctx context.Context, u *zoo.User, sub Submission, zipPath string) (*Job, error) {
	const op = "ftjob.Submit"
	if u == nil {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "sign in to fine-tune a model")
	}
	if u.Role.Rank() < zoo.RoleContributor.Rank() {
		return nil, zoo.E(op, zoo.Forbidden, nil, "fine-tuning makes a new model: it needs a contributor's account")
	}
	v, err := s.o.Repo.Get(ctx, u, sub.Model, sub.Version)
	if err != nil {
		return nil, err
	}
	if v.State != zoo.StatePublished {
		return nil, zoo.E(op, zoo.Invalid, nil, "%s/%d is %s; only published versions can be fine-tuned", v.ModelID, v.Number, v.State)
	}
	m, err := s.o.Repo.Description(ctx, v)
	if err != nil {
		return nil, err
	}
	data, err := ReadData(zipPath, "", DataLimits{MaxBytes: 4 * s.o.MaxUploadBytes})
	if err != nil {
		return nil, err
	}
	st := sub.Settings
	if st.Task == "" {
		st.Task = finetune.TaskDenoise
		if len(data.Masks) > 0 {
			st.Task = finetune.TaskSegment
		}
	}
	if err := finetune.Check(m, st.Task); err != nil {
		return nil, err
	}
	if !finetune.LicenceAllowsDerivatives(m.License) {
		return nil, zoo.E(op, zoo.Forbidden, nil, "the model's licence (%s) does not allow derivatives, so a fine-tuned model cannot be made from it", m.License)
	}
	if st.Task == finetune.TaskSegment {
		masks := map[string]bool{}
		for _, n := range data.Masks {
			masks[trimExt(n)] = true
		}
		for _, n := range data.Images {
			if !masks[trimExt(n)] {
				return nil, zoo.E(op, zoo.Invalid, nil, "image %s has no mask: put a label mask of the same name under masks/ in the zip", n)
			}
		}
	}
	if st.Iterations == 0 {
		st.Iterations = 100
	}
	switch {
	case st.Iterations < 1 || st.Iterations > s.o.MaxIterations:
		return nil, zoo.E(op, zoo.Invalid, nil, "iterations %d: give 1 to %d", st.Iterations, s.o.MaxIterations)
	case st.LR < 0 || st.LR > 1:
		return nil, zoo.E(op, zoo.Invalid, nil, "learning rate %g: give a number between 0 and 1", st.LR)
	case st.Patch < 0 || st.Patch > 1024:
		return nil, zoo.E(op, zoo.Invalid, nil, "patch %d: give 16 to 1024 pixels", st.Patch)
	case st.Batch < 0 || st.Batch > 64:
		return nil, zoo.E(op, zoo.Invalid, nil, "batch %d: give 1 to 64 patches", st.Batch)
	}
	if st.LR == 0 {
		st.LR = 1e-4
	}
	if st.Patch == 0 {
		st.Patch = 128
	}
	if st.Batch == 0 {
		st.Batch = 4
	}
	if sub.Target != "" {
		tm, err := s.o.Repo.Catalog().Model(ctx, sub.Target)
		if err != nil || !mayAddVersion(u, tm) {
			return nil, zoo.E(op, zoo.Forbidden, err, "%s is not one of your models; leave the target empty to make a new model", sub.Target)
		}
	}
	f, err := os.Open(zipPath)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot read the upload")
	}
	sha, size, err := s.o.Repo.Blobs().Put(ctx, f)
	f.Close()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	j := &Job{ID: newID(), Owner: u.Name, Model: v.ModelID, Version: v.Number, Settings: st,
		Target: sub.Target, PublishData: sub.PublishData, State: Queued, Losses: []float64{},
		Message:    "waiting for a worker that can fine-tune (PyTorch and the sandbox)",
		DataSHA256: sha, DataSize: size, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.o.TTL)}
	if err := s.o.Store.CreateFinetune(ctx, j, s.o.MaxActive); err != nil {
		return nil, err
	}
	if _, err := s.o.Queue.Enqueue(ctx, Kind, Args{ID: j.ID}); err != nil {
		s.finish(ctx, j.ID, "", Failed, "the job could not be queued; submit it again")
		return nil, zoo.E(op, zoo.Unavailable, err, "the job could not be queued; try again")
	}
	s.o.Logger.Info("fine-tuning job submitted", "job", j.ID, "owner", u.Name, "model", v.ModelID, "version", v.Number, "task", st.Task, "images", len(data.Images))
	return j, nil
}

func mayAddVersion(u *zoo.User, m *zoo.Model) bool {
	if u.Role == zoo.RoleAdmin || m.OwnerID == u.ID {
		return true
	}
	for _, id := range m.Maintainers {
		if id == u.ID {
			return true
		}
	}
	return false
}

func trimExt(n string) string { return n[:len(n)-len(filepath.Ext(n))] }

// Get returns job id if u may see it (its owner, or an admin); NotFound
// otherwise, as for a job that does not exist.
func (s *Service) Get(ctx context.Context, u *zoo.User, id string) (*Job, error) {
	j, err := s.o.Store.Finetune(ctx, id)
	if err != nil {
		return nil, err
	}
	if u == nil || (u.Name != j.Owner && u.Role != zoo.RoleAdmin) {
		return nil, zoo.E("ftjob.Get", zoo.NotFound, nil, "no fine-tuning job %s", id)
	}
	return j, nil
}

// Cancel stops a queued or running job of u's (a running worker stops at
// its next iteration); a finished job is returned as it is.
func (s *Service) Cancel(ctx context.Context, u *zoo.User, id string) (*Job, error) {
	if _, err := s.Get(ctx, u, id); err != nil {
		return nil, err
	}
	return s.o.Store.UpdateFinetune(ctx, id, func(j *Job) error {
		if !j.State.Terminal() {
			j.State, j.Message, j.FinishedAt = Cancelled, "cancelled by "+u.Name, time.Now().UTC()
		}
		return nil
	})
}

// Keep sets whether u's job's data is kept past its expiry.
func (s *Service) Keep(ctx context.Context, u *zoo.User, id string, keep bool) (*Job, error) {
	if _, err := s.Get(ctx, u, id); err != nil {
		return nil, err
	}
	return s.o.Store.UpdateFinetune(ctx, id, func(j *Job) error {
		if j.DataDeleted {
			return zoo.E("ftjob.Keep", zoo.Conflict, nil, "the job's data was deleted already")
		}
		j.Keep = keep
		return nil
	})
}

// finish ends job id with state and message, unless it ended already or
// another run holds it (run != "" must match).
func (s *Service) finish(ctx context.Context, id, run string, state State, msg string) (*Job, error) {
	return s.o.Store.UpdateFinetune(context.WithoutCancel(ctx), id, func(j *Job) error {
		if j.State.Terminal() || (run != "" && j.Run != run) {
			return nil
		}
		j.State, j.FinishedAt = state, time.Now().UTC()
		if state == Failed {
			j.Error, j.Message = msg, "failed"
		} else {
			j.Message = msg
		}
		return nil
	})
}

// Sweep deletes the data of expired jobs (zip and checkpoint blobs) and
// returns how many jobs it cleared. Blobs another job still names are
// kept.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	ids, err := s.o.Store.ExpiredFinetunes(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var blobs []string
		_, err := s.o.Store.UpdateFinetune(ctx, id, func(j *Job) error {
			blobs = []string{j.DataSHA256, j.CheckpointSHA256}
			if !j.State.Terminal() {
				j.State, j.FinishedAt, j.Message = Cancelled, now, "stopped: its data reached the end of its retention time"
			}
			j.DataDeleted, j.DataSHA256, j.CheckpointSHA256 = true, "", ""
			return nil
		})
		if err != nil {
			return n, err
		}
		s.deleteUnused(ctx, blobs...)
		n++
	}
	return n, nil
}

// deleteUnused deletes those of blobs no job and no version refers to.
func (s *Service) deleteUnused(ctx context.Context, blobs ...string) {
	used := map[string]bool{}
	s.o.Store.FinetuneBlobs(ctx, func(sha string) error { used[sha] = true; return nil })
	for _, b := range blobs {
		if b == "" || used[b] {
			continue
		}
		if err := s.o.Repo.Blobs().Delete(ctx, b); err != nil && zoo.KindOf(err) != zoo.NotFound {
			s.o.Logger.Warn("cannot delete a fine-tuning blob", "blob", b, "err", err)
		}
	}
}

// RunSweeper sweeps every `every` until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx, time.Now().UTC()); err != nil {
			s.o.Logger.Warn("fine-tuning sweep failed", "err", err)
		} else if n > 0 {
			s.o.Logger.Info("deleted the data of expired fine-tuning jobs", "jobs", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errStop = errors.New("the job was cancelled or taken over")

// Handle is the queue handler of Kind: it trains the job, resuming from
// its last stored checkpoint, and makes the draft.
func (s *Service) Handle(ctx context.Context, qj *queue.Job) error {
	var args Args
	if err := json.Unmarshal(qj.Args, &args); err != nil || args.ID == "" {
		return queue.Cancel(fmt.Errorf("bad arguments %s", qj.Args))
	}
	log := s.o.Logger.With("job", args.ID, "attempt", qj.Attempt)
	run := newID()
	j, err := s.o.Store.UpdateFinetune(ctx, args.ID, func(j *Job) error {
		if j.State.Terminal() {
			return nil
		}
		j.State, j.Runs = Running, j.Runs+1
		j.Message = "training"
		if j.CheckpointSHA256 != "" {
			j.Resumed = append(j.Resumed, j.CheckpointIteration)
			j.Iteration = j.CheckpointIteration
			j.Losses = j.Losses[:min(len(j.Losses), j.CheckpointIteration)]
			j.Message = fmt.Sprintf("training, resumed from the checkpoint at iteration %d", j.CheckpointIteration)
		} else {
			j.Iteration, j.Losses = 0, []float64{}
		}
		j.Error, j.Run = "", run
		return nil
	})
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			return queue.Cancel(err)
		}
		return err
	}
	if j.State.Terminal() {
		log.Info("fine-tuning job already ended", "state", j.State)
		return nil
	}
	if j.DataDeleted || j.DataSHA256 == "" {
		s.finish(ctx, j.ID, run, Failed, "the job's images were deleted before it could run")
		return nil
	}
	log.Info("fine-tuning", "model", j.Model, "version", j.Version, "task", j.Settings.Task, "iterations", j.Settings.Iterations, "from", j.CheckpointIteration)
	err = s.train(ctx, j, run, log)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errStop):
		log.Info("fine-tuning stopped", "why", err)
		return nil
	case ctx.Err() == nil && permanent(err):
		log.Warn("fine-tuning failed", "err", err)
		s.finish(ctx, j.ID, run, Failed, zoo.MessageOf(err))
		return nil
	default:
		log.Warn("fine-tuning interrupted; it runs again from its last checkpoint", "err", err)
		s.o.Store.UpdateFinetune(context.WithoutCancel(ctx), j.ID, func(j *Job) error {
			if !j.State.Terminal() {
				j.State, j.Message = Queued, "interrupted ("+zoo.MessageOf(err)+"); it runs again from its last checkpoint"
			}
			return nil
		})
		return err
	}
}

func permanent(err error) bool {
	switch zoo.KindOf(err) {
	case zoo.Invalid, zoo.NotSupported, zoo.Forbidden, zoo.TooLarge, zoo.NotFound:
		return true
	}
	return false
}

// train runs one attempt of job j.
func (s *Service) train(ctx context.Context, j *Job, run string, log *slog.Logger) error {
	const op = "ftjob.train"
	dir, err := sandbox.MkdirTemp(s.o.TempDir, "zoo-finetune-job-*")
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot make a working folder")
	}
	defer os.RemoveAll(dir)
	cat := s.o.Repo.Catalog()
	v, err := cat.Version(ctx, j.Model, j.Version)
	if err != nil {
		return err
	}
	modelDir := filepath.Join(dir, "model")
	if err := s.o.Repo.Unpack(ctx, v, modelDir); err != nil {
		return err
	}
	zipPath := filepath.Join(dir, "data.zip")
	if err := s.fetch(ctx, j.DataSHA256, zipPath); err != nil {
		return err
	}
	dataDir := filepath.Join(dir, "data")
	if _, err := ReadData(zipPath, dataDir, DataLimits{MaxBytes: 4 * s.o.MaxUploadBytes}); err != nil {
		return err
	}
	work := filepath.Join(dir, "work")
	if j.CheckpointSHA256 != "" {
		ck := finetune.CheckpointPath(work)
		if err := os.MkdirAll(filepath.Dir(ck), 0o755); err != nil {
			return zoo.E(op, zoo.Internal, err, "cannot make the working folder")
		}
		if err := s.fetch(ctx, j.CheckpointSHA256, ck); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// check stops the run when the job was cancelled or another run took
	// it over.
	check := func(j *Job) error {
		if j.State != Running || j.Run != run {
			return errStop
		}
		return nil
	}
	var mu sync.Mutex
	var pending []float64
	first := j.Iteration + 1
	lastWrite := time.Time{}
	flush := func(force bool) {
		mu.Lock()
		if len(pending) == 0 || (!force && time.Since(lastWrite) < time.Second) {
			mu.Unlock()
			return
		}
		losses, from := append([]float64(nil), pending...), first
		first += len(pending)
		pending = pending[:0]
		lastWrite = time.Now()
		mu.Unlock()
		_, err := s.o.Store.UpdateFinetune(runCtx, j.ID, func(j *Job) error {
			if err := check(j); err != nil {
				return err
			}
			j.Losses = append(j.Losses[:min(len(j.Losses), from-1)], losses...)
			j.Iteration = len(j.Losses)
			return nil
		})
		if errors.Is(err, errStop) {
			cancel(errStop)
		} else if err != nil {
			log.Warn("cannot record fine-tuning progress", "err", err)
		}
	}
	out := filepath.Join(dir, "draft")
	images := filepath.Join(dataDir, "images")
	masks, clean := "", ""
	if j.Settings.Task == finetune.TaskSegment {
		masks = filepath.Join(dataDir, "masks")
	} else if _, err := os.Stat(filepath.Join(dataDir, "clean")); err == nil {
		clean = filepath.Join(dataDir, "clean")
	}
	owner, err := cat.UserByName(ctx, j.Owner)
	if err != nil {
		return err
	}
	rep, err := finetune.Run(runCtx, modelDir, finetune.Options{
		Task: j.Settings.Task, Images: images, Masks: masks, Clean: clean, Out: out, Work: work,
		Iterations: j.Settings.Iterations, LR: j.Settings.LR, Patch: j.Settings.Patch, Batch: j.Settings.Batch, Seed: j.Settings.Seed,
		Parent: fmt.Sprintf("%s/%d", j.Model, j.Version), Authors: []string{j.Owner},
		Limits: s.o.Limits, CheckpointSeconds: s.o.CheckpointEvery.Seconds(),
		Iteration: func(n int, loss float64) {
			mu.Lock()
			if n != first+len(pending) { // a resumed run starts after the checkpoint
				pending, first = pending[:0], n
			}
			pending = append(pending, loss)
			mu.Unlock()
			flush(false)
		},
		Checkpoint: func(p string, n int) {
			flush(true)
			if err := s.storeCheckpoint(runCtx, j.ID, p, n, check); err != nil {
				if errors.Is(err, errStop) {
					cancel(errStop)
					return
				}
				log.Warn("cannot store the fine-tuning checkpoint", "iteration", n, "err", err)
				return
			}
			log.Info("stored a fine-tuning checkpoint", "iteration", n)
		},
	})
	if cause := context.Cause(runCtx); errors.Is(cause, errStop) {
		return errStop
	}
	if err != nil {
		return err
	}
	flush(true)
	if rep.Status != "finetuned" {
		s.finish(ctx, j.ID, run, Failed, rep.Message)
		return nil
	}
	return s.makeDraft(ctx, j, owner, rep, out, dataDir, check)
}

// fetch copies blob sha to the file p.
func (s *Service) fetch(ctx context.Context, sha, p string) error {
	b, err := s.o.Repo.Blobs().Open(ctx, sha)
	if err != nil {
		return err
	}
	defer b.Close()
	f, err := os.Create(p)
	if err != nil {
		return zoo.E("ftjob", zoo.Internal, err, "cannot write %s", filepath.Base(p))
	}
	if _, err := io.Copy(f, b); err != nil {
		f.Close()
		return zoo.E("ftjob", zoo.Unavailable, err, "cannot read a blob of the job")
	}
	return f.Close()
}

// storeCheckpoint puts the checkpoint file in the blob store and records
// it, then deletes the checkpoint it replaces.
func (s *Service) storeCheckpoint(ctx context.Context, id, p string, n int, check func(*Job) error) error {
	f, err := os.Open(p)
	if err != nil {
		return zoo.E("ftjob", zoo.Internal, err, "cannot read the checkpoint")
	}
	sha, _, err := s.o.Repo.Blobs().Put(ctx, f)
	f.Close()
	if err != nil {
		return err
	}
	var old string
	_, err = s.o.Store.UpdateFinetune(ctx, id, func(j *Job) error {
		if err := check(j); err != nil {
			return err
		}
		old = j.CheckpointSHA256
		j.CheckpointSHA256, j.CheckpointIteration = sha, n
		return nil
	})
	if err != nil {
		return err
	}
	if old != "" && old != sha {
		s.deleteUnused(ctx, old)
	}
	return nil
}

// makeDraft uploads the fine-tuned package as a draft of the owner (and,
// when asked, the training data as a dataset draft) and ends the job. A
// worker that dies between the upload and the record's update leaves a
// draft the next run does not know of: the retried job makes another.
func (s *Service) makeDraft(ctx context.Context, j *Job, owner *zoo.User, rep *finetune.Report, out, dataDir string, check func(*Job) error) error {
	const op = "ftjob.makeDraft"
	var dsModel string
	var dsVersion int
	if j.PublishData {
		zipData, err := datasetZip(j, rep, dataDir)
		if err != nil {
			return err
		}
		dv, err := s.o.Repo.Upload(ctx, owner, bytes.NewReader(zipData), repo.UploadOptions{Draft: true})
		if err != nil && (dv == nil || zoo.KindOf(err) != zoo.Unavailable) {
			return zoo.E(op, zoo.KindOf(err), err, "the training data could not be stored as a dataset: %s", zoo.MessageOf(err))
		}
		dsModel, dsVersion = dv.ModelID, dv.Number
		if err := setTrainingData(filepath.Join(out, rep.Description), dsModel); err != nil {
			return err
		}
	}
	pkg, _, err := bundle.Build(filepath.Join(out, rep.Description), bundle.BuildOptions{})
	if err != nil {
		return zoo.E(op, zoo.KindOf(err), err, "the fine-tuned package cannot be built: %s", zoo.MessageOf(err))
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot write the fine-tuned package")
	}
	v, err := s.o.Repo.Upload(ctx, owner, &buf, repo.UploadOptions{Draft: true, ModelID: j.Target})
	if err != nil && (v == nil || zoo.KindOf(err) != zoo.Unavailable) {
		return zoo.E(op, zoo.KindOf(err), err, "the fine-tuned model could not be stored as a draft: %s", zoo.MessageOf(err))
	}
	var old string
	_, err = s.o.Store.UpdateFinetune(context.WithoutCancel(ctx), j.ID, func(j *Job) error {
		j.DraftModel, j.DraftVersion = v.ModelID, v.Number
		j.DatasetModel, j.DatasetVersion = dsModel, dsVersion
		j.Losses, j.Iteration = rep.Losses, len(rep.Losses)
		j.Metric, j.Before, j.After = rep.Metric, rep.Before, rep.After
		j.State, j.FinishedAt = Succeeded, time.Now().UTC()
		j.Message = fmt.Sprintf("%s; draft %s/%d made: submit it for review", rep.Message, v.ModelID, v.Number)
		old, j.CheckpointSHA256 = j.CheckpointSHA256, ""
		return nil
	})
	if err != nil {
		return err
	}
	s.deleteUnused(ctx, old)
	s.o.Logger.Info("fine-tuned", "job", j.ID, "draft", fmt.Sprintf("%s/%d", v.ModelID, v.Number), "summary", rep.Message)
	return nil
}
