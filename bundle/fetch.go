package bundle

import (
	"io"
	"os"
	"sync"

	"github.com/zoo-bioimage/zoo"
)

// fetchCache downloads each URL once into a temporary file, which serves
// the file checks, the packaging and Write.
type fetchCache struct {
	fetch func(string) (io.ReadCloser, error)
	base  string
	max   int64
	mu    sync.Mutex
	dir   string
	got   map[string]string // URL → temporary file
}

func (c *fetchCache) open(u string) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name, ok := c.got[u]; ok {
		return os.Open(name)
	}
	if c.dir == "" {
		dir, err := os.MkdirTemp(c.base, "zoo-package-")
		if err != nil {
			return nil, err
		}
		c.dir = dir
	}
	rc, err := c.fetch(u)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(c.dir, "fetched-")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, io.LimitReader(rc, c.max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > c.max {
		err = zoo.E("bundle.Build", zoo.TooLarge, nil, "larger than %d bytes, the limit for one file of a package", c.max)
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	c.got[u] = f.Name()
	return os.Open(f.Name())
}

func (c *fetchCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		return nil
	}
	err := os.RemoveAll(c.dir)
	c.dir, c.got = "", nil
	return err
}
