package main

// Asynchronous inference jobs (package jobs/infer): the /api/v1/jobs
// routes in serve, the "infer" job handler wherever jobs run (serve with
// --workers > 0, zoo worker), and a sweeper in both (re-queues the jobs of
// dead workers, deletes expired jobs).
//
// Settings, from the environment (the same for every process of an
// instance):
//
//	ZOO_JOBS_MAX_ACTIVE  jobs queued or running before submissions get 429 (default 32)
//	ZOO_JOBS_PER_CLIENT  active jobs of one anonymous client address, per serve process (default 4)
//	ZOO_JOBS_PER_USER    active jobs of one signed-in user, per serve process (default 8)
//	ZOO_JOBS_ANONYMOUS   active anonymous jobs together, per serve process (default 3/4 of ZOO_JOBS_MAX_ACTIVE)
//	ZOO_JOBS_MAX_MIB     largest image body in MiB (default 512)
//	ZOO_JOBS_TTL         how long jobs and results are kept (default 24h)
//	ZOO_JOBS_TIMEOUT     time limit of one run of a job (default 25m; keep it below the queue's 30 min)
//	ZOO_JOBS_LEASE       how long a silent worker keeps a job (default 30s)
//	ZOO_JOBS_SWEEP       how often each process sweeps (default 15s)

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "jobs",
		configure: func(env *serverEnv, cfg *repo.Config) error {
			if js, ok := env.st.cat.(interface{ Jobs() jobs.Store }); ok {
				cfg.KeepBlobs = keepBoth(cfg.KeepBlobs, js.Jobs().JobBlobs)
			}
			return nil
		},
		handlers: func(env *serverEnv) map[string]queue.Handler {
			return map[string]queue.Handler{infer.Kind: func(ctx context.Context, j *queue.Job) error {
				s, err := inferFor(env)
				if err != nil {
					return err
				}
				return s.Handle(ctx, j)
			}}
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			s, err := inferFor(env)
			if err != nil {
				return nil, err
			}
			return s.Routes(), nil
		},
		start: func(env *serverEnv) error {
			s, err := inferFor(env)
			if err != nil {
				return err
			}
			every, err := envDuration("ZOO_JOBS_SWEEP", 15*time.Second)
			if err != nil {
				return err
			}
			go s.RunSweeper(env.ctx, every)
			return nil
		},
	})
}

var inferServices sync.Map // *serverEnv → *infer.Service

// inferFor returns the job service of a process, made on first use (after
// env.svc exists).
func inferFor(env *serverEnv) (*infer.Service, error) {
	if s, ok := inferServices.Load(env); ok {
		return s.(*infer.Service), nil
	}
	if env.svc == nil {
		return nil, zoo.E("jobs", zoo.Unavailable, nil, "the service is starting")
	}
	st, ok := env.st.cat.(interface{ Jobs() jobs.Store })
	if !ok {
		return nil, fmt.Errorf("the catalog %T keeps no inference jobs", env.st.cat)
	}
	o := infer.Options{Store: st.Jobs(), Repo: env.svc, Queue: env.queue, TempDir: env.st.tempDir, Logger: env.log}
	var err error
	if o.MaxActive, err = envInt("ZOO_JOBS_MAX_ACTIVE", 32); err != nil {
		return nil, err
	}
	if o.MaxPerClient, err = envInt("ZOO_JOBS_PER_CLIENT", 4); err != nil {
		return nil, err
	}
	if o.MaxPerUser, err = envInt("ZOO_JOBS_PER_USER", 8); err != nil {
		return nil, err
	}
	if o.MaxAnonymous, err = envInt("ZOO_JOBS_ANONYMOUS", max(1, o.MaxActive*3/4)); err != nil {
		return nil, err
	}
	mib, err := envInt("ZOO_JOBS_MAX_MIB", 512)
	if err != nil {
		return nil, err
	}
	o.MaxInputBytes = int64(mib) << 20
	if o.TTL, err = envDuration("ZOO_JOBS_TTL", 24*time.Hour); err != nil {
		return nil, err
	}
	if o.Timeout, err = envDuration("ZOO_JOBS_TIMEOUT", 25*time.Minute); err != nil {
		return nil, err
	}
	if o.Lease, err = envDuration("ZOO_JOBS_LEASE", 30*time.Second); err != nil {
		return nil, err
	}
	cache, err := modelCacheFor(env)
	if err != nil {
		return nil, err
	}
	o.Load = func(ctx context.Context, v *zoo.Version) (*runner.Predictor, func(), error) {
		e, err := cache.Get(ctx, v)
		if err != nil {
			return nil, nil, err
		}
		return e.Predictor(), e.Release, nil
	}
	s, _ := inferServices.LoadOrStore(env, infer.New(o))
	return s.(*infer.Service), nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, usageErr("%s=%q: give a positive whole number", name, v)
	}
	return n, nil
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageErr("%s=%q: give a duration such as 30s, 10m or 24h", name, v)
	}
	return d, nil
}
