package main

import (
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
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

// The "zoo CLI" snippet of a model page runs as shown: copied into a
// shell in a folder holding input.tif, it downloads the model and writes
// the prediction.
func TestModelPageCLISnippetRuns(t *testing.T) {
	needORT(t)
	server, _ := startServe(t, "--data", t.TempDir(), "--workers", "0", "--seed", fixtures.Path(t, "packages"))
	get := func(path string) string {
		resp, err := http.Get(server + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	m := regexp.MustCompile(`<a href="/models/([a-z-]+)"`).FindStringSubmatch(get("/search?q=nuclei"))
	if m == nil {
		t.Fatal("search finds no nuclei model")
	}
	code := regexp.MustCompile(`(?s)<summary>zoo CLI</summary>\s*<pre><code id="snippet-0">(.*?)</code>`).FindStringSubmatch(get("/models/" + m[1]))
	if code == nil {
		t.Fatal("the model page has no zoo CLI snippet")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	img, _ := tensor.New(tensor.Uint16, []int{600, 700})
	img.Axes = []string{"y", "x"}
	for i, v := 0, img.Uint16s(); i < len(v); i++ {
		v[i] = uint16(100 + (i*37)%900)
	}
	if err := tiff.WriteFile("input.tif", img); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(html.UnescapeString(code[1]), "\n") {
		args := strings.Fields(line)
		if len(args) == 0 || args[0] != "zoo" {
			t.Fatalf("snippet line %q is not a zoo command", line)
		}
		zooOK(t, args[1:]...)
	}
	out, err := tiff.ReadFile(filepath.Join(dir, "predictions", "input.tif"))
	if err != nil || !slices.Equal(out.Shape, []int{600, 700}) {
		t.Fatalf("prediction: %v %v", out, err)
	}
}
