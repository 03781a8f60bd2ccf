package search

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
)

// MaxRawQuery is the longest URL query string ParseQuery reads.
const MaxRawQuery = 8 << 10

// ParseQuery reads a Query from URL parameters: q (text), one parameter per
// facet (repeated or comma-separated values: tag=a&tag=b or tag=a,b), sort,
// limit and offset. Unknown parameters are ignored; a bad number, sort or
// too many values is zoo.Invalid. The checks of Normalize apply.
func ParseQuery(v url.Values) (Query, error) {
	const op = "search.ParseQuery"
	q := Query{Text: v.Get("q"), Sort: v.Get("sort"), Filters: map[string][]string{}}
	for _, f := range Facets {
		for _, s := range v[f] {
			for _, part := range strings.Split(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					q.Filters[f] = append(q.Filters[f], part)
				}
			}
			if len(q.Filters[f]) > MaxFilterValues {
				return q, zoo.E(op, zoo.Invalid, nil, "at most %d values of %s", MaxFilterValues, f)
			}
		}
	}
	for name, dst := range map[string]*int{"limit": &q.Limit, "offset": &q.Offset} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, zoo.E(op, zoo.Invalid, nil, "%s must be a whole number ≥ 0", name)
			}
			*dst = n
		}
	}
	return Normalize(q)
}
