package pages

import (
	"context"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/search"
)

// maxScan bounds the models the fallback search looks at.
const maxScan = 2000

// scan is the search used without a search index: the latest published
// version of every model, matched by substring on name, description, tags
// and authors, with facet counts for type, tag, license and weight format.
// Fine for small instances; a real index (Options.Search) ranks properly.
func (p *Pages) scan(ctx context.Context, q search.Query) (*search.Results, error) {
	cat := p.svc.Catalog()
	models, err := cat.ListModels(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(models) > maxScan {
		models = models[:maxScan]
	}
	terms, _ := search.Terms(q.Text)
	var all []search.Hit
	for _, m := range models {
		v, err := cat.LatestPublished(ctx, m.ID)
		if err != nil {
			if zoo.KindOf(err) == zoo.NotFound {
				continue
			}
			return nil, err
		}
		d, err := p.svc.Description(ctx, v)
		if err != nil {
			continue
		}
		h := search.Hit{ID: v.ModelID, Version: v.Number, Type: m.Type, Name: d.Name, Description: d.Description,
			Tags: d.Tags, License: d.License, WeightFormats: d.Weights.Formats(), Covers: d.Covers, Downloads: m.Downloads}
		for _, a := range d.Authors {
			h.Authors = append(h.Authors, a.Name)
		}
		if v.PublishedAt != nil {
			h.PublishedAt = *v.PublishedAt
		}
		switch v.TestStatus {
		case zoo.TestPassed:
			h.Test = "reproduces"
		case zoo.TestFailed:
			h.Test = "fails"
		default:
			h.Test = string(v.TestStatus)
		}
		text := strings.ToLower(strings.Join(append(append([]string{h.ID, h.Name, h.Description}, h.Tags...), h.Authors...), " "))
		ok := true
		for _, t := range terms {
			if !strings.Contains(text, t) {
				ok = false
				break
			}
		}
		if ok {
			all = append(all, h)
		}
	}
	values := func(h search.Hit, facet string) []string {
		switch facet {
		case search.FacetType:
			return []string{h.Type}
		case search.FacetTag:
			return h.Tags
		case search.FacetLicense:
			return []string{h.License}
		case search.FacetWeightFormat:
			return h.WeightFormats
		case search.FacetTest:
			return []string{h.Test}
		}
		return nil
	}
	match := func(h search.Hit, skip string) bool {
		for f, want := range q.Filters {
			if f == skip || len(want) == 0 {
				continue
			}
			if !slices.ContainsFunc(values(h, f), func(v string) bool { return slices.Contains(want, v) }) {
				return false
			}
		}
		return true
	}
	res := &search.Results{Facets: map[string][]search.FacetValue{}}
	var hits []search.Hit
	for _, h := range all {
		if match(h, "") {
			hits = append(hits, h)
		}
	}
	for _, f := range []string{search.FacetType, search.FacetTag, search.FacetLicense, search.FacetWeightFormat, search.FacetTest} {
		counts := map[string]int{}
		for _, h := range all {
			if match(h, f) { // a facet's own filter does not narrow its counts
				for _, v := range values(h, f) {
					if v != "" {
						counts[v]++
					}
				}
			}
		}
		var fv []search.FacetValue
		for v, c := range counts {
			fv = append(fv, search.FacetValue{Value: v, Count: c})
		}
		slices.SortFunc(fv, func(a, b search.FacetValue) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		if len(fv) > 20 {
			fv = fv[:20]
		}
		res.Facets[f] = fv
	}
	switch {
	case q.Sort == search.SortDownloads:
		slices.SortStableFunc(hits, func(a, b search.Hit) int { return int(b.Downloads - a.Downloads) })
	default:
		slices.SortStableFunc(hits, func(a, b search.Hit) int { return b.PublishedAt.Compare(a.PublishedAt) })
	}
	res.Total = len(hits)
	lim := q.Limit
	if lim <= 0 {
		lim = search.DefaultLimit
	}
	if q.Offset < len(hits) {
		hits = hits[q.Offset:]
	} else {
		hits = nil
	}
	if len(hits) > lim {
		hits = hits[:lim]
	}
	res.Hits = hits
	return res, nil
}
