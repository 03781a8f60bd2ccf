package web

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// BaseURL returns the public base URL that absolute links in a response
// use (no trailing slash): configured (e.g. ZOO_PUBLIC_URL) when it is set,
// else derived from the request — https when the connection is TLS or a
// proxy says so in X-Forwarded-Proto, and the request's Host when it is a
// plain host name or address with an optional port; any other Host (an
// attacker's header with spaces, slashes or quotes) becomes "localhost", so
// a forged header cannot inject markup or paths into generated links.
func BaseURL(r *http.Request, configured string) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		if first, _, _ := strings.Cut(p, ","); strings.EqualFold(strings.TrimSpace(first), "https") {
			scheme = "https"
		}
	}
	host := r.Host
	if !hostPattern().MatchString(host) {
		host = "localhost"
	}
	return scheme + "://" + host
}

// hostPattern is a host name, IPv4 or bracketed IPv6 address and optional
// port; compiled on first use (its counted repetitions are costly to
// compile at start-up).
var hostPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?$`)
})
