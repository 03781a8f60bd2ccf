package collection

// These tests read zoo's files the way the real consumers' code reads
// them. Each names the reader, its version and what of its code is
// mirrored. None of those readers can be installed here (Python and Java
// packages; the machine reaches only the Go proxy, Debian and npm), so
// their reading steps are re-done in Go, step for step, against a real
// repository served over HTTP.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo/spec"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// served is a repository with the fixture packages published, the second
// of them in two versions, behind web with the collection routes.
type served struct {
	url     string
	models  map[string]string // fixture name → model id
	twoVers string            // the model id with versions 1 and 2
}

func serve(t *testing.T) *served {
	t.Helper()
	env := cachetest.New(t)
	s := &served{models: map[string]string{}}
	for _, name := range []string{"unet2d-nuclei-broad-onnx", "upsample-onnx", "unet2d-multi-tensor-onnx"} {
		s.models[name] = env.Publish(t, name).ModelID
	}
	// A second version of upsample-onnx, with a changed name.
	s.twoVers = s.models["upsample-onnx"]
	dir := t.TempDir()
	src := fixtures.Path(t, "packages", "upsample-onnx")
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "bioimageio.yaml" {
			b = bytes.Replace(b, []byte("name: "), []byte("name: second "), 1)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	pkg, _, err := bundle.Build(dir, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	bundle.Write(&buf, pkg)
	pkg.Close()
	ctx := context.Background()
	v, err := env.Svc.Upload(ctx, env.Contributor, &buf, repo.UploadOptions{ModelID: s.twoVers})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Svc.RunTest(ctx, repo.TestArgs{ID: v.ModelID, Version: v.Number}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Review(ctx, env.Reviewer, v.ModelID, v.Number, repo.Accept, ""); err != nil || v.Number != 2 {
		t.Fatalf("second version %d: %v", v.Number, err)
	}
	h := New(RepoSource(env.Svc), Options{})
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: h.Routes()}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// fetch GETs a URL, following redirects as httpx(follow_redirects=True),
// requests and Java's HttpURLConnection do.
func fetch(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// checkFilesBeside reads a description and every file it references with
// a sha256 (weights, test tensors, …) relative to root, as bioimageio.spec
// does when it loads a model (relative sources resolved against the
// description's parent URL), and checks each file's bytes against the
// hash. It returns the description's name.
func checkFilesBeside(t *testing.T, root string, desc []byte) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(spec.AcceptYAML12(desc), &doc); err != nil { // as ruyaml, which reads %YAML 1.2
		t.Fatalf("the description is not YAML: %v", err)
	}
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			src, ok1 := x["source"].(string)
			want, ok2 := x["sha256"].(string)
			if ok1 && ok2 && !strings.Contains(src, "://") {
				if got := sha(fetch(t, root+src)); got != want {
					t.Errorf("%s%s: sha256 %s, the description says %s", root, src, got, want)
				}
				n++
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if n < 2 {
		t.Errorf("only %d files with a sha256 found beside %s", n, root)
	}
	name, _ := doc["name"].(string)
	return name
}

// bioimageio.spec 0.5 (_internal/io_utils.py, open_bioimageio_yaml): a
// source that is no file or URL is taken as an id; with
// settings.collection_http_pattern set, it GETs
// pattern.format(bioimageio_id=source) (follow_redirects=True) and takes
// url.parent as the root of relative paths; else (or on failure) it looks
// the id up in get_id_map() (settings.id_map, a JSON object {id:
// LightHttpFileDescr{source, sha256}}) and reads entry.source, whose
// parent is the root.
func TestBioimageioSpecIDResolution(t *testing.T) {
	s := serve(t)
	id := s.twoVers
	// What a user sets (docs/bioimageio-tools.md).
	pattern := s.url + "/files/{bioimageio_id}/rdf.yaml"
	idMap := s.url + "/id_map.json"

	parent := func(u string) string { return u[:strings.LastIndex(u, "/")+1] }
	byPattern := func(source string) string {
		u := strings.ReplaceAll(pattern, "{bioimageio_id}", source)
		return checkFilesBeside(t, parent(u), fetch(t, u))
	}
	var ids map[string]struct {
		Source string  `json:"source"`
		SHA256 *string `json:"sha256"`
	}
	if err := json.Unmarshal(fetch(t, idMap), &ids); err != nil {
		t.Fatalf("id_map.json is not a JSON object of {source, sha256}: %v", err)
	}
	byMap := func(source string) string {
		e, ok := ids[source]
		if !ok {
			t.Fatalf("%q is not in id_map.json", source)
		}
		if _, err := url.ParseRequestURI(e.Source); err != nil || !strings.HasPrefix(e.Source, "http") {
			t.Fatalf("id map source %q is no HTTP URL", e.Source)
		}
		b := fetch(t, e.Source)
		if e.SHA256 == nil || sha(b) != *e.SHA256 {
			t.Errorf("%s: the id map's sha256 does not match the description", source)
		}
		return checkFilesBeside(t, parent(e.Source), b)
	}
	for _, tc := range []struct{ source, wantName string }{
		{id, "second "},        // the latest version
		{id + "/2", "second "}, // pinned
		{id + "/1", ""},        // the first version (its name does not start with "second")
	} {
		for how, resolve := range map[string]func(string) string{"pattern": byPattern, "id map": byMap} {
			name := resolve(tc.source)
			if tc.wantName != "" && !strings.HasPrefix(name, tc.wantName) || tc.wantName == "" && strings.HasPrefix(name, "second ") {
				t.Errorf("%s by %s: description %q", tc.source, how, name)
			}
		}
	}
	for name, mid := range s.models {
		if byMap(mid) == "" || byPattern(mid) == "" {
			t.Errorf("%s (%s) did not resolve", name, mid)
		}
	}
	if _, ok := ids[id+"/3"]; ok || len(ids) != 3+1+3 {
		t.Errorf("id map keys: %d", len(ids))
	}
}

// JDLL (io.bioimage.modelrunner.bioimageio.BioimageioRepo at commit
// 00c008e0 of bioimage-io/JDLL, used by
// deepImageJ 3 and Icy): setCollectionsRepo reads all_versions.json's
// "entries", skips types other than "model", takes "concept" as the model
// id and versions[].{v, source}; the latest version is the one with the
// greatest "created", parsed with DateTimeFormatter
// "yyyy-MM-dd'T'HH:mm:ss.SSSSSS" (exactly six fractional digits, no
// zone); getModelRdfUrl gives source minus "rdf.yaml" as the folder of the
// model's files, and listAllModels reads the latest source as the rdf.
func TestAllVersionsAsJDLL(t *testing.T) {
	s := serve(t)
	var doc struct {
		Entries []map[string]json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal(fetch(t, s.url+"/all_versions.json"), &doc); err != nil {
		t.Fatal(err)
	}
	jdllTime := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$`)
	str := func(raw json.RawMessage) string {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s is not a string (getAsString)", raw)
		}
		return s
	}
	seen := map[string]bool{}
	for _, e := range doc.Entries {
		if str(e["type"]) != "model" {
			continue
		}
		concept := str(e["concept"])
		var versions []map[string]json.RawMessage
		if err := json.Unmarshal(e["versions"], &versions); err != nil || len(versions) == 0 {
			t.Fatalf("%s: versions %s", concept, e["versions"])
		}
		var latestV, latestSrc string
		var latest time.Time
		for _, v := range versions {
			created := str(v["created"])
			if !jdllTime.MatchString(created) {
				t.Fatalf("%s: created %q does not parse as yyyy-MM-dd'T'HH:mm:ss.SSSSSS", concept, created)
			}
			ts, _ := time.Parse("2006-01-02T15:04:05.000000", created)
			if ts.After(latest) {
				latest, latestV, latestSrc = ts, str(v["v"]), str(v["source"])
			}
		}
		if !strings.HasSuffix(latestSrc, "rdf.yaml") {
			t.Fatalf("%s: source %q does not end in rdf.yaml", concept, latestSrc)
		}
		folder := latestSrc[:len(latestSrc)-len("rdf.yaml")]
		checkFilesBeside(t, folder, fetch(t, folder+"rdf.yaml"))
		if concept == s.twoVers && (latestV != "2" || len(versions) != 2) {
			t.Errorf("%s: latest %q of %d versions", concept, latestV, len(versions))
		}
		seen[concept] = true
	}
	for name, id := range s.models {
		if !seen[id] {
			t.Errorf("%s (%s) not listed", name, id)
		}
	}
}

// deepImageJ 2 lists the models of collection.json whose "links" contain
// "deepimagej/deepimagej" and reads each one's rdf_source; bioimage.io's
// own collection scripts (bioimage-io/collection,
// bioimageio_collection_backoffice/collection_json.py, CollectionEntry)
// define the entry. This reads every entry against that model's fields
// and types.
func TestCollectionJSONAsBioimageio(t *testing.T) {
	s := serve(t)
	var doc struct {
		Config     map[string]any   `json:"config"`
		Collection []map[string]any `json:"collection"`
	}
	if err := json.Unmarshal(fetch(t, s.url+"/collection.json"), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n_resources", "n_resource_versions"} {
		m, ok := doc.Config[k].(map[string]any)
		if !ok || m["model"] != float64(3) && k == "n_resources" || m["model"] != float64(4) && k == "n_resource_versions" {
			t.Errorf("config.%s = %v, want a per-type map", k, doc.Config[k])
		}
	}
	isURL := func(v any) bool {
		s, ok := v.(string)
		return ok && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"))
	}
	isStr := func(v any) bool { _, ok := v.(string); return ok }
	isList := func(v any, each func(any) bool) bool {
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, x := range l {
			if !each(x) {
				return false
			}
		}
		return true
	}
	orNull := func(f func(any) bool) func(any) bool { return func(v any) bool { return v == nil || f(v) } }
	fields := map[string]func(any) bool{
		"authors": func(v any) bool {
			return isList(v, func(a any) bool { m, ok := a.(map[string]any); return ok && isStr(m["name"]) })
		},
		"badges": func(v any) bool {
			return isList(v, func(b any) bool {
				m, ok := b.(map[string]any)
				return ok && isURL(m["icon"]) && isStr(m["label"]) && isURL(m["url"])
			})
		},
		"concept_doi": orNull(isStr),
		"covers":      func(v any) bool { return isList(v, isURL) },
		"created": func(v any) bool {
			s, _ := v.(string)
			_, err := time.Parse(time.RFC3339, s)
			return err == nil
		},
		"description":    isStr,
		"download_count": func(v any) bool { f, ok := v.(float64); return ok && f >= 0 || v == "?" },
		"download_url":   orNull(isURL),
		"icon":           orNull(isStr),
		"id":             isStr,
		"license":        orNull(isStr),
		"links":          func(v any) bool { return isList(v, isStr) },
		"name":           isStr,
		"nickname_icon":  orNull(isStr),
		"nickname":       orNull(isStr),
		"rdf_sha256":     isStr,
		"rdf_source":     isURL,
		"root_url":       isStr,
		"tags":           func(v any) bool { return isList(v, isStr) },
		"training_data":  orNull(func(v any) bool { m, ok := v.(map[string]any); return ok && isStr(m["id"]) }),
		"type":           func(v any) bool { return slices.Contains([]any{"application", "model", "notebook", "dataset"}, v) },
		"source":         orNull(isStr),
		"versions":       func(v any) bool { return isList(v, isStr) },
		"dois":           func(v any) bool { return isList(v, orNull(isStr)) },
		"uploader": func(v any) bool {
			m, ok := v.(map[string]any)
			return ok && isStr(m["name"]) && orNull(isStr)(m["email"])
		},
	}
	deepimagej := 0
	for _, e := range doc.Collection {
		for k, ok := range fields {
			v, present := e[k]
			if !present || !ok(v) {
				t.Errorf("%v: field %s = %#v does not fit bioimage.io's CollectionEntry", e["id"], k, v)
			}
		}
		if root := e["root_url"].(string); !strings.HasSuffix(e["rdf_source"].(string), "/rdf.yaml") ||
			e["rdf_source"] != root+"/rdf.yaml" || sha(fetch(t, e["rdf_source"].(string))) != e["rdf_sha256"] {
			t.Errorf("%v: rdf_source %v, root_url %v, rdf_sha256 %v disagree", e["id"], e["rdf_source"], root, e["rdf_sha256"])
		}
		if e["id"] == s.twoVers && !slices.Equal(e["versions"].([]any), []any{"2", "1"}) {
			t.Errorf("versions %v, want newest first", e["versions"])
		}
		if slices.Contains(e["links"].([]any), any("deepimagej/deepimagej")) {
			deepimagej++
		}
	}
	if len(doc.Collection) != 3 {
		t.Errorf("%d entries", len(doc.Collection))
	}
	// The fixtures are ONNX models, which deepImageJ does not declare
	// (compat/tools.yaml): deepImageJ 2 lists none of them. Tool links from
	// tested compatibility are checked in TestEntryExtras.
	if deepimagej != 0 {
		t.Errorf("%d ONNX models linked to deepImageJ", deepimagej)
	}
}

// The extras of a description (links, badges, icon, training_data,
// uploader) reach the entry; hostile values are dropped.
func TestEntryExtras(t *testing.T) {
	h := New(fixture(), Options{Base: "https://zoo.example.org"})
	c, err := h.Collection(context.Background(), "https://zoo.example.org")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Entry{}
	for _, e := range c.Collection {
		byID[e.ID] = e
	}
	owl, cat := byID["shy-owl"], byID["bold-cat"]
	if !slices.Equal(owl.Links[:2], []string{"deepimagej/deepimagej", "zero/notebook_u-net"}) || slices.Contains(owl.Links, "42") {
		t.Errorf("links %v", owl.Links)
	}
	if len(owl.Badges) != 1 || owl.Badges[0] != (Badge{Icon: "https://zoo.example.org/files/shy-owl/2/badge.svg", Label: "Open in Colab", URL: "https://colab.example.org/x"}) {
		t.Errorf("badges %+v", owl.Badges)
	}
	if owl.Icon == nil || *owl.Icon != "https://zoo.example.org/files/shy-owl/2/icon.png" || cat.Icon == nil || *cat.Icon != "🐈" {
		t.Errorf("icons %v %v", owl.Icon, cat.Icon)
	}
	if owl.TrainingData == nil || owl.TrainingData.ID != "tasty-apple" || cat.TrainingData != nil {
		t.Errorf("training data %+v %+v", owl.TrainingData, cat.TrainingData)
	}
	if owl.Uploader.Name != "Ada" || owl.Uploader.Email == nil || *owl.Uploader.Email != "ada@example.org" ||
		cat.Uploader.Name != "user7" || cat.Uploader.Email != nil {
		t.Errorf("uploaders %+v %+v", owl.Uploader, cat.Uploader)
	}
	// Tested compatibility (onnx reproduced): ilastik's link and tag.
	if !slices.Contains(owl.Links, "ilastik/ilastik") || !slices.Contains(owl.Tags, "ilastik-compatible") || slices.Contains(cat.Tags, "ilastik-compatible") {
		t.Errorf("tool links/tags: %v %v / %v", owl.Links, owl.Tags, cat.Tags)
	}
	if !slices.Equal(owl.Versions, []string{"2", "1"}) || len(owl.DOIs) != 2 || owl.DOIs[0] != nil {
		t.Errorf("versions %v dois %v", owl.Versions, owl.DOIs)
	}
}

func TestParseExtrasHostile(t *testing.T) {
	long := strings.Repeat("x", maxExtraString+1)
	many := "links: [" + strings.Repeat("a, ", maxLinks+50) + "a]\n"
	for _, raw := range []string{"", "- a list", "links: {a: b}", "icon: [1]", "uploader: 3", "icon: " + long, many,
		"a: &a [*a]", "\x00\xff", "badges: [{label: x, url: " + long + "}]"} {
		e := parseExtras([]byte(raw))
		if len(e.Links) > maxLinks || len(e.Icon) > maxExtraString || len(e.Badges) != 0 {
			t.Errorf("%.40q: %+v", raw, e)
		}
	}
}

func FuzzParseExtras(f *testing.F) {
	f.Add([]byte("links: [a]\nbadges: [{label: l, url: u, icon: i}]\nicon: x\ntraining_data: {id: d}\nuploader: {email: e}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := parseExtras(raw)
		if len(e.Links) > maxLinks || len(e.Badges) > maxBadges {
			t.Fatal("limits exceeded")
		}
	})
}

var _ = zoo.StatePublished

// all_versions.json keeps the publication time to the microsecond (JDLL
// picks the newest version by it) and lists published versions only,
// newest first; the id map's bare id is the latest published version.
func TestAllVersionsAndIDMapRules(t *testing.T) {
	f := fixture()
	pub := time.Date(2025, 6, 1, 15, 0, 0, 123456789, time.UTC)
	f.versions[1].PublishedAt = &pub // shy-owl/2
	h := New(f, Options{Base: "https://z.test"})
	av, err := h.AllVersions(context.Background(), "https://z.test")
	if err != nil {
		t.Fatal(err)
	}
	var owl *Concept
	for i := range av.Entries {
		if av.Entries[i].Concept == "shy-owl" {
			owl = &av.Entries[i]
		}
	}
	if owl == nil || len(owl.Versions) != 1 || owl.Versions[0].V != "2" || owl.Versions[0].Created != "2025-06-01T15:00:00.123456" {
		t.Fatalf("shy-owl in all_versions.json: %+v (version 1 is retired)", owl)
	}
	if av.Entries[0].Concept != "shy-owl" {
		t.Errorf("entries not newest first: %+v", av.Entries)
	}
	m, _ := h.IDMap(context.Background(), "https://z.test")
	if m["shy-owl"].Source != "https://z.test/files/shy-owl/2/rdf.yaml" || m["shy-owl/1"].Source != "https://z.test/files/shy-owl/1/rdf.yaml" {
		t.Errorf("id map %+v", m)
	}
}
