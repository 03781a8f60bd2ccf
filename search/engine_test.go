package search

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// topK gives exactly the first k of a full sort, for every sort and for k
// below, at and above the number of candidates, ties included.
func TestTopKEqualsFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 7, 100, 1000} {
		cs := make([]Candidate, n)
		for i := range cs {
			cs[i] = Candidate{Key: int64(i), Score: float64(r.IntN(5)), Downloads: int64(r.IntN(4)),
				PublishedAt: base.Add(time.Duration(r.IntN(6)) * time.Hour)}
		}
		for _, by := range []string{SortRelevance, SortDate, SortDownloads} {
			want := slices.Clone(cs)
			slices.SortFunc(want, order(by))
			for _, k := range []int{1, 3, 10, n / 4, n / 2, n, n + 5} {
				if k < 1 {
					continue
				}
				got := topK(slices.Clone(cs), by, k)
				if !slices.Equal(got, want[:min(k, n)]) {
					t.Fatalf("n=%d by=%s k=%d: topK differs from the sorted prefix", n, by, k)
				}
			}
		}
	}
}

// facetCounts counts every facet value of every candidate once.
func TestFacetCounts(t *testing.T) {
	cs := []Candidate{
		{Facets: "type\x1fmodel\x1ftag\x1fnuclei\x1ftag\x1f2d"},
		{Facets: "type\x1fmodel\x1ftag\x1fnuclei"},
		{Facets: "type\x1fdataset"},
		{Facets: ""},
	}
	got := facetCounts(cs)
	if !slices.Equal(got["type"], []FacetValue{{"model", 2}, {"dataset", 1}}) ||
		!slices.Equal(got["tag"], []FacetValue{{"nuclei", 2}, {"2d", 1}}) {
		t.Errorf("facet counts %v", got)
	}
	for _, f := range Facets {
		if got[f] == nil {
			t.Errorf("facet %s missing", f)
		}
	}
}

// TestTopKEveryHeapSize: the bounded heap keeps exactly the best k for
// every k of the heap path (k < n/4), over several random draws with
// many ties in the sort keys.
func TestTopKEveryHeapSize(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 99))
		const n = 400
		cs := make([]Candidate, n)
		for i := range cs {
			cs[i] = Candidate{Key: int64(r.IntN(1 << 20)), Score: float64(r.IntN(50)), Downloads: int64(r.IntN(40)),
				PublishedAt: base.Add(time.Duration(r.IntN(60)) * time.Hour)}
		}
		for _, by := range []string{SortRelevance, SortDate, SortDownloads} {
			want := slices.Clone(cs)
			slices.SortFunc(want, order(by))
			for k := 1; k < n/4; k++ {
				if got := topK(slices.Clone(cs), by, k); !slices.Equal(got, want[:k]) {
					t.Fatalf("seed %d by=%s k=%d: topK differs from the sorted prefix", seed, by, k)
				}
			}
		}
	}
}
