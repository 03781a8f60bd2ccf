package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
)

func newWorkerCmd() *cobra.Command {
	var sf storageFlags
	var concurrency int
	cmd := &cobra.Command{
		Use:   "worker [--data DIR] [--db URL] [--blobs URL] [--concurrency N]",
		Short: "Run background jobs (the reproducibility tests of uploads) without serving",
		Long: `worker runs the background jobs of a zoo instance — today the
reproducibility test of every uploaded version (as zoo test does it) — and
records their results. Run any number of workers beside zoo serve replicas
started with --workers 0; they share the storage given by the same flags.
A job whose worker stops or crashes runs again elsewhere.

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
			q, _, err := startWorkers(ctx, st, concurrency, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zoo worker: running up to %d job(s) at a time (%s); stop with Ctrl-C\n", concurrency, joinDesc(st.desc))
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "zoo worker: stopping")
			return stopWorkers(q)
		},
	}
	sf.register(cmd, true)
	cmd.Flags().IntVar(&concurrency, "concurrency", 2, "jobs run at once")
	return cmd
}

// startWorkers makes the service on st with a queue that enqueues and
// works n test jobs at a time, and starts it.
func startWorkers(ctx context.Context, st *storage, n int, log *slog.Logger) (*queue.Queue, *repo.Service, error) {
	var svc *repo.Service
	q, err := st.queues.Queue(queue.Options{
		Handlers: map[string]queue.Handler{repo.JobTest: testHandler(func() *repo.Service { return svc }, log)},
		Workers:  n,
		Logger:   quietRiver(log),
	})
	if err != nil {
		return nil, nil, err
	}
	svc = repo.New(st.cat, st.blobs, q, repo.Config{TempDir: st.tempDir, Tester: runnerTester})
	if err := onnx.Init(); err != nil {
		log.Warn("test jobs will fail and be retried until the ONNX Runtime library is installed", "err", zoo.MessageOf(err))
	}
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, err
	}
	return q, svc, nil
}

// stopWorkers stops a working queue, interrupting jobs still running
// after 30 s.
func stopWorkers(q *queue.Queue) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return q.Stop(ctx)
}

// newLogger logs to the command's standard error.
func newLogger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
}

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
