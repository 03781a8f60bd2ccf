package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/zoo-bioimage/zoo/repo"
)

// MaxForwardedHops is how many X-Forwarded-For entries ClientAddr reads,
// from the right; a longer chain of trusted proxies ends at the last one
// read.
const MaxForwardedHops = 16

// ParseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR prefixes ("10.0.0.0/8, 127.0.0.1, ::1"): the reverse proxies whose
// X-Forwarded-For header ClientAddr believes. At most 256 entries.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if len(out) == 256 {
			return nil, fmt.Errorf("more than 256 trusted proxies; give prefixes such as 10.0.0.0/8")
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: give an IP address (10.0.0.1) or a CIDR prefix (10.0.0.0/8)", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientAddr is the address of the client of a request that reached us
// from peer (the connection's remote address) with the X-Forwarded-For
// values xff. When peer is a trusted proxy, the header's entries are
// walked from the right (the one the nearest proxy appended) past trusted
// proxies; the first untrusted address is the client. Entries a client
// wrote itself, left of that, are never believed; neither is any header
// from a peer that is not trusted.
func clientAddr(peer string, xff []string, trusted []netip.Prefix) string {
	host := peer
	if h, _, err := net.SplitHostPort(peer); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || len(trusted) == 0 || len(xff) == 0 {
		return host
	}
	addr = addr.Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(addr) {
		return addr.String()
	}
	hops := 0
	for i := len(xff) - 1; i >= 0 && hops < MaxForwardedHops; i-- {
		entries := strings.Split(xff[i], ",")
		for j := len(entries) - 1; j >= 0 && hops < MaxForwardedHops; j-- {
			hops++
			e := strings.TrimSpace(entries[j])
			if hp, err := netip.ParseAddrPort(e); err == nil { // "1.2.3.4:5678", "[::1]:80"
				e = hp.Addr().String()
			}
			a, err := netip.ParseAddr(e)
			if err != nil {
				return addr.String() // garbage: the last hop we believe
			}
			addr = a.Unmap()
			if !isTrusted(addr) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

// ClientAddr is the address of the client that sent r: the connection's
// peer, or — when the peer is one of Options.TrustedProxies — the address
// those proxies recorded in X-Forwarded-For (see clientAddr). It is what
// per-client limits (login throttling, download counting) key on.
func ClientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(keyClient).(string); ok {
		return a
	}
	return clientAddr(r.RemoteAddr, nil, nil)
}

// withClient records the request's client address in its context.
func withClient(r *http.Request, trusted []netip.Prefix) *http.Request {
	a := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
	return r.WithContext(repo.WithClient(context.WithValue(r.Context(), keyClient, a), a))
}
