package main

// FAIR metadata and DOIs (packages fair, fair/fairweb, doi): the metadata
// and citation routes in serve, and — when DataCite is configured by the
// ZOO_DATACITE_* variables and ZOO_PUBLIC_URL (doi.EnvHelp) — a DOI for
// every version when it is published: the review's Published hook queues a
// "mint-doi" job, whose handler (serve with workers, zoo worker) mints
// through the DataCite REST API and records the DOI in the catalog's
// database; the routes cite it from then on. A job whose mint fails for a
// passing reason (DataCite unreachable, 5xx, 429) is retried with backoff;
// a refusal (bad credentials, invalid metadata) is cancelled and logged.
// When serve starts with DataCite configured, it also queues a mint for
// every published version without a DOI (e.g. published before DataCite
// was configured, or whose jobs ran out of attempts); the job checks the
// catalog first, so duplicates from several replicas cost only a lookup.

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/fair/fairweb"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// jobMintDOI is the queue kind of a DOI mint.
const jobMintDOI = "mint-doi"

// mintArgs are the arguments of a jobMintDOI job.
type mintArgs struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

func init() {
	register(feature{
		name: "fair",
		configure: func(env *serverEnv, cfg *repo.Config) error {
			c, err := doi.FromEnv(os.Getenv)
			if err != nil || c == nil {
				return err // a half configuration stops serve and worker with the message
			}
			prev := cfg.Published
			cfg.Published = func(ctx context.Context, v *zoo.Version) {
				if prev != nil {
					prev(ctx, v)
				}
				if env.queue == nil {
					return
				}
				if _, err := env.queue.Enqueue(ctx, jobMintDOI, mintArgs{v.ModelID, v.Number}); err != nil {
					env.log.Error("cannot queue the DOI mint of a published version", "id", v.ModelID, "version", v.Number, "err", err)
				}
			}
			return nil
		},
		handlers: func(env *serverEnv) map[string]queue.Handler {
			return map[string]queue.Handler{jobMintDOI: func(ctx context.Context, j *queue.Job) error {
				return mintDOI(ctx, env, j)
			}}
		},
		start: func(env *serverEnv) error {
			if !env.serve {
				return nil
			}
			if c, err := doi.FromEnv(os.Getenv); err != nil || c == nil {
				return err
			}
			go backfillDOIs(env)
			return nil
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			return fairweb.Routes(env.svc, fairOptions(env)), nil
		},
	})
}

// fairOptions are the metadata options of a process: the catalog's DOI
// store and ZOO_PUBLIC_URL. Other features that embed metadata (the model
// pages' JSON-LD and Link headers) use them with fairweb.Record, so that
// pages and routes agree.
func fairOptions(env *serverEnv) fairweb.Options {
	opts := fairweb.Options{}
	if b := strings.TrimRight(os.Getenv(doi.EnvPublicURL), "/"); b != "" {
		if u, err := url.Parse(b); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" {
			opts.Base = b
		} else {
			env.log.Warn("ignoring "+doi.EnvPublicURL+": not a base URL like https://zoo.example.org; metadata URLs follow each request", "value", b)
		}
	}
	if s, ok := env.st.cat.(doi.Store); ok {
		opts.DOIs = s
	}
	return opts
}

// mintDOI runs a jobMintDOI job: nothing if the version already has a
// DOI; else mint (idempotent at DataCite) and record it.
func mintDOI(ctx context.Context, env *serverEnv, j *queue.Job) error {
	var a mintArgs
	if err := json.Unmarshal(j.Args, &a); err != nil {
		return queue.Cancel(err)
	}
	store, ok := env.st.cat.(doi.Store)
	if !ok {
		return queue.Cancel(zoo.E("mint-doi", zoo.NotSupported, nil, "not supported: this storage backend does not record DOIs"))
	}
	c, err := doi.FromEnv(os.Getenv)
	if err != nil || c == nil {
		if err == nil {
			err = zoo.E("mint-doi", zoo.NotSupported, nil, "not supported: DOI minting is not configured in this worker (set %s, …)", doi.EnvURL)
		}
		env.log.Error("cannot mint a DOI", "id", a.ID, "version", a.Version, "err", zoo.MessageOf(err))
		return queue.Cancel(err)
	}
	if _, err := store.VersionDOI(ctx, a.ID, a.Version); err == nil {
		return nil
	} else if zoo.KindOf(err) != zoo.NotFound {
		return err
	}
	if env.svc == nil {
		return zoo.E("mint-doi", zoo.Unavailable, nil, "the service is starting")
	}
	v, err := env.svc.Get(ctx, nil, a.ID, a.Version) // anonymous: only published (and retired) versions
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			return queue.Cancel(err)
		}
		return err
	}
	d, err := env.svc.Description(ctx, v)
	if err != nil {
		return err
	}
	m, err := doi.NewDataCite(*c)
	if err != nil {
		return queue.Cancel(err)
	}
	got, err := m.Mint(ctx, fair.Record{Version: v, Desc: d})
	if err != nil {
		if k := zoo.KindOf(err); k == zoo.Invalid || k == zoo.Forbidden {
			env.log.Error("DataCite refused a DOI", "id", a.ID, "version", a.Version, "err", zoo.MessageOf(err))
			return queue.Cancel(err)
		}
		return err
	}
	if err := store.SetVersionDOI(ctx, a.ID, a.Version, got); err != nil {
		return err
	}
	env.log.Info("minted a DOI", "id", a.ID, "version", a.Version, "doi", got)
	return nil
}

// backfillDOIs queues a mint for every published version without a DOI.
func backfillDOIs(env *serverEnv) {
	ctx := env.ctx
	store, ok := env.st.cat.(doi.Store)
	if !ok || env.queue == nil {
		return
	}
	vs, err := env.st.cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished}})
	if err != nil {
		env.log.Warn("cannot list published versions to mint their DOIs", "err", err)
		return
	}
	queued := 0
	for _, v := range vs {
		if _, err := store.VersionDOI(ctx, v.ModelID, v.Number); zoo.KindOf(err) != zoo.NotFound {
			continue
		}
		if _, err := env.queue.Enqueue(ctx, jobMintDOI, mintArgs{v.ModelID, v.Number}); err != nil {
			env.log.Warn("cannot queue a DOI mint", "id", v.ModelID, "version", v.Number, "err", err)
			return
		}
		queued++
	}
	if queued > 0 {
		env.log.Info("queued DOI mints for published versions without a DOI", "versions", queued)
	}
}
