package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/finetune/ftserver"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
)

func newWorkerCmd() *cobra.Command {
	var sf storageFlags
	var concurrency int
	var kinds []string
	cmd := &cobra.Command{
		Use:   "worker [--data DIR] [--db URL] [--blobs URL] [--concurrency N] [--kinds KIND,...]",
		Short: "Run background jobs (tests, inference, conversions, challenge scoring, DOIs) without serving",
		Long: `worker runs the background jobs of a zoo instance and records their
results: the reproducibility test of every uploaded version (test), try-it
and API inference jobs (infer), conversions of PyTorch state-dict weights
(convert), the scoring of challenge submissions (score), DOI mints
(doi) and fine-tuning on a user's images (finetune). Run any number of workers beside zoo serve replicas started with
--workers 0; they share the storage given by the same flags. docs/jobs.md
says what each kind needs.

Each kind waits in a queue of its own, so inference jobs never wait behind
tests. --kinds chooses the kinds this worker runs (default: every kind it
can run here). At start it checks what it can run — the ONNX Runtime
library for test, infer and score; PyTorch (` + convertPythonEnv + `) and
bubblewrap for convert and finetune; the DataCite settings for doi — prints what it runs
and declines, and takes only those jobs. Naming in --kinds a kind it cannot
run is an error. --concurrency N jobs of each kind run at once (one
conversion and one DOI mint at a time).

A job whose worker stops or crashes runs again elsewhere: one attempt may
run ZOO_JOB_TIMEOUT (default 30m); a job still running a tenth longer
(at least 10 s more) is taken for lost and runs again.

` + storageHelp + `

It stops on SIGINT or SIGTERM, letting running jobs finish for up to 30 s
(then they are interrupted and run again later).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if concurrency < 1 {
				return usageErr("--concurrency %d: run at least one job at a time", concurrency)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := newLogger(cmd)
			st, err := openStorage(ctx, sf, true)
			if err != nil {
				return err
			}
			defer st.Close()
			q, env, err := startWorkers(ctx, st, concurrency, log, false, "", workOptions{kinds: kinds, mustRun: true})
			if err != nil {
				return err
			}
			// One structured line (logging.go), like every other.
			log.Info(fmt.Sprintf("zoo worker: running %s (%s); %s; stop with Ctrl-C", env.plan.describe(), joinDesc(st.desc), runtimeNote()))
			<-ctx.Done()
			log.Info("zoo worker: stopping")
			return stopWorkers(q)
		},
	}
	sf.register(cmd, true)
	sf.registerNoMigrate(cmd)
	cmd.Flags().IntVar(&concurrency, "concurrency", 2, "jobs of each kind run at once")
	cmd.Flags().StringSliceVar(&kinds, "kinds", nil, "job kinds to run, comma-separated: test, infer, convert, score, doi, finetune (default: every kind this machine can run)")
	return cmd
}

// workOptions choose what a working process runs.
type workOptions struct {
	kinds   []string // --kinds (nil: every kind this process can run; see planWork)
	mustRun bool     // fail when it can run no kind at all (zoo worker)
}

// startWorkers makes the service on st with a queue that enqueues and
// works jobs, n of each kind at a time, and starts it.
func startWorkers(ctx context.Context, st *storage, n int, log *slog.Logger, serve bool, seed string, wo workOptions) (*queue.Queue, *serverEnv, error) {
	env := &serverEnv{ctx: ctx, st: st, log: log, serve: serve, seed: seed}
	handlers := featureHandlers(env)
	handlers[repo.JobTest] = testHandler(func() *repo.Service { return env.svc }, log)
	// Every working process knows every kind (River's leader retries one
	// whose worker died rather than discarding it); it works only the
	// queues of the kinds it runs.
	handlers[repo.JobConvert] = convertHandler(func() *repo.Service { return env.svc }, log)
	plan, err := planWork(handlers, wo.kinds, n)
	if err != nil {
		return nil, nil, err
	}
	if len(plan.run) == 0 && wo.mustRun {
		return nil, nil, zoo.E("worker", zoo.NotSupported, nil, "this worker can run none of the job kinds here: %s", strings.TrimPrefix(plan.describe(), "no jobs; declining "))
	}
	env.plan = plan
	env.convertErr = canConvert()
	if !plan.runs(repo.JobConvert) && env.convertErr == nil {
		env.convertErr = zoo.E("worker", zoo.NotSupported, nil, "convert is not in --kinds")
	}
	log.Info("this process " + converterNote(env.convertErr))
	for _, k := range plan.run {
		log.Info("this process runs "+k.name+" jobs", "kind", k.kind, "queue", k.queue, "at_once", plan.queues[k.queue])
	}
	for kind, why := range plan.declined {
		log.Info("this process leaves "+nameOf(kind)+" jobs to others", "kind", kind, "reason", why)
	}
	env.finetuneErr = canFinetune()
	if !plan.runs(ftserver.Kind) && env.finetuneErr == nil {
		env.finetuneErr = zoo.E("worker", zoo.NotSupported, nil, "finetune is not in --kinds")
	}
	// One attempt of a job is bounded by ZOO_JOB_TIMEOUT; a job still
	// running a little after that lost its worker and runs again.
	timeout, err := envDuration("ZOO_JOB_TIMEOUT", 30*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	queues := plan.queues
	if len(queues) == 0 {
		// serve --workers N that can run nothing here: it still knows
		// every kind (River's leader), but fetches from no real queue.
		queues = map[string]int{"zoo-none": 1}
	}
	q, err := st.queues.Queue(queue.Options{
		Handlers:    handlers,
		Workers:     n,
		Queues:      queues,
		Routes:      routesFor(handlers),
		Timeout:     timeout,
		RescueAfter: timeout + max(timeout/10, 10*time.Second),
		Logger:      quietRiver(log),
	})
	if err != nil {
		return nil, nil, err
	}
	env.queue = q
	tester, err := modelTester()
	if err != nil {
		return nil, nil, err
	}
	cfg := repo.Config{TempDir: st.tempDir, Tester: tester, ZooVersion: zooVersion()}
	if env.convertErr == nil {
		cfg.Converter = serverConverter(tester)
	}
	if err := configureService(env, &cfg); err != nil {
		return nil, nil, err
	}
	env.svc = repo.New(st.cat, st.blobs, q, cfg)
	startFeatures(env)
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, err
	}
	if err := requeuePending(ctx, st, q, log); err != nil {
		log.Warn("cannot re-queue the tests of pending versions", "err", err)
	}
	if err := requeueWaiting(ctx, st, q, log); err != nil {
		log.Warn("cannot re-queue the conversions of waiting versions", "err", err)
	}
	return q, env, nil
}

// serveOnly makes the service of a replica that runs no jobs: its queue
// only enqueues.
func serveOnly(ctx context.Context, st *storage, log *slog.Logger, seed string) (*queue.Queue, *serverEnv, error) {
	env := &serverEnv{ctx: ctx, st: st, log: log, serve: true, seed: seed}
	env.convertErr = zoo.E("serve", zoo.NotSupported, nil, "it runs no jobs (--workers 0)")
	q, err := st.queues.Queue(queue.Options{Routes: routesFor(featureHandlers(env)), Logger: quietRiver(log)})
	if err != nil {
		return nil, nil, err
	}
	env.queue = q
	cfg := repo.Config{TempDir: st.tempDir}
	if err := configureService(env, &cfg); err != nil {
		return nil, nil, err
	}
	env.svc = repo.New(st.cat, st.blobs, q, cfg)
	startFeatures(env)
	return q, env, nil
}

// requeuePending queues a test for every unpublished version whose test is
// pending but has no job waiting or running: its upload was interrupted
// between storing the version and queueing the job, or its jobs ran out of
// attempts (e.g. while ONNX Runtime was missing).
func requeuePending(ctx context.Context, st *storage, q *queue.Queue, log *slog.Logger) error {
	versions, err := st.cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StateDraft, zoo.StateSubmitted, zoo.StateChangesRequested}})
	if err != nil {
		return err
	}
	var pending []repo.TestArgs
	for _, v := range versions {
		if v.TestStatus == zoo.TestPending && !repo.Waiting(v) { // a waiting one is tested after its conversion
			pending = append(pending, repo.TestArgs{ID: v.ModelID, Version: v.Number})
		}
	}
	if len(pending) == 0 {
		return nil
	}
	jobs, err := q.Jobs(ctx, repo.JobTest, 10000)
	if err != nil {
		return err
	}
	queued := map[repo.TestArgs]bool{}
	for _, j := range jobs {
		switch j.State {
		case queue.Completed, queue.Cancelled, queue.Discarded:
			continue
		}
		var a repo.TestArgs
		if json.Unmarshal(j.Args, &a) == nil {
			queued[a] = true
		}
	}
	for _, a := range pending {
		if queued[a] {
			continue
		}
		if _, err := q.Enqueue(ctx, repo.JobTest, a); err != nil {
			return err
		}
		log.Info("re-queued the test of a pending version", "model", a.ID, "version", a.Version)
	}
	return nil
}

// requeueWaiting queues a conversion for every version (in any state: a
// reviewer may publish one before a converter has run) that waits for its
// conversion but has no conversion job waiting or running: its upload was
// interrupted before the job was queued, or its jobs ran out of attempts.
func requeueWaiting(ctx context.Context, st *storage, q *queue.Queue, log *slog.Logger) error {
	versions, err := st.cat.ListVersions(ctx, zoo.VersionFilter{})
	if err != nil {
		return err
	}
	var waiting []repo.ConvertArgs
	for _, v := range versions {
		if repo.Waiting(v) {
			waiting = append(waiting, repo.ConvertArgs{ID: v.ModelID, Version: v.Number})
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	jobs, err := q.Jobs(ctx, repo.JobConvert, 10000)
	if err != nil {
		return err
	}
	queued := map[repo.ConvertArgs]bool{}
	for _, j := range jobs {
		switch j.State {
		case queue.Completed, queue.Cancelled, queue.Discarded:
			continue
		}
		var a repo.ConvertArgs
		if json.Unmarshal(j.Args, &a) == nil {
			queued[a] = true
		}
	}
	for _, a := range waiting {
		if queued[a] {
			continue
		}
		if _, err := q.Enqueue(ctx, repo.JobConvert, a); err != nil {
			return err
		}
		log.Info("re-queued the conversion of a waiting version", "model", a.ID, "version", a.Version)
	}
	return nil
}

// stopWorkers stops a working queue, interrupting jobs still running
// after 30 s.
func stopWorkers(q *queue.Queue) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return q.Stop(ctx)
}

// newLogger logs to the command's standard error.
// quietRiver is the queue's logger: River's own messages at warning and
// above.
func quietRiver(log *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{log.Handler(), slog.LevelWarn})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(a), h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.min}
}

func joinDesc(d []string) string { return strings.Join(d, ", ") }
