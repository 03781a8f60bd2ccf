package oai

import (
	"encoding/xml"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// emailType is the pattern of OAI-PMH.xsd's emailType (adminEmail):
// "\S+@(\S+\.)+\S+", anchored as XSD patterns are.
var emailType = regexp.MustCompile(`^\S+@(\S+\.)+\S+$`)

// With no configured address, Identify's adminEmail must still fit the
// schema's pattern, whatever host the request came to.
func TestDefaultAdminEmailFitsTheSchema(t *testing.T) {
	h := New(corpus(), Options{})
	for _, host := range []string{"localhost", "localhost:8080", "zoo.lab.test:8080", "127.0.0.1", "[::1]:9000", "zoo"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://"+host+"/oai?verb=Identify", nil))
		var r response
		if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Identify == nil {
			t.Fatalf("%s: %v %s", host, err, rec.Body)
		}
		for _, e := range r.Identify.AdminEmail {
			if !emailType.MatchString(e) {
				t.Errorf("host %s: adminEmail %q does not match the OAI-PMH emailType pattern", host, e)
			}
		}
	}
}

// The oai_datacite envelope declares OAI-DataCite 1.1, whose oai.xsd has
// schemaVersion, datacentreSymbol and payload only (isReferenceQuality is
// an element of version 1.0).
func TestDataCiteEnvelopeIs11(t *testing.T) {
	h := newHarness(t, corpus(), Options{})
	res, err := h.srv.Client().Get(h.srv.URL + "/oai?verb=GetRecord&identifier=oai:zoo.example.org:model-01/1&metadataPrefix=oai_datacite")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	d := xml.NewDecoder(res.Body)
	var children []string
	depth, inEnvelope := 0, false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if el.Name.Local == "oai_datacite" {
				if el.Name.Space != "http://schema.datacite.org/oai/oai-1.1/" {
					t.Errorf("envelope namespace %q", el.Name.Space)
				}
				inEnvelope, depth = true, 0
			} else if inEnvelope && depth == 1 {
				children = append(children, el.Name.Local)
			}
		case xml.EndElement:
			depth--
			if el.Name.Local == "oai_datacite" {
				inEnvelope = false
			}
		}
	}
	if !slices.Equal(children, []string{"schemaVersion", "datacentreSymbol", "payload"}) {
		t.Errorf("envelope children %v, want those of OAI-DataCite 1.1", children)
	}
}

var _ = strings.Contains
