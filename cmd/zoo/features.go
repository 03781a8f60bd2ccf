package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// A feature is one optional part of a server beyond the core repository
// (search, web pages, FAIR metadata, inference, challenges, …). Each lives
// in its own feature_*.go file, which registers it from init; serve and
// worker compose them. Every hook may be nil.
//
// Storage a feature needs beyond zoo.Catalog (a search index, a job table,
// …) is implemented by both *sqlite.DB and *postgres.DB; the feature gets
// it by a type assertion on env.st.cat.
type feature struct {
	name string
	// configure adjusts the repository service's configuration (hooks such
	// as repo.Config.Index or Published) before the service is made.
	configure func(env *serverEnv, cfg *repo.Config) error
	// handlers are the job kinds this feature's workers run (serve with
	// --workers > 0, and zoo worker). They read env.svc when they run.
	handlers func(env *serverEnv) map[string]queue.Handler
	// routes are mounted on serve's handler (not in zoo worker).
	routes func(env *serverEnv) ([]web.Route, error)
	// session, if it returns non-nil, identifies cookie sessions (at most
	// one feature provides it).
	session func(env *serverEnv) web.Session
	// fallback, if it returns non-nil, is web.Options.Fallback (at most one
	// feature provides it).
	fallback func(env *serverEnv) func(w http.ResponseWriter, r *http.Request) bool
	// start runs once the service exists, in serve and in worker (e.g. to
	// sync an index); an error is logged, not fatal.
	start func(env *serverEnv) error
}

var features []feature

// register adds a feature; call it from init.
func register(f feature) { features = append(features, f) }

// serverEnv is what features see of a running serve or worker process.
type serverEnv struct {
	ctx   context.Context
	st    *storage
	log   *slog.Logger
	svc   *repo.Service // set before routes, session and start are called
	queue *queue.Queue  // enqueues (and works, when workers run here)
	serve bool          // true in zoo serve, false in zoo worker
	seed  string        // zoo serve --seed DIR ("" otherwise; the first DIR): features may seed their own examples from it
	// convertErr is nil when this process converts PyTorch weights (see
	// canConvert), else what it lacks.
	convertErr error
	// plan is what this process runs of the background jobs (nil in a
	// replica that runs none).
	plan *workPlan
}

// configureService applies every feature's configure hook to cfg.
func configureService(env *serverEnv, cfg *repo.Config) error {
	for _, f := range features {
		if f.configure != nil {
			if err := f.configure(env, cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

// featureHandlers collects every feature's job handlers.
func featureHandlers(env *serverEnv) map[string]queue.Handler {
	all := map[string]queue.Handler{}
	for _, f := range features {
		if f.handlers == nil {
			continue
		}
		for kind, h := range f.handlers(env) {
			if _, dup := all[kind]; dup {
				panic("two features handle job kind " + kind)
			}
			all[kind] = h
		}
	}
	return all
}

// startFeatures runs every feature's start hook, logging failures.
func startFeatures(env *serverEnv) {
	for _, f := range features {
		if f.start != nil {
			if err := f.start(env); err != nil {
				env.log.Warn("a feature did not start cleanly", "feature", f.name, "err", err)
			}
		}
	}
}

// webOptions builds the web options from every feature's routes and
// session.
func webOptions(env *serverEnv) (web.Options, error) {
	opts := web.Options{Logger: env.log}
	for _, f := range features {
		if f.routes != nil {
			rs, err := f.routes(env)
			if err != nil {
				return opts, err
			}
			opts.Routes = append(opts.Routes, rs...)
		}
		if f.fallback != nil {
			if fb := f.fallback(env); fb != nil {
				if opts.Fallback != nil {
					panic("two features provide a web fallback")
				}
				opts.Fallback = fb
			}
		}
		if f.session != nil {
			if s := f.session(env); s != nil {
				if opts.Session != nil {
					panic("two features provide web sessions")
				}
				opts.Session = s
			}
		}
	}
	return opts, nil
}
