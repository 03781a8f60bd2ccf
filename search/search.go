// Package search is zoo's model search: full text over name, description,
// tags, authors and documentation, ranked, with facet counts and filters,
// sorted by relevance, downloads or date.
//
// The index holds one document per stored version (repo calls IndexVersion
// for every version it stores, drafts included, and again when a test
// result is recorded). Which document a search may return is decided at
// query time by a live join with the catalog's versions table: only the
// latest published version of each model (or its latest retired one when
// none is published) is ever returned, so the index is never stale about
// states and never leaks drafts. Sync indexes published versions that have
// no document (seeded examples, a crash between the catalog write and the
// index write).
//
// Backends: *sqlite.DB (FTS5 in the catalog file, bm25 ranking) and
// *postgres.DB (tsvector + GIN, ts_rank) implement Store; searchtest is
// their one conformance suite.
package search

import (
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Facet names.
const (
	FacetType         = "type"
	FacetTag          = "tag"
	FacetLicense      = "license"
	FacetWeightFormat = "weight_format"
	FacetDims         = "dims" // "2d", "3d", "time" from the input axes
	FacetTest         = "test" // "reproduces", "runs", "fails", "not-supported", "pending"
	FacetTool         = "tool" // compatible tools (Tools function)
	// FacetFinetune holds the tasks zoo can fine-tune a model for
	// ("denoise", "segment"; Engine.SetFinetunable); FacetParent the id of
	// the model a model was derived from (its description's parent).
	FacetFinetune = "finetune"
	FacetParent   = "parent"
)

// Facets lists every facet name, in display order.
var Facets = []string{FacetType, FacetTag, FacetLicense, FacetWeightFormat, FacetDims, FacetTest, FacetTool, FacetFinetune, FacetParent}

// Sort orders.
const (
	SortRelevance = "relevance"
	SortDownloads = "downloads"
	SortDate      = "date"
)

// Limits of a query.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Query is one search.
type Query struct {
	Text    string
	Filters map[string][]string // facet → accepted values: OR within a facet, AND across facets
	Sort    string              // "relevance" (default; date when Text is empty), "downloads", "date"
	Limit   int                 // default 20, max 100
	Offset  int
}

// Hit is one returned model (its latest published version).
type Hit struct {
	ID            string    `json:"id"`
	Version       int       `json:"version"`
	Type          string    `json:"type"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	Tags          []string  `json:"tags"`
	Authors       []string  `json:"authors"`
	License       string    `json:"license"`
	WeightFormats []string  `json:"weight_formats"`
	Covers        []string  `json:"covers"` // cover file paths within the version (download at /files/ID/N/PATH)
	Test          string    `json:"test"`   // facet value of "test"
	Downloads     int64     `json:"downloads"`
	PublishedAt   time.Time `json:"published_at"`
	Score         float64   `json:"score"`
}

// FacetValue is one value of a facet with the number of matching models.
type FacetValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Results are one page of hits, the total number of matching models and
// the facet counts over the whole filtered result.
type Results struct {
	Total  int                     `json:"total"`
	Hits   []Hit                   `json:"hits"`
	Facets map[string][]FacetValue `json:"facets"`
}

// Index is the search index as the rest of zoo sees it. IndexVersion is
// repo.Indexer.
type Index interface {
	IndexVersion(ctx context.Context, v *zoo.Version, desc *spec.Model) error
	Search(ctx context.Context, q Query) (*Results, error)
}
