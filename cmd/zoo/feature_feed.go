package main

// Atom feeds of new and retired versions (package feed):
//
//   - /feed.atom: the instance's newest events (?limit=, ?type=, ?tag=);
//   - /models/{id}/feed.atom: one model's.
//
// Configuration (environment, optional): ZOO_PUBLIC_URL, the public base
// URL of links and entry ids (default: each request's host). Entries link
// to the DOIs the fair feature recorded.

import (
	"context"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/feed"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "feed",
		routes: func(env *serverEnv) ([]web.Route, error) {
			opts := feed.Options{Base: strings.TrimRight(os.Getenv(doi.EnvPublicURL), "/")}
			if s, ok := env.st.cat.(doi.Store); ok {
				opts.DOI = func(ctx context.Context, v *zoo.Version) string {
					d, _ := s.VersionDOI(ctx, v.ModelID, v.Number)
					return d
				}
			}
			return feed.New(feed.RepoSource(env.svc), opts).Routes(), nil
		},
	})
}
