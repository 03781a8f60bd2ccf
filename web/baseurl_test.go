package web

import (
	"crypto/tls"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestBaseURL(t *testing.T) {
	for _, c := range []struct {
		host, proto, configured string
		tls                     bool
		want                    string
	}{
		{host: "zoo.example.org", want: "http://zoo.example.org"},
		{host: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{host: "[::1]:8080", want: "http://[::1]:8080"},
		{host: "zoo.example.org", tls: true, want: "https://zoo.example.org"},
		{host: "zoo.example.org", proto: "https, http", want: "https://zoo.example.org"},
		{host: "zoo.example.org", proto: "gopher", want: "http://zoo.example.org"},
		{host: `evil.org"><script>`, want: "http://localhost"},
		{host: "evil.org/path", want: "http://localhost"},
		{host: "a b", want: "http://localhost"},
		{host: "", want: "http://localhost"},
		{host: "whatever", configured: "https://zoo.example.org/", want: "https://zoo.example.org"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := BaseURL(r, c.configured); got != c.want {
			t.Errorf("host %q proto %q configured %q: %q, want %q", c.host, c.proto, c.configured, got, c.want)
		}
	}
}

// Whatever Host and X-Forwarded-Proto a client sends, the base URL is a
// plain http(s)://host[:port] that cannot break a Link header or a URL.
func FuzzBaseURL(f *testing.F) {
	f.Add("zoo.example.org:8443", "https")
	f.Add(`a>; rel="x"`, "https,http")
	f.Add("[::1]:80", "")
	f.Add("ex ample.org", "HTTPS ")
	safe := regexp.MustCompile(`^https?://[A-Za-z0-9.\-\[\]:]+$`)
	f.Fuzz(func(t *testing.T, host, proto string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		r.Header.Set("X-Forwarded-Proto", proto)
		if got := BaseURL(r, ""); !safe.MatchString(got) || len(got) > 300 {
			t.Fatalf("BaseURL(%q, %q) = %q", host, proto, got)
		}
	})
}
