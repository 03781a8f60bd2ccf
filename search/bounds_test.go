package search

import (
	"net/url"
	"strconv"
	"strings"
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

// TestTextAndValueLimits: the limits on what a search reads and stores,
// on their boundaries.
func TestTextAndValueLimits(t *testing.T) {
	// A text of exactly MaxTextBytes is read whole; one byte more is cut
	// before its last word (never inside it).
	exact := strings.Repeat("ab ", (MaxTextBytes-2)/3) + "zz"
	exact += strings.Repeat("z", MaxTextBytes-len(exact))
	if len(exact) != MaxTextBytes {
		t.Fatalf("built %d bytes", len(exact))
	}
	terms, prefix := Terms(exact)
	if last := terms[len(terms)-1]; !strings.HasPrefix(last, "zz") || !prefix {
		t.Errorf("a %d-byte text lost its last word: terms end %q, prefix %v", MaxTextBytes, last, prefix)
	}
	terms, _ = Terms(exact + "z")
	if last := terms[len(terms)-1]; last != "ab" {
		t.Errorf("a %d-byte text: last term %q, want the cut word dropped", MaxTextBytes+1, last)
	}
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"}, {"abcd", 3, "abc"}, {"é", 1, ""}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"abc", 0, "abc"},
	} {
		if got := clean(c.s, c.max); got != c.want {
			t.Errorf("clean(%q, %d) = %q, want %q", c.s, c.max, got, c.want)
		}
	}
}

// TestParseQueryBounds: over HTTP, MaxFilterValues values of a facet and
// a zero limit or offset are accepted; one value more is refused.
func TestParseQueryBounds(t *testing.T) {
	var vals []string
	for i := range MaxFilterValues {
		vals = append(vals, "t"+strconv.Itoa(i))
	}
	v := url.Values{FacetTag: {strings.Join(vals, ",")}, "offset": {"0"}, "limit": {"0"}}
	if _, err := ParseQuery(v); err != nil {
		t.Errorf("%d values, offset 0, limit 0: %v", MaxFilterValues, err)
	}
	v[FacetTag] = []string{strings.Join(vals, ",") + ",extra"}
	if _, err := ParseQuery(v); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("%d values: %v, want Invalid", MaxFilterValues+1, err)
	}
}

// TestFacetValuesReturned: at most MaxFacetValues values of a facet are
// returned, the most frequent.
func TestFacetValuesReturned(t *testing.T) {
	for _, n := range []int{MaxFacetValues, MaxFacetValues + 1} {
		pairs := map[string]int{}
		for i := range n {
			pairs[FacetTag+"\x1f"+"v"+strconv.Itoa(i)] = 1000 - i
		}
		got := facetValues(pairs)[FacetTag]
		if len(got) != MaxFacetValues || got[0].Value != "v0" || got[len(got)-1].Value != "v"+strconv.Itoa(MaxFacetValues-1) {
			t.Errorf("%d values: returned %d, first %v", n, len(got), got[:1])
		}
	}
}

// TestDecodeHitEmptyLists: a stored hit without tags, authors, weight
// formats or covers answers empty lists, never JSON null (clients iterate
// them).
func TestDecodeHitEmptyLists(t *testing.T) {
	h, err := decodeHit([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if h.Tags == nil || h.Authors == nil || h.WeightFormats == nil || h.Covers == nil {
		t.Errorf("nil lists in %+v", h)
	}
}
