package main

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// The web pages for people (package pages): home, search, model pages,
// upload, my submissions, review, login form.
func init() {
	register(feature{
		name: "pages",
		routes: func(env *serverEnv) ([]web.Route, error) {
			opts := pages.Options{
				Service: env.svc,
				Logger:  env.log,
				JSONLD: func(_ context.Context, v *zoo.Version, desc *spec.Model, base string) ([]byte, error) {
					return fair.JSONLD(fair.Record{Version: v, Desc: desc, Base: base})
				},
				Signposting: func(v *zoo.Version, desc *spec.Model, base string) string {
					return fair.Signposting(fair.Record{Version: v, Desc: desc, Base: base})
				},
			}
			// The search feature's index (feature_search.go); without one
			// the pages scan the published models.
			if idx, err := searchFor(env); err == nil {
				opts.Search = idx
			} else {
				env.log.Warn("pages: no search index; the pages scan the published models", "err", err)
			}
			// The CSRF tokens of the session feature's manager.
			if m := sessionManager(env); m != nil {
				opts.CSRF = m
			}
			p, err := pages.New(opts)
			if err != nil {
				return nil, err
			}
			return p.Routes(), nil
		},
	})
}
