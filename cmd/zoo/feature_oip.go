package main

// The Open Inference Protocol v2 (package oip): /v2/… routes in serve for
// every published model zoo can run, with the models kept loaded in the
// process's model cache (shared with inference jobs, see modelcache.go).
//
// Settings, from the environment:
//
//	ZOO_OIP_MAX_MIB    largest /v2 infer request body in MiB (default 256)
//	ZOO_OIP_TIMEOUT    time limit of one inference, waiting for the model included (default 2m)
//	ZOO_OIP_CONCURRENT     infer requests served at once (default 4)
//	ZOO_OIP_PER_CLIENT     infer requests served at once per client address (default 2)
//	ZOO_OIP_INFLIGHT_MIB   memory held by the infer requests being served, MiB (default 1024; half per client)
//	ZOO_OIP_RESPONSE_MIB   largest answer, MiB (default 64; JSON counted at its widest text)

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
			lim := oip.Limits{MaxBody: int64(mib) << 20}
			if lim.MaxConcurrent, err = envInt("ZOO_OIP_CONCURRENT", 4); err != nil {
				return nil, err
			}
			if lim.MaxPerClient, err = envInt("ZOO_OIP_PER_CLIENT", 2); err != nil {
				return nil, err
			}
			inflight, err := envInt("ZOO_OIP_INFLIGHT_MIB", 1024)
			if err != nil {
				return nil, err
			}
			lim.MaxInFlight = int64(inflight) << 20
			resp, err := envInt("ZOO_OIP_RESPONSE_MIB", 64)
			if err != nil {
				return nil, err
			}
			lim.MaxResponse = int64(resp) << 20
			version := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				version = bi.Main.Version
			}
			s := oip.New(env.svc, cache, oip.Options{
				Limits:  lim,
				Version: version,
				Timeout: timeout,
				Logger:  env.log,
			})
			return s.Routes(), nil
		},
	})
}
