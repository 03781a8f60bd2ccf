package main

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/search"
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
			// The search index, when the storage backend has one; else the
			// pages scan the published models.
			if store, ok := any(env.st.cat).(search.Store); ok {
				opts.Search = search.New(store, env.svc.Blobs(), pages.Tools)
			}
			// The CSRF tokens of the session feature, when there is one.
			for _, f := range features {
				if f.session == nil {
					continue
				}
				if c, ok := f.session(env).(pages.CSRF); ok {
					opts.CSRF = c
				}
			}
			p, err := pages.New(opts)
			if err != nil {
				return nil, err
			}
			return p.Routes(), nil
		},
	})
}
