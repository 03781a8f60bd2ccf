package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

type hubEnv struct {
	*cachetest.Env
	srv    *httptest.Server
	client *http.Client // does not follow redirects, as Hub clients' HEAD
}

// newHubEnv mounts the hub routes in the full web server (so a clash with
// the core routes would panic here).
func newHubEnv(t *testing.T) *hubEnv {
	env := cachetest.New(t)
	h := New(env.Svc, Options{})
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: h.Routes(), Fallback: h.Root}))
	t.Cleanup(srv.Close)
	return &hubEnv{Env: env, srv: srv, client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (e *hubEnv) do(t *testing.T, method, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = e.srv.URL + u
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, b
}

func (e *hubEnv) info(t *testing.T, path string) ModelInfo {
	t.Helper()
	res, b := e.do(t, "GET", path, nil)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, res.StatusCode, b)
	}
	var mi ModelInfo
	if err := json.Unmarshal(b, &mi); err != nil {
		t.Fatal(err)
	}
	return mi
}

func blobBytes(t *testing.T, svc *repo.Service, sha string) []byte {
	b, err := svc.Blobs().Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, _ := io.ReadAll(b)
	return data
}

// TestClientSequence replays what huggingface_hub's hf_hub_download and
// snapshot_download send: model_info, HEAD resolve without following
// redirects (reading X-Repo-Commit, ETag / X-Linked-Etag, size, Location),
// then GET of the file or the Location, resumed with Range.
func TestClientSequence(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	id := v.ModelID
	// A client with its own Hugging Face token must not be refused.
	hfToken := map[string]string{"Authorization": "Bearer hf_someonesTokenFromHuggingFace"}

	// 1. model_info.
	mi := e.info(t, Prefix+"/api/models/"+id)
	if mi.ID != id || mi.SHA != v.PackageSHA256[:40] || mi.LibraryName != "bioimageio" || mi.Private || len(mi.Siblings) != len(v.Files) {
		t.Fatalf("model info %+v", mi)
	}
	var desc, weights Sibling
	for _, s := range mi.Siblings {
		switch {
		case s.RFilename == v.DescriptionFile:
			desc = s
		case strings.HasSuffix(s.RFilename, ".onnx"):
			weights = s
		}
	}
	if desc.LFS != nil || weights.LFS == nil || weights.LFS.SHA256 == "" || weights.LFS.Size != weights.Size || weights.LFS.PointerSize < 120 {
		t.Fatalf("siblings: desc %+v weights %+v", desc, weights)
	}

	// 2. HEAD resolve of a small file at "main": answered directly.
	res, _ := e.do(t, "HEAD", Prefix+"/"+id+"/resolve/main/"+desc.RFilename, hfToken)
	var descFile zoo.File
	for _, f := range v.Files {
		if f.Path == desc.RFilename {
			descFile = f
		}
	}
	if res.StatusCode != 200 || res.Header.Get("X-Repo-Commit") != mi.SHA || res.Header.Get("ETag") != `"`+descFile.SHA256+`"` ||
		res.Header.Get("Content-Length") != itoa(descFile.Size) {
		t.Fatalf("HEAD small file: %d %v", res.StatusCode, res.Header)
	}
	// 3. GET by commit (as snapshot_download does), resumed with Range.
	want := blobBytes(t, e.Svc, descFile.SHA256)
	res, body := e.do(t, "GET", Prefix+"/"+id+"/resolve/"+mi.SHA+"/"+desc.RFilename, map[string]string{"Range": "bytes=10-"})
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[10:]) || res.Header.Get("X-Repo-Commit") != mi.SHA {
		t.Fatalf("GET range: %d, %d bytes", res.StatusCode, len(body))
	}
	if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("a file by commit id should be immutable: %q", res.Header.Get("Cache-Control"))
	}

	// 4. HEAD resolve of the weights: 302 with the LFS headers.
	res, _ = e.do(t, "HEAD", Prefix+"/"+id+"/resolve/main/"+weights.RFilename, hfToken)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || res.Header.Get("X-Repo-Commit") != mi.SHA ||
		res.Header.Get("X-Linked-Etag") != `"`+weights.LFS.SHA256+`"` || res.Header.Get("X-Linked-Size") != itoa(weights.Size) ||
		!strings.HasPrefix(loc, e.srv.URL+Prefix+"/"+id+"/lfs/"+mi.SHA+"/") {
		t.Fatalf("HEAD weights: %d %v", res.StatusCode, res.Header)
	}
	// 5. GET the Location, in two ranges as a resumed download; only a
	// whole download counts.
	wbytes := blobBytes(t, e.Svc, weights.LFS.SHA256)
	res, part := e.do(t, "GET", loc, map[string]string{"Range": "bytes=100-199", "Authorization": hfToken["Authorization"]})
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, wbytes[100:200]) {
		t.Fatalf("GET location range: %d, %d bytes", res.StatusCode, len(part))
	}
	if m, _ := e.Svc.Catalog().Model(context.Background(), id); m.Downloads != 0 {
		t.Errorf("a partial download counted: %d", m.Downloads)
	}
	res, all := e.do(t, "GET", loc, nil)
	if res.StatusCode != 200 || !bytes.Equal(all, wbytes) || res.Header.Get("ETag") != `"`+weights.LFS.SHA256+`"` {
		t.Fatalf("GET location: %d", res.StatusCode)
	}
	if m, _ := e.Svc.Catalog().Model(context.Background(), id); m.Downloads != 1 {
		t.Errorf("whole download counted %d times, want 1", m.Downloads)
	}
	// Also with redirects followed (plain GET of the resolve URL).
	res2, err := http.Get(e.srv.URL + Prefix + "/" + id + "/resolve/1/" + weights.RFilename)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if !bytes.Equal(got, wbytes) {
		t.Errorf("following the redirect gives %d bytes, want %d", len(got), len(wbytes))
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRevisionsAndErrors(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	id := v.ModelID
	// A draft second version of the same model, and a draft model.
	draft2 := uploadVersion(t, e.Env, "unet2d-nuclei-broad-onnx", id)
	if draft2.Number != 2 || draft2.State == zoo.StatePublished {
		t.Fatalf("draft %+v", draft2)
	}
	other := e.Upload(t, "upsample-onnx", true)

	sha := v.PackageSHA256[:40]
	for _, rev := range []string{"main", "HEAD", "refs%2Fheads%2Fmain", "1", "v1", sha} {
		if mi := e.info(t, Prefix+"/api/models/"+id+"/revision/"+rev); mi.SHA != sha || mi.Version != 1 {
			t.Errorf("revision %s: %+v", rev, mi)
		}
	}
	if mi := e.info(t, "/api/models/"+id); mi.SHA != sha {
		t.Errorf("root route: %+v", mi)
	}
	for _, c := range []struct{ path, code string }{
		{Prefix + "/api/models/" + id + "/revision/2", "RevisionNotFound"},                           // the draft
		{Prefix + "/api/models/" + id + "/revision/" + other.PackageSHA256[:40], "RevisionNotFound"}, // a draft's commit
		{Prefix + "/api/models/" + id + "/revision/nope", "RevisionNotFound"},
		{Prefix + "/api/models/" + other.ModelID, "RepoNotFound"},
		{Prefix + "/api/models/no-such-model", "RepoNotFound"},
		{Prefix + "/" + id + "/resolve/main/no-such-file.txt", "EntryNotFound"},
		{Prefix + "/" + id + "/resolve/2/rdf.yaml", "RevisionNotFound"},
		{Prefix + "/" + other.ModelID + "/resolve/main/rdf.yaml", "RepoNotFound"},
		{Prefix + "/" + other.ModelID + "/lfs/" + other.PackageSHA256[:40] + "/" + draftWeights(other), "RepoNotFound"},
		{Prefix + "/" + id + "/lfs/main/weights.onnx", "RevisionNotFound"},
	} {
		res, b := e.do(t, "GET", c.path, nil)
		if res.StatusCode != 404 || res.Header.Get("X-Error-Code") != c.code {
			t.Errorf("%s: %d %s %s, want 404 %s", c.path, res.StatusCode, res.Header.Get("X-Error-Code"), b, c.code)
		}
	}
}

func draftWeights(v *zoo.Version) string {
	for _, f := range v.Files {
		if strings.HasSuffix(f.Path, ".onnx") {
			return f.Path
		}
	}
	return "weights.onnx"
}

// uploadVersion uploads a fixture package as a new draft version of model id.
func uploadVersion(t *testing.T, env *cachetest.Env, pkgName, id string) *zoo.Version {
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", pkgName), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	v, err := env.Svc.Upload(context.Background(), env.Contributor, &buf, repo.UploadOptions{Draft: true, ModelID: id})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestList(t *testing.T) {
	e := newHubEnv(t)
	a := e.Publish(t, "unet2d-nuclei-broad-onnx")
	b := e.Publish(t, "upsample-onnx")
	c := e.Publish(t, "unet2d-multi-tensor-onnx")
	draft := e.Upload(t, "unet2d-diff-output-shape-onnx", true)
	list := func(q string) ([]ModelInfo, http.Header) {
		t.Helper()
		res, body := e.do(t, "GET", Prefix+"/api/models?"+q, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, res.StatusCode, body)
		}
		var out []ModelInfo
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out, res.Header
	}
	all, _ := list("")
	if len(all) != 3 {
		t.Fatalf("list: %d models, want the 3 published", len(all))
	}
	for _, m := range all {
		if m.ID == draft.ModelID || m.Siblings != nil || m.Author != "alice" {
			t.Errorf("listed %+v", m)
		}
	}
	// Paging through the Link header gets every model once.
	seen := map[string]bool{}
	q := "limit=2"
	for pages := 0; q != ""; pages++ {
		page, hdr := list(q)
		for _, m := range page {
			if seen[m.ID] {
				t.Errorf("%s twice", m.ID)
			}
			seen[m.ID] = true
		}
		q = ""
		if link := hdr.Get("Link"); link != "" {
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ">")[0], "<"), ">"))
			if err != nil || !strings.Contains(link, `rel="next"`) {
				t.Fatalf("Link %q", link)
			}
			q = u.RawQuery
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 3 {
		t.Errorf("paged %d models", len(seen))
	}
	if got, _ := list("search=" + url.QueryEscape(a.ModelID)); len(got) != 1 || got[0].ID != a.ModelID {
		t.Errorf("search by id: %+v", got)
	}
	if got, _ := list("full=true&author=ALICE&limit=1"); len(got) != 1 || len(got[0].Siblings) == 0 {
		t.Errorf("full: %+v", got)
	}
	if got, _ := list("author=bob"); len(got) != 0 {
		t.Errorf("author bob: %+v", got)
	}
	if got, _ := list("library=transformers"); len(got) != 0 {
		t.Errorf("another library: %+v", got)
	}
	if got, _ := list("filter=bioimageio"); len(got) != 3 {
		t.Errorf("filter bioimageio: %d", len(got))
	}
	if got, _ := list("filter=bioimageio,no-such-tag"); len(got) != 0 {
		t.Errorf("filter with a missing tag: %d", len(got))
	}
	_, _ = b, c
	for _, bad := range []string{"limit=0", "limit=x", "sort=size", "direction=2", "full=maybe", "cursor=!!", "search=a&search=b"} {
		res, _ := e.do(t, "GET", Prefix+"/api/models?"+bad, nil)
		if res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
}

func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"search=a&limit=5", "filter=a,b&filter=c&sort=downloads&direction=-1", "cursor=bzox", "full=true", "%zz", "limit=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		lq, err := parseListQuery(q)
		if err != nil {
			return
		}
		if lq.Limit < 1 || lq.Limit > MaxLimit || lq.Offset < 0 || len(lq.Filters) > maxFilters || len(lq.Search) > maxParam {
			t.Fatalf("accepted out-of-limit query %q: %+v", s, lq)
		}
	})
}

func TestTreeEntries(t *testing.T) {
	h := New(nil, Options{LFSThreshold: 1000})
	sha := func(c string) string { return strings.Repeat(c, 64) }
	v := &zoo.Version{ModelID: "m", Number: 1, PackageSHA256: sha("p"), Files: []zoo.File{
		{Path: "rdf.yaml", SHA256: sha("a"), Size: 10},
		{Path: "weights.onnx", SHA256: sha("b"), Size: 100},
		{Path: "docs/README.md", SHA256: sha("c"), Size: 5000},
		{Path: "docs/img/a.png", SHA256: sha("d"), Size: 20},
	}}
	paths := func(es []TreeEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Type[:1]+":"+e.Path)
		}
		return out
	}
	es, found := h.entries(v, "", false)
	if want := []string{"d:docs", "f:rdf.yaml", "f:weights.onnx"}; !found || !slicesEqual(paths(es), want) {
		t.Errorf("root: %v, want %v", paths(es), want)
	}
	if es[2].LFS == nil || es[1].LFS != nil || es[2].OID != sha("b")[:40] {
		t.Errorf("lfs info: %+v", es)
	}
	es, _ = h.entries(v, "", true)
	if want := []string{"d:docs", "f:docs/README.md", "d:docs/img", "f:docs/img/a.png", "f:rdf.yaml", "f:weights.onnx"}; !slicesEqual(paths(es), want) {
		t.Errorf("recursive: %v, want %v", paths(es), want)
	}
	es, _ = h.entries(v, "docs", false)
	if want := []string{"f:docs/README.md", "d:docs/img"}; !slicesEqual(paths(es), want) || es[0].LFS == nil {
		t.Errorf("docs: %v, want %v (README over the threshold is LFS)", paths(es), want)
	}
	if _, found := h.entries(v, "nope", false); found {
		t.Error("a missing folder was found")
	}
	if _, found := h.entries(v, "rdf.yaml", false); found {
		t.Error("a file listed as a folder")
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

// The raw (git) view: small files as they are, large ones as pointers.
func TestRaw(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	weights := draftWeights(v)
	res, body := e.do(t, "GET", Prefix+"/"+v.ModelID+"/raw/main/"+weights, nil)
	var f zoo.File
	for _, x := range v.Files {
		if x.Path == weights {
			f = x
		}
	}
	if res.StatusCode != 200 || string(body) != lfsPointer(f) || len(body) != pointerSize(f.Size) ||
		!strings.Contains(string(body), "oid sha256:"+f.SHA256) {
		t.Errorf("raw weights: %d %q", res.StatusCode, body)
	}
	if res, _ := e.do(t, "HEAD", Prefix+"/"+v.ModelID+"/raw/main/"+v.DescriptionFile, nil); res.StatusCode != 200 || res.Header.Get("X-Repo-Commit") == "" {
		t.Errorf("HEAD raw description: %d", res.StatusCode)
	}
	if res, _ := e.do(t, "HEAD", Prefix+"/"+v.ModelID+"/raw/main/nope.txt", nil); res.StatusCode != 404 || res.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("HEAD raw missing: %d", res.StatusCode)
	}
}

// With HF_ENDPOINT=BASE (no /hf), clients ask for /{id}/resolve/{rev}/{path}
// at the root: the fallback serves it beside the core routes, and leaves
// other unknown paths to web's 404.
func TestResolveAtRoot(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	id := v.ModelID
	res, body := e.do(t, "GET", "/"+id+"/resolve/main/"+v.DescriptionFile, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Repo-Commit") != Commit(v) || len(body) == 0 {
		t.Fatalf("GET /%s/resolve/main/%s: %d %v", id, v.DescriptionFile, res.StatusCode, res.Header)
	}
	// The raw view and the LFS target too, and the tree and paths-info.
	if res, body := e.do(t, "GET", "/"+id+"/raw/main/"+v.DescriptionFile, nil); res.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("raw at the root: %d", res.StatusCode)
	}
	if res, _ := e.do(t, "HEAD", "/"+id+"/lfs/"+Commit(v)+"/"+v.DescriptionFile, nil); res.StatusCode != http.StatusOK {
		t.Errorf("lfs at the root: %d", res.StatusCode)
	}
	if res, body := e.do(t, "GET", "/api/models/"+id+"/tree/main?recursive=true", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(body), v.DescriptionFile) {
		t.Errorf("tree at the root: %d %s", res.StatusCode, body)
	}
	for _, p := range []string{"/" + id + "/resolve/main/no-such-file", "/" + id + "/other/main/" + v.DescriptionFile, "/nothing-here"} {
		if res, _ := e.do(t, "GET", p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}
