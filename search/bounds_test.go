package search

import (
	"strconv"
	"testing"

	"github.com/zoo-bioimage/zoo"
)

// TestNormalizeBounds: the query limits hold on their boundaries —
// the deepest offset and the most filter values allowed are accepted,
// one more is refused — and a filter left with no values (only blanks)
// filters nothing.
func TestNormalizeBounds(t *testing.T) {
	if _, err := Normalize(Query{Offset: MaxOffset}); err != nil {
		t.Errorf("offset %d: %v", MaxOffset, err)
	}
	if _, err := Normalize(Query{Offset: MaxOffset + 1}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("offset %d: %v, want Invalid", MaxOffset+1, err)
	}
	vals := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, "t"+strconv.Itoa(i))
		}
		return out
	}
	q, err := Normalize(Query{Filters: map[string][]string{FacetTag: vals(MaxFilterValues)}})
	if err != nil || len(q.Filters[FacetTag]) != MaxFilterValues {
		t.Errorf("%d tag values: %v (%d kept)", MaxFilterValues, err, len(q.Filters[FacetTag]))
	}
	if _, err := Normalize(Query{Filters: map[string][]string{FacetTag: vals(MaxFilterValues + 1)}}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("%d tag values: %v, want Invalid", MaxFilterValues+1, err)
	}
	q, err = Normalize(Query{Filters: map[string][]string{FacetTag: {" ", ""}}})
	if err != nil {
		t.Fatal(err)
	}
	if vs, ok := q.Filters[FacetTag]; ok {
		t.Errorf("a tag filter of blanks kept as %q; it must filter nothing", vs)
	}
}

// TestFacetValuesCapped: a document keeps at most maxValues distinct
// values of a facet (a description with thousands of tags costs a bounded
// index entry).
func TestFacetValuesCapped(t *testing.T) {
	in := []string{"a", "a", " "}
	for i := range maxValues + 5 {
		in = append(in, "v"+strconv.Itoa(i))
	}
	out := values(in, func(s string) string { return s })
	if len(out) != maxValues || out[0] != "a" || out[1] != "v0" {
		t.Errorf("kept %d values starting %q, want %d starting a, v0", len(out), out[:2], maxValues)
	}
}
