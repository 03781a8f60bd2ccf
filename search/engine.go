package search

import (
	"cmp"
	"context"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Store is the storage of the index, implemented by *sqlite.DB and
// *postgres.DB (searchtest is their conformance suite).
type Store interface {
	// PutSearchDocs stores docs in one transaction, each replacing the
	// document of the same version.
	PutSearchDocs(ctx context.Context, docs []*Doc) error
	// SearchCandidates returns every document that (1) belongs to the
	// version a search may show of its model — the highest-numbered
	// published version, or the highest-numbered retired one when none is
	// published, decided from the catalog's versions as they are now —,
	// (2) contains every term (prefix match for the last one, when prefix
	// is set; all documents when terms is empty) and (3) has, for every
	// facet of filters, one of its values. Score is the backend's
	// relevance (higher is better; 0 without terms); Downloads, the
	// model's total downloads, is only set when downloads is true (it
	// costs a lookup per candidate).
	SearchCandidates(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool) ([]Candidate, error)
	// SearchHits returns the stored hits of documents by key.
	SearchHits(ctx context.Context, keys []int64) (map[int64]StoredHit, error)
	// UnindexedPublished lists up to limit published or retired versions
	// (model id, number) that have no document.
	UnindexedPublished(ctx context.Context, limit int) ([]VersionRef, error)
}

// Candidate is one matching document.
type Candidate struct {
	Key         int64 // the backend's document key
	Score       float64
	Downloads   int64
	PublishedAt time.Time
	Facets      string // Doc.FacetString
}

// StoredHit is what SearchHits returns of a document: Doc.HitJSON and the
// model's total downloads now.
type StoredHit struct {
	JSON      []byte
	Downloads int64
}

// VersionRef names a version.
type VersionRef struct {
	ModelID string
	Number  int
}

// Limits of a query beyond Limit.
const (
	MaxOffset       = 10000 // deeper pages are refused: refine the query
	MaxFilterValues = 32    // accepted values of one facet
	MaxFacetValues  = 50    // values returned per facet, most frequent first
)

// Engine is the Index over a Store.
type Engine struct {
	store    Store
	blobs    zoo.BlobStore
	tools    Tools
	finetune Tools
}

// SetFinetunable sets the function giving the values of facet "finetune"
// (the tasks zoo can fine-tune a model for; finetune.Tasks). Call it
// before the engine is used.
func (e *Engine) SetFinetunable(f Tools) { e.finetune = f }

var _ Index = (*Engine)(nil)
var _ repo.Indexer = (*Engine)(nil)

// New returns the index over store, reading documentation files from blobs
// (nil: documentation is not indexed) and the values of facet "tool" from
// tools (nil: that facet stays empty).
func New(store Store, blobs zoo.BlobStore, tools Tools) *Engine {
	return &Engine{store: store, blobs: blobs, tools: tools}
}

// IndexVersion (re)indexes version v with its description: its text, its
// facets and its documentation file read from the blob store. It may be
// called for any version in any state; searches show only what is
// published (see the package comment).
func (e *Engine) IndexVersion(ctx context.Context, v *zoo.Version, desc *spec.Model) error {
	doc, err := e.documentation(ctx, v, desc)
	if err != nil {
		return err
	}
	d := BuildDoc(v, desc, doc, e.tools)
	if e.finetune != nil && desc != nil {
		d.Finetune = e.finetune(desc)
		d.normalize()
	}
	return e.store.PutSearchDocs(ctx, []*Doc{d})
}

// documentation reads the text of the version's documentation file (a
// path in the package; URLs are not fetched).
func (e *Engine) documentation(ctx context.Context, v *zoo.Version, desc *spec.Model) (string, error) {
	if e.blobs == nil || desc == nil || desc.Documentation == "" || strings.Contains(desc.Documentation, "://") {
		return "", nil
	}
	want := path.Clean(strings.TrimPrefix(desc.Documentation, "./"))
	for _, f := range v.Files {
		if path.Clean(f.Path) != want {
			continue
		}
		b, err := e.blobs.Open(ctx, f.SHA256)
		if err != nil {
			return "", zoo.E("search.IndexVersion", zoo.KindOf(err), err, "cannot read the documentation %s of %s/%d", f.Path, v.ModelID, v.Number)
		}
		defer b.Close()
		data, err := io.ReadAll(io.LimitReader(b, MaxDocumentation))
		if err != nil {
			return "", zoo.E("search.IndexVersion", zoo.Unavailable, err, "cannot read the documentation %s of %s/%d", f.Path, v.ModelID, v.Number)
		}
		return string(data), nil
	}
	return "", nil
}

// Sync indexes every published or retired version that has no document
// (examples seeded straight into the catalog, a crash between the catalog
// write and the index write) and returns how many it indexed. A version
// whose description cannot be read is skipped and reported in the error
// after the others are done.
func (e *Engine) Sync(ctx context.Context, svc *repo.Service) (int, error) {
	n := 0
	var failed []error
	skip := map[VersionRef]bool{}
	for {
		refs, err := e.store.UnindexedPublished(ctx, 500+len(skip))
		if err != nil {
			return n, err
		}
		progress := false
		for _, r := range refs {
			if skip[r] {
				continue
			}
			err := e.syncOne(ctx, svc, r)
			if err != nil {
				skip[r] = true
				failed = append(failed, err)
				continue
			}
			progress = true
			n++
		}
		if !progress {
			break
		}
	}
	if len(failed) > 0 {
		return n, zoo.E("search.Sync", zoo.KindOf(failed[0]), failed[0], "%d published versions could not be indexed", len(failed))
	}
	return n, nil
}

func (e *Engine) syncOne(ctx context.Context, svc *repo.Service, r VersionRef) error {
	v, err := svc.Catalog().Version(ctx, r.ModelID, r.Number)
	if err != nil {
		return err
	}
	desc, err := svc.Description(ctx, v)
	if err != nil {
		return err
	}
	return e.IndexVersion(ctx, v, desc)
}

// Normalize checks q and fills in its defaults: Limit 20 (at most 100),
// Sort relevance (date without text), filters on known facets only, with
// at most MaxFilterValues values each.
func Normalize(q Query) (Query, error) {
	const op = "search.Search"
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	if q.Offset < 0 || q.Offset > MaxOffset {
		return q, zoo.E(op, zoo.Invalid, nil, "offset must be between 0 and %d; refine the query to see further", MaxOffset)
	}
	switch q.Sort {
	case "":
		q.Sort = SortRelevance
	case SortRelevance, SortDownloads, SortDate:
	default:
		return q, zoo.E(op, zoo.Invalid, nil, "unknown sort %q: use relevance, downloads or date", clean(q.Sort, 40))
	}
	filters := map[string][]string{}
	for f, vs := range q.Filters {
		if !slices.Contains(Facets, f) {
			return q, zoo.E(op, zoo.Invalid, nil, "unknown facet %q: filter on %s", clean(f, 40), strings.Join(Facets, ", "))
		}
		if len(vs) > MaxFilterValues {
			return q, zoo.E(op, zoo.Invalid, nil, "at most %d values of facet %s", MaxFilterValues, f)
		}
		var out []string
		for _, v := range vs {
			v = clean(strings.TrimSpace(v), maxValue)
			if f == FacetTag {
				v = strings.ToLower(v)
			}
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		if len(out) > 0 {
			filters[f] = out
		}
	}
	q.Filters = filters
	return q, nil
}

// Search runs q: every visible model matching the text and the filters,
// counted (Total) and faceted over the whole result, one page of hits in
// the requested order.
func (e *Engine) Search(ctx context.Context, q Query) (*Results, error) {
	q, err := Normalize(q)
	if err != nil {
		return nil, err
	}
	terms, prefix := Terms(q.Text)
	sortBy := q.Sort
	if sortBy == SortRelevance && len(terms) == 0 {
		sortBy = SortDate
	}
	cands, err := e.store.SearchCandidates(ctx, terms, prefix, q.Filters, sortBy == SortDownloads)
	if err != nil {
		return nil, err
	}
	res := &Results{Total: len(cands), Hits: []Hit{}, Facets: facetCounts(cands)}
	if q.Offset >= len(cands) {
		return res, nil
	}
	page := topK(cands, sortBy, q.Offset+q.Limit)[q.Offset:]
	keys := make([]int64, len(page))
	for i, c := range page {
		keys[i] = c.Key
	}
	stored, err := e.store.SearchHits(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, c := range page {
		sh, ok := stored[c.Key]
		if !ok {
			continue // re-indexed in between: the next search shows it
		}
		h, err := decodeHit(sh.JSON)
		if err != nil {
			return nil, zoo.E("search.Search", zoo.Internal, err, "")
		}
		h.Score, h.Downloads, h.PublishedAt = c.Score, sh.Downloads, c.PublishedAt
		res.Hits = append(res.Hits, h)
	}
	return res, nil
}

// order returns the comparison of candidates for a sort: the sort key,
// then the other two, then the key (a total order, so pages are stable).
func order(by string) func(a, b Candidate) int {
	date := func(a, b Candidate) int { return b.PublishedAt.Compare(a.PublishedAt) }
	score := func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) }
	downloads := func(a, b Candidate) int { return cmp.Compare(b.Downloads, a.Downloads) }
	fs := map[string][]func(a, b Candidate) int{
		SortRelevance: {score, date, downloads},
		SortDate:      {date, score, downloads},
		SortDownloads: {downloads, score, date},
	}[by]
	return func(a, b Candidate) int {
		for _, f := range fs {
			if c := f(a, b); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Key, b.Key)
	}
}

// topK returns the first k candidates of cs in the order of the sort by,
// sorted (fewer when cs is shorter). It selects them in one pass (a bounded
// max-heap of the best k) instead of sorting every match; cs is reordered.
func topK(cs []Candidate, by string, k int) []Candidate {
	less := order(by)
	if k >= len(cs)/4 {
		slices.SortFunc(cs, less)
		return cs[:min(k, len(cs))]
	}
	h := make([]Candidate, 0, k)
	// h is a heap whose root is the worst of the best k seen so far.
	down := func(i int) {
		for {
			l, w := 2*i+1, i
			if l < len(h) && less(h[l], h[w]) > 0 {
				w = l
			}
			if r := l + 1; r < len(h) && less(h[r], h[w]) > 0 {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for _, c := range cs {
		switch {
		case len(h) < k:
			h = append(h, c)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if less(h[i], h[p]) <= 0 {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		case less(c, h[0]) < 0:
			h[0] = c
			down(0)
		}
	}
	slices.SortFunc(h, less)
	return h
}

// facetCounts counts the facet values of the candidates: one map of
// "facet\x1fvalue" pairs (substrings of Candidate.Facets, no copies), split
// by facet at the end.
func facetCounts(cs []Candidate) map[string][]FacetValue {
	pairs := map[string]int{}
	for _, c := range cs {
		s := c.Facets
		for s != "" {
			i := strings.IndexByte(s, 0x1f)
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i+1:], 0x1f)
			if j < 0 {
				pairs[s]++
				break
			}
			pairs[s[:i+1+j]]++
			s = s[i+2+j:]
		}
	}
	return facetValues(pairs)
}

// facetValues splits counts of "facet\x1fvalue" pairs by facet, most
// frequent value first, at most MaxFacetValues per facet; every facet is
// present.
func facetValues(pairs map[string]int) map[string][]FacetValue {
	byFacet := map[string][]FacetValue{}
	for _, f := range Facets {
		byFacet[f] = []FacetValue{}
	}
	for p, n := range pairs {
		f, v, _ := strings.Cut(p, "\x1f")
		if vs, ok := byFacet[f]; ok {
			byFacet[f] = append(vs, FacetValue{Value: v, Count: n})
		}
	}
	for f, vs := range byFacet {
		slices.SortFunc(vs, func(a, b FacetValue) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
		})
		if len(vs) > MaxFacetValues {
			vs = vs[:MaxFacetValues]
		}
		byFacet[f] = vs
	}
	return byFacet
}
