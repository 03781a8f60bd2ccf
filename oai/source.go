package oai

import (
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Item is one record the endpoint can disseminate: a published or retired
// version.
type Item struct {
	Version *zoo.Version
	// Type is the model's resource type (zoo.Model.Type: "model", …).
	Type string
	// Datestamp is when the record last changed: the version's publication
	// time, or the time it was retired.
	Datestamp time.Time
}

// Source is what the endpoint reads. collection.RepoSource implements it
// over repo.Service; tests use a fake.
type Source interface {
	// Items returns every published and retired version, in any order.
	// Nothing else (drafts, submitted, rejected versions) may be returned.
	Items(ctx context.Context) ([]Item, error)
	// Description returns the version's decoded description.
	Description(ctx context.Context, v *zoo.Version) (*spec.Model, error)
}

// ItemSource is a Source that finds one item without listing them all
// (GetRecord, ListMetadataFormats with an identifier). Item returns a
// zoo.NotFound error for a version that does not exist or is not published
// or retired.
type ItemSource interface {
	Source
	Item(ctx context.Context, id string, n int) (Item, error)
}
