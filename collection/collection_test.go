package collection

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/spec"
)

type fake struct {
	models   []*zoo.Model
	versions []*zoo.Version
	descs    map[string]*spec.Model
	raws     map[string]string // raw descriptions by id/n, for the extras
	reads    atomic.Int64      // Description calls that returned a description (concurrent requests)
	down     atomic.Bool       // every read fails as in an outage of the blob store and catalog
}

func (f *fake) RawDescription(ctx context.Context, v *zoo.Version) ([]byte, error) {
	if f.down.Load() {
		return nil, zoo.E("fake", zoo.Unavailable, nil, "cannot reach the S3 endpoint")
	}
	r, ok := f.raws[fmt.Sprintf("%s/%d", v.ModelID, v.Number)]
	if !ok {
		return []byte("type: model\n"), nil
	}
	return []byte(r), nil
}

func (f *fake) UserName(ctx context.Context, id int64) (string, error) {
	if f.down.Load() {
		return "", zoo.E("fake", zoo.Unavailable, nil, "the database is unavailable")
	}
	if id == 0 {
		return "", zoo.E("fake", zoo.NotFound, nil, "no user")
	}
	return fmt.Sprintf("user%d", id), nil
}

func (f *fake) Public(ctx context.Context) ([]*zoo.Model, []*zoo.Version, error) {
	return f.models, f.versions, nil
}

func (f *fake) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	if f.down.Load() {
		return nil, zoo.E("fake", zoo.Unavailable, nil, "cannot reach the S3 endpoint")
	}
	d, ok := f.descs[fmt.Sprintf("%s/%d", v.ModelID, v.Number)]
	if !ok {
		return nil, zoo.E("fake", zoo.NotFound, nil, "none")
	}
	f.reads.Add(1)
	return d, nil
}

var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

func at(h int) *time.Time { t := t0.Add(time.Duration(h) * time.Hour); return &t }

func fixture() *fake {
	onnx2D := func(name string) *spec.Model {
		return &spec.Model{Type: "model", Name: name, Description: "about " + name, License: "CC-BY-4.0",
			Tags: []string{"segmentation", "2d"}, Covers: []string{"cover.png", "https://example.org/c.png"},
			Authors: []spec.Author{{Name: "Ada", ORCID: "0000-0002-1825-0097"}},
			Inputs:  []spec.Tensor{{Axes: []spec.Axis{{Type: "batch"}, {Type: "channel"}, {Type: "space"}, {Type: "space"}}}},
			Outputs: []spec.Tensor{{Axes: []spec.Axis{{Type: "batch"}, {Type: "channel"}, {Type: "space"}, {Type: "space"}}}},
			Weights: spec.Weights{ONNX: &spec.WeightsEntry{Source: "w.onnx"}, PytorchStateDict: &spec.WeightsEntry{Source: "w.pt"}}}
	}
	files := []zoo.File{{Path: "rdf.yaml", SHA256: strings.Repeat("a", 64), Size: 10}}
	report := json.RawMessage(`{"status":"passed","formats":{"onnx":{"status":"passed","runs":true},"pytorch_state_dict":{"status":"not-supported"}}}`)
	f := &fake{descs: map[string]*spec.Model{}, raws: map[string]string{}}
	f.models = []*zoo.Model{{ID: "shy-owl", Type: "model", Downloads: 5}, {ID: "bold-cat", Type: "model", Downloads: 50}, {ID: "tiny-ant", Type: "dataset"}}
	f.versions = []*zoo.Version{
		{ModelID: "shy-owl", Number: 1, State: zoo.StateRetired, RetiredReason: "bug", PublishedAt: at(1), Files: files, DescriptionFile: "rdf.yaml", TestStatus: zoo.TestPassed, TestReport: report, PackageSHA256: strings.Repeat("b", 64)},
		{ModelID: "shy-owl", Number: 2, State: zoo.StatePublished, PublishedAt: at(5), Files: files, DescriptionFile: "rdf.yaml", TestStatus: zoo.TestPassed, TestReport: report, PackageSHA256: strings.Repeat("c", 64)},
		{ModelID: "shy-owl", Number: 3, State: zoo.StateDraft, Files: files, DescriptionFile: "rdf.yaml"},
		{ModelID: "bold-cat", Number: 1, State: zoo.StatePublished, PublishedAt: at(2), Files: files, DescriptionFile: "rdf.yaml", TestStatus: zoo.TestFailed,
			TestReport: json.RawMessage(`{"status":"failed","formats":{"onnx":{"status":"failed"}}}`)},
		{ModelID: "tiny-ant", Number: 1, State: zoo.StatePublished, PublishedAt: at(3), Files: files, DescriptionFile: "rdf.yaml"},
		{ModelID: "secret-eel", Number: 1, State: zoo.StateSubmitted, Files: files, DescriptionFile: "rdf.yaml"},
	}
	for _, v := range f.versions {
		f.descs[fmt.Sprintf("%s/%d", v.ModelID, v.Number)] = onnx2D(fmt.Sprintf("%s v%d", v.ModelID, v.Number))
	}
	delete(f.descs, "tiny-ant/1") // an unreadable description still lists
	for _, v := range f.versions {
		v.UploaderID = 7
	}
	f.raws["shy-owl/2"] = `type: model
links: [deepimagej/deepimagej, zero/notebook_u-net, 42]
badges:
  - {label: Open in Colab, icon: badge.svg, url: "https://colab.example.org/x"}
  - {label: no url}
  - not a badge
icon: icon.png
training_data: {id: tasty-apple}
uploader: {email: ada@example.org, name: Ada}
`
	f.raws["bold-cat/1"] = "icon: 🐈\ntraining_data: not a mapping\nlinks: not a list\n"
	return f
}

func get(t *testing.T, h http.HandlerFunc, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "http://zoo.test"+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	return rec
}

func TestCollectionJSON(t *testing.T) {
	f := fixture()
	h := New(f, Options{Base: "https://zoo.example.org/"})
	rec := get(t, h.ServeCollection, "/collection.json", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// Decode generically too: consumers read the bioimage.io field names.
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "type", "name", "description", "config", "collection", "authors", "tags", "cite"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("top-level field %s missing", k)
		}
	}
	entries := raw["collection"].([]any)
	for _, k := range []string{"id", "type", "name", "description", "authors", "badges", "covers", "created", "download_count",
		"download_url", "license", "links", "tags", "rdf_source", "source", "root_url", "nickname"} {
		if _, ok := entries[0].(map[string]any)[k]; !ok {
			t.Errorf("entry field %s missing", k)
		}
	}
	var c Collection
	json.Unmarshal(rec.Body.Bytes(), &c)
	var ids []string
	for _, e := range c.Collection {
		ids = append(ids, e.ID)
	}
	// By downloads, then newest.
	if !slices.Equal(ids, []string{"bold-cat", "shy-owl", "tiny-ant"}) {
		t.Errorf("entries %v", ids)
	}
	if c.Type != "collection" || c.Config.NResources["model"] != 2 || c.Config.NResources["dataset"] != 1 || c.Config.NResourceVersions["model"] != 3 ||
		c.Config.URLRoot != "https://zoo.example.org" {
		t.Errorf("collection head: %+v", c.Config)
	}
	owl := c.Collection[1]
	if owl.Name != "shy-owl v2" || owl.DownloadCount != 5 || owl.License != "CC-BY-4.0" ||
		owl.DownloadURL != "https://zoo.example.org/packages/shy-owl/2" ||
		owl.RDFSource != "https://zoo.example.org/files/shy-owl/2/rdf.yaml" ||
		!slices.Equal(owl.Covers, []string{"https://zoo.example.org/files/shy-owl/2/cover.png", "https://example.org/c.png"}) ||
		owl.Authors[0].ORCID != "0000-0002-1825-0097" || owl.Created != "2025-06-01T15:00:00Z" {
		t.Errorf("entry %+v", owl)
	}
	if len(owl.ZooVersions) != 2 || owl.ZooVersions[0].Version != "2" || owl.ZooVersions[1].State != zoo.StateRetired || owl.ZooVersions[1].RetiredReason != "bug" {
		t.Fatalf("versions %+v (the draft must not be listed)", owl.ZooVersions)
	}
	v2 := owl.ZooVersions[0]
	if v2.Test.Status != zoo.TestPassed || v2.Test.Formats["onnx"] != "passed" || v2.Test.Formats["pytorch_state_dict"] != "not-supported" ||
		v2.SHA256 != strings.Repeat("a", 64) || v2.PackageSHA256 != strings.Repeat("c", 64) {
		t.Errorf("summary %+v", v2)
	}
	// Declared: tools running onnx or pytorch_state_dict 2D; tested: only onnx tools.
	if !slices.Contains(v2.Compatibility.Declared, "biapy") || slices.Contains(v2.Compatibility.Tested, "biapy") ||
		!slices.Contains(v2.Compatibility.Tested, "ilastik") || !slices.Contains(v2.Compatibility.Tested, "zoo") {
		t.Errorf("compatibility %+v", v2.Compatibility)
	}
	cat := c.Collection[0]
	if cat.ZooVersions[0].Test.Status != zoo.TestFailed || len(cat.ZooVersions[0].Compatibility.Tested) != 0 || len(cat.Compatibility.Declared) == 0 {
		t.Errorf("failed test: %+v", cat.ZooVersions[0])
	}
	ant := c.Collection[2]
	// Unreadable description: listed from the version record alone.
	if ant.Type != "dataset" || ant.ZooVersions[0].Test.Status != zoo.TestPending || len(ant.ZooVersions[0].Compatibility.Declared) != 0 {
		t.Errorf("dataset entry %+v", ant)
	}
	if strings.Contains(rec.Body.String(), "secret-eel") {
		t.Error("a submitted version is listed")
	}
}

func TestIndexJSON(t *testing.T) {
	h := New(fixture(), Options{Base: "https://zoo.example.org"})
	rec := get(t, h.ServeIndex, "/index.json", nil)
	var ix Index
	if err := json.Unmarshal(rec.Body.Bytes(), &ix); err != nil {
		t.Fatal(err)
	}
	if ix.Total != 3 || ix.CountPerType["model"] != 2 || ix.CountPerType["dataset"] != 1 || ix.Timestamp != "2025-06-01T15:00:00Z" {
		t.Errorf("index head %+v", ix)
	}
	if ix.Items[0].ID != "bold-cat" || ix.Items[2].ID != "tiny-ant" {
		t.Errorf("items not by id: %+v", ix.Items)
	}
	v := ix.Items[1].Versions[0]
	if v.Version != "2" || v.CreatedAt != "2025-06-01T15:00:00Z" || v.Source != "https://zoo.example.org/files/shy-owl/2/rdf.yaml" || v.SHA256 == "" {
		t.Errorf("index version %+v", v)
	}
}

// An outage of the blob store (and catalog) while the collection is
// built must not outlive itself: the entries built then lack authors,
// compatibility and uploader, and must not be served once the stores are
// back (issue #22: seven minutes later three of five models were still
// degraded on one replica).
func TestOutageIsNotCached(t *testing.T) {
	f := fixture()
	h := New(f, Options{})
	f.down.Store(true)
	for _, route := range []func(http.ResponseWriter, *http.Request){h.ServeCollection, h.ServeIndex} {
		get(t, route, "/", nil) // built during the outage
	}
	f.down.Store(false)
	var c struct {
		Collection []struct {
			ID       string `json:"id"`
			Authors  []any  `json:"authors"`
			Uploader *struct {
				Name string `json:"name"`
			} `json:"uploader"`
		} `json:"collection"`
	}
	rec := get(t, h.ServeCollection, "/collection.json", nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range c.Collection {
		if strings.HasPrefix(e.ID, "tiny-ant") {
			continue // its description is unreadable for good
		}
		n++
		if len(e.Authors) == 0 {
			t.Errorf("%s: no authors after the outage ended (a degraded entry was cached)", e.ID)
		}
	}
	if n == 0 {
		t.Fatalf("no entries: %s", rec.Body)
	}
	// Every file equals what a handler that never saw the outage serves.
	fresh := New(f, Options{})
	for _, c := range []struct {
		name      string
		got, want func(http.ResponseWriter, *http.Request)
	}{{"/collection.json", h.ServeCollection, fresh.ServeCollection}, {"/index.json", h.ServeIndex, fresh.ServeIndex},
		{"/all_versions.json", h.ServeAllVersions, fresh.ServeAllVersions}} {
		got, want := get(t, c.got, c.name, nil).Body.String(), get(t, c.want, c.name, nil).Body.String()
		if got != want {
			t.Errorf("%s after the outage differs from a fresh build:\n got %.300s\nwant %.300s", c.name, got, want)
		}
	}
}

func TestETagAndCache(t *testing.T) {
	f := fixture()
	h := New(f, Options{})
	rec := get(t, h.ServeCollection, "/collection.json", nil)
	etag := rec.Header().Get("ETag")
	if etag == "" || !strings.Contains(rec.Body.String(), `"url_root":"http://zoo.test"`) {
		t.Fatalf("etag %q, body %.300s", etag, rec.Body)
	}
	reads := f.reads.Load()
	if rec := get(t, h.ServeCollection, "/collection.json", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidation: %d", rec.Code)
	}
	if f.reads.Load() != reads {
		t.Errorf("descriptions of immutable versions read again: %d → %d", reads, f.reads.Load())
	}
	// A change shows at once: a new download count changes the body.
	f.models[0].Downloads++
	if rec := get(t, h.ServeCollection, "/collection.json", map[string]string{"If-None-Match": etag}); rec.Code != 200 || rec.Header().Get("ETag") == etag {
		t.Errorf("changed collection still matches its old ETag: %d", rec.Code)
	}
}

// On a real repository: published versions appear at once, drafts never.
func TestRepoNeverStale(t *testing.T) {
	env := cachetest.New(t)
	ctx := context.Background()
	h := New(RepoSource(env.Svc), Options{Base: "https://z.test"})
	c, err := h.Collection(ctx, "https://z.test")
	if err != nil || len(c.Collection) != 0 {
		t.Fatalf("empty instance: %+v %v", c, err)
	}
	pub := env.Publish(t, "unet2d-nuclei-broad-onnx")
	env.Upload(t, "upsample-onnx", true)
	c, err = h.Collection(ctx, "https://z.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Collection) != 1 || c.Collection[0].ID != pub.ModelID {
		t.Fatalf("collection %+v", c.Collection)
	}
	e := c.Collection[0]
	if e.Name == "" || len(e.Authors) == 0 || !strings.HasSuffix(e.RDFSource, "/"+pub.DescriptionFile) ||
		!slices.Contains(e.Compatibility.Declared, "ilastik") {
		t.Errorf("entry from the fixture: %+v", e)
	}
	// Every URL is served by this instance's routes.
	for _, u := range append([]string{e.DownloadURL, e.RDFSource}, e.Covers...) {
		if !strings.HasPrefix(u, "https://z.test/files/"+pub.ModelID+"/1/") && u != "https://z.test/packages/"+pub.ModelID+"/1" {
			t.Errorf("url %s", u)
		}
	}
}

// Concurrent requests share the per-version cache safely (run with -race).
func TestConcurrentRequests(t *testing.T) {
	h := New(fixture(), Options{Base: "https://zoo.example.org"})
	done := make(chan string)
	for range 8 {
		go func() {
			rec := get(t, h.ServeCollection, "/collection.json", nil)
			done <- rec.Header().Get("ETag")
		}()
	}
	first := <-done
	for range 7 {
		if e := <-done; e != first {
			t.Errorf("concurrent answers differ: %s vs %s", e, first)
		}
	}
}

// A version zoo converted says which formats it made and where the package
// with them is.
func TestConvertedFormatsListed(t *testing.T) {
	f := fixture()
	f.versions[1].Converted = &zoo.Conversion{Status: "converted", Formats: []zoo.ConvertedFormat{{Format: "torchscript"}, {Format: "onnx"}}, Package: &zoo.File{Path: "converted.zip"}}
	h := New(f, Options{Base: "https://zoo.example.org"})
	rec := get(t, h.ServeIndex, "/index.json", nil)
	var ix Index
	if err := json.Unmarshal(rec.Body.Bytes(), &ix); err != nil {
		t.Fatal(err)
	}
	var got, other *VersionSummary
	for _, it := range ix.Items {
		for i := range it.Versions {
			if it.ID == "shy-owl" && it.Versions[i].Number == 2 {
				got = &it.Versions[i]
			} else if other == nil {
				other = &it.Versions[i]
			}
		}
	}
	if got == nil || strings.Join(got.Test.Converted, ",") != "torchscript,onnx" || got.Test.ConvertedURL != "https://zoo.example.org/api/v1/models/shy-owl/versions/2/converted.zip" {
		t.Fatalf("converted version: %+v", got)
	}
	if other != nil && (other.Test.Converted != nil || other.Test.ConvertedURL != "") {
		t.Errorf("a version zoo did not convert lists %+v", other.Test)
	}
}
