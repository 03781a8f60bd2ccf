package main

// Server fine-tuning jobs (package finetune/ftjob): the /api/v1/finetune
// routes in serve, the "finetune" job handler wherever jobs run, and a
// sweeper deleting expired data. Like conversions (convertjob.go), the
// jobs wait in their own queue (ftserver.Queue), which a process works only
// when it can train: the sandbox (bubblewrap), Debian's PyTorch
// (ZOO_CONVERT_PYTHON) and libtorch (the new package's test). Every
// working process registers the kind, so River's leader retries a job
// whose worker died; it then resumes from its last stored checkpoint.
//
// Settings, from the environment (the same for every process):
//
//	ZOO_FINETUNE_PER_USER     jobs one user may have queued or running (default 2)
//	ZOO_FINETUNE_MAX_MIB      largest zip of images in MiB (default 256)
//	ZOO_FINETUNE_MAX_ITERATIONS  most iterations of a job (default 2000)
//	ZOO_FINETUNE_TTL          how long the images and checkpoints are kept unless kept by the user (default 168h = 7 days)
//	ZOO_FINETUNE_CHECKPOINT   how often a running job's checkpoint is stored (default 2m)
//	ZOO_FINETUNE_SWEEP        how often expired data is looked for (default 10m)

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/finetune/ftjob"
	"github.com/zoo-bioimage/zoo/finetune/ftserver"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	jobRoutes[ftserver.Kind] = ftserver.Queue
	register(feature{
		name: "finetune",
		configure: func(env *serverEnv, cfg *repo.Config) error {
			st, ok := env.st.cat.(interface{ FinetuneJobs() ftjob.Store })
			if !ok {
				return nil
			}
			cfg.KeepBlobs = keepBoth(cfg.KeepBlobs, st.FinetuneJobs().FinetuneBlobs)
			return nil
		},
		handlers: func(env *serverEnv) map[string]queue.Handler {
			return map[string]queue.Handler{ftserver.Kind: func(ctx context.Context, j *queue.Job) error {
				s, err := finetuneFor(env)
				if err != nil {
					return err
				}
				if err := canFinetune(); err != nil {
					// Only a capable process works the queue; this is a
					// safeguard.
					return zoo.E("finetune", zoo.Unavailable, err, "this process cannot fine-tune (%s); the job runs again", zoo.MessageOf(err))
				}
				return s.Handle(ctx, j)
			}}
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			s, err := finetuneFor(env)
			if err != nil || s == nil {
				return nil, err
			}
			return s.Routes(), nil
		},
		start: func(env *serverEnv) error {
			s, err := finetuneFor(env)
			if err != nil || s == nil {
				return err
			}
			every, err := envDuration("ZOO_FINETUNE_SWEEP", 10*time.Minute)
			if err != nil {
				return err
			}
			go s.RunSweeper(env.ctx, every)
			return nil
		},
	})
}

// keepBoth is a repo.Config.KeepBlobs naming the blobs of a and of b
// (either may be nil).
func keepBoth(a, b func(context.Context, func(string) error) error) func(context.Context, func(string) error) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func(ctx context.Context, keep func(string) error) error {
		if err := a(ctx, keep); err != nil {
			return err
		}
		return b(ctx, keep)
	}
}

// canFinetune returns nil when this process can run fine-tuning jobs,
// else what it lacks.
func canFinetune() error {
	if err := canConvert(); err != nil {
		return err
	}
	if !runner.Supported("torchscript") {
		return zoo.E("finetune", zoo.NotSupported, nil, "fine-tuning tests its result with libtorch, which is not installed (apt-get install libtorch-dev, then make build)")
	}
	return nil
}

// finetunerNote says in a few words whether this process fine-tunes.
func finetunerNote(err error) string {
	if err == nil {
		return "fine-tunes models"
	}
	return "does not fine-tune: " + zoo.MessageOf(err)
}

var finetuneServices sync.Map // *serverEnv → *ftserver.Service

// finetuneFor returns the fine-tuning service of a process (nil when its
// catalog keeps no fine-tuning jobs), made on first use.
func finetuneFor(env *serverEnv) (*ftserver.Service, error) {
	if s, ok := finetuneServices.Load(env); ok {
		return s.(*ftserver.Service), nil
	}
	if env.svc == nil {
		return nil, zoo.E("finetune", zoo.Unavailable, nil, "the service is starting")
	}
	st, ok := env.st.cat.(interface{ FinetuneJobs() ftjob.Store })
	if !ok {
		return nil, fmt.Errorf("the catalog %T keeps no fine-tuning jobs", env.st.cat)
	}
	o := ftserver.Options{Store: st.FinetuneJobs(), Repo: env.svc, Queue: env.queue, TempDir: env.st.tempDir, Logger: env.log}
	var err error
	if o.MaxActive, err = envInt("ZOO_FINETUNE_PER_USER", 2); err != nil {
		return nil, err
	}
	mib, err := envInt("ZOO_FINETUNE_MAX_MIB", 256)
	if err != nil {
		return nil, err
	}
	o.MaxUploadBytes = int64(mib) << 20
	if o.MaxIterations, err = envInt("ZOO_FINETUNE_MAX_ITERATIONS", 2000); err != nil {
		return nil, err
	}
	if o.TTL, err = envDuration("ZOO_FINETUNE_TTL", 7*24*time.Hour); err != nil {
		return nil, err
	}
	if o.CheckpointEvery, err = envDuration("ZOO_FINETUNE_CHECKPOINT", 2*time.Minute); err != nil {
		return nil, err
	}
	s, _ := finetuneServices.LoadOrStore(env, ftserver.New(o))
	return s.(*ftserver.Service), nil
}
