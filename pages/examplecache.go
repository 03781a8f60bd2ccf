package pages

import (
	"container/list"
	"context"
	"sync"

	"github.com/zoo-bioimage/zoo"
)

// Example images are rendered from tensors of up to maxExampleBytes; doing
// that per anonymous request let eight concurrent requests for a 61 MiB
// example add ~1 GiB (issue 15). The pages therefore render each example
// once per (version, image, contrast options) and keep the PNG in a
// bounded LRU cache; concurrent requests for the same image wait for one
// render (single flight); and at most exampleRenders renders run at a
// time in the process, so the memory of rendering is bounded by
// exampleRenders × (file + tensor + preview), whatever the number of
// requests. Only public versions are cached (their files never change);
// drafts are rendered each time, under the same limit.

// Limits of example rendering.
const (
	exampleRenders    = 2        // renders at a time
	exampleCacheBytes = 32 << 20 // PNG bytes kept
	exampleMaxPNG     = 4 << 20  // larger PNGs are not kept
)

// exampleCache is an LRU of rendered PNGs with single-flight rendering and
// a limit on concurrent renders. The zero value is not usable; see
// newExampleCache.
type exampleCache struct {
	sem chan struct{}

	mu     sync.Mutex
	max    int64
	size   int64
	order  *list.List // of *exampleEntry, most recent first
	byKey  map[string]*list.Element
	flight map[string]*exampleCall

	renders int // renders done (for tests)
}

type exampleEntry struct {
	key string
	png []byte
}

type exampleCall struct {
	done chan struct{}
	png  []byte
	err  error
}

func newExampleCache(maxBytes int64, renders int) *exampleCache {
	return &exampleCache{sem: make(chan struct{}, renders), max: maxBytes, order: list.New(),
		byKey: map[string]*list.Element{}, flight: map[string]*exampleCall{}}
}

// get returns the PNG for key, rendering it with render when it is not
// cached (keep: whether the result may be cached). Waiting for a render
// slot or for another request's render ends with ctx.
func (c *exampleCache) get(ctx context.Context, key string, keep bool, render func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if keep {
		if el := c.byKey[key]; el != nil {
			c.order.MoveToFront(el)
			b := el.Value.(*exampleEntry).png
			c.mu.Unlock()
			return b, nil
		}
		if f := c.flight[key]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
				return f.png, f.err
			case <-ctx.Done():
				return nil, zoo.E("pages.example", zoo.Unavailable, ctx.Err(), "the example image is still being prepared; try again")
			}
		}
	}
	f := &exampleCall{done: make(chan struct{})}
	if keep {
		c.flight[key] = f
	}
	c.mu.Unlock()

	f.png, f.err = c.render(ctx, render)

	c.mu.Lock()
	if keep {
		delete(c.flight, key)
		if f.err == nil && int64(len(f.png)) <= min(c.max, exampleMaxPNG) {
			c.byKey[key] = c.order.PushFront(&exampleEntry{key, f.png})
			c.size += int64(len(f.png))
			for c.size > c.max {
				last := c.order.Back()
				e := last.Value.(*exampleEntry)
				c.order.Remove(last)
				delete(c.byKey, e.key)
				c.size -= int64(len(e.png))
			}
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.png, f.err
}

// render runs fn in one of the render slots.
func (c *exampleCache) render(ctx context.Context, fn func() ([]byte, error)) ([]byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, zoo.E("pages.example", zoo.Unavailable, ctx.Err(), "the server is busy preparing example images; try again")
	}
	defer func() { <-c.sem }()
	c.mu.Lock()
	c.renders++
	c.mu.Unlock()
	return fn()
}
