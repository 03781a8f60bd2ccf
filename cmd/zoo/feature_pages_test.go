package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// zoo serve has the web pages: the home page lists the seeded models from
// the search index, a model page carries JSON-LD and signposting, pages
// have their own CSP, and a logged-in contributor's forms carry the
// session's CSRF token.
func TestServePages(t *testing.T) {
	data := t.TempDir()
	tok := token(t, []string{"--data", data}, "alice", "contributor")
	server, _ := startServe(t, "--data", data, "--workers", "0", "--seed", fixtures.Path(t, "packages"))
	get := func(path string, c *http.Cookie) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, server+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, home := get("/", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("home: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	ids := regexp.MustCompile(`<a href="/models/([a-z-]+)" class="card-link">`).FindAllStringSubmatch(home, -1)
	if len(ids) == 0 {
		t.Fatalf("home lists no seeded model")
	}
	if _, body := get("/search?q=nuclei", nil); !strings.Contains(body, "UNet 2D Nuclei Broad") || !strings.Contains(body, "<legend>Works with</legend>") {
		t.Errorf("search for nuclei does not find the seeded model with the index's facets")
	}
	resp, page := get("/models/"+ids[0][1], nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `<script type="application/ld+json">`) || !strings.Contains(resp.Header.Get("Link"), `rel="cite-as"`) {
		t.Errorf("model page: %s; JSON-LD %v; Link %q", resp.Status, strings.Contains(page, "ld+json"), resp.Header.Get("Link"))
	}
	// Log in; the upload page has the session's CSRF token for its script.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	lr, err := client.PostForm(server+"/login", url.Values{"token": {tok}, "next": {"/upload"}})
	if err != nil {
		t.Fatal(err)
	}
	lr.Body.Close()
	var cookie *http.Cookie
	for _, c := range lr.Cookies() {
		if c.Name == "zoo_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("login: %s, no session", lr.Status)
	}
	if resp, body := get("/upload", cookie); resp.StatusCode != 200 || !regexp.MustCompile(`<meta name="csrf-token" content="[^"]{20,}">`).MatchString(body) {
		t.Errorf("upload page: %s, no CSRF token", resp.Status)
	}
}
