package session

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSameOriginRule checks the same-origin rule of state-changing
// requests as a whole: every combination of how the request arrived
// (plain HTTP, TLS, TLS at a proxy that says X-Forwarded-Proto: https) and
// what the browser said (Origin, Sec-Fetch-Site). An Origin is this
// server's only with its own host and a scheme the site is served with:
// an http:// Origin is another origin for an https site (a page on plain
// HTTP, readable and changeable by anyone on the network, must not act
// for the https site's users).
func TestSameOriginRule(t *testing.T) {
	m := New(nil, Options{Origins: []string{"https://Public.Example.org/"}})
	type req struct {
		tls   bool
		proto string // X-Forwarded-Proto
		host  string
	}
	plain := req{host: "zoo.test"}
	direct := req{tls: true, host: "zoo.test"}
	proxied := req{proto: "https", host: "zoo.test"}
	proxiedUpper := req{proto: " HTTPS ", host: "zoo.test"}
	cases := []struct {
		name   string
		req    req
		origin string
		site   string
		ok     bool
	}{
		{"no Origin, no Sec-Fetch-Site (older browsers, tools)", plain, "", "", true},
		{"http Origin on an http site", plain, "http://zoo.test", "", true},
		{"https Origin on an http site (TLS ended before a proxy that does not say)", plain, "https://zoo.test", "", true},
		{"https Origin on an https site", direct, "https://zoo.test", "same-origin", true},
		{"http Origin on an https site", direct, "http://zoo.test", "", false},
		{"http Origin on an https site behind a proxy", proxied, "http://zoo.test", "", false},
		{"http Origin, X-Forwarded-Proto in another case", proxiedUpper, "http://zoo.test", "", false},
		{"https Origin behind a proxy", proxied, "https://zoo.test", "", true},
		{"Origin host in another case", direct, "https://ZOO.test", "", true},
		{"another host", direct, "https://evil.test", "", false},
		{"a host that ends like this one", direct, "https://evil-zoo.test", "", false},
		{"a host that starts like this one", direct, "https://zoo.test.evil", "", false},
		{"another port", direct, "https://zoo.test:8443", "", false},
		{"another scheme", plain, "ftp://zoo.test", "", false},
		{"no scheme", plain, "zoo.test", "", false},
		{"empty host", plain, "http://", "", false},
		{"Origin null", plain, "null", "", false},
		{"a configured origin, any case, without its slash", plain, "https://public.example.ORG", "", true},
		{"a configured origin with a path is not it", plain, "https://public.example.org/x", "", false},
		{"a configured origin's http twin", direct, "http://public.example.org", "", false},
		{"Sec-Fetch-Site same-origin", direct, "", "same-origin", true},
		{"Sec-Fetch-Site none (typed address)", direct, "", "none", true},
		{"Sec-Fetch-Site same-site", direct, "", "same-site", false},
		{"Sec-Fetch-Site cross-site", direct, "", "cross-site", false},
		{"cross-site even with this Origin", direct, "https://zoo.test", "cross-site", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+tc.req.host+"/login", nil)
			r.Host = tc.req.host
			if tc.req.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			if tc.req.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.req.proto)
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			err := m.sameOrigin(r)
			if (err == nil) != tc.ok {
				t.Errorf("Origin %q, Sec-Fetch-Site %q, TLS %v, X-Forwarded-Proto %q: error %v, want accepted %v",
					tc.origin, tc.site, tc.req.tls, tc.req.proto, err, tc.ok)
			}
		})
	}
}

// TestOptionDefaults: zero and negative options take the documented
// defaults; given ones are kept; the touch interval follows a short idle
// cap (a hundredth of it, at most 5 minutes).
func TestOptionDefaults(t *testing.T) {
	m := New(nil, Options{})
	o := m.opts
	day := 24 * time.Hour
	if o.MaxAge != 14*day || o.Idle != 3*day || o.TouchEvery != 5*time.Minute || o.PurgeEvery != time.Hour ||
		o.LoginFailures != 10 || o.LoginWindow != 10*time.Minute || o.Logger == nil || o.Now == nil {
		t.Errorf("defaults: %+v", o)
	}
	o = New(nil, Options{MaxAge: -1, Idle: -1, TouchEvery: -1, PurgeEvery: -1, LoginFailures: -1, LoginWindow: -1}).opts
	if o.MaxAge != 14*day || o.Idle != 3*day || o.TouchEvery != 5*time.Minute || o.PurgeEvery != time.Hour || o.LoginFailures != 10 || o.LoginWindow != 10*time.Minute {
		t.Errorf("negative options: %+v", o)
	}
	if o := New(nil, Options{Idle: time.Hour}).opts; o.TouchEvery != 36*time.Second {
		t.Errorf("idle 1 h: touch every %v, want 36 s", o.TouchEvery)
	}
	if o := New(nil, Options{Idle: 500 * time.Minute}).opts; o.TouchEvery != 5*time.Minute {
		t.Errorf("idle 500 min: touch every %v, want 5 min", o.TouchEvery)
	}
	given := Options{MaxAge: time.Hour, Idle: time.Minute, TouchEvery: time.Second, PurgeEvery: 2 * time.Minute, LoginFailures: 3, LoginWindow: time.Second}
	if o := New(nil, given).opts; o.MaxAge != given.MaxAge || o.Idle != given.Idle || o.TouchEvery != given.TouchEvery ||
		o.PurgeEvery != given.PurgeEvery || o.LoginFailures != 3 || o.LoginWindow != time.Second {
		t.Errorf("given options changed: %+v", o)
	}
}
