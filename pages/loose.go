package pages

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo/search"
)

// Loosened search: a query whose words must all match finds nothing
// ("cell segmentation" where models are tagged only "segmentation"). The
// page then searches each word alone (a word at the end of the text also
// as a prefix, as the index does) and shows the models that match any,
// most words first, saying so; where even that finds nothing, it suggests
// spellings from the index's own words (names, tags).

// Limits of the loosened search.
const (
	maxLooseTerms = 8   // words searched alone
	vocabModels   = 100 // models whose names and tags give the suggestions
	maxSuggestLen = 64  // longer words get no suggestion
)

// looseResult is what the page says about a loosened search.
type looseResult struct {
	Words   []string // the words that matched something, in query order
	Suggest string   // a respelled query ("" for none)
}

// loosen runs each word of sq.Text alone (with sq's filters) and merges the
// hits: models matching more words first, then by each word's relevance
// order. It returns nil results when no word matches.
func (p *Pages) loosen(ctx context.Context, sq search.Query) (*search.Results, []string, error) {
	terms, _ := search.Terms(sq.Text)
	if len(terms) > maxLooseTerms {
		terms = terms[:maxLooseTerms]
	}
	type entry struct {
		hit   search.Hit
		words int
		first int // order of first appearance
	}
	byID := map[string]*entry{}
	var matched []string
	seen := 0
	for _, term := range terms {
		q := sq
		q.Text, q.Offset, q.Limit = term, 0, pageSize
		res, err := p.runSearch(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		if len(res.Hits) > 0 {
			matched = append(matched, term)
		}
		for _, h := range res.Hits {
			if e := byID[h.ID]; e != nil {
				e.words++
				continue
			}
			byID[h.ID] = &entry{hit: h, words: 1, first: seen}
			seen++
		}
	}
	if len(byID) == 0 {
		return nil, nil, nil
	}
	entries := make([]*entry, 0, len(byID))
	for _, e := range byID {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int {
		if a.words != b.words {
			return b.words - a.words
		}
		return a.first - b.first
	})
	out := &search.Results{Total: len(entries), Facets: map[string][]search.FacetValue{}}
	for i, e := range entries {
		if i == pageSize {
			break
		}
		out.Hits = append(out.Hits, e.hit)
	}
	return out, matched, nil
}

// suggest respells the words of text that are not words of the index
// (names and tags of up to vocabModels published models, and the tag
// facet): each such word becomes the closest index word within an edit
// distance of 1 (words under 5 letters) or 2. It returns "" when nothing
// changes.
func (p *Pages) suggest(ctx context.Context, text string) (string, error) {
	terms, _ := search.Terms(text)
	if len(terms) == 0 {
		return "", nil
	}
	res, err := p.runSearch(ctx, search.Query{Limit: vocabModels, Filters: map[string][]string{}})
	if err != nil {
		return "", err
	}
	vocab := map[string]bool{}
	add := func(s string) {
		ws, _ := search.Terms(s)
		for _, w := range ws {
			vocab[w] = true
		}
	}
	for _, h := range res.Hits {
		add(h.Name)
		for _, t := range h.Tags {
			add(t)
		}
	}
	for _, v := range res.Facets[search.FacetTag] {
		add(v.Value)
	}
	changed := false
	out := make([]string, len(terms))
	for i, t := range terms {
		out[i] = t
		if vocab[t] || utf8.RuneCountInString(t) > maxSuggestLen {
			continue
		}
		limit := 2
		if utf8.RuneCountInString(t) < 5 {
			limit = 1
		}
		best, bestD := "", limit+1
		for w := range vocab {
			if d := editDistance(t, w, limit); d < bestD || d == bestD && w < best {
				best, bestD = w, d
			}
		}
		if best != "" && bestD <= limit {
			out[i], changed = best, true
		}
	}
	if !changed {
		return "", nil
	}
	return strings.Join(out, " "), nil
}

// editDistance is the Levenshtein distance of a and b in runes, or
// limit+1 when it is larger than limit (computed in O(len·len) with an
// early exit; both words are at most maxSuggestLen/MaxTermRunes runes).
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	if prev[len(rb)] > limit {
		return limit + 1
	}
	return prev[len(rb)]
}
