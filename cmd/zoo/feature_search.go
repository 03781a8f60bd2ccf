package main

// Search (package search): the index is told of every stored version
// (repo.Config.Index, in serve and worker, so test results recorded by a
// worker re-index too), GET /api/v1/search in serve, and a Sync at start
// that indexes published versions without a document (seeded examples,
// crashes between the catalog and the index write).

import (
	"context"
	"errors"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/finetune"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/search/searchweb"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "search",
		configure: func(env *serverEnv, cfg *repo.Config) error {
			idx, err := searchFor(env)
			if err != nil {
				return err
			}
			cfg.Index = indexers{cfg.Index, idx}.join()
			return nil
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			idx, err := searchFor(env)
			if err != nil {
				return nil, err
			}
			return []web.Route{searchweb.Route(idx)}, nil
		},
		start: func(env *serverEnv) error {
			idx, err := searchFor(env)
			if err != nil {
				return err
			}
			n, err := idx.Sync(env.ctx, env.svc)
			if n > 0 {
				env.log.Info("search: indexed published versions that had no document", "versions", n)
			}
			return err
		},
	})
}

var searchIndexes sync.Map // *storage → *search.Engine

// searchFor returns the search index of a process's storage.
func searchFor(env *serverEnv) (*search.Engine, error) {
	if idx, ok := searchIndexes.Load(env.st); ok {
		return idx.(*search.Engine), nil
	}
	store, ok := env.st.cat.(search.Store)
	if !ok {
		return nil, zoo.E("search", zoo.NotSupported, nil, "not supported: this catalog has no search index")
	}
	eng := search.New(store, env.st.blobs, compat.Declared)
	eng.SetFinetunable(finetune.Tasks)
	idx, _ := searchIndexes.LoadOrStore(env.st, eng)
	return idx.(*search.Engine), nil
}

// indexers lets several features receive repo's index calls; nil entries
// are skipped.
type indexers []repo.Indexer

func (is indexers) join() repo.Indexer {
	var out indexers
	for _, i := range is {
		if i != nil {
			out = append(out, i)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

func (is indexers) IndexVersion(ctx context.Context, v *zoo.Version, desc *spec.Model) error {
	var errs []error
	for _, i := range is {
		errs = append(errs, i.IndexVersion(ctx, v, desc))
	}
	return errors.Join(errs...)
}
