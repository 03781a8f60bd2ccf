package search_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/search/searchweb"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/sqlite"
)

var ctx = context.Background()

func TestTerms(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   []string
		prefix bool
	}{
		{"Nuclei Segmentation", []string{"nuclei", "segmentation"}, true},
		{"nuclei ", []string{"nuclei"}, false},
		{`"nuclei" AND NEAR(cell*, 2):name`, []string{"nuclei", "and", "near", "cell", "2", "name"}, true},
		{"nuclei nuclei NUCLEI", []string{"nuclei"}, true},
		{"Größe 细胞", []string{"größe", "细胞"}, true},
		{"\u0301e\u0301", []string{"e\u0301"}, true},
		{"a\xffb", []string{"a", "b"}, true},
		{"", nil, false},
		{`"*:()`, nil, false},
	} {
		got, prefix := search.Terms(c.in)
		if !slices.Equal(got, c.want) || prefix != c.prefix {
			t.Errorf("Terms(%q) = %q, %v; want %q, %v", c.in, got, prefix, c.want, c.prefix)
		}
	}
	many, _ := search.Terms(strings.Repeat("w ", 10) + strings.Join(strings.Fields("a b c d e f g h i j k l m n o p q r s"), " "))
	if len(many) != search.MaxTerms {
		t.Errorf("%d terms, want at most %d", len(many), search.MaxTerms)
	}
	long, _ := search.Terms(strings.Repeat("é", 100))
	if utf8.RuneCountInString(long[0]) != search.MaxTermRunes {
		t.Errorf("a term of %d runes, want %d", utf8.RuneCountInString(long[0]), search.MaxTermRunes)
	}
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"nuclei", `"a" NEAR(b*) c:d`, "\xff\xfe", "\u0301x", strings.Repeat("ab ", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, prefix := search.Terms(s)
		if len(terms) > search.MaxTerms || prefix && len(terms) == 0 {
			t.Fatalf("%d terms, prefix %v", len(terms), prefix)
		}
		seen := map[string]bool{}
		for _, term := range terms {
			if term == "" || !utf8.ValidString(term) || utf8.RuneCountInString(term) > search.MaxTermRunes || seen[term] {
				t.Fatalf("bad term %q in %q", term, terms)
			}
			seen[term] = true
			for i, r := range term {
				word := unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) && i > 0
				if !word || unicode.ToLower(r) != r {
					t.Fatalf("term %q holds %q", term, r)
				}
			}
		}
	})
}

func TestParseQuery(t *testing.T) {
	v, _ := url.ParseQuery("q=nuclei&tag=a,b&tag=c&license=MIT&sort=downloads&limit=500&offset=3&unknown=1")
	q, err := search.ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	if q.Text != "nuclei" || !slices.Equal(q.Filters["tag"], []string{"a", "b", "c"}) || !slices.Equal(q.Filters["license"], []string{"MIT"}) ||
		q.Sort != "downloads" || q.Limit != search.MaxLimit || q.Offset != 3 {
		t.Errorf("ParseQuery: %+v", q)
	}
	q, err = search.ParseQuery(url.Values{})
	if err != nil || q.Limit != search.DefaultLimit || q.Sort != "relevance" || q.Offset != 0 {
		t.Errorf("defaults: %+v, %v", q, err)
	}
	for _, bad := range []string{"limit=x", "limit=-1", "offset=1e3", "offset=10001", "sort=name", "tag=" + strings.Repeat("x,", 40)} {
		v, _ := url.ParseQuery(bad)
		if _, err := search.ParseQuery(v); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("%s: %v, want Invalid", bad, err)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"q=a&tag=b,c&limit=3", "offset=99999", "sort=date&dims=2d", "tool=%ff%00&q=%22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := search.ParseQuery(v)
		if err != nil {
			if zoo.KindOf(err) != zoo.Invalid {
				t.Fatalf("%q: %v, want Invalid", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > search.MaxLimit || q.Offset < 0 || q.Offset > search.MaxOffset {
			t.Fatalf("%q: limit %d offset %d", raw, q.Limit, q.Offset)
		}
		for f, vs := range q.Filters {
			if !slices.Contains(search.Facets, f) || len(vs) == 0 || len(vs) > search.MaxFilterValues {
				t.Fatalf("%q: filter %s = %q", raw, f, vs)
			}
			for _, s := range vs {
				if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
					t.Fatalf("%q: value %q", raw, s)
				}
			}
		}
	})
}

func TestTestValue(t *testing.T) {
	for _, c := range []struct {
		status zoo.TestStatus
		report string
		want   string
	}{
		{zoo.TestPassed, `{}`, "reproduces"},
		{zoo.TestFailed, `{"formats":{"onnx":{"runs":true,"reproduces":false},"torchscript":{"runs":false}}}`, "runs"},
		{zoo.TestFailed, `{"formats":{"onnx":{"runs":false,"reproduces":false}}}`, "fails"},
		{zoo.TestFailed, `not json`, "fails"},
		{zoo.TestFailed, ``, "fails"},
		{zoo.TestNotSupported, ``, "not-supported"},
		{zoo.TestPending, ``, "pending"},
	} {
		if got := search.TestValue(c.status, json.RawMessage(c.report)); got != c.want {
			t.Errorf("TestValue(%s, %s) = %s, want %s", c.status, c.report, got, c.want)
		}
	}
}

func TestBuildDocFromCorpus(t *testing.T) {
	dir := fixtures.Path(t, "rdf-corpus", "rdfs")
	data, err := os.ReadFile(filepath.Join(dir, "model__ambitious-kangaroo__v0.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := spec.Decode(data, "rdf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := search.BuildDoc(&zoo.Version{ModelID: "ambitious-kangaroo", Number: 1, TestStatus: zoo.TestPassed}, desc, "", nil)
	if d.Type != "model" || d.Name != "2D UNETR for cell segmentation in fluorescence" || d.License != "CC-BY-4.0" ||
		!slices.Equal(d.Dims, []string{"2d"}) || !slices.Equal(d.WeightFormats, []string{"pytorch_state_dict"}) || d.Test != "reproduces" ||
		!slices.Equal(d.Covers, []string{"cover.png"}) || !slices.Equal(d.Authors, []string{"Daniel Franco-Barranco"}) {
		t.Errorf("doc %+v", d)
	}
	for _, tag := range d.Tags {
		if tag != strings.ToLower(tag) {
			t.Errorf("tag %q not lower-cased", tag)
		}
	}
	// Limits: documentation is cut to MaxDocumentation on a rune boundary.
	d = search.BuildDoc(&zoo.Version{}, desc, strings.Repeat("é", search.MaxDocumentation), nil)
	if len(d.Documentation) > search.MaxDocumentation || !utf8.ValidString(d.Documentation) {
		t.Errorf("documentation of %d bytes, valid %v", len(d.Documentation), utf8.ValidString(d.Documentation))
	}
}

// instance is a SQLite catalog, a disk blob store, a repo.Service and the
// search engine over them, with an admin user.
type instance struct {
	db    *sqlite.DB
	blobs *disk.Store
	svc   *repo.Service
	idx   *search.Engine
	user  *zoo.User
}

func newInstance(t testing.TB) *instance {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, "admin", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{db: db, blobs: blobs, idx: search.New(db, blobs, nil), user: u}
	in.svc = repo.New(db, blobs, nil, repo.Config{Index: in.idx})
	return in
}

// store publishes a version of a corpus description straight into the
// catalog (as seeding does: no IndexVersion), with a documentation file.
func (in *instance) store(t *testing.T, id, corpusFile, documentation string) *zoo.Version {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures.Path(t, "rdf-corpus", "rdfs"), corpusFile))
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		sum, _, err := in.blobs.Put(ctx, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	desc, err := spec.Decode(data, corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	v := &zoo.Version{
		ModelID: id, State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: in.user.ID,
		Name: desc.Name, FormatVersion: desc.FormatVersion, DescriptionFile: "rdf.yaml",
		Files:         []zoo.File{{Path: "rdf.yaml", SHA256: put(data), Size: int64(len(data))}},
		PackageSHA256: put([]byte(id)), PackageSize: 1,
	}
	if desc.Documentation != "" {
		v.Files = append(v.Files, zoo.File{Path: desc.Documentation, SHA256: put([]byte(documentation)), Size: int64(len(documentation))})
	}
	m := &zoo.Model{ID: id, Type: desc.Type, OwnerID: in.user.ID, Maintainers: []int64{in.user.ID}}
	if err := in.db.CreateVersion(ctx, m, v, zoo.AuditEntry{ActorID: in.user.ID, Action: "upload"}); err != nil {
		t.Fatal(err)
	}
	if err := in.db.Transition(ctx, id, v.Number, []zoo.State{zoo.StateSubmitted}, zoo.StatePublished, zoo.AuditEntry{ActorID: in.user.ID, Action: "accept", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSyncIndexesPublishedWithDocumentation(t *testing.T) {
	in := newInstance(t)
	in.store(t, "ambitious-kangaroo", "model__ambitious-kangaroo__v0.yaml", "# UNETR\nTrained on the ecolibacterium collection.")
	in.store(t, "amiable-otter", "model__amiable-otter__v0.yaml", "")
	res, err := in.idx.Search(ctx, search.Query{})
	if err != nil || res.Total != 0 {
		t.Fatalf("before Sync: %v, %v (seeded versions have no document yet)", res, err)
	}
	n, err := in.idx.Sync(ctx, in.svc)
	if err != nil || n != 2 {
		t.Fatalf("Sync: %d, %v; want 2 indexed", n, err)
	}
	if n, err := in.idx.Sync(ctx, in.svc); err != nil || n != 0 {
		t.Fatalf("second Sync: %d, %v; want nothing to do", n, err)
	}
	res, err = in.idx.Search(ctx, search.Query{Text: "ecolibacterium"}) // a word only in the documentation
	if err != nil || res.Total != 1 || res.Hits[0].ID != "ambitious-kangaroo" {
		t.Fatalf("documentation word: %+v, %v", res, err)
	}
	res, err = in.idx.Search(ctx, search.Query{})
	if err != nil || res.Total != 2 {
		t.Fatalf("after Sync: %+v, %v", res, err)
	}
}

func TestSyncReportsUnreadableVersions(t *testing.T) {
	in := newInstance(t)
	v := in.store(t, "ambitious-kangaroo", "model__ambitious-kangaroo__v0.yaml", "doc")
	in.store(t, "amiable-otter", "model__amiable-otter__v0.yaml", "")
	if err := in.blobs.Delete(ctx, v.Files[0].SHA256); err != nil { // its description is gone
		t.Fatal(err)
	}
	n, err := in.idx.Sync(ctx, in.svc)
	if n != 1 || err == nil {
		t.Fatalf("Sync: %d, %v; want the readable one indexed and an error for the other", n, err)
	}
}

func TestHandler(t *testing.T) {
	in := newInstance(t)
	in.store(t, "ambitious-kangaroo", "model__ambitious-kangaroo__v0.yaml", "")
	in.store(t, "amiable-otter", "model__amiable-otter__v0.yaml", "")
	if _, err := in.idx.Sync(ctx, in.svc); err != nil {
		t.Fatal(err)
	}
	h := searchweb.Handler(in.idx)
	get := func(query string) (*httptest.ResponseRecorder, search.Results) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/search?"+query, nil))
		var res search.Results
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
		}
		return w, res
	}
	w, res := get("q=unetr&type=model&limit=5")
	if w.Code != 200 || res.Total != 1 || res.Hits[0].ID != "ambitious-kangaroo" || len(res.Facets["license"]) == 0 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w, res = get(""); res.Total != 2 {
		t.Errorf("all: %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{"limit=x", "sort=name", "offset=-1", "q=%zz", "q=" + strings.Repeat("a", search.MaxRawQuery)} {
		w, _ := get(bad)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
			t.Errorf("%.40s: %d %s, want 400 problem details", bad, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

// FuzzSearchText runs arbitrary query texts against the SQLite index:
// whatever the text holds (FTS5 syntax, quotes, invalid UTF-8), the search
// succeeds and finds the one model exactly when all its words are in it.
func FuzzSearchText(f *testing.F) {
	for _, s := range []string{"nuclei", `"`, `*`, `NEAR(`, `name:x`, `a OR b`, `NOT`, "\xff", "seg", `nuclei "segm`} {
		f.Add(s)
	}
	in := newInstance(f)
	d := &spec.Model{Type: "model", Name: "Nuclei segmentation", Description: "near or not and"}
	v := &zoo.Version{ModelID: "m", State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: in.user.ID,
		Name: d.Name, FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
		Files: []zoo.File{{Path: "rdf.yaml", SHA256: strings.Repeat("a", 64), Size: 1}}, PackageSHA256: strings.Repeat("b", 64), PackageSize: 1}
	if err := in.db.CreateVersion(ctx, &zoo.Model{ID: "m", Type: "model", OwnerID: in.user.ID, Maintainers: []int64{in.user.ID}}, v, zoo.AuditEntry{ActorID: in.user.ID, Action: "upload"}); err != nil {
		f.Fatal(err)
	}
	if err := in.db.Transition(ctx, "m", 1, []zoo.State{zoo.StateSubmitted}, zoo.StatePublished, zoo.AuditEntry{ActorID: in.user.ID, Action: "accept"}); err != nil {
		f.Fatal(err)
	}
	if err := in.idx.IndexVersion(ctx, v, d); err != nil {
		f.Fatal(err)
	}
	words := []string{"nuclei", "segmentation", "near", "or", "not", "and"}
	f.Fuzz(func(t *testing.T, text string) {
		res, err := in.idx.Search(ctx, search.Query{Text: text})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		terms, prefix := search.Terms(text)
		want := 1
		for i, term := range terms {
			ok := slices.Contains(words, term)
			if !ok && prefix && i == len(terms)-1 {
				for _, w := range words {
					ok = ok || strings.HasPrefix(w, term)
				}
			}
			if !ok {
				want = 0 // (stemming may still find it: only "found" is checked)
			}
		}
		if res.Total > 1 || len(terms) == 0 && res.Total != 1 || want == 1 && res.Total != 1 {
			t.Fatalf("%q (words %q): total %d, want %d", text, terms, res.Total, want)
		}
	})
}

// The parent of a derived model is the value of facet "parent", and the
// fine-tunable tasks (set by the engine) of facet "finetune".
func TestParentAndFinetuneFacets(t *testing.T) {
	desc := &spec.Model{Type: "model", Name: "tuned", Parent: &spec.LinkedModel{ID: "eager-alpaca", Version: "1"}}
	d := search.BuildDoc(&zoo.Version{ModelID: "firm-butterfly", Number: 1}, desc, "", nil)
	d.Finetune = []string{"denoise", "denoise", "segment"}
	got := map[string][]string{}
	for _, fv := range d.Facets() {
		got[fv[0]] = append(got[fv[0]], fv[1])
	}
	if fmt.Sprint(got[search.FacetParent]) != "[eager-alpaca]" {
		t.Errorf("parent facet %v", got[search.FacetParent])
	}
	q, err := search.ParseQuery(url.Values{"finetune": {"denoise"}, "parent": {"eager-alpaca"}})
	if err != nil || fmt.Sprint(q.Filters["finetune"], q.Filters["parent"]) != "[denoise] [eager-alpaca]" {
		t.Errorf("query %+v: %v", q.Filters, err)
	}
}

// TestDefaultOrderWithoutWords: a search without words (the front page,
// a facet click) lists the newest publications first.
func TestDefaultOrderWithoutWords(t *testing.T) {
	in := newInstance(t)
	ids := []string{"ambitious-kangaroo", "amiable-otter", "affable-shark"}
	files := []string{"model__ambitious-kangaroo__v0.yaml", "model__amiable-otter__v0.yaml", "model__ambitious-kangaroo__v0.yaml"}
	for i, id := range ids {
		in.store(t, id, files[i], "")
		time.Sleep(20 * time.Millisecond) // distinct publication times
	}
	if _, err := in.idx.Sync(ctx, in.svc); err != nil {
		t.Fatal(err)
	}
	res, err := in.idx.Search(ctx, search.Query{})
	if err != nil || len(res.Hits) != 3 {
		t.Fatalf("%+v, %v", res, err)
	}
	if got := []string{res.Hits[0].ID, res.Hits[1].ID, res.Hits[2].ID}; !slices.Equal(got, []string{"affable-shark", "amiable-otter", "ambitious-kangaroo"}) {
		t.Errorf("order %v, want newest first", got)
	}
}
