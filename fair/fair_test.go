package fair_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi/doitest"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

// nuclei is version 2 of the real nuclei model's description, published.
func nuclei(t testing.TB) fair.Record {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "bioimageio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Decode(data, "bioimageio.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return fair.Record{Version: version(), Desc: m, Base: "https://zoo.example.org"}
}

func version() *zoo.Version {
	pub := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return &zoo.Version{
		ModelID: "affable-shark", Number: 2, State: zoo.StatePublished, Name: "UNet",
		Files:         []zoo.File{{Path: "bioimageio.yaml", Size: 100}, {Path: "weights.onnx", Size: 12345}},
		PackageSHA256: "ab", PackageSize: 54321,
		CreatedAt: pub.Add(-time.Hour), PublishedAt: &pub,
	}
}

// exports are all outputs of one record, checked for well-formedness.
type exports struct {
	ld      map[string]any
	xml     dataciteXML
	json    map[string]any // data.attributes
	cff     map[string]any
	bib     string
	bibFlds map[string]string
	ris     []string
	links   []link
}

type dataciteXML struct {
	XMLName    xml.Name
	Identifier struct {
		Type string `xml:"identifierType,attr"`
		Text string `xml:",chardata"`
	} `xml:"identifier"`
	Creators []struct {
		Name    string   `xml:"creatorName"`
		NameIDs []string `xml:"nameIdentifier"`
	} `xml:"creators>creator"`
	Titles       []string `xml:"titles>title"`
	Publisher    string   `xml:"publisher"`
	Year         string   `xml:"publicationYear"`
	ResourceType struct {
		General string `xml:"resourceTypeGeneral,attr"`
	} `xml:"resourceType"`
	Rights []struct {
		ID string `xml:"rightsIdentifier,attr"`
	} `xml:"rightsList>rights"`
	Subjects []string `xml:"subjects>subject"`
}

type link struct{ target, rel, typ string }

var (
	bibLine  = regexp.MustCompile(`^  ([a-z]+) = (\{.*\}|[a-z]{3}),$`)
	risLine  = regexp.MustCompile(`^[A-Z][A-Z0-9]  - [^\r\n]*$`)
	linkRe   = regexp.MustCompile(`^<([^<>\s"]+)>; rel="([a-z-]+)"(?:; type="([a-z0-9.+/-]+)")?$`)
	yearRe   = regexp.MustCompile(`^[0-9]{4}$`)
	dateDay  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	ldParsed = func(b []byte) (map[string]any, error) { var m map[string]any; return m, json.Unmarshal(b, &m) }
)

// check runs every export of r and fails t unless each is well formed:
// JSON and XML parse (as UTF-8), the DataCite JSON passes the DataCite
// rules, CFF is YAML with the required keys, BibTeX is one entry whose
// every field is on one line with balanced braces, RIS is one record of
// tagged lines, the Link header is links with safe targets.
func check(t testing.TB, r fair.Record) exports {
	t.Helper()
	var x exports
	b, err := fair.JSONLD(r)
	if err != nil || !utf8.Valid(b) {
		t.Fatalf("JSONLD: %v", err)
	}
	if strings.Contains(strings.ToLower(string(b)), "</script") || strings.Contains(string(b), "<!--") {
		t.Errorf("JSON-LD cannot be embedded in a script element: %s", b)
	}
	if x.ld, err = ldParsed(b); err != nil {
		t.Fatalf("JSONLD does not parse: %v", err)
	}
	for _, k := range []string{"@context", "@type", "@id", "name", "identifier", "version", "url", "dateCreated", "datePublished", "isAccessibleForFree", "publisher"} {
		if x.ld[k] == nil {
			t.Errorf("JSON-LD lacks %s", k)
		}
	}

	b, err = fair.DataCiteXML(r)
	if err != nil || !utf8.Valid(b) {
		t.Fatalf("DataCiteXML: %v", err)
	}
	if err := xml.Unmarshal(b, &x.xml); err != nil {
		t.Fatalf("DataCite XML does not parse: %v\n%s", err, b)
	}
	if el, err := fair.DataCiteResource(r); err != nil || !strings.HasPrefix(string(b), xml.Header) || string(b[len(xml.Header):]) != string(el) {
		t.Errorf("DataCiteResource is not DataCiteXML without its declaration: %v", err)
	}
	if x.xml.XMLName.Space != fair.DataCiteNamespace || x.xml.XMLName.Local != "resource" {
		t.Errorf("root element %v", x.xml.XMLName)
	}
	if x.xml.Identifier.Text == "" || len(x.xml.Creators) == 0 || len(x.xml.Titles) == 0 || x.xml.Titles[0] == "" ||
		x.xml.Publisher == "" || !yearRe.MatchString(x.xml.Year) || x.xml.ResourceType.General == "" {
		t.Errorf("DataCite XML lacks a mandatory property: %+v", x.xml)
	}
	for _, c := range x.xml.Creators {
		if strings.TrimSpace(c.Name) == "" {
			t.Errorf("DataCite XML has a creator without a name")
		}
	}

	b, err = fair.DataCiteJSON(r)
	if err != nil || !utf8.Valid(b) {
		t.Fatalf("DataCiteJSON: %v", err)
	}
	var doc struct {
		Data struct {
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Data.Type != "dois" {
		t.Fatalf("DataCite JSON: %v, type %q", err, doc.Data.Type)
	}
	x.json = doc.Data.Attributes
	if errs := doitest.Check(x.json, true); len(errs) > 0 {
		t.Errorf("DataCite JSON breaks the DataCite rules: %v", errs)
	}

	cff := fair.CFF(r)
	if err := yaml.Unmarshal([]byte(cff), &x.cff); err != nil {
		t.Fatalf("CFF is not YAML: %v\n%s", err, cff)
	}
	if x.cff["cff-version"] != "1.2.0" || x.cff["message"] == nil || x.cff["title"] == nil {
		t.Errorf("CFF lacks cff-version/message/title: %v", x.cff)
	}
	authors, _ := x.cff["authors"].([]any)
	if len(authors) == 0 {
		t.Errorf("CFF has no authors")
	}
	for _, a := range authors {
		m, _ := a.(map[string]any)
		if m["name"] == nil && m["family-names"] == nil {
			t.Errorf("CFF author without name or family-names: %v", m)
		}
	}
	if d, _ := x.cff["date-released"].(string); !dateDay.MatchString(d) {
		t.Errorf("CFF date-released %v", x.cff["date-released"])
	}

	x.bib = fair.BibTeX(r)
	lines := strings.Split(strings.TrimSuffix(x.bib, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "@misc{") || !strings.HasSuffix(lines[0], ",") || lines[len(lines)-1] != "}" || strings.Count(x.bib, "@misc{") != 1 {
		t.Fatalf("BibTeX is not one @misc entry:\n%s", x.bib)
	}
	x.bibFlds = map[string]string{}
	for i, l := range lines[1 : len(lines)-1] {
		if i == len(lines)-3 { // the last field has no comma
			l += ","
		}
		m := bibLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("BibTeX line %q is not one field", l)
		}
		depth := 0
		for _, c := range m[2] { // BibTeX counts braces, escaped or not
			switch c {
			case '{':
				depth++
			case '}':
				depth--
			}
			if depth < 0 {
				t.Fatalf("BibTeX field %s closes early: %q", m[1], m[2])
			}
		}
		if depth != 0 {
			t.Fatalf("BibTeX field %s has unbalanced braces: %q", m[1], m[2])
		}
		if _, dup := x.bibFlds[m[1]]; dup {
			t.Fatalf("BibTeX field %s twice", m[1])
		}
		x.bibFlds[m[1]] = m[2]
	}
	for _, f := range []string{"author", "title", "year", "publisher", "url"} {
		if f == "author" && len(x.xml.Creators) == 1 && x.xml.Creators[0].Name == "(:unav)" {
			continue
		}
		if x.bibFlds[f] == "" {
			t.Errorf("BibTeX lacks %s", f)
		}
	}

	ris := fair.RIS(r)
	x.ris = strings.Split(strings.TrimSuffix(ris, "\r\n"), "\r\n")
	if x.ris[0] != "TY  - COMP" && x.ris[0] != "TY  - DATA" {
		t.Errorf("RIS starts with %q", x.ris[0])
	}
	for i, l := range x.ris {
		if !risLine.MatchString(l) && l != "ER  - " {
			t.Fatalf("RIS line %q", l)
		}
		if (strings.HasPrefix(l, "ER  -") || strings.HasPrefix(l, "TY  -")) && i != 0 && i != len(x.ris)-1 {
			t.Fatalf("RIS record ends or starts again inside: %q", l)
		}
	}
	if x.ris[len(x.ris)-1] != "ER  - " {
		t.Errorf("RIS does not end with ER")
	}

	sp := fair.Signposting(r)
	if strings.ContainsAny(sp, "\r\n") {
		t.Fatalf("Link header with a line break: %q", sp)
	}
	for _, l := range strings.Split(sp, ", <") {
		if !strings.HasPrefix(l, "<") {
			l = "<" + l
		}
		m := linkRe.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("bad link %q", l)
		}
		x.links = append(x.links, link{m[1], m[2], m[3]})
	}
	return x
}

func (x exports) rels(rel string) []string {
	var out []string
	for _, l := range x.links {
		if l.rel == rel {
			out = append(out, l.target)
		}
	}
	return out
}

func TestNuclei(t *testing.T) {
	r := nuclei(t)
	x := check(t, r)
	// JSON-LD: the model's own metadata, with ORCIDs as author ids.
	if x.ld["@type"] != "SoftwareSourceCode" || x.ld["name"] != "UNet 2D Nuclei Broad" || x.ld["license"] != "https://spdx.org/licenses/MIT" ||
		x.ld["url"] != "https://zoo.example.org/models/affable-shark/2" || x.ld["isAccessibleForFree"] != true || x.ld["version"] != "2" {
		t.Errorf("JSON-LD: %v", x.ld)
	}
	a0 := x.ld["author"].([]any)[0].(map[string]any)
	if a0["@id"] != "https://orcid.org/0000-0001-6562-7187" || a0["name"] != "Constantin Pape" {
		t.Errorf("first author %v", a0)
	}
	if x.ld["distribution"] != nil || x.ld["downloadUrl"] != nil {
		t.Errorf("distribution/downloadUrl are not properties of SoftwareSourceCode: %v", x.ld)
	}
	dist := x.ld["encoding"].([]any)
	if len(dist) != 2 || dist[1].(map[string]any)["contentUrl"] != "https://zoo.example.org/files/affable-shark/2/weights.onnx" {
		t.Errorf("distribution %v", dist)
	}
	if c := x.ld["citation"].([]any)[0].(map[string]any); c["@id"] != "https://doi.org/10.1007/978-3-319-24574-4_28" {
		t.Errorf("citation %v", c)
	}
	// DataCite without a DOI: the landing URL identifies.
	if x.xml.Identifier.Type != "URL" || x.xml.Identifier.Text != "https://zoo.example.org/models/affable-shark/2" {
		t.Errorf("identifier without DOI %+v", x.xml.Identifier)
	}
	if x.xml.Creators[0].Name != "Pape, Constantin" || x.xml.Creators[0].NameIDs[0] != "https://orcid.org/0000-0001-6562-7187" {
		t.Errorf("creator %+v", x.xml.Creators[0])
	}
	if x.xml.ResourceType.General != "Model" || x.xml.Year != "2026" || x.xml.Rights[0].ID != "MIT" || len(x.xml.Subjects) != 5 {
		t.Errorf("DataCite XML %+v", x.xml)
	}
	if _, has := x.json["doi"]; has {
		t.Errorf("DataCite JSON has a doi before minting")
	}
	if x.bibFlds["url"] != "{https://zoo.example.org/models/affable-shark/2}" || x.bibFlds["author"] != "{Pape, Constantin and Beuttenmueller, Fynn}" {
		t.Errorf("BibTeX %v", x.bibFlds)
	}
	if got := x.rels("cite-as"); len(got) != 1 || got[0] != "https://zoo.example.org/models/affable-shark/2" {
		t.Errorf("cite-as %v", got)
	}
	if got := x.rels("item"); len(got) != 2 {
		t.Errorf("items %v", got)
	}
	if got := x.rels("describedby"); len(got) != 2 || got[0] != "https://zoo.example.org/api/v1/models/affable-shark/versions/2/datacite.xml" {
		t.Errorf("describedby %v", got)
	}
	if got := x.rels("author"); len(got) != 2 {
		t.Errorf("authors %v", got)
	}

	// Minted: the DOI is the identifier everywhere.
	r.DOI = "https://doi.org/10.5072/zoo.affable-shark.2"
	x = check(t, r)
	if x.xml.Identifier.Type != "DOI" || x.xml.Identifier.Text != "10.5072/zoo.affable-shark.2" || x.json["doi"] != "10.5072/zoo.affable-shark.2" {
		t.Errorf("minted identifier %+v / %v", x.xml.Identifier, x.json["doi"])
	}
	if x.ld["@id"] != "https://doi.org/10.5072/zoo.affable-shark.2" || x.cff["doi"] != "10.5072/zoo.affable-shark.2" || x.bibFlds["doi"] != "{10.5072/zoo.affable-shark.2}" {
		t.Errorf("minted: @id %v, cff doi %v, bib doi %v", x.ld["@id"], x.cff["doi"], x.bibFlds["doi"])
	}
	if got := x.rels("cite-as"); got[0] != "https://doi.org/10.5072/zoo.affable-shark.2" {
		t.Errorf("cite-as %v", got)
	}
	if r.CiteAs() != "https://doi.org/10.5072/zoo.affable-shark.2" || r.LandingURL() != "https://zoo.example.org/models/affable-shark/2" {
		t.Errorf("CiteAs %q LandingURL %q", r.CiteAs(), r.LandingURL())
	}
}

func TestEscaping(t *testing.T) {
	r := fair.Record{Version: version(), Base: "https://zoo.example.org", Desc: &spec.Model{
		Type: "model", Name: `50% "U}Net" {\emph #1} & a_b ^~ @x`, License: "MIT",
		Authors: []spec.Author{{Name: "Ada {Lovelace}"}, {Name: "Smith and Sons"}},
	}}
	x := check(t, r)
	if got := x.bibFlds["title"]; got != `{{50\% "U\textbraceright{}Net" \textbraceleft{}\textbackslash{}emph \#1\textbraceright{} \& a\_b \textasciicircum{}\textasciitilde{} {@}x}}` {
		t.Errorf("BibTeX title %s", got)
	}
	if got := x.bibFlds["author"]; got != `{\textbraceleft{}Lovelace\textbraceright{}, Ada and {Smith and Sons}}` {
		t.Errorf("an author with ' and ' is not kept whole: %s", got)
	}
	if x.cff["title"] != r.Desc.Name || x.xml.Titles[0] != r.Desc.Name {
		t.Errorf("title does not round-trip: cff %q xml %q", x.cff["title"], x.xml.Titles[0])
	}
}

func TestHostile(t *testing.T) {
	evil := "A\"'<b></script><!--&amp;}{\\\n\r\nER  - \nTY  - JOUR\x00\x1b[31m\xff\xfe\u2028</resource>]]>\n  title = {x},"
	authors := make([]spec.Author, 10000)
	for i := range authors {
		authors[i] = spec.Author{Name: evil, ORCID: "0000-0002-1825-0097>; rel=\"x\"", Affiliation: evil}
	}
	authors[1].ORCID = "https://orcid.org/0000-0002-1825-0097"
	r := fair.Record{Version: version(), Base: "https://zoo.example.org", Desc: &spec.Model{
		Type: "model\n<x>", Name: evil, Description: strings.Repeat(evil, 5000), License: evil,
		Tags: []string{evil, "", evil, "ok"}, Authors: authors, GitRepo: "javascript:alert(1)",
		Cite:    []spec.CiteEntry{{Text: evil, DOI: "10.1/x}{", URL: "http://a b"}, {Text: "", DOI: "", URL: ""}},
		Weights: spec.Weights{ONNX: &spec.WeightsEntry{Source: "weights.onnx"}},
	}}
	r.Version.Files = append(r.Version.Files, zoo.File{Path: "weights.onnx", Size: 1})
	x := check(t, r)
	if len(x.xml.Creators) != fair.MaxAuthors {
		t.Errorf("%d creators, want the cap %d", len(x.xml.Creators), fair.MaxAuthors)
	}
	if n := len(x.rels("author")); n != 1 {
		t.Errorf("%d author links, want 1 (one valid ORCID)", n)
	}
	if x.ld["codeRepository"] != nil {
		t.Errorf("a javascript: URL became codeRepository")
	}
	if x.ld["license"] == "https://spdx.org/licenses/"+evil {
		t.Errorf("a non-SPDX licence became a URL")
	}
	if d, _ := x.ld["description"].(string); utf8.RuneCountInString(d) > fair.MaxText {
		t.Errorf("description of %d runes, cap %d", utf8.RuneCountInString(d), fair.MaxText)
	}
	if len(fair.Signposting(r)) > 8000 {
		t.Errorf("Link header of %d bytes", len(fair.Signposting(r)))
	}
	// No description at all still exports the mandatory properties.
	x = check(t, fair.Record{Version: version(), Base: "http://h"})
	if x.xml.Creators[0].Name != "(:unav)" || x.xml.Titles[0] != "UNet" {
		t.Errorf("empty description: %+v", x.xml)
	}
}

func TestNoVersion(t *testing.T) {
	if _, err := fair.JSONLD(fair.Record{}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("JSONLD without a version: %v", err)
	}
	if fair.BibTeX(fair.Record{}) != "" || fair.Signposting(fair.Record{}) != "" {
		t.Errorf("text exports without a version are not empty")
	}
}

func FuzzExports(f *testing.F) {
	f.Add("UNet {2D}", "A\nB", "Ada Lovelace", "0000-0002-1825-0097", "MIT", "tag", "10.1/x", "affable-shark")
	f.Add("\xff\xfe", "}}}", "a and b", "x", "GPL-3.0 OR MIT", "ER  - ", "10.5072/}", "x/y<z")
	f.Fuzz(func(t *testing.T, name, desc, author, orcid, license, tag, doiS, id string) {
		v := version()
		if id != "" {
			v.ModelID = id
		}
		r := fair.Record{Version: v, Base: "https://zoo.example.org", DOI: doiS, Desc: &spec.Model{
			Type: "model", Name: name, Description: desc, License: license, Tags: []string{tag},
			Authors: []spec.Author{{Name: author, ORCID: orcid, Affiliation: desc}, {Name: name}},
			Cite:    []spec.CiteEntry{{Text: desc, DOI: doiS, URL: desc}},
		}}
		check(t, r)
	})
}
