package fairweb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/doi/doitest"
	"github.com/zoo-bioimage/zoo/fair/fairweb"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/web"
)

var ctx = context.Background()

type env struct {
	t      *testing.T
	db     *sqlite.DB
	svc    *repo.Service
	srv    *httptest.Server
	tokens map[string]string
	users  map[string]*zoo.User
}

func pass(ctx context.Context, dir, out string) (*repo.TestResult, error) {
	return &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{}`)}, nil
}

// newEnv is a repository with the nuclei model published as version 1
// and a second version submitted (not published) by alice.
func newEnv(t *testing.T, opts fairweb.Options) *env {
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
	e := &env{t: t, db: db, tokens: map[string]string{}, users: map[string]*zoo.User{}}
	e.svc = repo.New(db, blobs, nil, repo.Config{TempDir: t.TempDir(), Tester: pass})
	for name, role := range map[string]zoo.Role{"alice": zoo.RoleContributor, "rita": zoo.RoleReviewer} {
		u, err := db.CreateUser(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		secret := web.NewToken()
		if _, err := db.CreateToken(ctx, u.ID, web.HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		e.tokens[name], e.users[name] = secret, u
	}
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var zipData bytes.Buffer
	if _, _, err := bundle.Write(&zipData, pkg); err != nil {
		t.Fatal(err)
	}
	v1, err := e.svc.Upload(ctx, e.users["alice"], bytes.NewReader(zipData.Bytes()), repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunTest(ctx, repo.TestArgs{ID: v1.ModelID, Version: v1.Number}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Review(ctx, e.users["rita"], v1.ModelID, v1.Number, "accept", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Upload(ctx, e.users["alice"], bytes.NewReader(zipData.Bytes()), repo.UploadOptions{ModelID: v1.ModelID}); err != nil {
		t.Fatal(err)
	}
	opts.DOIs = db
	h := web.New(e.svc, web.Options{Routes: fairweb.Routes(e.svc, opts)})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) id() string {
	ms, err := e.db.ListModels(ctx, true)
	if err != nil || len(ms) != 1 {
		e.t.Fatalf("models: %v %v", ms, err)
	}
	return ms[0].ID
}

func (e *env) get(as, path string, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[as])
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, fairweb.Options{})
	id := e.id()
	base := "/api/v1/models/" + id + "/versions/1/"
	want := map[string]string{
		"datacite.xml":  "application/vnd.datacite.datacite+xml",
		"datacite.json": "application/vnd.api+json",
		"jsonld":        "application/ld+json",
		"citation.bib":  "application/x-bibtex",
		"citation.cff":  "application/yaml",
		"citation.ris":  "application/x-research-info-systems",
	}
	for name, ct := range want {
		res, body := e.get("", base+name)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, res.StatusCode, body)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), ct) {
			t.Errorf("%s: Content-Type %q, want %s", name, res.Header.Get("Content-Type"), ct)
		}
		cd := res.Header.Get("Content-Disposition")
		if !strings.Contains(cd, `filename="`) {
			t.Errorf("%s: Content-Disposition %q", name, cd)
		}
		link := res.Header.Get("Link")
		host := strings.TrimPrefix(e.srv.URL, "http://")
		for _, w := range []string{
			`<http://` + host + `/models/` + id + `/1>; rel="cite-as"`,
			`<http://` + host + `/api/v1/models/` + id + `/versions/1/datacite.xml>; rel="describedby"; type="application/vnd.datacite.datacite+xml"`,
			`<http://` + host + `/packages/` + id + `/1>; rel="item"; type="application/zip"`,
			`<http://` + host + `/files/` + id + `/1/weights.onnx>; rel="item"`,
			`<https://spdx.org/licenses/MIT>; rel="license"`,
			`<https://orcid.org/0000-0001-6562-7187>; rel="author"`,
		} {
			if !strings.Contains(link, w) {
				t.Errorf("%s: Link header lacks %s:\n%s", name, w, link)
			}
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "public") {
			t.Errorf("%s: published version's Cache-Control %q", name, cc)
		}
		switch name {
		case "datacite.xml":
			var x struct {
				Identifier string   `xml:"identifier"`
				Creators   []string `xml:"creators>creator>creatorName"`
				Title      string   `xml:"titles>title"`
			}
			if err := xml.Unmarshal(body, &x); err != nil || x.Title != "UNet 2D Nuclei Broad" || len(x.Creators) == 0 {
				t.Errorf("datacite.xml: %v %+v", err, x)
			}
		case "datacite.json":
			var doc struct {
				Data struct {
					Attributes map[string]any `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if errs := doitest.Check(doc.Data.Attributes, true); len(errs) > 0 {
				t.Errorf("datacite.json fails the DataCite rules: %v", errs)
			}
		case "jsonld":
			var ld map[string]any
			if err := json.Unmarshal(body, &ld); err != nil || ld["@context"] != "https://schema.org" {
				t.Errorf("jsonld: %v %v", err, ld["@context"])
			}
		case "citation.cff":
			var c map[string]any
			if err := yaml.Unmarshal(body, &c); err != nil || c["cff-version"] != "1.2.0" {
				t.Errorf("cff: %v %v", err, c["cff-version"])
			}
		}
	}
	// The latest published version's citations.
	res, body := e.get("", "/api/v1/models/"+id+"/citation.bib")
	if res.StatusCode != 200 || !strings.Contains(string(body), "version = {1}") {
		t.Errorf("latest citation.bib: %d %s", res.StatusCode, body)
	}
	if res, _ := e.get("", "/api/v1/models/"+id+"/versions/x/jsonld"); res.StatusCode != 400 {
		t.Errorf("bad version number: %d, want 400", res.StatusCode)
	}
	if res, _ := e.get("", "/api/v1/models/no-such-model/citation.ris"); res.StatusCode != 404 {
		t.Errorf("unknown model: %d, want 404", res.StatusCode)
	}
	// The OpenAPI document lists the routes.
	_, doc := e.get("", "/api/openapi.json")
	for _, p := range []string{"/api/v1/models/{id}/versions/{n}/datacite.xml", "/api/v1/models/{id}/citation.cff"} {
		if !bytes.Contains(doc, []byte(`"`+p+`"`)) {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}

func TestUnpublishedHidden(t *testing.T) {
	e := newEnv(t, fairweb.Options{})
	path := "/api/v1/models/" + e.id() + "/versions/2/datacite.xml"
	if res, body := e.get("", path); res.StatusCode != 404 {
		t.Fatalf("anonymous sees the submitted version: %d %s", res.StatusCode, body)
	}
	res, _ := e.get("alice", path)
	if res.StatusCode != 200 {
		t.Fatalf("uploader: %d", res.StatusCode)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("unpublished Cache-Control %q", cc)
	}
	// The latest published citation stays version 1.
	if _, body := e.get("alice", "/api/v1/models/"+e.id()+"/citation.ris"); !bytes.Contains(body, []byte("ET  - 1\r\n")) {
		t.Errorf("latest citation is not version 1:\n%s", body)
	}
}

func TestDOICited(t *testing.T) {
	e := newEnv(t, fairweb.Options{})
	id := e.id()
	if err := e.db.SetVersionDOI(ctx, id, 1, "10.5072/zoo."+id+".1"); err != nil {
		t.Fatal(err)
	}
	res, body := e.get("", "/api/v1/models/"+id+"/versions/1/citation.bib")
	if !strings.Contains(res.Header.Get("Link"), "<https://doi.org/10.5072/zoo."+id+".1>; rel=\"cite-as\"") {
		t.Errorf("cite-as is not the DOI: %s", res.Header.Get("Link"))
	}
	if !strings.Contains(string(body), "doi = {10.5072/zoo."+id+".1}") {
		t.Errorf("BibTeX lacks the DOI:\n%s", body)
	}
	_, x := e.get("", "/api/v1/models/"+id+"/versions/1/datacite.xml")
	if !strings.Contains(string(x), `<identifier identifierType="DOI">10.5072/zoo.`+id+`.1</identifier>`) {
		t.Errorf("DataCite XML identifier is not the DOI:\n%s", x)
	}
}

func TestBaseURL(t *testing.T) {
	e := newEnv(t, fairweb.Options{})
	id := e.id()
	path := "/api/v1/models/" + id + "/versions/1/jsonld"
	res, _ := e.get("", path, "X-Forwarded-Proto", "https, http", "Host", "zoo.example.org")
	if !strings.Contains(res.Header.Get("Link"), "<https://zoo.example.org/models/"+id+"/1>; rel=\"cite-as\"") {
		t.Errorf("forwarded https: %s", res.Header.Get("Link"))
	}
	if v := res.Header.Get("Vary"); !strings.Contains(v, "X-Forwarded-Proto") {
		t.Errorf("Vary %q", v)
	}
	res, _ = e.get("", path, "Host", `evil.org>; rel="x", <http://a`)
	if !strings.Contains(res.Header.Get("Link"), "<http://localhost/models/"+id+"/1>; rel=\"cite-as\"") {
		t.Errorf("hostile Host: %s", res.Header.Get("Link"))
	}
	fixed := newEnv(t, fairweb.Options{Base: "https://zoo.lab.org"})
	res, _ = fixed.get("", "/api/v1/models/"+fixed.id()+"/versions/1/jsonld", "Host", "other.org")
	if !strings.Contains(res.Header.Get("Link"), "<https://zoo.lab.org/models/") {
		t.Errorf("configured base ignored: %s", res.Header.Get("Link"))
	}
}
