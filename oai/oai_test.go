package oai

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/spec"
)

// fakeSource holds versions in every state; Items returns the public ones
// as the contract says (the handler must also cope if it did not).
type fakeSource struct {
	versions []*zoo.Version
	types    map[string]string
	descs    map[string]*spec.Model
	leak     bool // return non-public versions too (a broken source)
}

func (f *fakeSource) Items(ctx context.Context) ([]Item, error) {
	var out []Item
	for _, v := range f.versions {
		if !v.State.Public() && !f.leak {
			continue
		}
		d := v.CreatedAt
		if v.PublishedAt != nil {
			d = *v.PublishedAt
		}
		out = append(out, Item{Version: v, Type: f.types[v.ModelID], Datestamp: d})
	}
	return out, nil
}

func (f *fakeSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	d, ok := f.descs[fmt.Sprintf("%s/%d", v.ModelID, v.Number)]
	if !ok {
		return nil, zoo.E("fake", zoo.NotFound, nil, "no description")
	}
	return d, nil
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// corpus: 23 models; model i has versions 1..(i%3+1) published a day apart,
// one more draft version, and every 5th model a retired version 1.
func corpus() *fakeSource {
	f := &fakeSource{types: map[string]string{}, descs: map[string]*spec.Model{}}
	for i := range 23 {
		id := fmt.Sprintf("model-%02d", i)
		f.types[id] = "model"
		if i == 22 {
			f.types[id] = "dataset"
		}
		n := i%3 + 1
		for k := 1; k <= n+1; k++ {
			pub := t0.Add(time.Duration(i*24+k) * time.Hour)
			v := &zoo.Version{ModelID: id, Number: k, State: zoo.StatePublished, Name: id, CreatedAt: pub.Add(-time.Hour), PublishedAt: &pub}
			if k == n+1 {
				v.State, v.PublishedAt = zoo.StateDraft, nil
			} else if i%5 == 0 && k == 1 {
				v.State, v.RetiredReason = zoo.StateRetired, "superseded <by> version 2 & more"
			}
			f.versions = append(f.versions, v)
			tags := []string{"unet", "has space"}
			if i%2 == 0 {
				tags = append(tags, "segmentation")
			}
			f.descs[fmt.Sprintf("%s/%d", id, k)] = &spec.Model{Type: f.types[id], Name: "Model " + id + " <&>",
				Description: "desc of " + id, Tags: tags, License: "MIT",
				Authors: []spec.Author{{Name: "Ada Lovelace"}}, Cite: []spec.CiteEntry{{Text: "paper", DOI: "10.1234/abc"}}}
		}
	}
	// A weird submitted version and a rejected one never appear.
	f.versions = append(f.versions,
		&zoo.Version{ModelID: "model-00", Number: 9, State: zoo.StateSubmitted, CreatedAt: t0},
		&zoo.Version{ModelID: "model-01", Number: 9, State: zoo.StateRejected, CreatedAt: t0})
	return f
}

// public lists the identifiers a harvest must return: the published and
// retired versions, named here rather than by zoo.State.Public, the rule
// under test (a Public that let drafts through would pass unseen).
func public(f *fakeSource) map[string]bool {
	out := map[string]bool{}
	for _, v := range f.versions {
		if v.State == zoo.StatePublished || v.State == zoo.StateRetired {
			out[fmt.Sprintf("oai:zoo.example.org:%s/%d", v.ModelID, v.Number)] = true
		}
	}
	return out
}

// response is the part of an OAI-PMH answer the tests read.
type response struct {
	XMLName      xml.Name `xml:"http://www.openarchives.org/OAI/2.0/ OAI-PMH"`
	ResponseDate string   `xml:"responseDate"`
	Request      struct {
		Verb string `xml:"verb,attr"`
		URL  string `xml:",chardata"`
	} `xml:"request"`
	Error *struct {
		Code string `xml:"code,attr"`
		Msg  string `xml:",chardata"`
	} `xml:"error"`
	Identify *struct {
		RepositoryName    string   `xml:"repositoryName"`
		BaseURL           string   `xml:"baseURL"`
		ProtocolVersion   string   `xml:"protocolVersion"`
		AdminEmail        []string `xml:"adminEmail"`
		EarliestDatestamp string   `xml:"earliestDatestamp"`
		DeletedRecord     string   `xml:"deletedRecord"`
		Granularity       string   `xml:"granularity"`
	} `xml:"Identify"`
	Formats []struct {
		Prefix string `xml:"metadataPrefix"`
	} `xml:"ListMetadataFormats>metadataFormat"`
	Sets []struct {
		Spec string `xml:"setSpec"`
		Name string `xml:"setName"`
	} `xml:"ListSets>set"`
	Headers []header `xml:"ListIdentifiers>header"`
	Records []record `xml:"ListRecords>record"`
	Record  *record  `xml:"GetRecord>record"`
	Token   *struct {
		Value   string `xml:",chardata"`
		Size    int    `xml:"completeListSize,attr"`
		Cursor  int    `xml:"cursor,attr"`
		Expires string `xml:"expirationDate,attr"`
	} `xml:"ListRecords>resumptionToken"`
	IDToken *struct {
		Value  string `xml:",chardata"`
		Size   int    `xml:"completeListSize,attr"`
		Cursor int    `xml:"cursor,attr"`
	} `xml:"ListIdentifiers>resumptionToken"`
}

type header struct {
	Identifier string   `xml:"identifier"`
	Datestamp  string   `xml:"datestamp"`
	Sets       []string `xml:"setSpec"`
	Status     string   `xml:"status,attr"`
}

type record struct {
	Header   header `xml:"header"`
	Metadata struct {
		DC *struct {
			Title       []string `xml:"http://purl.org/dc/elements/1.1/ title"`
			Creator     []string `xml:"http://purl.org/dc/elements/1.1/ creator"`
			Subject     []string `xml:"http://purl.org/dc/elements/1.1/ subject"`
			Description []string `xml:"http://purl.org/dc/elements/1.1/ description"`
			Identifier  []string `xml:"http://purl.org/dc/elements/1.1/ identifier"`
			Rights      []string `xml:"http://purl.org/dc/elements/1.1/ rights"`
			Date        []string `xml:"http://purl.org/dc/elements/1.1/ date"`
			Relation    []string `xml:"http://purl.org/dc/elements/1.1/ relation"`
		} `xml:"http://www.openarchives.org/OAI/2.0/oai_dc/ dc"`
		DataCite *struct {
			SchemaVersion string `xml:"schemaVersion"`
			Resource      struct {
				Identifier struct {
					Type  string `xml:"identifierType,attr"`
					Value string `xml:",chardata"`
				} `xml:"http://datacite.org/schema/kernel-4 identifier"`
				Titles    []string `xml:"http://datacite.org/schema/kernel-4 titles>title"`
				Creators  []string `xml:"http://datacite.org/schema/kernel-4 creators>creator>creatorName"`
				Publisher string   `xml:"http://datacite.org/schema/kernel-4 publisher"`
				Year      string   `xml:"http://datacite.org/schema/kernel-4 publicationYear"`
				Type      struct {
					General string `xml:"resourceTypeGeneral,attr"`
				} `xml:"http://datacite.org/schema/kernel-4 resourceType"`
			} `xml:"payload>resource"`
		} `xml:"http://schema.datacite.org/oai/oai-1.1/ oai_datacite"`
	} `xml:"metadata"`
}

type harness struct {
	t   *testing.T
	srv *httptest.Server
	h   *Handler
}

func newHarness(t *testing.T, src Source, opts Options) *harness {
	if opts.Base == "" {
		opts.Base = "https://zoo.example.org"
	}
	h := New(src, opts)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t, srv, h}
}

// get sends a GET with the query and parses the answer, failing on
// anything but a 200 XML answer.
func (h *harness) get(query string) *response {
	h.t.Helper()
	res, err := http.Get(h.srv.URL + "/oai?" + query)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.parse(res)
}

func (h *harness) parse(res *http.Response) *response {
	h.t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/xml") {
		h.t.Fatalf("status %d, type %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var r response
	if err := xml.Unmarshal(body, &r); err != nil {
		h.t.Fatalf("answer is not OAI-PMH XML: %v\n%s", err, body)
	}
	if r.ResponseDate == "" || r.Request.URL != "https://zoo.example.org/oai" {
		h.t.Fatalf("envelope incomplete: %+v\n%s", r, body)
	}
	return &r
}

func (h *harness) wantError(query, code string) {
	h.t.Helper()
	r := h.get(query)
	if r.Error == nil || r.Error.Code != code {
		h.t.Errorf("%s: got error %+v, want %s", query, r.Error, code)
	}
	if r.Error != nil && (code == BadVerb || code == BadArgument) && r.Request.Verb != "" {
		h.t.Errorf("%s: %s answer echoes the verb attribute", query, code)
	}
}

// harvest walks a list verb through its resumption tokens.
func (h *harness) harvest(verb, args string) (ids []string, pages int) {
	h.t.Helper()
	q := "verb=" + verb + "&" + args
	for {
		r := h.get(q)
		if r.Error != nil {
			h.t.Fatalf("%s: error %s: %s", q, r.Error.Code, r.Error.Msg)
		}
		pages++
		tok := r.Token
		for _, rec := range r.Records {
			ids = append(ids, rec.Header.Identifier)
		}
		if verb == verbListIdentifiers {
			for _, hd := range r.Headers {
				ids = append(ids, hd.Identifier)
			}
			if r.IDToken != nil {
				tok = &struct {
					Value   string `xml:",chardata"`
					Size    int    `xml:"completeListSize,attr"`
					Cursor  int    `xml:"cursor,attr"`
					Expires string `xml:"expirationDate,attr"`
				}{r.IDToken.Value, r.IDToken.Size, r.IDToken.Cursor, ""}
			}
		}
		if tok == nil {
			h.t.Fatalf("%s: no resumptionToken element (every page of a paged list has one)", q)
		}
		if tok.Cursor != len(ids)-len(r.Records)-len(r.Headers) {
			h.t.Errorf("page %d: cursor %d, want %d", pages, tok.Cursor, len(ids)-len(r.Records)-len(r.Headers))
		}
		if strings.TrimSpace(tok.Value) == "" {
			if tok.Size != len(ids) {
				h.t.Errorf("completeListSize %d, harvested %d", tok.Size, len(ids))
			}
			return ids, pages
		}
		q = "verb=" + verb + "&resumptionToken=" + url.QueryEscape(strings.TrimSpace(tok.Value))
		if pages > 1000 {
			h.t.Fatal("harvest does not end")
		}
	}
}

func TestHarvestEveryPublishedRecordOnce(t *testing.T) {
	for _, leak := range []bool{false, true} {
		src := corpus()
		src.leak = leak
		h := newHarness(t, src, Options{PageSize: 4})
		want := public(src)
		for _, verb := range []string{verbListRecords, verbListIdentifiers} {
			for _, prefix := range []string{PrefixDC, PrefixDataCite} {
				ids, pages := h.harvest(verb, "metadataPrefix="+prefix)
				seen := map[string]int{}
				for _, id := range ids {
					seen[id]++
				}
				for id := range want {
					if seen[id] != 1 {
						t.Errorf("%s %s: %s harvested %d times", verb, prefix, id, seen[id])
					}
				}
				for id := range seen {
					if !want[id] {
						t.Errorf("%s %s: %s is not published or retired", verb, prefix, id)
					}
				}
				if wantPages := (len(want) + 3) / 4; pages != wantPages {
					t.Errorf("%s: %d pages for %d records of 4, want %d", verb, pages, len(want), wantPages)
				}
			}
		}
	}
}

func TestRecordsCarryMetadata(t *testing.T) {
	h := newHarness(t, corpus(), Options{})
	r := h.get("verb=GetRecord&identifier=oai:zoo.example.org:model-00/1&metadataPrefix=oai_dc")
	if r.Error != nil || r.Record == nil || r.Record.Metadata.DC == nil {
		t.Fatalf("GetRecord: %+v", r)
	}
	dc := r.Record.Metadata.DC
	if !slices.Equal(dc.Title, []string{"Model model-00 <&>"}) || !slices.Equal(dc.Creator, []string{"Ada Lovelace"}) ||
		!slices.Contains(dc.Subject, "segmentation") || !slices.Equal(dc.Rights, []string{"MIT"}) ||
		!slices.Contains(dc.Identifier, "https://zoo.example.org/models/model-00/1") ||
		!slices.Contains(dc.Relation, "https://doi.org/10.1234/abc") {
		t.Errorf("oai_dc fields: %+v", dc)
	}
	// model-00 version 1 is retired: the record stays, with the notice.
	if len(dc.Description) == 0 || dc.Description[0] != "Retired: superseded <by> version 2 & more" {
		t.Errorf("retired notice missing: %q", dc.Description)
	}
	if r.Record.Header.Datestamp != "2025-03-01T13:00:00Z" || r.Record.Header.Status != "" {
		t.Errorf("header: %+v", r.Record.Header)
	}
	if !slices.Contains(r.Record.Header.Sets, "type:model") || !slices.Contains(r.Record.Header.Sets, "tag:segmentation") ||
		slices.Contains(r.Record.Header.Sets, "tag:has space") {
		t.Errorf("sets: %v", r.Record.Header.Sets)
	}

	r = h.get("verb=GetRecord&identifier=oai:zoo.example.org:model-01/1&metadataPrefix=oai_datacite")
	if r.Error != nil || r.Record == nil || r.Record.Metadata.DataCite == nil {
		t.Fatalf("GetRecord oai_datacite: %+v", r)
	}
	dcx := r.Record.Metadata.DataCite
	res := dcx.Resource
	if dcx.SchemaVersion != "4" || res.Identifier.Value == "" || len(res.Titles) == 0 || len(res.Creators) == 0 ||
		res.Publisher == "" || res.Year != "2025" || res.Type.General == "" {
		t.Errorf("DataCite record lacks a mandatory property: %+v", dcx)
	}
}

func TestDOIInDataCite(t *testing.T) {
	h := newHarness(t, corpus(), Options{DOI: func(ctx context.Context, v *zoo.Version) string {
		return "10.5072/zoo." + v.ModelID
	}})
	r := h.get("verb=GetRecord&identifier=oai:zoo.example.org:model-01/1&metadataPrefix=oai_datacite")
	if r.Record == nil || r.Record.Metadata.DataCite == nil {
		t.Fatalf("%+v", r)
	}
	id := r.Record.Metadata.DataCite.Resource.Identifier
	if id.Type != "DOI" || id.Value != "10.5072/zoo.model-01" {
		t.Errorf("identifier %+v", id)
	}
}

func TestIdentifyAndFormats(t *testing.T) {
	h := newHarness(t, corpus(), Options{Name: "Test zoo", AdminEmails: []string{"ops@example.org"}})
	r := h.get("verb=Identify")
	id := r.Identify
	if id == nil || id.RepositoryName != "Test zoo" || id.BaseURL != "https://zoo.example.org/oai" || id.ProtocolVersion != "2.0" ||
		!slices.Equal(id.AdminEmail, []string{"ops@example.org"}) || id.DeletedRecord != "no" ||
		id.Granularity != "YYYY-MM-DDThh:mm:ssZ" || id.EarliestDatestamp != "2025-03-01T13:00:00Z" {
		t.Errorf("Identify: %+v", id)
	}
	r = h.get("verb=ListMetadataFormats")
	if len(r.Formats) != 2 || r.Formats[0].Prefix != PrefixDC || r.Formats[1].Prefix != PrefixDataCite {
		t.Errorf("formats: %+v", r.Formats)
	}
	r = h.get("verb=ListMetadataFormats&identifier=oai:zoo.example.org:model-03/1")
	if len(r.Formats) != 2 {
		t.Errorf("formats of a record: %+v", r)
	}
}

func TestSets(t *testing.T) {
	src := corpus()
	h := newHarness(t, src, Options{PageSize: 5})
	r := h.get("verb=ListSets")
	var specs []string
	for _, s := range r.Sets {
		specs = append(specs, s.Spec)
	}
	for _, want := range []string{"type", "tag", "type:model", "type:dataset", "tag:segmentation", "tag:unet"} {
		if !slices.Contains(specs, want) {
			t.Errorf("set %s missing from %v", want, specs)
		}
	}
	if slices.Contains(specs, "tag:has space") {
		t.Errorf("invalid set spec offered: %v", specs)
	}
	ids, _ := h.harvest(verbListIdentifiers, "metadataPrefix=oai_dc&set=type:dataset")
	if len(ids) == 0 {
		t.Fatal("no dataset records")
	}
	for _, id := range ids {
		if !strings.Contains(id, "model-22/") {
			t.Errorf("type:dataset gave %s", id)
		}
	}
	ids, _ = h.harvest(verbListRecords, "metadataPrefix=oai_dc&set=tag:segmentation")
	for _, id := range ids {
		var i int
		fmt.Sscanf(id, "oai:zoo.example.org:model-%02d", &i)
		if i%2 != 0 {
			t.Errorf("tag:segmentation gave %s (odd models are not tagged)", id)
		}
	}
	all, _ := h.harvest(verbListIdentifiers, "metadataPrefix=oai_dc&set=type")
	if len(all) != len(public(src)) {
		t.Errorf("set type (parent) gave %d records, want all %d", len(all), len(public(src)))
	}
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&set=tag:nothing-has-this", NoRecordsMatch)
}

func TestFromUntil(t *testing.T) {
	h := newHarness(t, corpus(), Options{PageSize: 1000})
	count := func(args string) int {
		ids, _ := h.harvest(verbListIdentifiers, "metadataPrefix=oai_dc&"+args)
		return len(ids)
	}
	// model-00's record is published on 2025-03-01 (13:00), model-01's
	// on 03-02 (13:00, 14:00), model-02's on 03-03 (13:00, 14:00, 15:00).
	if n := count("from=2025-03-01&until=2025-03-01"); n != 1 {
		t.Errorf("one day: %d records, want 1", n)
	}
	if n := count("from=2025-03-02&until=2025-03-03"); n != 5 {
		t.Errorf("two days: %d, want 5", n)
	}
	if n := count("from=2025-03-03T14:00:00Z&until=2025-03-03T14:00:00Z"); n != 1 {
		t.Errorf("one second: %d, want 1 (bounds inclusive)", n)
	}
	if n := count("until=2025-03-02T13:00:00Z"); n != 2 {
		t.Errorf("until: %d, want 2", n)
	}
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&from=2030-01-01", NoRecordsMatch)
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&from=2025-03-02&until=2025-03-01", BadArgument)
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&from=2025-03-02&until=2025-03-03T00:00:00Z", BadArgument)
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&from=2025-03-02T00:00:00.5Z", BadArgument)
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&from=2025-02-30", BadArgument)
	h.wantError("verb=ListRecords&metadataPrefix=oai_dc&until=yesterday", BadArgument)
}

func TestErrors(t *testing.T) {
	h := newHarness(t, corpus(), Options{PageSize: 3})
	for q, code := range map[string]string{
		"":                            BadVerb,
		"verb=Frobnicate":             BadVerb,
		"verb=Identify&verb=Identify": BadVerb,
		"verb=Identify&x=1":           BadArgument,
		"verb=ListRecords":            BadArgument,
		"verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc":                    BadArgument,
		"verb=GetRecord&metadataPrefix=oai_dc":                                            BadArgument,
		"verb=GetRecord&identifier=oai:zoo.example.org:model-01/1":                        BadArgument,
		"verb=ListRecords&metadataPrefix=oai_dc&set=bad%20set":                            BadArgument,
		"verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=abc":                      BadArgument,
		"verb=ListRecords&metadataPrefix=marc21":                                          CannotDisseminateFormat,
		"verb=ListIdentifiers&metadataPrefix=":                                            CannotDisseminateFormat,
		"verb=GetRecord&identifier=oai:zoo.example.org:model-01/1&metadataPrefix=mods":    CannotDisseminateFormat,
		"verb=GetRecord&identifier=oai:zoo.example.org:model-01/3&metadataPrefix=oai_dc":  IDDoesNotExist, // the draft
		"verb=GetRecord&identifier=oai:zoo.example.org:model-00/9&metadataPrefix=oai_dc":  IDDoesNotExist, // submitted
		"verb=GetRecord&identifier=oai:zoo.example.org:model-01/9&metadataPrefix=oai_dc":  IDDoesNotExist, // rejected
		"verb=GetRecord&identifier=oai:other.org:model-01/1&metadataPrefix=oai_dc":        IDDoesNotExist,
		"verb=GetRecord&identifier=oai:zoo.example.org:model-01/01&metadataPrefix=oai_dc": IDDoesNotExist,
		"verb=GetRecord&identifier=model-01&metadataPrefix=oai_dc":                        IDDoesNotExist,
		"verb=ListMetadataFormats&identifier=oai:zoo.example.org:nope/1":                  IDDoesNotExist,
		"verb=ListRecords&resumptionToken=garbage":                                        BadResumptionToken,
		"verb=ListSets&resumptionToken=x":                                                 BadResumptionToken,
		"verb=Identify&%zz":                                                               BadArgument,
	} {
		h.wantError(q, code)
	}
	// A request too long for the limits.
	h.wantError("verb=Identify&x="+strings.Repeat("a", MaxQuery), BadArgument)
}

func TestResumptionTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h := newHarness(t, corpus(), Options{PageSize: 3, Now: clock, TokenTTL: time.Hour})
	r := h.get("verb=ListRecords&metadataPrefix=oai_dc&set=type:model")
	tok := strings.TrimSpace(r.Token.Value)
	if tok == "" || r.Token.Expires != "2026-01-01T01:00:00Z" || r.Token.Cursor != 0 {
		t.Fatalf("first page token: %+v", r.Token)
	}
	// A token is bound to its verb.
	h.wantError("verb=ListIdentifiers&resumptionToken="+url.QueryEscape(tok), BadResumptionToken)
	// A token whose arguments were changed (payload edited, old signature).
	payload, mac, _ := strings.Cut(tok, ".")
	edited := strings.Replace(decodeB64(t, payload), `"s":"type:model"`, `"s":"type:dataset"`, 1)
	h.wantError("verb=ListRecords&resumptionToken="+url.QueryEscape(encodeB64(edited)+"."+mac), BadResumptionToken)
	// A token signed by another key (another repository).
	other := New(corpus(), Options{Base: "https://zoo.example.org", Key: []byte("other"), PageSize: 3, Now: clock})
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, httptest.NewRequest("GET", "/oai?verb=ListRecords&metadataPrefix=oai_dc", nil))
	var ro response
	xml.Unmarshal(rec.Body.Bytes(), &ro)
	h.wantError("verb=ListRecords&resumptionToken="+url.QueryEscape(strings.TrimSpace(ro.Token.Value)), BadResumptionToken)
	// The same token still works; after its expiry it does not.
	if r := h.get("verb=ListRecords&resumptionToken=" + url.QueryEscape(tok)); r.Error != nil || r.Token.Cursor != 3 {
		t.Errorf("second page: %+v %+v", r.Error, r.Token)
	}
	now = now.Add(2 * time.Hour)
	h.wantError("verb=ListRecords&resumptionToken="+url.QueryEscape(tok), BadResumptionToken)
}

// Records published while a harvest runs do not shift its pages: the
// harvest still gets every record it started with exactly once.
func TestHarvestWhilePublishing(t *testing.T) {
	src := corpus()
	h := newHarness(t, src, Options{PageSize: 4})
	want := public(src)
	q := "verb=ListIdentifiers&metadataPrefix=oai_dc"
	seen := map[string]int{}
	for page := 0; ; page++ {
		r := h.get(q)
		for _, hd := range r.Headers {
			seen[hd.Identifier]++
		}
		// Publish a record dated before everything (a clock skew) and one
		// dated now.
		early := t0.Add(-time.Duration(page+1) * time.Hour)
		late := time.Now()
		src.versions = append(src.versions,
			&zoo.Version{ModelID: fmt.Sprintf("early-%d", page), Number: 1, State: zoo.StatePublished, PublishedAt: &early},
			&zoo.Version{ModelID: fmt.Sprintf("late-%d", page), Number: 1, State: zoo.StatePublished, PublishedAt: &late})
		if r.IDToken == nil || strings.TrimSpace(r.IDToken.Value) == "" {
			break
		}
		q = "verb=ListIdentifiers&resumptionToken=" + url.QueryEscape(strings.TrimSpace(r.IDToken.Value))
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
}

func TestPost(t *testing.T) {
	h := newHarness(t, corpus(), Options{})
	res, err := http.Post(h.srv.URL+"/oai", "application/x-www-form-urlencoded",
		strings.NewReader("verb=GetRecord&identifier=oai%3Azoo.example.org%3Amodel-02%2F2&metadataPrefix=oai_dc"))
	if err != nil {
		t.Fatal(err)
	}
	r := h.parse(res)
	if r.Record == nil || r.Record.Header.Identifier != "oai:zoo.example.org:model-02/2" {
		t.Errorf("POST GetRecord: %+v", r)
	}
	res, err = http.Post(h.srv.URL+"/oai", "application/json", strings.NewReader(`{"verb":"Identify"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("POST as JSON: %d, want 400", res.StatusCode)
	}
	res, err = http.Post(h.srv.URL+"/oai", "application/x-www-form-urlencoded",
		strings.NewReader("verb=Identify&x="+strings.Repeat("a", 2*MaxQuery)))
	if err != nil {
		t.Fatal(err)
	}
	if r := h.parse(res); r.Error == nil || r.Error.Code != BadArgument {
		t.Errorf("oversized POST: %+v", r.Error)
	}
}

// A host without the request's own base: identifiers follow the request.
func TestBaseFromRequest(t *testing.T) {
	h := New(corpus(), Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://zoo.lab.test:8080/oai?verb=ListIdentifiers&metadataPrefix=oai_dc", nil))
	if !strings.Contains(rec.Body.String(), "<identifier>oai:zoo.lab.test:model-") ||
		!strings.Contains(rec.Body.String(), ">http://zoo.lab.test:8080/oai</request>") {
		t.Errorf("identifiers do not use the request's host: %.600s", rec.Body.String())
	}
}

func FuzzArgs(f *testing.F) {
	for _, s := range []string{"verb=Identify", "verb=ListRecords&metadataPrefix=oai_dc&from=2025-01-01&until=2025-12-31",
		"verb=ListRecords&resumptionToken=abc.def", "verb=GetRecord&identifier=oai:h:a/1&metadataPrefix=oai_dc",
		"verb=ListIdentifiers&metadataPrefix=oai_dc&set=tag:x&from=2025-01-01T00:00:00Z", "%zz", "verb=ListSets&verb=x"} {
		f.Add(s)
	}
	h := New(corpus(), Options{Base: "https://zoo.example.org", PageSize: 5})
	f.Fuzz(func(t *testing.T, q string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/oai", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d for %q", rec.Code, q)
		}
		var r response
		if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("answer to %q does not parse: %v", q, err)
		}
		if vals, err := url.ParseQuery(q); err == nil {
			if req, pe := parseArgs(vals); pe == nil && req.Token == "" && !req.From.IsZero() && !req.Until.IsZero() && req.From.After(req.Until) {
				t.Fatalf("from after until accepted: %q", q)
			}
		}
	})
}

func decodeB64(t *testing.T, s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func encodeB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// The repository's source lists only published and retired versions, and
// dates a retired one at its retirement.
func TestRepoSource(t *testing.T) {
	env := cachetest.New(t)
	ctx := context.Background()
	pub := env.Publish(t, "unet2d-nuclei-broad-onnx")
	old := env.Publish(t, "upsample-onnx")
	draft := env.Upload(t, "unet2d-multi-tensor-onnx", true)
	admin, err := env.Svc.Catalog().CreateUser(ctx, "root", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Retire(ctx, admin, old.ModelID, old.Number, "replaced"); err != nil {
		t.Fatal(err)
	}
	src := RepoSource(env.Svc)
	items, err := src.Items(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Item{}
	for _, it := range items {
		got[it.Version.ModelID] = it
	}
	if len(items) != 2 || got[draft.ModelID].Version != nil {
		t.Fatalf("items %+v, want the published and the retired version only", items)
	}
	if it := got[pub.ModelID]; it.Type != "model" || !it.Datestamp.Equal(*pub.PublishedAt) {
		t.Errorf("published item %+v", it)
	}
	if it := got[old.ModelID]; it.Version.State != zoo.StateRetired || !it.Datestamp.After(*old.PublishedAt) {
		t.Errorf("retired item dated %v, published %v: want the retirement time", it.Datestamp, old.PublishedAt)
	}
	d, err := src.Description(ctx, got[pub.ModelID].Version)
	if err != nil || d.Name == "" {
		t.Fatalf("description: %v %v", d, err)
	}
	// Through the endpoint: the real records parse, both formats.
	h := newHarness(t, src, Options{PageSize: 1})
	ids, _ := h.harvest(verbListRecords, "metadataPrefix=oai_datacite")
	if len(ids) != 2 {
		t.Errorf("harvested %v", ids)
	}
	// GetRecord looks one item up (ItemSource) with the same datestamp.
	r := h.get("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:zoo.example.org:" + old.ModelID + "/1")
	if r.Record == nil || r.Record.Header.Datestamp != got[old.ModelID].Datestamp.UTC().Format(secondsLayout) ||
		!slices.Contains(r.Record.Metadata.DC.Description, "Retired: replaced") {
		t.Errorf("GetRecord of the retired version: %+v", r.Record)
	}
	h.wantError("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:zoo.example.org:"+draft.ModelID+"/1", IDDoesNotExist)
	h.wantError("verb=ListMetadataFormats&identifier=oai:zoo.example.org:"+pub.ModelID+"/2", IDDoesNotExist)
}
