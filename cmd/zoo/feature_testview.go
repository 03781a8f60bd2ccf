package main

// Produced tensors of failed tests (package testview): serve's and the
// workers' test jobs run testview.Tester (see serve.go, worker.go), which
// hands the repository, for an output that does not reproduce the
// package's test output, the tensor the model produced (kept as a blob the
// stored report references); serve mounts the routes that download it and
// show it beside the expected output and their difference.

import (
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "testview",
		routes: func(env *serverEnv) ([]web.Route, error) {
			return testview.Routes(env.svc), nil
		},
	})
}
