package main

import (
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/web"
)

// The web pages for people (package pages): home, search, model pages,
// upload, my submissions, review, login form.
func init() {
	register(feature{
		name: "pages",
		routes: func(env *serverEnv) ([]web.Route, error) {
			opts := pages.Options{Service: env.svc, Logger: env.log}
			// A search index, when the storage backend has one; else the
			// pages scan the published models.
			if s, ok := any(env.st.cat).(pages.Searcher); ok {
				opts.Search = s
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
