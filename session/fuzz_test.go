package session

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// SafeNext never returns a path a browser would take to another host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/models/x?y=1#z", "//evil", "/\\evil", "https://evil/", "/%2F%2Fevil", "/\t/evil", "javascript:alert(1)", "/a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		if got != "/" && got != next {
			t.Fatalf("SafeNext(%q) = %q: neither the input nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n\t ") {
			t.Fatalf("SafeNext(%q) = %q", next, got)
		}
		// What the browser resolves it to stays on this host.
		base, _ := url.Parse("https://zoo.example/login")
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("SafeNext(%q) = %q does not parse: %v", next, got, err)
		}
		if u := base.ResolveReference(ref); u.Host != "zoo.example" || u.Scheme != "https" {
			t.Fatalf("SafeNext(%q) = %q resolves to %s", next, got, u)
		}
	})
}

// parseID accepts exactly our ids and hashes them.
func FuzzParseID(f *testing.F) {
	f.Add(newSecret())
	f.Add("")
	f.Add(strings.Repeat("=", 43))
	f.Fuzz(func(t *testing.T, v string) {
		h, ok := parseID(v)
		if ok != (len(v) == idLen && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == "") {
			t.Fatalf("parseID(%q) = %v", v, ok)
		}
		if ok && h != hashID(v) {
			t.Fatalf("parseID(%q) hash %q", v, h)
		}
		// And through a request's Cookie header.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", CookieName+"="+v)
		cookieHash(r)
	})
}

// formToken reads any body without panicking, within its limits, and
// leaves a multipart body whole for the handler.
func FuzzFormToken(f *testing.F) {
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nT\r\n--XX--\r\n"))
	f.Add("application/x-www-form-urlencoded", []byte("csrf=T&x=1"))
	f.Add("multipart/form-data; boundary=\"\"", []byte("--\r\n"))
	f.Add("text/plain", []byte("csrf=T"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		tok, _ := formToken(r)
		if len(tok) > maxCSRFValue && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Fatalf("token of %d bytes", len(tok))
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/") {
			got, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("multipart body changed: %d of %d bytes, %v", len(got), len(body), err)
			}
		}
	})
}
