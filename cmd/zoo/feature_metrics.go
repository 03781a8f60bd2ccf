package main

// Prometheus metrics (package metrics) and the limits of the HTTP server.
//
// Settings, from the environment:
//
//	ZOO_METRICS_ADDR   serve /metrics on this separate address (e.g. 127.0.0.1:9090); unset: not served there
//	ZOO_METRICS_TOKEN  also serve /metrics on the main address to requests with "Authorization: Bearer TOKEN"
//	ZOO_CONNS_PER_CLIENT  connections one client address may hold open (default 64)
//	ZOO_CONNS_MAX         connections open at once (default 4096; keep it below ulimit -n)
//	ZOO_BODY_GRACE        time a request body may take before the minimum rate applies (default 30s)
//	ZOO_BODY_MIN_KBPS     minimum average rate of a request body after the grace time, KiB/s (default 64)
//	ZOO_BODY_IDLE         longest wait for the next byte of a request body (default 30s)
//
// Neither metrics setting: no /metrics (the numbers tell an attacker how
// loaded the server is).

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "metrics",
		routes: func(env *serverEnv) ([]web.Route, error) {
			token := os.Getenv("ZOO_METRICS_TOKEN")
			if token == "" {
				return nil, nil
			}
			if len(token) < 16 {
				return nil, usageErr("ZOO_METRICS_TOKEN: give at least 16 characters (e.g. the output of zoo admin token, or openssl rand -hex 16)")
			}
			return []web.Route{{Pattern: "GET /metrics", Handler: metrics.Handler(token)}}, nil
		},
		start: func(env *serverEnv) error {
			registerCollectors(env)
			addr := os.Getenv("ZOO_METRICS_ADDR")
			if addr == "" {
				return nil
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return zoo.E("metrics", zoo.Unavailable, err, "ZOO_METRICS_ADDR=%s: cannot listen there", addr)
			}
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", metrics.Handler(""))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
			go srv.Serve(ln)
			go func() { <-env.ctx.Done(); srv.Close() }()
			env.log.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
			return nil
		},
	})
}

// The collectors read the queue and job service of the latest process
// environment (one per process outside tests).
var (
	registerOnce sync.Once
	current      atomic.Pointer[serverEnv]
)

// registerCollectors adds the gauges read at scrape time: the queue's
// depth and oldest job by kind and state, and the inference jobs admitted
// here by kind of submitter.
func registerCollectors(env *serverEnv) {
	if env.queue == nil {
		return
	}
	current.Store(env)
	registerOnce.Do(func() {
		stats := func(ctx context.Context, ages bool) ([]metrics.GaugeFunc, error) {
			env := current.Load()
			depth, age, err := queueStats(ctx, env.queue)
			if ages {
				return age, err
			}
			return depth, err
		}
		metrics.Collect("queue_jobs", "Unfinished background jobs by kind and state (counted up to 10000).", []string{"kind", "state"},
			func(ctx context.Context) ([]metrics.GaugeFunc, error) { return stats(ctx, false) })
		metrics.Collect("queue_oldest_job_age_seconds", "Age of the oldest unfinished background job by kind and state.", []string{"kind", "state"},
			func(ctx context.Context) ([]metrics.GaugeFunc, error) { return stats(ctx, true) })
		metrics.Collect("infer_jobs_active", "Inference jobs queued or running that this process admitted, by kind of submitter.", []string{"client_kind"},
			func(ctx context.Context) ([]metrics.GaugeFunc, error) {
				s, err := inferFor(current.Load())
				if err != nil {
					return nil, err
				}
				anon, users := s.ActiveByKind()
				return []metrics.GaugeFunc{{Labels: []string{"anonymous"}, Value: float64(anon)}, {Labels: []string{"user"}, Value: float64(users)}}, nil
			})
	})
}

func queueStats(ctx context.Context, q *queue.Queue) (depth, ages []metrics.GaugeFunc, err error) {
	jobs, err := q.Unfinished(ctx, 10000)
	if err != nil {
		return nil, nil, err
	}
	type key struct{ kind, state string }
	n := map[key]int{}
	oldest := map[key]time.Time{}
	for _, j := range jobs {
		k := key{j.Kind, string(j.State)}
		n[k]++
		if o, ok := oldest[k]; !ok || j.CreatedAt.Before(o) {
			oldest[k] = j.CreatedAt
		}
	}
	now := time.Now()
	for k, c := range n {
		depth = append(depth, metrics.GaugeFunc{Labels: []string{k.kind, k.state}, Value: float64(c)})
		ages = append(ages, metrics.GaugeFunc{Labels: []string{k.kind, k.state}, Value: now.Sub(oldest[k]).Seconds()})
	}
	return depth, ages, nil
}

// serverLimits reads the HTTP server's limits from the environment.
func serverLimits() (web.ConnLimits, web.BodyLimits, error) {
	var c web.ConnLimits
	var b web.BodyLimits
	var err error
	if c.PerClient, err = envInt("ZOO_CONNS_PER_CLIENT", 64); err != nil {
		return c, b, err
	}
	if c.Total, err = envInt("ZOO_CONNS_MAX", 4096); err != nil {
		return c, b, err
	}
	if b.Grace, err = envDuration("ZOO_BODY_GRACE", 30*time.Second); err != nil {
		return c, b, err
	}
	kbps, err := envInt("ZOO_BODY_MIN_KBPS", 64)
	if err != nil {
		return c, b, err
	}
	b.MinRate = int64(kbps) << 10
	if b.Idle, err = envDuration("ZOO_BODY_IDLE", 30*time.Second); err != nil {
		return c, b, err
	}
	return c, b, nil
}

// countTest counts the outcome of a test job for metrics: the version's
// test status once the job has run, "error" if it did not finish.
func countTest(ctx context.Context, svc *repo.Service, job *queue.Job, err error) {
	if err != nil {
		metrics.TestOutcome("error")
		return
	}
	var args repo.TestArgs
	if json.Unmarshal(job.Args, &args) != nil {
		return
	}
	v, verr := svc.Catalog().Version(ctx, args.ID, args.Version)
	if verr != nil {
		return
	}
	metrics.TestOutcome(string(v.TestStatus))
}
