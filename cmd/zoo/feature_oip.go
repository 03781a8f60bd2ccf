package main

// The Open Inference Protocol v2 (package oip): /v2/… routes in serve for
// every published model zoo can run, with the models kept loaded in the
// process's model cache (shared with inference jobs, see modelcache.go).
//
// Settings, from the environment:
//
//	ZOO_OIP_MAX_MIB    largest /v2 infer request body in MiB (default 256)
//	ZOO_OIP_TIMEOUT    time limit of one inference, waiting for the model included (default 2m)

import (
	"runtime/debug"
	"time"

	"github.com/zoo-bioimage/zoo/oip"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "oip",
		routes: func(env *serverEnv) ([]web.Route, error) {
			cache, err := modelCacheFor(env)
			if err != nil {
				return nil, err
			}
			mib, err := envInt("ZOO_OIP_MAX_MIB", 256)
			if err != nil {
				return nil, err
			}
			timeout, err := envDuration("ZOO_OIP_TIMEOUT", 2*time.Minute)
			if err != nil {
				return nil, err
			}
			version := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				version = bi.Main.Version
			}
			s := oip.New(env.svc, cache, oip.Options{
				Limits:  oip.Limits{MaxBody: int64(mib) << 20},
				Version: version,
				Timeout: timeout,
				Logger:  env.log,
			})
			return s.Routes(), nil
		},
	})
}
