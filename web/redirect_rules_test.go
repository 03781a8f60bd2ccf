package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/repo"
)

// recPresigner signs URLs on a fake store and records the expiry asked
// for; with fail set it cannot sign.
type recPresigner struct {
	ttl  *time.Duration
	fail bool
}

func (p recPresigner) PresignDownload(_ context.Context, sha string, ttl time.Duration, _ blob.Response) (string, error) {
	if p.fail {
		return "", errors.New("no credentials")
	}
	*p.ttl = ttl
	return "https://store.invalid/" + sha, nil
}

// noFollow makes e's client report redirects instead of following them.
func noFollow(e *env) {
	e.srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// TestRedirectRules: which downloads go to the store (see Redirect): from
// MinBytes up (8 MiB when unset), never a conditional request (the store
// would answer 200 with the whole file where this server answers 304 or
// 412), with the TTL asked for (10 minutes when unset); a signing failure
// is served here. A redirected download counts when its range starts at 0.
func TestRedirectRules(t *testing.T) {
	var ttl time.Duration
	const min = 50
	e := newEnv(t, Options{TrustedProxies: loopback(t), Redirect: Redirect{Presigner: recPresigner{ttl: &ttl}, MinBytes: min}}, repo.Config{})
	noFollow(e)
	data := addFiles(t, packageZip(t, "upsample-onnx"), map[string]string{"at.txt": strings.Repeat("a", min), "under.txt": strings.Repeat("u", min-1)})
	v := e.published("alice", "", data)
	id := v.ModelID
	client := 0
	get := func(path string, h map[string]string) resp {
		t.Helper()
		client++
		hh := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", client)}
		for k, v := range h {
			hh[k] = v
		}
		return e.do(req{method: "GET", path: path, header: hh})
	}
	redirected := func(r resp) bool { return r.StatusCode == http.StatusFound && r.Header.Get("Location") != "" }
	if r := get("/files/"+id+"/1/at.txt", nil); !redirected(r) {
		t.Errorf("a file of MinBytes: %d, not redirected", r.StatusCode)
	}
	if ttl != 10*time.Minute {
		t.Errorf("default TTL %v, want 10m", ttl)
	}
	if r := get("/files/"+id+"/1/under.txt", nil); redirected(r) || string(r.body) != strings.Repeat("u", min-1) {
		t.Errorf("a file under MinBytes: %d, redirected", r.StatusCode)
	}
	for _, h := range []string{"If-None-Match", "If-Match", "If-Range", "If-Modified-Since", "If-Unmodified-Since"} {
		val := `"x"`
		if strings.Contains(h, "Since") {
			val = time.Now().UTC().Format(http.TimeFormat)
		}
		if r := get("/files/"+id+"/1/at.txt", map[string]string{h: val}); redirected(r) {
			t.Errorf("a GET with %s redirected", h)
		}
	}
	// Counting: the weights redirected count as downloads from byte 0
	// only, and never with ?silent=1.
	weights := "/files/" + id + "/1/weights.onnx"
	downloads := func() int64 {
		got, err := e.cat.Version(t.Context(), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		return got.Downloads
	}
	for _, s := range []struct {
		what   string
		path   string
		h      map[string]string
		counts bool
	}{
		{"whole", weights, nil, true},
		{"from 0", weights, map[string]string{"Range": "bytes=0-99"}, true},
		{"from 100", weights, map[string]string{"Range": "bytes=100-199"}, false},
		{"silent", weights + "?silent=1", nil, false},
		{"not weights", "/files/" + id + "/1/at.txt", nil, false},
	} {
		before := downloads()
		if r := get(s.path, s.h); !redirected(r) {
			t.Fatalf("%s: %d, not redirected", s.what, r.StatusCode)
		}
		if got := downloads() - before; got != map[bool]int64{true: 1, false: 0}[s.counts] {
			t.Errorf("a redirected download (%s) counted %d times", s.what, got)
		}
	}

	// A TTL of its own; a store that cannot sign: served here.
	e2 := newEnv(t, Options{Redirect: Redirect{Presigner: recPresigner{ttl: &ttl}, MinBytes: 1, TTL: 3 * time.Minute}}, repo.Config{})
	noFollow(e2)
	v2 := e2.published("alice", "", data)
	if r := e2.get("", "/files/"+v2.ModelID+"/1/at.txt"); !redirected(r) || ttl != 3*time.Minute {
		t.Errorf("TTL 3m: %d, TTL asked %v", r.StatusCode, ttl)
	}
	e3 := newEnv(t, Options{Redirect: Redirect{Presigner: recPresigner{fail: true}, MinBytes: 1}}, repo.Config{})
	noFollow(e3)
	v3 := e3.published("alice", "", data)
	if r := e3.get("", "/files/"+v3.ModelID+"/1/at.txt"); r.StatusCode != 200 || string(r.body) != strings.Repeat("a", min) {
		t.Errorf("signing failed: %d %q", r.StatusCode, r.body)
	}
	// MinBytes unset: 8 MiB, so a small file is served here.
	e4 := newEnv(t, Options{Redirect: Redirect{Presigner: recPresigner{ttl: &ttl}}}, repo.Config{})
	noFollow(e4)
	v4 := e4.published("alice", "", data)
	if r := e4.get("", "/files/"+v4.ModelID+"/1/at.txt"); r.StatusCode != 200 {
		t.Errorf("a small file with the default MinBytes: %d", r.StatusCode)
	}
}
