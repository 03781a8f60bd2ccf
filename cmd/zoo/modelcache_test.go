package main

import (
	"context"
	"testing"
)

// One serve or worker process has one model cache, whichever feature asks
// first; ZOO_MODEL_CACHE_MIB (or an older name) is checked.
func TestModelCacheSharedPerProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &serverEnv{ctx: ctx, st: &storage{tempDir: t.TempDir()}}
	jobs, err := modelCacheFor(env)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := modelCacheFor(env)
	if err != nil || v2 != jobs {
		t.Fatalf("second feature got another cache (%p, %p) or %v", v2, jobs, err)
	}
	other := &serverEnv{ctx: ctx, st: &storage{}}
	if c, _ := modelCacheFor(other); c == jobs {
		t.Error("two processes (envs) share a cache")
	}

	for _, name := range []string{"ZOO_MODEL_CACHE_MIB", "ZOO_JOBS_CACHE_MIB", "ZOO_OIP_CACHE_MIB"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "lots")
			if _, err := modelCacheFor(&serverEnv{ctx: ctx, st: &storage{}}); err == nil {
				t.Errorf("%s=lots accepted", name)
			}
		})
	}
}
