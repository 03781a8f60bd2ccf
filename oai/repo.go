package oai

import (
	"cmp"
	"context"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// RepoSource is the Source of a repository service: the catalog's
// published and retired versions (three queries, plus one audit query per
// model with a retired version, for its retirement time) and the service's
// cached descriptions.
func RepoSource(svc *repo.Service) ItemSource { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

func (s repoSource) Items(ctx context.Context) ([]Item, error) {
	cat := s.svc.Catalog()
	vs, err := cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	if err != nil {
		return nil, err
	}
	models, err := cat.ListModels(ctx, true)
	if err != nil {
		return nil, err
	}
	types := make(map[string]string, len(models))
	for _, m := range models {
		types[m.ID] = m.Type
	}
	retired := map[string]map[int]time.Time{} // model → version → retirement time
	out := make([]Item, 0, len(vs))
	for _, v := range vs {
		if !v.State.Public() {
			continue
		}
		it := Item{Version: v, Type: cmp.Or(types[v.ModelID], "model"), Datestamp: published(v)}
		if v.State == zoo.StateRetired {
			byN, ok := retired[v.ModelID]
			if !ok {
				if byN, err = retirements(ctx, cat, v.ModelID); err != nil {
					return nil, err
				}
				retired[v.ModelID] = byN
			}
			if t, ok := byN[v.Number]; ok && t.After(it.Datestamp) {
				it.Datestamp = t
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// Item finds one published or retired version (anonymous visibility).
func (s repoSource) Item(ctx context.Context, id string, n int) (Item, error) {
	v, err := s.svc.Get(ctx, nil, id, n)
	if err != nil {
		return Item{}, err
	}
	if !v.State.Public() {
		return Item{}, zoo.E("oai.Item", zoo.NotFound, nil, "no such record")
	}
	cat := s.svc.Catalog()
	m, err := cat.Model(ctx, id)
	if err != nil {
		return Item{}, err
	}
	it := Item{Version: v, Type: cmp.Or(m.Type, "model"), Datestamp: published(v)}
	if v.State == zoo.StateRetired {
		byN, err := retirements(ctx, cat, id)
		if err != nil {
			return Item{}, err
		}
		if t, ok := byN[n]; ok && t.After(it.Datestamp) {
			it.Datestamp = t
		}
	}
	return it, nil
}

func published(v *zoo.Version) time.Time {
	if v.PublishedAt != nil {
		return *v.PublishedAt
	}
	return v.CreatedAt
}

// retirements returns the latest retirement time of each version of a
// model, from its audit log.
func retirements(ctx context.Context, cat zoo.Catalog, id string) (map[int]time.Time, error) {
	audit, err := cat.Audit(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	byN := map[int]time.Time{}
	for _, e := range audit {
		if e.Action == "retire" && e.At.After(byN[e.Version]) {
			byN[e.Version] = e.At
		}
	}
	return byN, nil
}

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}
