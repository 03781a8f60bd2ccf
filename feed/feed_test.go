package feed

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// fake is a Source with fixed versions and descriptions.
type fake struct {
	items []Item
	descs map[string]*spec.Model // by model id
	calls atomic.Int64           // Description calls
	down  atomic.Bool            // reads fail as in an outage of the blob store
}

func (f *fake) Items(ctx context.Context, modelID string) ([]Item, error) {
	var out []Item
	for _, it := range f.items {
		if modelID == "" || it.Version.ModelID == modelID {
			out = append(out, it)
		}
	}
	return out, nil
}

func (f *fake) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, zoo.E("fake", zoo.Unavailable, nil, "cannot reach the S3 endpoint")
	}
	if d, ok := f.descs[v.ModelID]; ok {
		return d, nil
	}
	return nil, zoo.E("fake", zoo.NotFound, nil, "no description")
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(h int) *time.Time { t := t0.Add(time.Duration(h) * time.Hour); return &t }

func ver(id string, n int, state zoo.State, pub int) *zoo.Version {
	v := &zoo.Version{ModelID: id, Number: n, State: state, Name: id, CreatedAt: t0,
		PackageSHA256: strings.Repeat("a", 64), PackageSize: 1000 + int64(n)}
	if state.Public() {
		v.PublishedAt = at(pub)
	}
	return v
}

// fixture: brave-fox (model: v1 published h1, v2 published h5), calm-owl
// (model: v1 published h2, retired at h6), dry-ant (dataset: v1 published h3),
// and versions a Source must never return but a buggy one might.
func fixture() *fake {
	retired := ver("calm-owl", 1, zoo.StateRetired, 2)
	retired.RetiredReason = "superseded by brave-fox"
	return &fake{
		items: []Item{
			{Version: ver("brave-fox", 1, zoo.StatePublished, 1), Type: "model"},
			{Version: ver("brave-fox", 2, zoo.StatePublished, 5), Type: "model"},
			{Version: retired, Type: "model", Retired: *at(6)},
			{Version: ver("dry-ant", 1, zoo.StatePublished, 3), Type: "dataset"},
			{Version: ver("brave-fox", 3, zoo.StateDraft, 0), Type: "model"},
			{Version: ver("brave-fox", 4, zoo.StateSubmitted, 0), Type: "model"},
			{Version: ver("brave-fox", 5, zoo.StateRejected, 0), Type: "model"},
		},
		descs: map[string]*spec.Model{
			"brave-fox": {Name: "Brave Fox", Description: "Nuclei <segmentation> & more", License: "MIT",
				Tags:    []string{"Segmentation", "2d", "nuclei"},
				Authors: []spec.Author{{Name: "Ada Lovelace", ORCID: "0000-0002-1825-0097"}, {Name: "Bo"}}},
			"calm-owl": {Name: "Calm Owl", Description: "Denoising", License: "CC-BY-4.0", Tags: []string{"denoising", "2d"},
				Authors: []spec.Author{{Name: "Cy"}}},
			"dry-ant": {Name: "Dry Ant", Description: "Images", License: "CC0-1.0", Tags: []string{"nuclei"}},
		},
	}
}

type response struct {
	*http.Response
	body []byte
	feed *Feed
}

// get requests path from a web server with the feed routes mounted.
func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &response{Response: res, body: b}
	if res.StatusCode == http.StatusOK && strings.Contains(path, ".atom") {
		if ct := res.Header.Get("Content-Type"); ct != ContentType {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		r.feed = new(Feed)
		if err := xml.Unmarshal(b, r.feed); err != nil {
			t.Fatalf("%s: the feed does not parse: %v\n%s", path, err, b)
		}
	}
	return r
}

func serve(t *testing.T, src Source, opts Options) *httptest.Server {
	t.Helper()
	h := New(src, opts)
	// The feed routes with a stub of the pages' model routes, as served.
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("GET /models/{id}/{n}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func ids(f *Feed) []string {
	var out []string
	for _, e := range f.Entries {
		out = append(out, e.ID)
	}
	return out
}

func TestInstanceFeed(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://zoo.example.org/", DOI: func(ctx context.Context, v *zoo.Version) string {
		if v.ModelID == "brave-fox" && v.Number == 2 {
			return "10.5072/zoo.brave-fox.2"
		}
		return ""
	}})
	r := get(t, srv, "/feed.atom", nil)
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	f := r.feed
	want := []string{
		"tag:zoo.example.org,2026-03-01:zoo/model/calm-owl/1/retired",
		"tag:zoo.example.org,2026-03-01:zoo/model/brave-fox/2/published",
		"tag:zoo.example.org,2026-03-01:zoo/model/dry-ant/1/published",
		"tag:zoo.example.org,2026-03-01:zoo/model/calm-owl/1/published",
		"tag:zoo.example.org,2026-03-01:zoo/model/brave-fox/1/published",
	}
	if got := ids(f); !slices.Equal(got, want) {
		t.Fatalf("entries (newest first, no draft, submission or rejected version):\n got %q\nwant %q", got, want)
	}
	if f.ID != "https://zoo.example.org/feed.atom" || f.Updated != "2026-03-01T18:00:00Z" || !strings.Contains(f.Title, "zoo.example.org") {
		t.Errorf("feed head: id %q updated %q title %q", f.ID, f.Updated, f.Title)
	}
	if self, alt := linkOf(f.Links, "self"), linkOf(f.Links, "alternate"); self != "https://zoo.example.org/feed.atom" || alt != "https://zoo.example.org/" {
		t.Errorf("feed links %+v", f.Links)
	}
	for i := 1; i < len(f.Entries); i++ {
		if f.Entries[i-1].Updated < f.Entries[i].Updated {
			t.Errorf("entry %d (%s) newer than entry %d", i, f.Entries[i].Updated, i-1)
		}
	}

	ret := f.Entries[0]
	if ret.Title != "Calm Owl — version 1 retired" || ret.Updated != "2026-03-01T18:00:00Z" || ret.Published != "2026-03-01T14:00:00Z" ||
		!strings.HasPrefix(ret.Summary, "Retired: superseded by brave-fox") || !strings.Contains(ret.Summary, "Denoising") {
		t.Errorf("retirement entry %+v", ret)
	}
	e := f.Entries[1]
	if e.Title != "Brave Fox — version 2 published" || e.Updated != "2026-03-01T17:00:00Z" || e.Published != e.Updated ||
		e.Summary != "Nuclei <segmentation> & more" || e.Rights != "MIT" {
		t.Errorf("publication entry %+v", e)
	}
	if len(e.Authors) != 2 || e.Authors[0] != (Person{"Ada Lovelace", "https://orcid.org/0000-0002-1825-0097"}) || e.Authors[1].Name != "Bo" {
		t.Errorf("authors %+v", e.Authors)
	}
	var terms []string
	for _, c := range e.Categories {
		terms = append(terms, c.Term)
	}
	if !slices.Equal(terms, []string{"model", "Segmentation", "2d", "nuclei"}) {
		t.Errorf("categories %v", terms)
	}
	if e.Link("alternate") != "https://zoo.example.org/models/brave-fox/2" || e.Link("related") != "https://doi.org/10.5072/zoo.brave-fox.2" {
		t.Errorf("links %+v", e.Links)
	}
	if f.Entries[2].Link("related") != "" {
		t.Errorf("a version without DOI links to %q", f.Entries[2].Link("related"))
	}
	var enc Link
	for _, l := range e.Links {
		if l.Rel == "enclosure" {
			enc = l
		}
	}
	if enc != (Link{Rel: "enclosure", Type: "application/zip", Href: "https://zoo.example.org/packages/brave-fox/2", Length: 1002}) {
		t.Errorf("enclosure %+v", enc)
	}
	// The alternate link is the page the pages' route serves.
	if res := get(t, srv, "/models/brave-fox/2", nil); string(res.body) != "page" {
		t.Errorf("the model page route is shadowed: %q", res.body)
	}
}

func linkOf(ls []Link, rel string) string { return Entry{Links: ls}.Link(rel) }

// Every URL in a feed is absolute on the configured base, or else on the
// request's host.
func TestAbsoluteURLs(t *testing.T) {
	check := func(f *Feed, prefix string) {
		t.Helper()
		var urls []string
		for _, l := range f.Links {
			urls = append(urls, l.Href)
		}
		for _, a := range f.Authors {
			urls = append(urls, a.URI)
		}
		for _, e := range f.Entries {
			for _, l := range e.Links {
				if l.Rel != "related" {
					urls = append(urls, l.Href)
				}
			}
			for _, c := range e.Categories {
				urls = append(urls, c.Scheme)
			}
		}
		if len(urls) < 10 {
			t.Fatalf("only %d URLs", len(urls))
		}
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || !p.IsAbs() || !strings.HasPrefix(u, prefix) {
				t.Errorf("URL %q is not absolute under %s", u, prefix)
			}
		}
	}
	srv := serve(t, fixture(), Options{Base: "https://public.example.org/zoo"})
	r := get(t, srv, "/feed.atom", nil)
	check(r.feed, "https://public.example.org/zoo/")
	if !strings.HasPrefix(r.feed.Entries[0].ID, "tag:public.example.org,") {
		t.Errorf("entry id %q", r.feed.Entries[0].ID)
	}
	srv = serve(t, fixture(), Options{})
	r = get(t, srv, "/models/brave-fox/feed.atom", nil)
	check(r.feed, srv.URL+"/")
	if !strings.HasPrefix(r.feed.Entries[0].ID, "tag:127.0.0.1,") {
		t.Errorf("entry id %q", r.feed.Entries[0].ID)
	}
}

func TestModelFeed(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	r := get(t, srv, "/models/brave-fox/feed.atom", nil)
	want := []string{
		"tag:z.test,2026-03-01:zoo/model/brave-fox/2/published",
		"tag:z.test,2026-03-01:zoo/model/brave-fox/1/published",
	}
	if r.StatusCode != 200 || !slices.Equal(ids(r.feed), want) {
		t.Fatalf("status %d, entries %q", r.StatusCode, ids(r.feed))
	}
	if r.feed.ID != "https://z.test/models/brave-fox/feed.atom" || r.feed.Title != "Brave Fox — versions" ||
		linkOf(r.feed.Links, "alternate") != "https://z.test/models/brave-fox" {
		t.Errorf("feed head %+v", r.feed)
	}
	r = get(t, srv, "/models/calm-owl/feed.atom", nil)
	if len(r.feed.Entries) != 2 || !strings.HasSuffix(r.feed.Entries[0].ID, "/retired") {
		t.Errorf("retired model: %q", ids(r.feed))
	}
	for _, id := range []string{"no-such-model", "%ff%fe", strings.Repeat("x", 300)} {
		r := get(t, srv, "/models/"+id+"/feed.atom", nil)
		var p web.Problem
		if r.StatusCode != 404 || json.Unmarshal(r.body, &p) != nil || p.Status != 404 {
			t.Errorf("%s: status %d %s, want 404 problem details", id, r.StatusCode, r.body)
		}
	}
	// A model whose only versions are not public is unknown to the feed.
	f := fixture()
	f.items = append(f.items, Item{Version: ver("hidden-bee", 1, zoo.StateSubmitted, 0)})
	srv = serve(t, f, Options{})
	if r := get(t, srv, "/models/hidden-bee/feed.atom", nil); r.StatusCode != 404 {
		t.Errorf("a model with only a submission: status %d", r.StatusCode)
	}
}

func TestFilters(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	cases := []struct {
		query string
		want  []string // model/version/kind
	}{
		{"limit=2", []string{"calm-owl/1/retired", "brave-fox/2/published"}},
		{"limit=200", []string{"calm-owl/1/retired", "brave-fox/2/published", "dry-ant/1/published", "calm-owl/1/published", "brave-fox/1/published"}},
		{"type=dataset", []string{"dry-ant/1/published"}},
		{"type=model&limit=1", []string{"calm-owl/1/retired"}},
		{"type=application", nil},
		{"tag=nuclei", []string{"brave-fox/2/published", "dry-ant/1/published", "brave-fox/1/published"}},
		{"tag=SEGMENTATION", []string{"brave-fox/2/published", "brave-fox/1/published"}},
		{"tag=2d&tag=denoising", []string{"calm-owl/1/retired", "calm-owl/1/published"}},
		{"tag=2d&tag=nuclei&tag=segmentation", []string{"brave-fox/2/published", "brave-fox/1/published"}},
		{"tag=2d&type=dataset", nil},
		{"tag=nuclei&type=dataset", []string{"dry-ant/1/published"}},
		{"_=12345", []string{"calm-owl/1/retired", "brave-fox/2/published", "dry-ant/1/published", "calm-owl/1/published", "brave-fox/1/published"}},
	}
	for _, c := range cases {
		r := get(t, srv, "/feed.atom?"+c.query, nil)
		if r.StatusCode != 200 {
			t.Errorf("%s: status %d %s", c.query, r.StatusCode, r.body)
			continue
		}
		var got []string
		for _, id := range ids(r.feed) {
			got = append(got, id[strings.Index(id, "zoo/model/")+len("zoo/model/"):])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.query, got, c.want)
		}
	}
	// A filtered feed is its own feed: its id and self link say so.
	r := get(t, srv, "/feed.atom?tag=Nuclei&type=dataset&limit=7", nil)
	if r.feed.ID != "https://z.test/feed.atom?tag=nuclei&type=dataset" || linkOf(r.feed.Links, "self") != "https://z.test/feed.atom?limit=7&tag=nuclei&type=dataset" {
		t.Errorf("filtered feed id %q links %+v", r.feed.ID, r.feed.Links)
	}
	// An empty feed is still a valid feed with a date.
	r = get(t, srv, "/feed.atom?type=application", nil)
	if r.feed.Updated != "1970-01-01T00:00:00Z" || r.Header.Get("Last-Modified") != "" {
		t.Errorf("empty feed updated %q, Last-Modified %q", r.feed.Updated, r.Header.Get("Last-Modified"))
	}
	// Per model, the same filters.
	if r := get(t, srv, "/models/brave-fox/feed.atom?limit=1", nil); !slices.Equal(ids(r.feed), []string{"tag:z.test,2026-03-01:zoo/model/brave-fox/2/published"}) {
		t.Errorf("model feed limit=1: %q", ids(r.feed))
	}
}

// Descriptions are read only for the entries shown (plus one for the title).
func TestReadsOnlyWhatItShows(t *testing.T) {
	f := fixture()
	h := New(f, Options{Base: "https://z.test"})
	if _, _, err := h.Build(context.Background(), "https://z.test", "", Query{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d description reads for one entry", n)
	}
}

func TestHostileQueries(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	for _, q := range []string{
		"limit=-1", "limit=0", "limit=201", "limit=100000000000000000000", "limit=1e3", "limit=", "limit=%20", "limit=1&limit=2", "limit=0x10",
		"type=%3Cscript%3E", "type=a%26b", "type=model&type=dataset", "type=", "type=%ff", "type=" + strings.Repeat("m", 65), "type=mo%22del",
		"tag=%ff%fe", "tag=", "tag=%00", "tag=a%0Ab", "tag=" + strings.Repeat("t", 101), strings.Repeat("tag=a&", 11),
		"tag=%zz", "a=1;b=2", strings.Repeat("x", MaxRawQuery+1),
	} {
		r := get(t, srv, "/feed.atom?"+q, nil)
		var p web.Problem
		if r.StatusCode != 400 || json.Unmarshal(r.body, &p) != nil || p.Status != 400 || p.Detail == "" {
			t.Errorf("%.60s: status %d %.200s, want 400 problem details", q, r.StatusCode, r.body)
		}
		if r := get(t, srv, "/models/brave-fox/feed.atom?"+q, nil); r.StatusCode != 400 {
			t.Errorf("model feed %.60s: status %d", q, r.StatusCode)
		}
	}
}

// Text that XML 1.0 cannot carry (control characters, invalid UTF-8,
// U+FFFE) is dropped; the rest is escaped and survives a round trip.
func TestHostileText(t *testing.T) {
	f := fixture()
	f.descs["brave-fox"] = &spec.Model{
		Name:        "Fox\x00\x1b]8;;x\x07 <b>&amp;",
		Description: "ok\x01\x08\x0b\x0c\xff\xfe\xef\xbf\xbe tab\there ]]> </summary><evil/>",
		License:     "MIT\x00",
		Tags:        []string{"a\x00b", "\xff", "<tag attr=\"x\">"},
		Authors:     []spec.Author{{Name: "\x00Eve\x1f", ORCID: "../../evil"}},
	}
	srv := serve(t, f, Options{Base: "https://z.test"})
	r := get(t, srv, "/models/brave-fox/feed.atom", nil)
	e := r.feed.Entries[0]
	if e.Title != "Fox]8;;x <b>&amp; — version 2 published" {
		t.Errorf("title %q", e.Title)
	}
	if e.Summary != "ok tab\there ]]> </summary><evil/>" || e.Rights != "MIT" {
		t.Errorf("summary %q rights %q", e.Summary, e.Rights)
	}
	if len(e.Authors) != 1 || e.Authors[0] != (Person{Name: "Eve"}) {
		t.Errorf("authors %+v", e.Authors)
	}
	var terms []string
	for _, c := range e.Categories {
		terms = append(terms, c.Term)
	}
	if !slices.Equal(terms, []string{"model", "ab", `<tag attr="x">`}) {
		t.Errorf("categories %q", terms)
	}
	// A strict decoder accepts the whole document.
	d := xml.NewDecoder(strings.NewReader(string(r.body)))
	d.Strict = true
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("strict XML: %v", err)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	r := get(t, srv, "/feed.atom", nil)
	etag, lm := r.Header.Get("ETag"), r.Header.Get("Last-Modified")
	if len(etag) != 66 || strings.HasPrefix(etag, "W/") || lm != "Sun, 01 Mar 2026 18:00:00 GMT" ||
		r.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("headers %v", r.Header)
	}
	if again := get(t, srv, "/feed.atom", nil); again.Header.Get("ETag") != etag || string(again.body) != string(r.body) {
		t.Errorf("the same feed twice differs")
	}
	for _, c := range []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{"If-None-Match": etag}, 304},
		{map[string]string{"If-None-Match": `"x", ` + etag}, 304},
		{map[string]string{"If-None-Match": "W/" + etag}, 304},
		{map[string]string{"If-None-Match": "*"}, 304},
		{map[string]string{"If-None-Match": `"other"`}, 200},
		{map[string]string{"If-Modified-Since": lm}, 304},
		{map[string]string{"If-Modified-Since": "Mon, 02 Mar 2026 00:00:00 GMT"}, 304},
		{map[string]string{"If-Modified-Since": "Sun, 01 Mar 2026 17:59:59 GMT"}, 200},
		{map[string]string{"If-Modified-Since": "yesterday"}, 200},
		// The entity tag decides when both are sent.
		{map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": lm}, 200},
	} {
		r := get(t, srv, "/feed.atom", c.hdr)
		if r.StatusCode != c.want {
			t.Errorf("%v: status %d, want %d", c.hdr, r.StatusCode, c.want)
		}
		if c.want == 304 && (len(r.body) != 0 || r.Header.Get("ETag") != etag) {
			t.Errorf("%v: 304 with body %q, ETag %q", c.hdr, r.body, r.Header.Get("ETag"))
		}
	}
	// Another filter is another body, another tag.
	if r := get(t, srv, "/feed.atom?limit=1", map[string]string{"If-None-Match": etag}); r.StatusCode != 200 || r.Header.Get("ETag") == etag {
		t.Errorf("limit=1 with the full feed's ETag: status %d", r.StatusCode)
	}
	// HEAD: the headers, no body.
	res, err := srv.Client().Head(srv.URL + "/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "limit=10", "limit=-1", "type=model&tag=a&tag=B", "tag=%ff", "limit=99999999999999999999", "type=%3C%3E", "a=%zz", "tag=x;y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw)
		if err != nil {
			if zoo.KindOf(err) != zoo.Invalid {
				t.Fatalf("%q: error of kind %v", raw, zoo.KindOf(err))
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit || len(q.Tags) > MaxTags {
			t.Fatalf("%q: %+v out of bounds", raw, q)
		}
		if q.Type != "" && !typeRE.MatchString(q.Type) {
			t.Fatalf("%q: type %q", raw, q.Type)
		}
		for _, tag := range q.Tags {
			if tag == "" || len(tag) > MaxTag || !printable(tag) || clean(tag, 0) != tag || strings.ToLower(tag) != tag {
				t.Fatalf("%q: tag %q", raw, tag)
			}
		}
		// The canonical form reads back as the same query.
		back, err := ParseQuery(strings.TrimPrefix(q.canonical(true), "?"))
		if err != nil || back.Limit != q.Limit || back.Type != q.Type || !slices.Equal(back.Tags, q.Tags) {
			t.Fatalf("%q: canonical %q reads back as %+v, %v", raw, q.canonical(true), back, err)
		}
	})
}

// Concurrent requests share the per-version cache safely (run with -race)
// and all get the same feed.
func TestConcurrentRequests(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	want := get(t, srv, "/feed.atom", nil).Header.Get("ETag")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				path := []string{"/feed.atom", "/feed.atom?tag=2d", "/models/brave-fox/feed.atom"}[(i+j)%3]
				r := get(t, srv, path, nil)
				if path == "/feed.atom" && r.Header.Get("ETag") != want {
					t.Errorf("ETag %s, want %s", r.Header.Get("ETag"), want)
				}
			}
		})
	}
	wg.Wait()
}

// Readers that take a feed's first <link> as "the page" (several
// aggregators do) get the web page, not the feed itself: alternate comes
// before self, in both feeds and in every entry.
func TestAlternateLinkFirst(t *testing.T) {
	srv := serve(t, fixture(), Options{Base: "https://z.test"})
	for _, path := range []string{"/feed.atom", "/models/brave-fox/feed.atom"} {
		r := get(t, srv, path, nil)
		if len(r.feed.Links) < 2 || r.feed.Links[0].Rel != "alternate" || r.feed.Links[0].Type != "text/html" {
			t.Errorf("%s: first link %+v", path, r.feed.Links)
		}
		for _, e := range r.feed.Entries {
			if e.Links[0].Rel != "alternate" {
				t.Errorf("%s: entry %s first link %+v", path, e.ID, e.Links[0])
			}
		}
	}
}

// A feed built while descriptions could not be read is not kept: once the
// blob store is back, the feed is what a handler that never saw the
// outage builds (issue #22).
func TestOutageIsNotCached(t *testing.T) {
	f := fixture()
	h := New(f, Options{Base: "https://z.test"})
	ctx := context.Background()
	f.down.Store(true)
	if _, _, err := h.Build(ctx, "https://z.test", "", Query{Limit: 20}); err != nil {
		t.Fatal(err)
	}
	f.down.Store(false)
	got, _, err := h.Build(ctx, "https://z.test", "", Query{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := New(f, Options{Base: "https://z.test"}).Build(ctx, "https://z.test", "", Query{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("feed after the outage differs from a fresh build:\n got %.400s\nwant %.400s", g, w)
	}
}
