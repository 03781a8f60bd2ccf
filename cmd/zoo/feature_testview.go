package main

// Produced tensors of failed tests (package testview): serve's and the
// workers' test jobs keep, for an output that does not reproduce the
// package's test output, the tensor the model produced (as a blob the
// stored report references; repo.Config.ProducedTester), and serve mounts
// the routes that download it and show it beside the expected output and
// their difference.

import (
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "testview",
		configure: func(env *serverEnv, cfg *repo.Config) error {
			cfg.ProducedTester = testview.Tester
			return nil
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			return testview.Routes(env.svc), nil
		},
	})
}
