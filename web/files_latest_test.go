package web

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/zoo-bioimage/zoo/repo"
)

// /files/{id}/{path...} without a version names a file of the latest
// published version, so that one URL pattern serves both "ID" and "ID/N"
// (bioimageio.spec's BIOIMAGEIO_COLLECTION_HTTP_PATTERN
// BASE/files/{bioimageio_id}/rdf.yaml, whose files it then reads beside
// the description).
func TestFilesWithoutVersion(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	v1 := e.published("alice", "", data)
	id := v1.ModelID
	v2data := editZip(t, data, func(b []byte) []byte { return bytes.Replace(b, []byte("name: "), []byte("name: v2 "), 1) })
	v2 := e.published("alice", "?model="+id, v2data)
	if v2.Number != 2 {
		t.Fatalf("second version is %d", v2.Number)
	}
	desc := func(n string) []byte { return e.get("", "/files/"+id+"/"+n+"/rdf.yaml").body }
	steps := []struct {
		path   string
		status int
		body   []byte // nil: not compared
	}{
		{"/files/" + id + "/rdf.yaml", 200, desc("2")},
		{"/files/" + id + "/weights.onnx", 200, e.get("", "/files/"+id+"/2/weights.onnx").body},
		{"/files/" + id + "/1/rdf.yaml", 200, desc("1")},
		{"/files/" + id + "/latest/rdf.yaml", 200, desc("2")},
		{"/files/" + id + "/nothing.txt", 404, nil},
		{"/files/" + id + "/sub/nothing.txt", 404, nil},
		{"/files/" + id + "/9/rdf.yaml", 404, nil},
		{"/files/" + id + "/01/rdf.yaml", 400, nil},
		{"/files/no-such-model/rdf.yaml", 404, nil},
	}
	for _, s := range steps {
		r := e.get("", s.path)
		if r.StatusCode != s.status {
			t.Errorf("%s: %d, want %d: %s", s.path, r.StatusCode, s.status, r.body)
			continue
		}
		if r.Request.URL.Path != s.path {
			t.Errorf("%s: redirected to %s (clients that do not follow redirects fail)", s.path, r.Request.URL.Path)
		}
		if s.body != nil && !bytes.Equal(r.body, s.body) {
			t.Errorf("%s: not the expected bytes", s.path)
		}
		if s.status == 200 && r.Header.Get("Cache-Control") != "public, no-cache" && s.path != "/files/"+id+"/1/rdf.yaml" {
			t.Errorf("%s: a moving target cached as %q", s.path, r.Header.Get("Cache-Control"))
		}
	}
	if bytes.Equal(desc("1"), desc("2")) {
		t.Fatal("the two versions' descriptions are the same; the test proves nothing")
	}
	// HEAD too.
	if r := e.do(req{method: "HEAD", path: "/files/" + id + "/rdf.yaml"}); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d", r.StatusCode)
	}
}

// TestCacheControlByAddress: on every download route a URL that names a
// version number is immutable, and one that means "the latest" (no
// number, or "latest") must be revalidated — a cache keeping it would
// serve the old version after a new one is published.
func TestCacheControlByAddress(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	v := e.published("alice", "", packageZip(t, "upsample-onnx"))
	id := v.ModelID
	for path, want := range map[string]string{
		"/files/" + id + "/rdf.yaml":        "public, no-cache",
		"/files/" + id + "/latest/rdf.yaml": "public, no-cache",
		"/files/" + id + "/1/rdf.yaml":      "public, max-age=31536000, immutable",
		"/packages/" + id:                   "public, no-cache",
		"/packages/" + id + "/1":            "public, max-age=31536000, immutable",
	} {
		r := e.get("", path)
		if r.StatusCode != 200 {
			t.Errorf("%s: %d", path, r.StatusCode)
			continue
		}
		if got := r.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
		}
		if lm := r.Header.Get("Last-Modified"); (lm == "") != (want == "public, no-cache") {
			t.Errorf("%s: Last-Modified %q (a moving target is validated by its ETag alone)", path, lm)
		}
	}
}

func TestVersionLike(t *testing.T) {
	for seg, want := range map[string]bool{
		"latest": true, "0": true, "9": true, "10": true, "1234567890": true,
		"": false, "/": false, ":": false, "1a": false, "v1": false, "Latest": false,
	} {
		if got := versionLike(seg); got != want {
			t.Errorf("versionLike(%q) = %v, want %v", seg, got, want)
		}
	}
}
