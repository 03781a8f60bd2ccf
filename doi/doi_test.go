package doi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/doi/doitest"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/spec"
)

var ctx = context.Background()

func record(id string, n int) fair.Record {
	pub := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	return fair.Record{
		Version: &zoo.Version{ModelID: id, Number: n, State: zoo.StatePublished, Name: "U-Net", CreatedAt: pub, PublishedAt: &pub, PackageSize: 10},
		Desc: &spec.Model{
			Type: "model", Name: "UNet 2D nuclei", Description: "segments nuclei", License: "MIT", Tags: []string{"unet", "nuclei"},
			Authors: []spec.Author{{Name: "Ada Lovelace", ORCID: "0000-0002-1825-0097", Affiliation: "EMBL"}, {Name: "Consortium"}},
			Cite:    []spec.CiteEntry{{Text: "U-Net", DOI: "10.1007/978-3-319-24574-4_28"}},
		},
		Base: "http://whatever.invalid", // replaced by PublicURL
	}
}

func client(t *testing.T, s *doitest.Server) *doi.DataCite {
	t.Helper()
	d, err := doi.NewDataCite(doi.Config{URL: s.URL, Repository: s.Repository, Password: s.Password, Prefix: s.Prefix, PublicURL: "https://zoo.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMintFindable(t *testing.T) {
	s := doitest.NewServer(t)
	d := client(t, s)
	got, err := d.Mint(ctx, record("affable-shark", 3))
	if err != nil {
		t.Fatalf("Mint: %v (server saw: %v)", err, s.Problems())
	}
	if got != "10.5072/zoo.affable-shark.3" {
		t.Fatalf("DOI = %q", got)
	}
	rec := s.Get(got)
	if rec == nil || rec.State != "findable" {
		t.Fatalf("server record = %+v, want findable", rec)
	}
	if u := rec.Attributes["url"]; u != "https://zoo.example.org/models/affable-shark/3" {
		t.Errorf("registered url = %v, want the landing page under the public URL", u)
	}
	creators := rec.Attributes["creators"].([]any)
	if len(creators) != 2 || creators[0].(map[string]any)["name"] != "Lovelace, Ada" {
		t.Errorf("creators = %v", creators)
	}
}

func TestMintIdempotent(t *testing.T) {
	s := doitest.NewServer(t)
	d := client(t, s)
	first, err := d.Mint(ctx, record("brave-otter", 1))
	if err != nil {
		t.Fatal(err)
	}
	// A retry (e.g. the local write failed after DataCite answered) gets
	// 422 "already taken" and updates the same DOI.
	again, err := d.Mint(ctx, record("brave-otter", 1))
	if err != nil {
		t.Fatalf("second mint: %v (%v)", err, s.Problems())
	}
	if again != first || s.Len() != 1 {
		t.Fatalf("second mint gave %q (first %q), server holds %d DOIs", again, first, s.Len())
	}
	if rec := s.Get(first); rec.Updates != 1 {
		t.Errorf("updates = %d, want 1 (the retry updated the DOI)", rec.Updates)
	}
	// Another version gets another DOI.
	other, err := d.Mint(ctx, record("brave-otter", 2))
	if err != nil || other == first {
		t.Fatalf("version 2: %q, %v", other, err)
	}
}

func TestMintFailures(t *testing.T) {
	s := doitest.NewServer(t)
	d := client(t, s)

	s.FailNext(503)
	_, err := d.Mint(ctx, record("calm-lynx", 1))
	if zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("503: %v, want Unavailable (retried by the job)", err)
	}
	s.FailNext(0) // connection dropped
	if _, err := d.Mint(ctx, record("calm-lynx", 1)); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("dropped connection: %v, want Unavailable", err)
	}
	s.FailNext(429)
	if _, err := d.Mint(ctx, record("calm-lynx", 1)); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("429: %v, want Unavailable", err)
	}
	// The retry after the failures succeeds with the same DOI.
	got, err := d.Mint(ctx, record("calm-lynx", 1))
	if err != nil || got != "10.5072/zoo.calm-lynx.1" || s.Len() != 1 {
		t.Fatalf("retry: %q, %v, %d DOIs", got, err, s.Len())
	}

	bad, err := doi.NewDataCite(doi.Config{URL: s.URL, Repository: s.Repository, Password: "wrong", Prefix: s.Prefix, PublicURL: "https://zoo.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Mint(ctx, record("deft-heron", 1)); zoo.KindOf(err) != zoo.Forbidden || !strings.Contains(zoo.MessageOf(err), doi.EnvPassword) {
		t.Fatalf("bad password: %v, want Forbidden naming %s", err, doi.EnvPassword)
	}
	other, _ := doi.NewDataCite(doi.Config{URL: s.URL, Repository: s.Repository, Password: s.Password, Prefix: "10.9999", PublicURL: "https://zoo.example.org"})
	if _, err := other.Mint(ctx, record("deft-heron", 1)); zoo.KindOf(err) != zoo.Forbidden || !strings.Contains(zoo.MessageOf(err), doi.EnvPrefix) {
		t.Fatalf("foreign prefix: %v, want Forbidden naming %s", err, doi.EnvPrefix)
	}
}

// The test server refuses what DataCite refuses: a sanity check that it is
// not a server that accepts anything.
func TestServerChecksSchema(t *testing.T) {
	cases := map[string]map[string]any{
		"no creators":           {"creators": []any{}},
		"blank title":           {"titles": []any{map[string]any{"title": " "}}},
		"no publisher":          {"publisher": nil},
		"bad year":              {"publicationYear": 99},
		"bad resourceType":      {"types": map[string]any{"resourceTypeGeneral": "MLModel"}},
		"no url":                {"url": "ftp://x"},
		"bad dateType":          {"dates": []any{map[string]any{"date": "2026-01-01", "dateType": "Published"}}},
		"bad relationType":      {"relatedIdentifiers": []any{map[string]any{"relatedIdentifier": "10.1/x", "relatedIdentifierType": "DOI", "relationType": "Uses"}}},
		"bad ORCID":             {"creators": []any{map[string]any{"name": "A", "nameIdentifiers": []any{map[string]any{"nameIdentifier": "https://orcid.org/123", "nameIdentifierScheme": "ORCID"}}}}},
		"bad nameType":          {"creators": []any{map[string]any{"name": "A", "nameType": "Robot"}}},
		"bad descriptionType":   {"descriptions": []any{map[string]any{"description": "x", "descriptionType": "Summary"}}},
		"creators not an array": {"creators": "A"},
	}
	valid := func() map[string]any {
		return map[string]any{
			"url": "https://zoo.example.org/models/x/1", "creators": []any{map[string]any{"name": "A"}},
			"titles": []any{map[string]any{"title": "T"}}, "publisher": "zoo", "publicationYear": float64(2026),
			"types": map[string]any{"resourceTypeGeneral": "Model"},
		}
	}
	if errs := doitest.Check(valid(), true); len(errs) != 0 {
		t.Fatalf("minimal valid record refused: %v", errs)
	}
	for name, change := range cases {
		a := valid()
		for k, v := range change {
			a[k] = v
		}
		if errs := doitest.Check(a, true); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := doi.FromEnv(env(nil))
	if c != nil || err != nil {
		t.Fatalf("nothing set: %v, %v; want off", c, err)
	}
	_, err = doi.FromEnv(env(map[string]string{doi.EnvURL: "https://api.test.datacite.org"}))
	if zoo.KindOf(err) != zoo.Invalid || !strings.Contains(zoo.MessageOf(err), doi.EnvPrefix) {
		t.Fatalf("half configured: %v", err)
	}
	full := map[string]string{doi.EnvURL: "https://api.test.datacite.org", doi.EnvRepository: "R", doi.EnvPassword: "p", doi.EnvPrefix: "10.5072", doi.EnvPublicURL: "https://zoo.example.org"}
	if c, err := doi.FromEnv(env(full)); err != nil || c.Prefix != "10.5072" {
		t.Fatalf("full: %v, %v", c, err)
	}
	full[doi.EnvPrefix] = "5072"
	if _, err := doi.FromEnv(env(full)); zoo.KindOf(err) != zoo.Invalid {
		t.Fatalf("bad prefix: %v", err)
	}
}

func TestSuffix(t *testing.T) {
	for in, want := range map[string]string{"affable-shark": "zoo.affable-shark.2", "Weird/ID<>?": "zoo.weirdid.2"} {
		if got := doi.Suffix(in, 2); got != want {
			t.Errorf("Suffix(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever DataCite answers (status, body), Mint returns a DOI only on
// success and otherwise an error of a known kind; it reads at most 1 MiB.
func FuzzDataCiteAnswer(f *testing.F) {
	f.Add(201, []byte(`{"data":{"id":"10.5072/zoo.x.1"}}`))
	f.Add(422, []byte(`{"errors":[{"source":"doi","title":"This DOI has already been taken"}]}`))
	f.Add(422, []byte(`{"errors":[{"title":"already been taken"}]`))
	f.Add(500, []byte("<html>"))
	f.Add(200, []byte(`{"data":{"id":"10.9999/other"}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write(body)
		}))
		defer srv.Close()
		d, err := doi.NewDataCite(doi.Config{URL: srv.URL, Repository: "R", Password: "p", Prefix: "10.5072", PublicURL: "https://zoo.example.org"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Mint(ctx, record("x", 1))
		if err == nil {
			if (status != 200 && status != 201) || !strings.EqualFold(got, "10.5072/zoo.x.1") {
				t.Fatalf("status %d gave DOI %q", status, got)
			}
			return
		}
		switch zoo.KindOf(err) {
		case zoo.Unavailable, zoo.Forbidden, zoo.Invalid:
		default:
			t.Fatalf("status %d: error kind %v: %v", status, zoo.KindOf(err), err)
		}
		if len(zoo.MessageOf(err)) > 2000 {
			t.Fatalf("message of %d bytes", len(zoo.MessageOf(err)))
		}
	})
}
