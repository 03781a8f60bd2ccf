package session

import (
	"net/http"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo/web"
)

// throttle counts failed logins per client address and refuses further
// attempts from an address with max failures in the current window, until
// the window (which starts at the address's first failure) has passed.
// Each replica counts for itself; the counts live in memory, bounded by
// maxAddrs addresses (the stalest windows are forgotten first when full).
//
// API tokens are 256-bit, so guessing one is hopeless either way: the
// throttle keeps a client from hammering the catalog with lookups and
// tells a person who mistyped a token many times what is going on.
type throttle struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

const maxAddrs = 10_000

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, fails: map[string]*failures{}}
}

// wait returns how long addr must wait before its next attempt (0: go on).
func (t *throttle) wait(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fails[addr]
	if f == nil {
		return 0
	}
	if end := f.first.Add(t.window); !now.Before(end) {
		delete(t.fails, addr)
		return 0
	} else if f.n >= t.max {
		return end.Sub(now)
	}
	return 0
}

// failed records a failed login from addr.
func (t *throttle) failed(addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fails[addr]
	if f == nil || !now.Before(f.first.Add(t.window)) {
		if len(t.fails) >= maxAddrs {
			t.forget(now)
		}
		f = &failures{first: now}
		t.fails[addr] = f
	}
	f.n++
}

// forget drops ended windows and, if still full, the oldest half.
func (t *throttle) forget(now time.Time) {
	var oldest time.Time
	for a, f := range t.fails {
		if !now.Before(f.first.Add(t.window)) {
			delete(t.fails, a)
		} else if oldest.IsZero() || f.first.Before(oldest) {
			oldest = f.first
		}
	}
	if len(t.fails) < maxAddrs {
		return
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for a, f := range t.fails {
		if f.first.Before(cut) || len(t.fails) >= maxAddrs {
			delete(t.fails, a)
		}
	}
}

// clientAddr is the address a request came from: web.ClientAddr, the
// connection's peer unless that is a trusted reverse proxy
// (web.Options.TrustedProxies), whose X-Forwarded-For then names the
// client — without the setting, everyone behind a proxy would share one
// throttle.
func clientAddr(r *http.Request) string { return web.ClientAddr(r) }
