package fair_test

import (
	"testing"

	"github.com/zoo-bioimage/zoo/fair"
)

// BenchmarkExports times each export of the nuclei model's record (what
// one metadata request costs beyond fetching the version).
func BenchmarkExports(b *testing.B) {
	r := nuclei(b)
	r.DOI = "10.5072/zoo.affable-shark.2"
	for _, c := range []struct {
		name string
		f    func(fair.Record) ([]byte, error)
	}{
		{"JSONLD", fair.JSONLD}, {"DataCiteXML", fair.DataCiteXML}, {"DataCiteJSON", fair.DataCiteJSON},
		{"BibTeX", func(r fair.Record) ([]byte, error) { return []byte(fair.BibTeX(r)), nil }},
		{"CFF", func(r fair.Record) ([]byte, error) { return []byte(fair.CFF(r)), nil }},
		{"RIS", func(r fair.Record) ([]byte, error) { return []byte(fair.RIS(r)), nil }},
		{"Signposting", func(r fair.Record) ([]byte, error) { return []byte(fair.Signposting(r)), nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
