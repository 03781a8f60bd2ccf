package web

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestDownloadRedirectS3: with Options.Redirect on a real S3 server
// (VersityGW, ZOO_TEST_S3), a public package download is a 302 to a
// presigned URL that serves the same bytes with the same headers, and
// Range; conditional requests, HEAD, drafts and small files are served by
// the replica; visibility is checked before any redirect.
func TestDownloadRedirectS3(t *testing.T) {
	raw := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/redirect-" + strconv.FormatUint(rand.Uint64(), 36)
	store, err := s3.New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	data := packageZip(t, "upsample-onnx")
	e := newEnvBlobs(t, Options{Redirect: Redirect{Presigner: store, MinBytes: 1000}}, repo.Config{}, store)
	v := e.published("alice", "", data)
	id := v.ModelID
	draft := e.version(e.upload("alice", "?draft=1&model="+id, data), http.StatusCreated)
	pkg := "/packages/" + id + "/1"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(c *http.Client, rawURL string, h map[string]string, method string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, rawURL, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, b
	}

	// Direct answer first, for comparison (a conditional GET that does
	// not match: served here).
	direct, body := get(noFollow, e.srv.URL+pkg+"?silent=1", map[string]string{"If-None-Match": `"nope"`}, "GET")
	<-e.handled
	if direct.StatusCode != 200 || sha256Hex(body) != v.PackageSHA256 {
		t.Fatalf("direct download: %d, %d bytes", direct.StatusCode, len(body))
	}
	data = body // the package as stored

	// The plain GET is redirected, with zoo's ETag.
	res, _ := get(noFollow, e.srv.URL+pkg, nil, "GET")
	<-e.handled
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "http://"+u.Query().Get("endpoint")+"/") || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("GET %s: %d, Location %q; want 302 to the S3 endpoint", pkg, res.StatusCode, loc)
	}
	if res.Header.Get("ETag") != `"`+v.PackageSHA256+`"` || res.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("redirect headers: ETag %q, Cache-Control %q", res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
	}
	// The store serves the same bytes with the same headers, anonymously.
	s3res, s3body := get(http.DefaultClient, loc, nil, "GET")
	if s3res.StatusCode != 200 || sha256Hex(s3body) != v.PackageSHA256 {
		t.Fatalf("presigned GET: %d, sha256 %s, want %s", s3res.StatusCode, sha256Hex(s3body), v.PackageSHA256)
	}
	for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control", "Content-Length"} {
		if s3res.Header.Get(h) != direct.Header.Get(h) {
			t.Errorf("%s: S3 answers %q, the replica %q", h, s3res.Header.Get(h), direct.Header.Get(h))
		}
	}
	// Range works on the presigned URL (a client following the redirect
	// with its Range header).
	rres, rbody := get(http.DefaultClient, loc, map[string]string{"Range": "bytes=100-199"}, "GET")
	if rres.StatusCode != http.StatusPartialContent || !bytesEqual(rbody, data[100:200]) || rres.Header.Get("Content-Range") != "bytes 100-199/"+strconv.Itoa(len(data)) {
		t.Errorf("presigned Range: %d %q, %d bytes", rres.StatusCode, rres.Header.Get("Content-Range"), len(rbody))
	}
	// Go's client follows the redirect with Range kept.
	fres, fbody := get(http.DefaultClient, e.srv.URL+pkg, map[string]string{"Range": "bytes=10-19"}, "GET")
	<-e.handled
	if fres.StatusCode != http.StatusPartialContent || !bytesEqual(fbody, data[10:20]) {
		t.Errorf("followed Range: %d, %q", fres.StatusCode, fbody)
	}

	// Served here: conditional requests (zoo's ETag), HEAD, a draft, a
	// small file.
	for _, c := range []struct {
		what   string
		method string
		path   string
		as     string
		h      map[string]string
		status int
	}{
		{"If-None-Match matching", "GET", pkg, "", map[string]string{"If-None-Match": `"` + v.PackageSHA256 + `"`}, 304},
		{"Range with If-Range", "GET", pkg, "", map[string]string{"Range": "bytes=0-9", "If-Range": `"` + v.PackageSHA256 + `"`}, 206},
		{"HEAD", "HEAD", pkg, "", nil, 200},
		{"a draft, by its uploader", "GET", "/packages/" + id + "/" + strconv.Itoa(draft.Number), "alice", nil, 200},
		{"a small file", "GET", "/files/" + id + "/1/rdf.yaml", "", nil, 200},
	} {
		r := e.do(req{as: c.as, method: c.method, path: c.path, header: c.h})
		if r.StatusCode != c.status || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d (Location %q), want %d from the replica", c.what, r.StatusCode, r.Header.Get("Location"), c.status)
		}
	}
	// Visibility first: the draft is not found for others, never redirected.
	e.problem(e.get("", "/packages/"+id+"/"+strconv.Itoa(draft.Number)), http.StatusNotFound)

	// Counted: the redirected whole GET, not the followed range from 10
	// (nor the silent direct one).
	got, err := e.cat.Version(t.Context(), id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Downloads != 1 {
		t.Errorf("downloads = %d, want 1 (the redirected one)", got.Downloads)
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
