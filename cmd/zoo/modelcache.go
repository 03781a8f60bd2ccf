package main

// The model cache of a serve or worker process: published models kept
// loaded for /v2 inference (feature_oip.go) and inference jobs
// (feature_jobs.go), one cache and one memory budget for both, so a model
// used by both is loaded once.
//
// Setting, from the environment:
//
//	ZOO_MODEL_CACHE_MIB  memory budget of the loaded models per process (default 2048;
//	                     the older ZOO_JOBS_CACHE_MIB and ZOO_OIP_CACHE_MIB are read when it is unset)

import (
	"os"
	"sync"

	"github.com/zoo-bioimage/zoo/modelcache"
)

var modelCaches sync.Map // *serverEnv → *modelcache.Cache

// modelCacheFor returns the model cache of a process, made on first use
// and closed when the process's context ends.
func modelCacheFor(env *serverEnv) (*modelcache.Cache, error) {
	if c, ok := modelCaches.Load(env); ok {
		return c.(*modelcache.Cache), nil
	}
	name := "ZOO_MODEL_CACHE_MIB"
	for _, old := range []string{"ZOO_JOBS_CACHE_MIB", "ZOO_OIP_CACHE_MIB"} {
		if os.Getenv(name) == "" && os.Getenv(old) != "" {
			name = old
		}
	}
	mib, err := envInt(name, 2048)
	if err != nil {
		return nil, err
	}
	hosted, err := modelHost()
	if err != nil {
		return nil, err
	}
	c, loaded := modelCaches.LoadOrStore(env, modelcache.New(env.svc, modelcache.Options{Budget: int64(mib) << 20, TempDir: env.st.tempDir, Open: hosted.Open}))
	if !loaded {
		go func() { <-env.ctx.Done(); c.(*modelcache.Cache).Close() }()
	}
	return c.(*modelcache.Cache), nil
}
