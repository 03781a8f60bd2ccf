package infer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// errLeaseLost is the cancellation cause when the job's record says this
// worker no longer owns it (cancelled, or presumed dead and taken over).
var errLeaseLost = errors.New("the job was cancelled or taken over")

// Handle is the queue handler of Kind jobs. It claims the job's record
// (doing nothing if the job is finished or another worker holds a live
// lease), runs the model tile by tile with a heartbeat, stores the result
// and finishes the record. A failed attempt is retried by the queue while
// attempts remain, except for failures a retry cannot fix (a bad image, an
// unsupported model, the time limit), which fail the job at once.
func (s *Service) Handle(ctx context.Context, qj *queue.Job) error {
	var a Args
	if err := json.Unmarshal(qj.Args, &a); err != nil || !jobs.ValidID(a.Job) {
		return queue.Cancel(fmt.Errorf("bad arguments %s", qj.Args))
	}
	j, err := s.o.Store.Job(ctx, a.Job)
	if zoo.KindOf(err) == zoo.NotFound {
		return nil // expired and deleted
	} else if err != nil {
		return err
	}
	if j.State.Terminal() {
		return nil
	}
	lease := jobs.NewID()
	now := s.o.Now()
	j, err = s.o.Store.ClaimJob(ctx, a.Job, lease, now, now.Add(s.o.Lease))
	switch zoo.KindOf(err) {
	case zoo.Conflict:
		return nil // another worker runs it, or it just finished
	case zoo.NotFound:
		return nil
	}
	if err != nil {
		return err
	}
	log := s.o.Logger.With("job", j.ID, "model", j.ModelID, "version", j.Version, "run", j.Runs)
	if j.Runs > s.o.MaxRuns {
		log.Warn("failing a job whose workers stopped on it")
		return s.finish(j.ID, lease, jobs.Finish{State: jobs.Failed, Message: "failed",
			Error: fmt.Sprintf("the job was started %d times and its worker stopped each time (the image may be too large for the workers' memory)", j.Runs-1)})
	}

	log.Info("job started")
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rctx, stopTimer := context.WithTimeoutCause(rctx, s.o.Timeout, context.DeadlineExceeded)
	defer stopTimer()

	hb := &heartbeat{s: s, id: j.ID, lease: lease, cancel: cancel, msg: "starting"}
	hb.beat(rctx)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(s.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-rctx.Done():
				return
			case <-t.C:
				hb.beat(rctx)
			}
		}
	}()

	start := time.Now()
	sha, size, err := s.run(rctx, j, hb)
	if cause := context.Cause(rctx); errors.Is(cause, errLeaseLost) {
		log.Info("stopped: the job was cancelled or taken over")
		return nil
	}
	if err == nil {
		hb.stop()
		log.Info("job succeeded", "took", time.Since(start).Round(time.Millisecond))
		msg := "done"
		if hb.note != "" { // what the person should know about their result
			msg = "done; " + hb.note
		}
		return s.finish(j.ID, lease, jobs.Finish{State: jobs.Succeeded, ResultSHA256: sha, ResultSize: size, Message: msg})
	}
	hb.stop()
	if rctx.Err() != nil && ctx.Err() == nil { // our own time limit
		return s.finish(j.ID, lease, jobs.Finish{State: jobs.Failed, Message: "failed",
			Error: fmt.Sprintf("the job took longer than this server's limit of %v; use a smaller image", s.o.Timeout)})
	}
	switch zoo.KindOf(err) {
	case zoo.Invalid, zoo.NotSupported, zoo.TooLarge, zoo.NotFound:
		return s.finish(j.ID, lease, jobs.Finish{State: jobs.Failed, Message: "failed", Error: zoo.MessageOf(err)})
	}
	if qj.Attempt >= qj.MaxAttempts {
		log.Error("job failed", "err", err)
		return s.finish(j.ID, lease, jobs.Finish{State: jobs.Failed, Message: "failed", Error: "the server could not run the job: " + zoo.MessageOf(err)})
	}
	log.Warn("job attempt failed; it will be retried", "attempt", qj.Attempt, "err", err)
	rerr := s.o.Store.ReleaseJob(context.WithoutCancel(ctx), j.ID, lease,
		fmt.Sprintf("attempt %d failed (%s); retrying", qj.Attempt, zoo.MessageOf(err)), s.o.Now())
	if rerr != nil && zoo.KindOf(rerr) != zoo.Conflict {
		log.Warn("cannot release the job", "err", rerr)
	}
	return err
}

// finish writes the end of a job; a lost lease means someone else decided
// (a cancel, or a worker that took over), which is not an error.
func (s *Service) finish(id, lease string, f jobs.Finish) error {
	err := s.o.Store.FinishJob(context.Background(), id, lease, f, s.o.Now())
	if zoo.KindOf(err) == zoo.Conflict {
		return nil
	}
	return err
}

// heartbeat renews a job's lease with its progress; a refusal cancels the
// run.
type heartbeat struct {
	s           *Service
	id, lease   string
	cancel      context.CancelCauseFunc
	mu          sync.Mutex
	done, total int
	msg         string
	stopped     bool
	note        string // conversions of the input the person should know of (set by run only)
}

func (h *heartbeat) set(done, total int, msg string) {
	h.mu.Lock()
	h.done, h.total, h.msg = done, total, msg
	h.mu.Unlock()
}

func (h *heartbeat) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

func (h *heartbeat) beat(ctx context.Context) {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	p := jobs.Progress{Done: h.done, Total: h.total, Message: h.msg}
	h.mu.Unlock()
	now := h.s.o.Now()
	err := h.s.o.Store.Heartbeat(context.WithoutCancel(ctx), h.id, h.lease, p, now, now.Add(h.s.o.Lease))
	switch zoo.KindOf(err) {
	case zoo.Conflict, zoo.NotFound:
		if err != nil {
			h.cancel(errLeaseLost)
		}
	default:
		if err != nil {
			h.s.o.Logger.Warn("cannot record a job's progress", "job", h.id, "err", err)
		}
	}
}

// run predicts the job's image and stores the output as .npy.
func (s *Service) run(ctx context.Context, j *jobs.Job, hb *heartbeat) (string, int64, error) {
	const op = "infer.run"
	v, err := s.o.Repo.Catalog().Version(ctx, j.ModelID, j.Version)
	if err != nil {
		return "", 0, err
	}
	if s.o.Load == nil {
		return "", 0, zoo.E(op, zoo.Unavailable, nil, "this process runs no models")
	}
	hb.set(0, 0, "loading the model")
	p, release, err := s.o.Load(ctx, v)
	if err != nil {
		return "", 0, err
	}
	defer release()
	m := p.Model
	if err := runnable(m); err != nil {
		return "", 0, err
	}
	hb.set(0, 0, "reading the image")
	img, err := s.readInput(ctx, j)
	if err != nil {
		return "", 0, err
	}
	var letters []string
	if j.Axes != "" {
		if letters, err = runner.ParseAxes(j.Axes); err != nil {
			return "", 0, err
		}
	}
	x, notes, err := toInput(img, m, letters)
	if err != nil {
		return "", 0, err
	}
	hb.note = strings.Join(notes, "; ")
	sample := runner.Sample{m.Inputs[0].ID: x}
	// A predictor may be shared (modelcache): its dataset statistics are
	// this image's only until the prediction ends.
	unlock := p.LockDatasetStats()
	if err := p.UseDatasetStats([]runner.Sample{sample}); err != nil {
		unlock()
		return "", 0, err
	}
	hb.set(0, 0, "preprocessing")
	tiles := 0
	out, err := p.PredictTiledInPlace(ctx, sample, runner.Tiling{Progress: func(done, total int) {
		tiles = total
		hb.set(done, total, fmt.Sprintf("tile %d of %d", done, total))
		hb.beat(ctx) // a cancelled job stops before its next tile
	}})
	unlock()
	if err != nil {
		return "", 0, err
	}
	y := out[m.Outputs[0].ID]
	if y == nil {
		return "", 0, zoo.E(op, zoo.Internal, nil, "the model gave no output %s", m.Outputs[0].ID)
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, y); err != nil {
		return "", 0, err
	}
	hb.set(tiles, tiles, "storing the result")
	return s.o.Repo.Blobs().Put(ctx, &buf)
}

// readInput decodes a job's stored image.
func (s *Service) readInput(ctx context.Context, j *jobs.Job) (*tensor.Tensor, error) {
	b, err := s.o.Repo.Blobs().Open(ctx, j.InputSHA256)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	ra, ok := b.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(b)
		if err != nil {
			return nil, zoo.E("infer.readInput", zoo.Unavailable, err, "cannot read the job's image")
		}
		ra = bytes.NewReader(data)
	}
	return Decode(j.InputFormat, ra, b.Size(), max(s.o.MaxElements, 1<<26))
}

// Sweep re-queues the jobs of workers that stopped answering, expires
// jobs past their time (deleting their blobs where nothing else uses
// them) and deletes the records of jobs expired a week ago. Every process
// may sweep at once; each job is handled by one.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.o.Now()
	ids, err := s.o.Store.RequeueStale(ctx, now, 100)
	if err != nil {
		return err
	}
	for _, id := range ids {
		s.o.Logger.Warn("re-queued a job whose worker stopped answering", "job", id)
		if _, err := s.o.Queue.Enqueue(ctx, Kind, Args{Job: id}); err != nil {
			return err
		}
	}
	expired, err := s.o.Store.ExpireJobs(ctx, now, 100)
	if err != nil {
		return err
	}
	var catalogRefs map[string]bool
	for _, j := range expired {
		for _, sha := range []string{j.InputSHA256, j.ResultSHA256} {
			if sha == "" {
				continue
			}
			if used, err := s.o.Store.BlobInUse(ctx, sha); err != nil || used {
				continue
			}
			if catalogRefs == nil { // a job's image may be a model's file too
				catalogRefs = map[string]bool{}
				if err := s.o.Repo.Catalog().ReferencedBlobs(ctx, func(sha string) error { catalogRefs[sha] = true; return nil }); err != nil {
					return err
				}
			}
			if catalogRefs[sha] {
				continue
			}
			if err := s.o.Repo.Blobs().Delete(ctx, sha); err != nil && zoo.KindOf(err) != zoo.NotFound {
				s.o.Logger.Warn("cannot delete an expired job's blob", "job", j.ID, "blob", sha, "err", err)
			}
		}
	}
	_, err = s.o.Store.DeleteExpired(ctx, now.Add(-7*24*time.Hour))
	return err
}

// RunSweeper sweeps every interval until ctx ends, logging failures.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("sweeping inference jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
