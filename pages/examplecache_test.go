package pages

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent requests for one public example render it once; renders of
// different images never exceed the limit at a time (issue 15: eight
// concurrent requests for a 61 MiB example decoded it eight times).
func TestExampleCacheSingleFlightAndLimit(t *testing.T) {
	c := newExampleCache(1<<20, 2)
	var running, peak atomic.Int32
	render := func() ([]byte, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		return make([]byte, 1000), nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b, err := c.get(context.Background(), "m/1/input-0.png?default", true, render); err != nil || len(b) != 1000 {
				t.Errorf("get: %d bytes, %v", len(b), err)
			}
		}()
	}
	wg.Wait()
	if c.renders != 1 {
		t.Errorf("16 concurrent requests for one example rendered it %d times, want 1", c.renders)
	}
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.get(context.Background(), "draft", false, render) // not cached: each renders
		}()
	}
	wg.Wait()
	if c.renders != 13 || peak.Load() > 2 {
		t.Errorf("drafts: %d renders (want 13), %d at a time (limit 2)", c.renders, peak.Load())
	}
}

func TestExampleCacheBoundedAndErrorsNotKept(t *testing.T) {
	c := newExampleCache(10_000, 2)
	for i := 0; i < 50; i++ {
		c.get(context.Background(), string(rune('a'+i)), true, func() ([]byte, error) { return make([]byte, 3000), nil })
	}
	if c.size > 10_000 || c.order.Len() != 3 {
		t.Errorf("cache holds %d bytes in %d entries, limit 10000", c.size, c.order.Len())
	}
	fail := errors.New("broken")
	for i := 0; i < 2; i++ {
		if _, err := c.get(context.Background(), "bad", true, func() ([]byte, error) { return nil, fail }); err != fail {
			t.Errorf("error %v", err)
		}
	}
	if c.renders != 52 {
		t.Errorf("a failed render was cached: %d renders", c.renders)
	}
	// A request that cannot get a render slot gives up with its context.
	full := newExampleCache(1<<20, 1)
	block := make(chan struct{})
	go full.get(context.Background(), "slow", false, func() ([]byte, error) { <-block; return nil, nil })
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := full.get(ctx, "other", true, func() ([]byte, error) { return nil, nil }); err == nil {
		t.Error("a request waited past its context for a render slot")
	}
	close(block)
}
