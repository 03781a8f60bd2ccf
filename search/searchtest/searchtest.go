// Package searchtest is the conformance suite every search.Store backend
// (sqlite, postgres) runs, and the search benchmark.
package searchtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
)

var ctx = context.Background()

// Backend is a catalog that stores a search index.
type Backend interface {
	zoo.Catalog
	search.Store
}

// Run runs the suite; open returns an empty backend.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Ranking", testRanking},
		{"Facets", testFacets},
		{"Filters", testFilters},
		{"Sort", testSort},
		{"Pagination", testPagination},
		{"DraftsNeverReturned", testDrafts},
		{"LatestPublishedReplacesOlder", testLatest},
		{"Reindex", testReindex},
		{"TestFacet", testTestFacet},
		{"HostileText", testHostile},
		{"Unicode", testUnicode},
		{"BadQueries", testBadQueries},
		{"Unindexed", testUnindexed},
		{"VisibilityFollowsCatalog", testVisibilityFollowsCatalog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			tc.fn(t, newEnv(t, db))
		})
	}
}

type env struct {
	t     *testing.T
	db    Backend
	idx   *search.Engine
	user  *zoo.User
	clock time.Time
}

func newEnv(t *testing.T, db Backend) *env {
	u, err := db.CreateUser(ctx, "alice", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tools := func(d *spec.Model) []string {
		if d.Weights.ONNX != nil {
			return []string{"onnx-tool"}
		}
		return nil
	}
	return &env{t: t, db: db, idx: search.New(db, nil, tools), user: u, clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// model is a description with two 2-D inputs and onnx weights unless
// changed by the caller.
func model(name, description string, tags ...string) *spec.Model {
	axes := []spec.Axis{{Type: spec.AxisBatch, ID: "batch"}, {Type: spec.AxisChannel, ID: "channel"}, {Type: spec.AxisSpace, ID: "y"}, {Type: spec.AxisSpace, ID: "x"}}
	return &spec.Model{
		Type: "model", Name: name, Description: description, Tags: tags, License: "MIT",
		Authors: []spec.Author{{Name: "Ada Lovelace"}},
		Covers:  []string{"cover.png"},
		Inputs:  []spec.Tensor{{ID: "raw", Axes: axes}},
		Weights: spec.Weights{ONNX: &spec.WeightsEntry{Source: "w.onnx"}},
	}
}

// upload stores a new version of model id (created if new) in state
// submitted and indexes it.
func (e *env) upload(id string, d *spec.Model) *zoo.Version {
	e.t.Helper()
	var m *zoo.Model
	if _, err := e.db.Model(ctx, id); zoo.KindOf(err) == zoo.NotFound {
		m = &zoo.Model{ID: id, Type: cmpOr(d.Type, "model"), OwnerID: e.user.ID, Maintainers: []int64{e.user.ID}}
	}
	v := &zoo.Version{
		ModelID: id, State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: e.user.ID,
		// The catalog's record holds valid text (repo's validation ensures
		// it); the description given to the index may not.
		Name: valid(d.Name), Description: valid(d.Description), FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
		Files:         []zoo.File{{Path: "rdf.yaml", SHA256: hash(id + d.Name), Size: 10}},
		PackageSHA256: hash(id + d.Name + "zip"), PackageSize: 10, CreatedAt: e.clock,
	}
	if err := e.db.CreateVersion(ctx, m, v, zoo.AuditEntry{ActorID: e.user.ID, Action: "upload"}); err != nil {
		e.t.Fatal(err)
	}
	e.index(v, d)
	return v
}

func valid(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "") }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (e *env) index(v *zoo.Version, d *spec.Model) {
	e.t.Helper()
	v, err := e.db.Version(ctx, v.ModelID, v.Number)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.idx.IndexVersion(ctx, v, d); err != nil {
		e.t.Fatal(err)
	}
}

// publish uploads and publishes a version; each publication is a day after
// the previous one.
func (e *env) publish(id string, d *spec.Model) *zoo.Version {
	e.t.Helper()
	v := e.upload(id, d)
	e.clock = e.clock.Add(24 * time.Hour)
	e.transition(v, zoo.StatePublished)
	return v
}

func (e *env) transition(v *zoo.Version, to zoo.State) {
	e.t.Helper()
	from := []zoo.State{zoo.StateSubmitted, zoo.StatePublished}
	if err := e.db.Transition(ctx, v.ModelID, v.Number, from, to, zoo.AuditEntry{ActorID: e.user.ID, Action: string(to), At: e.clock}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) search(q search.Query) *search.Results {
	e.t.Helper()
	res, err := e.idx.Search(ctx, q)
	if err != nil {
		e.t.Fatalf("search %+v: %v", q, err)
	}
	if len(res.Hits) > res.Total {
		e.t.Fatalf("search %+v: %d hits of total %d", q, len(res.Hits), res.Total)
	}
	return res
}

func ids(res *search.Results) []string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, fmt.Sprintf("%s/%d", h.ID, h.Version))
	}
	return out
}

func (e *env) want(q search.Query, want ...string) *search.Results {
	e.t.Helper()
	res := e.search(q)
	if got := ids(res); !slices.Equal(got, want) {
		e.t.Errorf("search %+v: got %v, want %v", q, got, want)
	}
	return res
}

func (e *env) wantSet(q search.Query, want ...string) *search.Results {
	e.t.Helper()
	res := e.search(q)
	got := ids(res)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("search %+v: got %v, want (any order) %v", q, got, want)
	}
	if res.Total != len(want) {
		e.t.Errorf("search %+v: total %d, want %d", q, res.Total, len(want))
	}
	return res
}

func facet(res *search.Results, name string) map[string]int {
	out := map[string]int{}
	for _, fv := range res.Facets[name] {
		out[fv.Value] = fv.Count
	}
	return out
}

func testRanking(t *testing.T, e *env) {
	e.publish("in-name", model("Nuclei segmentation U-Net", "A network for fluorescence images."))
	e.publish("in-desc", model("Cell tracker", "Tracks cells; works on nuclei too."))
	e.publish("unrelated", model("Denoiser", "Noise2Void for electron microscopy."))
	res := e.want(search.Query{Text: "nuclei"}, "in-name/1", "in-desc/1")
	if res.Hits[0].Score <= res.Hits[1].Score || res.Hits[1].Score <= 0 {
		t.Errorf("scores %v, %v: a match in the name must score higher than one in the description, both > 0", res.Hits[0].Score, res.Hits[1].Score)
	}
	// All words must match; stemming finds other forms; the last word is a prefix.
	e.want(search.Query{Text: "nuclei fluorescence"}, "in-name/1")
	e.want(search.Query{Text: "segmenting"}, "in-name/1")
	e.want(search.Query{Text: "electr"}, "unrelated/1")
	e.want(search.Query{Text: "electr "})
	e.want(search.Query{Text: "absentword"})
	// Tags and authors are searched.
	d := model("Plain", "Plain.", "zebrafish")
	d.Authors = []spec.Author{{Name: "Grace Hopper"}}
	e.publish("tagged", d)
	e.want(search.Query{Text: "zebrafish"}, "tagged/1")
	e.want(search.Query{Text: "hopper"}, "tagged/1")
	// A hit carries what a result list shows.
	h := e.search(search.Query{Text: "zebrafish"}).Hits[0]
	if h.Name != "Plain" || h.Type != "model" || h.License != "MIT" || !slices.Equal(h.Tags, []string{"zebrafish"}) ||
		!slices.Equal(h.Authors, []string{"Grace Hopper"}) || !slices.Equal(h.WeightFormats, []string{"onnx"}) ||
		!slices.Equal(h.Covers, []string{"cover.png"}) || h.Test != "pending" || h.PublishedAt.IsZero() {
		t.Errorf("hit %+v lacks fields of its description", h)
	}
}

func testFacets(t *testing.T, e *env) {
	a := model("Alpha", "segmentation", "Nuclei", "2D")
	b := model("Beta", "segmentation", "nuclei")
	b.License = "CC-BY-4.0"
	b.Weights = spec.Weights{Torchscript: &spec.WeightsEntry{Source: "w.pt"}, ONNX: &spec.WeightsEntry{Source: "w.onnx"}}
	b.Inputs[0].Axes = append(b.Inputs[0].Axes, spec.Axis{Type: spec.AxisSpace, ID: "z"}, spec.Axis{Type: spec.AxisTime, ID: "t"})
	c := model("Gamma", "denoising", "noise")
	c.Weights = spec.Weights{Torchscript: &spec.WeightsEntry{Source: "w.pt"}}
	e.publish("alpha", a)
	e.publish("beta", b)
	e.publish("gamma", c)
	ds := &spec.Model{Type: "dataset", Name: "Delta data", Description: "segmentation images", License: "CC0-1.0"}
	e.publish("delta", ds)

	res := e.search(search.Query{})
	if res.Total != 4 {
		t.Fatalf("total %d, want 4", res.Total)
	}
	checks := map[string]map[string]int{
		"type":          {"model": 3, "dataset": 1},
		"tag":           {"nuclei": 2, "2d": 1, "noise": 1},
		"license":       {"MIT": 2, "CC-BY-4.0": 1, "CC0-1.0": 1},
		"weight_format": {"onnx": 2, "torchscript": 2},
		"dims":          {"2d": 2, "3d": 1, "time": 1},
		"test":          {"pending": 4},
		"tool":          {"onnx-tool": 2},
	}
	for f, want := range checks {
		if got := facet(res, f); !mapsEqual(got, want) {
			t.Errorf("facet %s: got %v, want %v", f, got, want)
		}
	}
	for _, f := range search.Facets {
		if _, ok := res.Facets[f]; !ok {
			t.Errorf("facet %s missing from the results (an empty facet is an empty list)", f)
		}
	}
	// Counts are over the whole filtered result, not the page.
	res = e.search(search.Query{Text: "segmentation", Limit: 1})
	if res.Total != 3 || len(res.Hits) != 1 {
		t.Fatalf("total %d hits %d, want 3 and 1", res.Total, len(res.Hits))
	}
	if got := facet(res, "license"); !mapsEqual(got, map[string]int{"MIT": 1, "CC-BY-4.0": 1, "CC0-1.0": 1}) {
		t.Errorf("license facet of a text query: %v", got)
	}
	// Most frequent value first.
	if fv := e.search(search.Query{}).Facets["type"]; len(fv) != 2 || fv[0].Value != "model" {
		t.Errorf("type facet %v: want model (3) before dataset (1)", fv)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testFilters(t *testing.T, e *env) {
	a := model("Alpha", "segmentation", "nuclei")
	b := model("Beta", "segmentation", "cells")
	b.License = "CC-BY-4.0"
	c := model("Gamma", "denoising", "nuclei")
	c.License = "CC-BY-4.0"
	e.publish("alpha", a)
	e.publish("beta", b)
	e.publish("gamma", c)
	f := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	e.wantSet(search.Query{Filters: f("tag", "nuclei")}, "alpha/1", "gamma/1")
	e.wantSet(search.Query{Filters: f("tag", "NUCLEI")}, "alpha/1", "gamma/1") // tags are case-insensitive
	e.wantSet(search.Query{Filters: f("tag", "nuclei", "tag", "cells")}, "alpha/1", "beta/1", "gamma/1")
	e.wantSet(search.Query{Filters: f("tag", "nuclei", "license", "CC-BY-4.0")}, "gamma/1")
	e.wantSet(search.Query{Text: "segmentation", Filters: f("license", "CC-BY-4.0")}, "beta/1")
	e.wantSet(search.Query{Filters: f("license", "GPL-3.0")})
	e.wantSet(search.Query{Filters: f("tool", "onnx-tool", "dims", "2d", "weight_format", "onnx", "type", "model", "test", "pending")}, "alpha/1", "beta/1", "gamma/1")
	res := e.wantSet(search.Query{Filters: f("tag", "nuclei")}, "alpha/1", "gamma/1")
	if got := facet(res, "license"); !mapsEqual(got, map[string]int{"MIT": 1, "CC-BY-4.0": 1}) {
		t.Errorf("facet counts of a filtered result: %v", got)
	}
	// An empty value list does not filter.
	e.wantSet(search.Query{Filters: map[string][]string{"tag": {}}}, "alpha/1", "beta/1", "gamma/1")
}

func testSort(t *testing.T, e *env) {
	e.publish("old", model("Old nuclei", "x"))
	e.publish("mid", model("Mid", "nuclei nuclei"))
	e.publish("new", model("New", "nuclei"))
	for i := 0; i < 3; i++ {
		must(t, e.db.CountDownload(ctx, "mid", 1))
	}
	must(t, e.db.CountDownload(ctx, "new", 1))
	e.want(search.Query{}, "new/1", "mid/1", "old/1") // no text: newest first
	e.want(search.Query{Sort: "date"}, "new/1", "mid/1", "old/1")
	res := e.want(search.Query{Sort: "downloads"}, "mid/1", "new/1", "old/1")
	if res.Hits[0].Downloads != 3 || res.Hits[1].Downloads != 1 {
		t.Errorf("downloads %d, %d: want 3, 1", res.Hits[0].Downloads, res.Hits[1].Downloads)
	}
	e.want(search.Query{Text: "nuclei"}, "old/1", "mid/1", "new/1") // name match first
	e.want(search.Query{Text: "nuclei", Sort: "date"}, "new/1", "mid/1", "old/1")
	// Downloads count over all versions of the model.
	v2 := e.publish("old", model("Old nuclei v2", "x"))
	for i := 0; i < 5; i++ {
		must(t, e.db.CountDownload(ctx, "old", 1))
	}
	e.want(search.Query{Sort: "downloads"}, fmt.Sprintf("old/%d", v2.Number), "mid/1", "new/1")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testPagination(t *testing.T, e *env) {
	var all []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("m%02d", i)
		e.publish(id, model("Model "+id, "pagination test"))
		all = append([]string{id + "/1"}, all...) // newest first
	}
	e.want(search.Query{}, all[:20]...) // default limit 20
	e.want(search.Query{Limit: 10, Offset: 20}, all[20:]...)
	e.want(search.Query{Limit: 5, Offset: 5}, all[5:10]...)
	res := e.want(search.Query{Offset: 100})
	if res.Total != 25 {
		t.Errorf("total past the end: %d, want 25", res.Total)
	}
	if got := len(e.search(search.Query{Limit: 1000}).Hits); got != 25 {
		t.Errorf("limit 1000: %d hits", got)
	}
	for i := 0; i < 80; i++ {
		id := fmt.Sprintf("n%02d", i)
		e.publish(id, model("Model "+id, "pagination test"))
	}
	if got := len(e.search(search.Query{Limit: 1000}).Hits); got != search.MaxLimit {
		t.Errorf("limit 1000: %d hits, want the maximum %d", got, search.MaxLimit)
	}
}

func testDrafts(t *testing.T, e *env) {
	draft := model("Secret draft", "unpublishedword")
	v := e.upload("draft", draft)
	e.want(search.Query{Text: "unpublishedword"})
	e.want(search.Query{Text: "secret"})
	e.want(search.Query{})
	// Every unpublished state stays hidden.
	for _, to := range []zoo.State{zoo.StateChangesRequested, zoo.StateRejected} {
		w := e.upload("draft-"+string(to), model("Hidden "+string(to), "unpublishedword"))
		must(t, e.db.Transition(ctx, w.ModelID, w.Number, []zoo.State{zoo.StateSubmitted}, to, zoo.AuditEntry{ActorID: e.user.ID, Action: "review"}))
	}
	e.want(search.Query{Text: "unpublishedword"})
	// A published model's newer unpublished version does not show, nor its words.
	e.transition(v, zoo.StatePublished)
	e.want(search.Query{Text: "unpublishedword"}, "draft/1")
	e.upload("draft", model("Secret draft v2", "nextversionword"))
	e.want(search.Query{Text: "nextversionword"})
	e.want(search.Query{Text: "secret"}, "draft/1")
	res := e.search(search.Query{})
	if res.Total != 1 || facet(res, "type")["model"] != 1 {
		t.Errorf("unpublished versions counted: total %d, facets %v", res.Total, res.Facets["type"])
	}
}

func testLatest(t *testing.T, e *env) {
	e.publish("m", model("Version one", "firstword"))
	v2 := e.publish("m", model("Version two", "secondword"))
	e.want(search.Query{Text: "firstword"})
	e.want(search.Query{Text: "secondword"}, "m/2")
	e.want(search.Query{}, "m/2")
	// Retiring the latest shows the newest still published one.
	e.transition(v2, zoo.StateRetired)
	e.want(search.Query{Text: "firstword"}, "m/1")
	e.want(search.Query{Text: "secondword"})
	// A model whose versions are all retired shows its latest retired one.
	e.transition(&zoo.Version{ModelID: "m", Number: 1}, zoo.StateRetired)
	e.want(search.Query{}, "m/2")
	e.want(search.Query{Text: "secondword"}, "m/2")
}

func testReindex(t *testing.T, e *env) {
	v := e.publish("m", model("Before", "oldword"))
	e.index(v, model("After", "newword"))
	e.want(search.Query{Text: "oldword"})
	e.want(search.Query{Text: "newword"}, "m/1")
	if res := e.search(search.Query{}); res.Total != 1 || res.Hits[0].Name != "After" {
		t.Errorf("reindexed version: %+v", res)
	}
}

func testTestFacet(t *testing.T, e *env) {
	cases := []struct {
		id     string
		status zoo.TestStatus
		report string
		want   string
	}{
		{"passes", zoo.TestPassed, `{"status":"passed","formats":{"onnx":{"runs":true,"reproduces":true}}}`, "reproduces"},
		{"runs", zoo.TestFailed, `{"status":"failed","formats":{"onnx":{"runs":true,"reproduces":false}}}`, "runs"},
		{"fails", zoo.TestFailed, `{"status":"failed","formats":{"onnx":{"runs":false,"reproduces":false}}}`, "fails"},
		{"unsupported", zoo.TestNotSupported, `{"status":"not-supported","formats":{}}`, "not-supported"},
		{"pending", zoo.TestPending, ``, "pending"},
	}
	for _, c := range cases {
		d := model("Model "+c.id, "tested")
		v := e.publish(c.id, d)
		if c.status != zoo.TestPending {
			must(t, e.db.SetTestResult(ctx, c.id, v.Number, c.status, []byte(c.report)))
			e.index(v, d) // repo re-indexes when the result is recorded
		}
	}
	for _, c := range cases {
		res := e.want(search.Query{Filters: map[string][]string{"test": {c.want}}}, c.id+"/1")
		if res.Hits[0].Test != c.want {
			t.Errorf("%s: hit test %q, want %q", c.id, res.Hits[0].Test, c.want)
		}
	}
	if got := facet(e.search(search.Query{}), "test"); !mapsEqual(got, map[string]int{"reproduces": 1, "runs": 1, "fails": 1, "not-supported": 1, "pending": 1}) {
		t.Errorf("test facet %v", got)
	}
}

// HostileTexts are query texts that are operators or invalid input in a
// backend's query language; each must be taken as plain words.
var HostileTexts = []string{
	`"`, `""`, `"nuclei`, `*`, `nuclei*`, `NEAR(`, `NEAR(nuclei cell)`, `name:nuclei`, `:`, `^nuclei`,
	`nuclei AND`, `OR`, `NOT nuclei`, `-nuclei`, `(`, `)`, `{name}: nuclei`, `nuclei + cell`,
	`'`, `''`, `nuclei' & 'x`, `!nuclei`, `<->`, `nuclei <-> cell`, `\`, `%`, `_`, `;DROP TABLE versions;--`,
	"\x00", "nu\x00clei", "\xff\xfe", "nuclei\xc3", "\u0301", "\u0301nuclei", strings.Repeat("nuclei ", 1000), strings.Repeat("x", 5000),
}

func testHostile(t *testing.T, e *env) {
	e.publish("target", model("Nuclei segmentation", "cell images with AND OR NOT near drop table"))
	for _, q := range HostileTexts {
		res, err := e.idx.Search(ctx, search.Query{Text: q})
		if err != nil {
			t.Errorf("query %q: %v", q, err)
			continue
		}
		// Whatever the text, the result is that of its words.
		terms, prefix := search.Terms(q)
		want := 0
		if len(terms) == 0 || allIn(terms, prefix, "nuclei segmentation cell images with and or not near drop table") {
			want = 1
		}
		if res.Total != want {
			t.Errorf("query %q (words %q): total %d, want %d", q, terms, res.Total, want)
		}
	}
	// Operators as words: "near" and "and" are found as words of the text.
	e.want(search.Query{Text: "NEAR(nuclei"}, "target/1")
	e.want(search.Query{Text: `"cell" OR "absent"`})
}

// allIn reports whether every term (the last one as a prefix, if prefix)
// is a word of text.
func allIn(terms []string, prefix bool, text string) bool {
	words := strings.Fields(text)
	for i, t := range terms {
		ok := false
		for _, w := range words {
			if w == t || prefix && i == len(terms)-1 && strings.HasPrefix(w, t) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func testUnicode(t *testing.T, e *env) {
	d := model("Zellkern-Größe Netz", "细胞 分割 für Mikroskopie", "Ökologie")
	d.Authors = []spec.Author{{Name: "José Muñoz"}}
	e.publish("unicode", d)
	bad := model("Bad \xff\xfe bytes\x00here", "desc \xc3", "tag\xff")
	bad.Authors = []spec.Author{{Name: "X\x00Y"}}
	e.publish("bad-utf8", bad)
	e.want(search.Query{Text: "größe"}, "unicode/1")
	e.want(search.Query{Text: "muñoz"}, "unicode/1")
	e.want(search.Query{Text: "mikroskopie"}, "unicode/1")
	e.want(search.Query{Filters: map[string][]string{"tag": {"ökologie"}}}, "unicode/1")
	e.want(search.Query{Text: "bytes"}, "bad-utf8/1")
	for _, h := range e.search(search.Query{}).Hits {
		for _, s := range append([]string{h.Name, h.Description}, append(h.Tags, h.Authors...)...) {
			if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
				t.Errorf("hit %s returns %q: stored text must be valid UTF-8 without NUL", h.ID, s)
			}
		}
	}
}

func testBadQueries(t *testing.T, e *env) {
	e.publish("m", model("M", "x"))
	for _, q := range []search.Query{
		{Sort: "name"},
		{Offset: -1},
		{Offset: search.MaxOffset + 1},
		{Filters: map[string][]string{"owner": {"x"}}},
		{Filters: map[string][]string{"tag": make([]string, search.MaxFilterValues+1)}},
	} {
		if _, err := e.idx.Search(ctx, q); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("query %+v: got %v, want Invalid", q, err)
		}
	}
}

func testUnindexed(t *testing.T, e *env) {
	// A published version created without indexing (seeded, crashed).
	v := &zoo.Version{
		ModelID: "seeded", State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: e.user.ID,
		Name: "Seeded", FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
		Files: []zoo.File{{Path: "rdf.yaml", SHA256: hash("s"), Size: 1}}, PackageSHA256: hash("sz"), PackageSize: 1,
	}
	m := &zoo.Model{ID: "seeded", Type: "model", OwnerID: e.user.ID, Maintainers: []int64{e.user.ID}}
	must(t, e.db.CreateVersion(ctx, m, v, zoo.AuditEntry{ActorID: e.user.ID, Action: "upload"}))
	e.upload("draft-only", model("Draft", "x"))
	e.publish("indexed", model("Indexed", "x"))
	refs, err := e.db.UnindexedPublished(ctx, 10)
	must(t, err)
	if len(refs) != 0 {
		t.Errorf("unpublished or indexed versions listed: %v", refs)
	}
	e.transition(v, zoo.StatePublished)
	refs, err = e.db.UnindexedPublished(ctx, 10)
	must(t, err)
	if !slices.Equal(refs, []search.VersionRef{{ModelID: "seeded", Number: 1}}) {
		t.Errorf("unindexed published versions: %v, want seeded/1", refs)
	}
	e.want(search.Query{}, "indexed/1") // no document, no hit
	e.index(v, model("Seeded", "x"))
	refs, err = e.db.UnindexedPublished(ctx, 10)
	must(t, err)
	if len(refs) != 0 {
		t.Errorf("after indexing: %v", refs)
	}
}

// testVisibilityFollowsCatalog: whatever a backend keeps to answer fast
// (a table of visible documents, their facets, dates and downloads), every
// answer equals the live state of the catalog right after each catalog or
// index write, in whichever order they come: publication before or after
// indexing, retirement, re-indexing, downloads on any version.
func testVisibilityFollowsCatalog(t *testing.T, e *env) {
	lic := func(d *spec.Model, l string) *spec.Model { d.License = l; return d }
	e.publish("a", lic(model("Alpha", "sharedword"), "MIT"))
	b1 := e.publish("b", lic(model("Beta", "sharedword"), "MIT"))
	check := func(q search.Query, total int, license map[string]int, want ...string) {
		t.Helper()
		res := e.wantSet(q, want...)
		if res.Total != total || !mapsEqual(facet(res, "license"), license) {
			t.Errorf("%+v: total %d, license facet %v; want %d, %v", q, res.Total, facet(res, "license"), total, license)
		}
	}
	check(search.Query{Text: "sharedword"}, 2, map[string]int{"MIT": 2}, "a/1", "b/1")

	// A version published in the catalog before it is indexed: the model
	// shows nothing (its published version has no document yet, and the
	// older one is superseded), then the new version once indexed.
	d2 := lic(model("Beta two", "sharedword newword"), "Apache-2.0")
	v := &zoo.Version{
		ModelID: "b", State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: e.user.ID,
		Name: d2.Name, Description: d2.Description, FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
		Files: []zoo.File{{Path: "rdf.yaml", SHA256: hash("b2"), Size: 10}}, PackageSHA256: hash("b2zip"), PackageSize: 10, CreatedAt: e.clock,
	}
	must(t, e.db.CreateVersion(ctx, nil, v, zoo.AuditEntry{ActorID: e.user.ID, Action: "upload"}))
	check(search.Query{Text: "newword"}, 0, map[string]int{})
	check(search.Query{Text: "sharedword"}, 2, map[string]int{"MIT": 2}, "a/1", "b/1") // a draft changes nothing
	e.clock = e.clock.Add(24 * time.Hour)
	e.transition(v, zoo.StatePublished)
	check(search.Query{Text: "sharedword"}, 1, map[string]int{"MIT": 1}, "a/1")
	check(search.Query{}, 1, map[string]int{"MIT": 1}, "a/1")
	e.index(v, d2)
	check(search.Query{Text: "sharedword"}, 2, map[string]int{"MIT": 1, "Apache-2.0": 1}, "a/1", "b/2")
	check(search.Query{Filters: map[string][]string{"license": {"MIT"}}}, 1, map[string]int{"MIT": 1}, "a/1")

	// Downloads of every version count, whenever they come; re-indexing
	// keeps them.
	must(t, e.db.CountDownload(ctx, "b", b1.Number))
	must(t, e.db.CountDownload(ctx, "b", b1.Number))
	must(t, e.db.CountDownload(ctx, "b", v.Number))
	must(t, e.db.CountDownload(ctx, "a", 1))
	e.index(v, d2)
	res := e.want(search.Query{Sort: "downloads"}, "b/2", "a/1")
	if res.Hits[0].Downloads != 3 || res.Hits[1].Downloads != 1 {
		t.Errorf("downloads %d, %d: want 3, 1", res.Hits[0].Downloads, res.Hits[1].Downloads)
	}

	// Re-indexing with other facets moves the counts at once.
	e.index(v, lic(model("Beta two", "sharedword newword"), "MIT"))
	check(search.Query{Text: "sharedword"}, 2, map[string]int{"MIT": 2}, "a/1", "b/2")

	// Retiring the latest shows the older published one, with its facets.
	e.transition(v, zoo.StateRetired)
	check(search.Query{Text: "newword"}, 0, map[string]int{})
	check(search.Query{Text: "sharedword", Sort: "downloads"}, 2, map[string]int{"MIT": 2}, "a/1", "b/1")
	res = e.want(search.Query{Sort: "downloads"}, "b/1", "a/1")
	if res.Hits[0].Downloads != 3 {
		t.Errorf("downloads of b after retiring its latest: %d, want 3", res.Hits[0].Downloads)
	}
	e.transition(&zoo.Version{ModelID: "b", Number: b1.Number}, zoo.StateRetired)
	check(search.Query{Text: "newword"}, 1, map[string]int{"MIT": 1}, "b/2") // all retired: the latest retired one
	check(search.Query{}, 2, map[string]int{"MIT": 2}, "a/1", "b/2")
}
