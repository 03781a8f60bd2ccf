package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
)

// ClientKey names the client of a request for per-client limits: its IP
// address (ClientAddr: the TCP peer, or the client behind trusted reverse
// proxies), or for IPv6 its /64 network (one host usually holds a whole
// /64).
func ClientKey(r *http.Request) string { return clientKey(ClientAddr(r)) }

// clientKey keys an address given as "host:port" or as a bare host.
func clientKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		host := remote
		if h, _, err := net.SplitHostPort(remote); err == nil {
			host = h
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return host
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// BodyLimits bound how slowly a request body may arrive. A body must keep
// arriving at MinRate bytes per second on average after a Grace period,
// and no read may wait more than Idle for its next byte: a client that
// sends headers and then nothing is cut off after Grace, while an upload of
// gigabytes at MinRate or faster is never cut off. The zero value means
// the defaults.
type BodyLimits struct {
	Grace   time.Duration // default 30 s
	MinRate int64         // bytes per second; default 64 KiB/s
	Idle    time.Duration // default 30 s
}

func (l BodyLimits) withDefaults() BodyLimits {
	if l.Grace <= 0 {
		l.Grace = 30 * time.Second
	}
	if l.MinRate <= 0 {
		l.MinRate = 64 << 10
	}
	if l.Idle <= 0 {
		l.Idle = 30 * time.Second
	}
	return l
}

// ErrSlowBody is the error of a body read that ran past its deadline
// (BodyLimits).
var ErrSlowBody = zoo.E("web", zoo.Invalid, nil, "the request body arrived too slowly; the connection was closed")

// bodyDeadline wraps the request body so that reads run under a deadline
// computed from BodyLimits (net/http's own ReadTimeout would bound the
// whole body, however large, and so refuse big uploads). When the body
// ends the deadline is lifted, so that a long-running handler keeps its
// connection.
type bodyDeadline struct {
	io.ReadCloser
	rc    *http.ResponseController
	lim   BodyLimits
	start time.Time
	n     int64
	done  bool
	s     *server
	r     *http.Request
}

func (b *bodyDeadline) deadline(now time.Time) time.Time {
	d := b.start.Add(b.lim.Grace + time.Duration(float64(b.n)/float64(b.lim.MinRate)*float64(time.Second)))
	if idle := now.Add(b.lim.Idle); idle.Before(d) {
		d = idle
	}
	return d
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	b.rc.SetReadDeadline(b.deadline(time.Now()))
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.done = true
		metrics.Refuse(b.r.Context(), b.s.log, "body_min_rate", http.StatusRequestTimeout,
			"client", ClientKey(b.r), "path", b.r.URL.Path, "bytes_read", b.n)
		return n, ErrSlowBody
	}
	return n, err
}

// limitBodyRate installs bodyDeadline on requests that have a body.
func (s *server) limitBodyRate(next http.Handler) http.Handler {
	lim := s.opts.Body.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			r.Body = &bodyDeadline{ReadCloser: r.Body, rc: http.NewResponseController(w), lim: lim, start: time.Now(), s: s, r: r}
		}
		next.ServeHTTP(w, r)
	})
}

// ConnLimits bound the connections a listener accepts (LimitListener).
type ConnLimits struct {
	// PerClient is the most connections one client (ClientKey) may hold
	// open at once; default 64. Browsers open 6 per host.
	PerClient int
	// Total is the most connections open at once; default 4096 (keep it
	// below the process's file descriptor limit, ulimit -n).
	Total int
}

// LimitListener wraps ln so that a client past lim.PerClient open
// connections, or any client past lim.Total, is answered "429 Too Many
// Requests" (Connection: close) and disconnected at once, before any
// request is read. Each refusal is counted and logged (metrics.Refuse,
// limits "connections_per_client" and "connections_total").
func LimitListener(ln net.Listener, lim ConnLimits, log *slog.Logger) net.Listener {
	if lim.PerClient <= 0 {
		lim.PerClient = 64
	}
	if lim.Total <= 0 {
		lim.Total = 4096
	}
	if log == nil {
		log = slog.Default()
	}
	return &limitListener{Listener: ln, lim: lim, log: log, open: map[string]int{}}
}

type limitListener struct {
	net.Listener
	lim   ConnLimits
	log   *slog.Logger
	mu    sync.Mutex
	open  map[string]int
	total int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr().String())
		l.mu.Lock()
		limit := ""
		switch {
		case l.total >= l.lim.Total:
			limit = "connections_total"
		case l.open[key] >= l.lim.PerClient:
			limit = "connections_per_client"
		default:
			l.open[key]++
			l.total++
		}
		l.mu.Unlock()
		if limit == "" {
			return &limitedConn{Conn: c, l: l, key: key}, nil
		}
		metrics.Refuse(context.Background(), l.log, limit, http.StatusTooManyRequests, "client", key)
		go refuseConn(c)
	}
}

// refuseConn answers 429 without reading the request and closes c.
func refuseConn(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	const msg = "too many connections from your address; close some and try again\n"
	io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "+strconv.Itoa(len(msg))+"\r\n\r\n"+msg)
	c.Close()
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	key  string
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.total--
		if c.l.open[c.key]--; c.l.open[c.key] <= 0 {
			delete(c.l.open, c.key)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
