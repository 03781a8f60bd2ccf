package oip

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo/metrics"
)

// admission bounds the infer requests served at once and the bytes they
// hold (Limits.MaxConcurrent, MaxPerClient, MaxInFlight). A request first
// takes a slot and reserves its body's length (admit, which waits up to
// Limits.QueueWait for room); once its header is read it reserves the
// tensors it will decode and produce (grow, which does not wait). All of
// it is given back by the release function.
type admission struct {
	lim Limits

	mu      sync.Mutex
	running int // requests with large bodies (> smallBody)
	small   int // requests with small bodies
	bytes   int64
	clients map[string]*clientUse
	changed chan struct{} // closed and replaced whenever room is freed
}

type clientUse struct {
	running int
	bytes   int64
}

func newAdmission(lim Limits) *admission {
	return &admission{lim: lim, clients: map[string]*clientUse{}, changed: make(chan struct{})}
}

// refusal is an admission's refusal: the limit's name (for metrics and
// logs), the status to answer (429: try again later, 413: never fits) and
// the message for the client.
type refusal struct {
	limit  string
	status int
	msg    string
}

func (e *refusal) Error() string { return e.msg }

// ticket is one admitted request's share.
type ticket struct {
	a      *admission
	client string
	bytes  int64
	small  bool
	once   sync.Once
}

// smallBody is the largest body of a "small" request. Small requests have
// MaxConcurrent places of their own, so that an image of ordinary size is
// not kept waiting behind large requests (they still count against
// MaxInFlight and the per-client limits).
const smallBody = 4 << 20

// admit takes a slot for client and reserves n bytes, waiting up to
// QueueWait while the server is full or the client holds MaxPerClient
// requests or its share (half) of MaxInFlight. A request larger than a
// client's share is refused at once.
func (a *admission) admit(ctx context.Context, client string, n int64) (*ticket, error) {
	share := a.lim.MaxInFlight / 2
	if n > share {
		return nil, &refusal{"oip_inflight_bytes", 413, fmt.Sprintf("this request needs %d MiB of the server's memory for inference, more than one client may hold (%d MiB); send a smaller image, or use an asynchronous job (/api/v1/jobs) for large images", n>>20, share>>20)}
	}
	deadline := time.NewTimer(a.lim.QueueWait)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		c := a.clients[client]
		clientFull := c != nil && (c.running >= a.lim.MaxPerClient || c.bytes+n > share)
		small := n <= smallBody
		lane := &a.running
		if small {
			lane = &a.small
		}
		if !clientFull && *lane < a.lim.MaxConcurrent && a.bytes+n <= a.lim.MaxInFlight {
			if c == nil {
				c = &clientUse{}
				a.clients[client] = c
			}
			c.running++
			c.bytes += n
			*lane++
			a.bytes += n
			a.mu.Unlock()
			metrics.AddInFlightBytes("oip", n)
			return &ticket{a: a, client: client, bytes: n, small: small}, nil
		}
		wait := a.changed
		a.mu.Unlock()
		select {
		case <-wait:
		case <-deadline.C:
			if clientFull {
				return nil, &refusal{"oip_per_client", 429, fmt.Sprintf("your earlier inference requests are still being served (at most %d at once, %d MiB, per client); wait for their answers before sending more", a.lim.MaxPerClient, share>>20)}
			}
			return nil, &refusal{"oip_concurrency", 429, fmt.Sprintf("the server is busy with other inference requests (at most %d at once, %d MiB in flight); try again shortly, or use an asynchronous job (/api/v1/jobs)", a.lim.MaxConcurrent, a.lim.MaxInFlight>>20)}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// grow reserves n more bytes for the ticket's request, without waiting.
func (t *ticket) grow(n int64) error {
	a := t.a
	share := a.lim.MaxInFlight / 2
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[t.client]
	if t.bytes+n > share {
		return &refusal{"oip_inflight_bytes", 413, fmt.Sprintf("this request needs %d MiB of the server's memory for its inputs and outputs, more than one client may hold (%d MiB); send a smaller image, or use an asynchronous job (/api/v1/jobs) for large images", (t.bytes+n)>>20, share>>20)}
	}
	if c.bytes+n > share || a.bytes+n > a.lim.MaxInFlight {
		return &refusal{"oip_inflight_bytes", 429, fmt.Sprintf("the server's memory for inference is taken by other requests (%d MiB in flight, the limit is %d MiB); try again shortly", a.bytes>>20, a.lim.MaxInFlight>>20)}
	}
	c.bytes += n
	a.bytes += n
	t.bytes += n
	metrics.AddInFlightBytes("oip", n)
	return nil
}

// release gives the ticket's slot and bytes back (once).
func (t *ticket) release() {
	t.once.Do(func() {
		a := t.a
		a.mu.Lock()
		c := a.clients[t.client]
		c.running--
		c.bytes -= t.bytes
		if c.running == 0 {
			delete(a.clients, t.client)
		}
		if t.small {
			a.small--
		} else {
			a.running--
		}
		a.bytes -= t.bytes
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
		metrics.AddInFlightBytes("oip", -t.bytes)
	})
}
