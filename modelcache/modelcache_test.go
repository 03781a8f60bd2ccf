package modelcache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
)

const nuclei = "unet2d-nuclei-broad-onnx"

// weightsSize is the nuclei fixture's weights.onnx size.
const weightsSize = 1806764

func TestGetPredictsAndShares(t *testing.T) {
	env := cachetest.New(t)
	v := env.Publish(t, nuclei)
	c := modelcache.New(env.Svc, modelcache.Options{Threads: 1, TempDir: t.TempDir()})
	defer c.Close()
	ctx := context.Background()

	// Concurrent first Gets share one load.
	var wg sync.WaitGroup
	entries := make([]*modelcache.Entry, 3)
	for i := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := c.Get(ctx, v)
			if err != nil {
				t.Error(err)
				return
			}
			entries[i] = e
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if entries[0] != entries[1] || entries[1] != entries[2] {
		t.Fatal("concurrent Gets of one version loaded it more than once")
	}
	if st := c.Stats(); st.Entries != 1 || st.Idle != 0 || st.Used != 3*weightsSize {
		t.Fatalf("stats while held = %+v, want 1 entry, 0 idle, used 3×%d", st, weightsSize)
	}
	e := entries[0]
	if e.Model().Inputs[0].ID != "raw" || e.Predictor().Format != "onnx" {
		t.Fatalf("entry model %q format %q", e.Model().Inputs[0].ID, e.Predictor().Format)
	}
	in, err := tensor.New(tensor.Float32, []int{1, 1, 512, 512})
	if err != nil {
		t.Fatal(err)
	}
	in.Axes = []string{"batch", "channel", "y", "x"}
	out, err := e.Predictor().Predict(ctx, runner.Sample{"raw": in})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["probability"].Shape; len(got) != 4 || got[2] != 512 {
		t.Fatalf("output shape %v", got)
	}
	for _, e := range entries {
		e.Release()
	}
	if st := c.Stats(); st.Idle != 1 {
		t.Fatalf("after release: %+v, want the entry idle", st)
	}
	e2, err := c.Get(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if e2 != e {
		t.Fatal("a second Get reloaded a cached model")
	}
	e2.Release()
}

func TestBudgetEvictsIdleOnly(t *testing.T) {
	env := cachetest.New(t)
	v1 := env.Publish(t, nuclei)
	v2 := env.Publish(t, "unet2d-multi-tensor-onnx")
	ctx := context.Background()
	// Room for one of the two models (multi-tensor weights: 1838998 bytes).
	c := modelcache.New(env.Svc, modelcache.Options{Budget: 3*1838998 + 1000, Factor: 3, Threads: 1, TempDir: t.TempDir()})
	defer c.Close()

	e1, err := c.Get(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	// v2 does not fit while v1 is held: Get waits, and gives up with ctx.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = c.Get(short, v2)
	cancel()
	if zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("Get over budget with every entry in use: %v, want Unavailable", err)
	}
	// Once v1 is released, it is evicted to make room.
	got := make(chan error, 1)
	go func() {
		e2, err := c.Get(ctx, v2)
		if err == nil {
			e2.Release()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	e1.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Entries != 1 || st.Used > st.Budget {
		t.Fatalf("after eviction: %+v, want 1 entry within budget", st)
	}
}

func TestTooLargeAndPerEntry(t *testing.T) {
	env := cachetest.New(t)
	v := env.Publish(t, nuclei)
	ctx := context.Background()
	small := modelcache.New(env.Svc, modelcache.Options{Budget: 1 << 20})
	if _, err := small.Get(ctx, v); zoo.KindOf(err) != zoo.TooLarge {
		t.Fatalf("model over the whole budget: %v, want TooLarge", err)
	}
	c := modelcache.New(env.Svc, modelcache.Options{PerEntry: 1, Threads: 1, TempDir: t.TempDir()})
	defer c.Close()
	e, err := c.Get(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Get(short, v); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("second holder beyond PerEntry=1: %v, want Unavailable after waiting", err)
	}
	e.Release()
	e, err = c.Get(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	e.Release()
	c.Close()
	if _, err := c.Get(ctx, v); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("Get after Close: %v", err)
	}
	if st := c.Stats(); st.Entries != 0 || st.Used != 0 {
		t.Fatalf("after Close: %+v", st)
	}
}
