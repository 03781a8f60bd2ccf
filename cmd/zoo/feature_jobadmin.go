package main

// The operator's job tools (package jobadmin): the admin-only routes
// under /api/v1/admin that zoo jobs --server calls. zoo jobs --db/--data
// uses the same tools directly on the storage (jobs.go).

import (
	"github.com/zoo-bioimage/zoo/jobadmin"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "jobadmin",
		routes: func(env *serverEnv) ([]web.Route, error) {
			t := &jobadmin.Tools{Queue: env.queue, Repo: env.svc}
			return t.Routes(), nil
		},
	})
}
