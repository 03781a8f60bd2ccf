package oai

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// bigSource has n published versions (one per model) with descriptions.
func bigSource(n int) *fakeSource {
	f := &fakeSource{types: map[string]string{}, descs: map[string]*spec.Model{}}
	for i := range n {
		id := fmt.Sprintf("m-%06d", i)
		pub := t0.Add(time.Duration(i) * time.Minute)
		f.types[id] = "model"
		f.versions = append(f.versions, &zoo.Version{ModelID: id, Number: 1, State: zoo.StatePublished, PublishedAt: &pub})
		tags := []string{"unet", "2d"}
		if i%10 == 0 {
			tags = append(tags, "segmentation")
		}
		f.descs[id+"/1"] = &spec.Model{Type: "model", Name: "Model " + id, Description: "A model for benchmarks.",
			Tags: tags, License: "MIT", Authors: []spec.Author{{Name: "Ada Lovelace"}, {Name: "Alan Turing"}}}
	}
	return f
}

func benchVerb(b *testing.B, n int, query string) {
	h := New(bigSource(n), Options{Base: "https://zoo.example.org", PageSize: 100})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/oai?"+query, nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// One page (100 records) of ListRecords oai_dc over 10,000 versions: the
// cost is the scan and sort of every item plus 100 records written.
func BenchmarkListRecordsDC10k(b *testing.B) {
	benchVerb(b, 10_000, "verb=ListRecords&metadataPrefix=oai_dc")
}

func BenchmarkListRecordsDataCite10k(b *testing.B) {
	benchVerb(b, 10_000, "verb=ListRecords&metadataPrefix=oai_datacite")
}

// A tag set needs every item's description (cached by the source).
func BenchmarkListIdentifiersTagSet10k(b *testing.B) {
	benchVerb(b, 10_000, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=tag:segmentation")
}

func BenchmarkGetRecord10k(b *testing.B) {
	benchVerb(b, 10_000, "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:zoo.example.org:m-005000/1")
}
