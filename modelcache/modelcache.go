// Package modelcache keeps published model versions loaded and ready to
// run, so that inference requests and jobs do not pay for unpacking and
// loading a model every time.
//
// Entries are keyed by (model id, version number, weight format). The
// cache is bounded by a memory budget: each entry counts an estimate of
// its memory (the size of its weights files × Options.Factor, default 3:
// ONNX Runtime holds the weights, an optimised copy and its arenas). Before
// a load that would exceed the budget, idle entries (no caller holds them)
// are evicted, least recently used first; entries in use are never
// evicted. When the budget is still exceeded, Get waits until an entry is
// released (or its context ends); a model larger than the whole budget is
// refused with zoo.TooLarge.
//
// Concurrent Gets of the same key share one load (single flight). A failed
// load is not remembered: the next Get tries again.
//
// Each entry holds one runner.Predictor, shared by its callers: ONNX
// Runtime sessions are safe for concurrent Run (see package onnx), and
// callers that fix the dataset statistics to their own sample hold the
// predictor's LockDatasetStats meanwhile. A process keeps one cache for
// every user (zoo serve: /v2 inference and inference jobs). Options.PerEntry bounds how many callers hold an
// entry at once (default 4); further Gets wait for a Release.
package modelcache

import (
	"container/list"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
)

// DefaultBudget is the memory budget when Options.Budget is 0 (2 GiB).
const DefaultBudget = 2 << 30

// Options tune a Cache. The zero value is usable.
type Options struct {
	// Budget bounds the estimated memory of all loaded entries, in bytes;
	// 0 means DefaultBudget.
	Budget int64
	// Factor multiplies the weights' file size into an entry's memory
	// estimate; 0 means 3.
	Factor float64
	// Threads for the inference engine of each entry; 0 means all CPUs.
	Threads int
	// PerEntry is how many callers may hold one entry at once; 0 means 4.
	PerEntry int
	// Open loads an entry's weights (runner.Options.Open); nil runs them
	// in this process. zoo serve passes modelhost's, which runs each
	// published model in a bounded child process.
	Open func(m *spec.Model, src *spec.Source, format string, threads int) (runner.Model, error)
	// TempDir is where versions are unpacked ("" = os.TempDir()). An
	// entry's folder is removed when the entry is evicted or the cache
	// closed.
	TempDir string
}

// Cache is a bounded set of loaded models. Its methods are safe for
// concurrent use.
type Cache struct {
	svc  *repo.Service
	opts Options

	mu      sync.Mutex
	entries map[string]*Entry
	lru     *list.List    // idle, loaded entries; front = most recently used
	used    int64         // sum of the estimates of loaded (and loading) entries
	changed chan struct{} // closed and replaced whenever memory or a slot frees
	closed  bool
}

// Entry is one loaded model. Get returns it held; call Release exactly
// once when done with it.
type Entry struct {
	c        *Cache
	key      string
	dir      string
	estimate int64

	ready chan struct{} // closed when the load ended (err or pred set)
	err   error
	pred  *runner.Predictor
	model *spec.Model

	// guarded by c.mu
	holders int
	elem    *list.Element // in c.lru while idle
	gone    bool          // removed from the cache; freed when holders reach 0
	counted bool          // estimate is included in c.used
}

// New returns an empty cache over the versions of svc.
func New(svc *repo.Service, opts Options) *Cache {
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if opts.Factor <= 0 {
		opts.Factor = 3
	}
	if opts.PerEntry <= 0 {
		opts.PerEntry = 4
	}
	return &Cache{svc: svc, opts: opts, entries: map[string]*Entry{}, lru: list.New(), changed: make(chan struct{})}
}

// Get returns v loaded with the first weight format zoo can run
// (runner.PickFormat), held for the caller. The caller checks that the
// caller may see v. Errors: those of runner.PickFormat (zoo.NotSupported
// when no format can run here), of unpacking and loading; zoo.TooLarge for
// a model whose estimate exceeds the whole budget; zoo.Unavailable when
// ctx ends while waiting for memory or a slot, or after Close.
func (c *Cache) Get(ctx context.Context, v *zoo.Version) (*Entry, error) {
	m, err := c.svc.Description(ctx, v)
	if err != nil {
		return nil, err
	}
	format, err := runner.PickFormat(m)
	if err != nil {
		return nil, err
	}
	return c.GetFormat(ctx, v, format)
}

// GetFormat is Get with a chosen weight format.
func (c *Cache) GetFormat(ctx context.Context, v *zoo.Version, format string) (*Entry, error) {
	const op = "modelcache.Get"
	key := fmt.Sprintf("%s/%d/%s", v.ModelID, v.Number, format)
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, zoo.E(op, zoo.Unavailable, nil, "the model cache is closed")
		}
		if e, ok := c.entries[key]; ok {
			if e.holders < c.opts.PerEntry {
				c.hold(e)
				c.mu.Unlock()
				<-e.ready
				if e.err != nil {
					e.Release()
					return nil, e.err
				}
				return e, nil
			}
			if err := c.wait(ctx); err != nil { // unlocks
				return nil, zoo.E(op, zoo.Unavailable, err, "%s/%d is busy (%d requests running); try again later", v.ModelID, v.Number, c.opts.PerEntry)
			}
			continue
		}
		c.mu.Unlock()
		est, err := c.estimate(ctx, v, format)
		if err != nil {
			return nil, err
		}
		if est > c.opts.Budget {
			return nil, zoo.E(op, zoo.TooLarge, nil, "%s/%d needs about %d MiB to run, more than the model cache's budget of %d MiB", v.ModelID, v.Number, est>>20, c.opts.Budget>>20)
		}
		c.mu.Lock()
		if _, ok := c.entries[key]; ok || c.closed { // raced with another loader
			c.mu.Unlock()
			continue
		}
		c.evictFor(est)
		if c.used+est > c.opts.Budget {
			if err := c.wait(ctx); err != nil { // unlocks
				return nil, zoo.E(op, zoo.Unavailable, err, "the model cache is full of models in use; try again later")
			}
			continue
		}
		e := &Entry{c: c, key: key, estimate: est, ready: make(chan struct{}), counted: true}
		c.entries[key] = e
		c.used += est
		c.hold(e)
		c.mu.Unlock()
		e.load(ctx, v, format)
		if e.err != nil {
			c.mu.Lock()
			c.drop(e)
			c.mu.Unlock()
			e.Release()
			return nil, e.err
		}
		return e, nil
	}
}

// hold marks e held by one more caller. c.mu is held.
func (c *Cache) hold(e *Entry) {
	e.holders++
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
}

// wait releases c.mu and waits for a change or the end of ctx.
func (c *Cache) wait(ctx context.Context) error {
	ch := c.changed
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal wakes waiters. c.mu is held.
func (c *Cache) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// evictFor evicts idle entries, least recently used first, until need more
// bytes fit the budget or no idle entry is left. c.mu is held.
func (c *Cache) evictFor(need int64) {
	for c.used+need > c.opts.Budget {
		back := c.lru.Back()
		if back == nil {
			return
		}
		c.remove(back.Value.(*Entry))
	}
}

// remove takes an idle entry out of the cache and frees it. c.mu is held.
func (c *Cache) remove(e *Entry) {
	c.drop(e)
	e.free()
}

// drop takes e out of the cache (map, idle list, budget); whoever holds it
// keeps using it until the last Release frees it. c.mu is held.
func (c *Cache) drop(e *Entry) {
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	e.gone = true
	if e.counted {
		c.used -= e.estimate
		e.counted = false
	}
}

// free closes the predictor and removes the unpacked files, once.
func (e *Entry) free() {
	if e.pred != nil {
		e.pred.Close()
		e.pred = nil
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
		e.dir = ""
	}
}

// estimate returns the memory estimate of v's weights of format.
func (c *Cache) estimate(ctx context.Context, v *zoo.Version, format string) (int64, error) {
	m, err := c.svc.Description(ctx, v)
	if err != nil {
		return 0, err
	}
	w := m.Weights.Get(format)
	if w == nil {
		return 0, zoo.E("modelcache.Get", zoo.NotFound, nil, "%s/%d has no %s weights", v.ModelID, v.Number, format)
	}
	names := []string{w.Source}
	if w.ExternalData != nil {
		names = append(names, w.ExternalData.Source)
	}
	var size int64
	for _, n := range names {
		n = path.Clean(strings.TrimPrefix(n, "./"))
		for _, f := range repo.RunnableFiles(v) { // converted weights too
			if f.Path == n {
				size += f.Size
			}
		}
	}
	if size == 0 {
		size = 1 << 20 // remote or unlisted weights: at least count something
	}
	return int64(float64(size) * c.opts.Factor), nil
}

// load unpacks v and loads its weights of format into e, then closes
// e.ready. On failure e.err is set and nothing stays on disk.
func (e *Entry) load(ctx context.Context, v *zoo.Version, format string) {
	defer close(e.ready)
	const op = "modelcache.load"
	dir, err := os.MkdirTemp(e.c.opts.TempDir, "zoo-model-")
	if err != nil {
		e.err = zoo.E(op, zoo.Internal, err, "cannot create a folder to unpack %s/%d", v.ModelID, v.Number)
		return
	}
	e.dir = dir
	fail := func(err error) {
		e.err = err
		os.RemoveAll(dir)
		e.dir = ""
	}
	// The load is shared by every waiting caller: it must not stop when the
	// first caller's request ends.
	lctx := context.WithoutCancel(ctx)
	if err := e.c.svc.Unpack(lctx, v, dir); err != nil {
		fail(zoo.E(op, zoo.KindOf(err), err, "cannot unpack %s/%d", v.ModelID, v.Number))
		return
	}
	pkg, err := runner.Load(filepath.Join(dir, filepath.FromSlash(v.DescriptionFile)), runner.LoadOptions{})
	if err != nil {
		fail(zoo.E(op, zoo.KindOf(err), err, "cannot load %s/%d", v.ModelID, v.Number))
		return
	}
	pred, err := runner.NewPredictor(pkg, format, runner.Options{Threads: e.c.opts.Threads, Open: e.c.opts.Open})
	if err != nil {
		fail(err)
		return
	}
	e.pred, e.model = pred, pkg.Model
}

// Predictor returns the entry's loaded predictor. Use it only between Get
// and Release; do not Close it.
func (e *Entry) Predictor() *runner.Predictor { return e.pred }

// Model returns the entry's description (format 0.5); do not modify it.
func (e *Entry) Model() *spec.Model { return e.model }

// Release gives the entry back to the cache. Call it exactly once per Get.
func (e *Entry) Release() {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	e.holders--
	if e.holders > 0 {
		c.signal()
		return
	}
	if e.gone { // dropped while held (failed load, Close)
		e.free()
		c.signal()
		return
	}
	e.elem = c.lru.PushFront(e)
	c.signal()
}

// Stats is a snapshot of the cache.
type Stats struct {
	Entries int   // loaded or loading
	Idle    int   // loaded, held by nobody (evictable)
	Used    int64 // estimated bytes
	Budget  int64
}

// Stats returns a snapshot of the cache's occupation.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Entries: len(c.entries), Idle: c.lru.Len(), Used: c.used, Budget: c.opts.Budget}
}

// Close frees every idle entry and refuses later Gets; entries still held
// are freed when released.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, e := range c.entries {
		if e.holders == 0 {
			c.remove(e)
		} else {
			c.drop(e)
		}
	}
	c.signal()
	return nil
}
